import * as client from 'openid-client';
import type { Role } from '../auth.js';
import type { OidcConfig } from './config.js';

/**
 * OIDC sign-in as a relying party (openid-client): authorization code flow with PKCE (S256),
 * state and nonce. What the browser is sent away with is kept here, keyed by state, for ten
 * minutes at most and for at most 1,000 sign-ins in progress.
 */
export interface OidcPending {
  verifier: string;
  nonce: string;
  created: number;
}

export interface OidcUser {
  name: string;
  roles: Role[];
  subject: string;
  issuer: string;
}

export interface Oidc {
  readonly label: string;
  discover(): Promise<client.Configuration>;
  /** The provider's authorization URL for a new sign-in, and the state to bind to the browser. */
  begin(): Promise<{ url: string; state: string }>;
  /** Exchange the code of the callback (its query string) for the user; throws a plain-words Error. */
  finish(query: string, state: string): Promise<OidcUser>;
  pending(): number;
}

const PENDING_MS = 10 * 60_000;
const PENDING_MAX = 1000;

export function createOidc(cfg: OidcConfig): Oidc {
  let conf: client.Configuration | null = null;
  const pending = new Map<string, OidcPending>();

  async function discover(): Promise<client.Configuration> {
    if (conf) return conf;
    const issuer = new URL(cfg.issuer);
    conf = await client.discovery(
      issuer,
      cfg.clientId,
      cfg.clientSecret || undefined,
      cfg.clientSecret ? client.ClientSecretBasic(cfg.clientSecret) : client.None(),
      // A provider on plain http is only for a lab or a test; production issuers are https.
      issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
    );
    return conf;
  }

  function prune(now: number): void {
    for (const [k, p] of pending) {
      if (now - p.created < PENDING_MS && pending.size <= PENDING_MAX) break;
      pending.delete(k);
    }
  }

  return {
    label: cfg.label,
    discover,
    async begin() {
      const c = await discover();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const now = Date.now();
      prune(now);
      pending.set(state, { verifier, nonce, created: now });
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: cfg.redirectUrl,
        scope: cfg.scopes.join(' '),
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url: url.href, state };
    },
    async finish(query, state) {
      const p = pending.get(state);
      pending.delete(state);
      if (!p || Date.now() - p.created > PENDING_MS)
        throw new Error('this sign-in has expired or was already used; start again');
      const c = await discover();
      const current = new URL(cfg.redirectUrl);
      current.search = query;
      const tokens = await client.authorizationCodeGrant(c, current, {
        pkceCodeVerifier: p.verifier,
        expectedState: state,
        expectedNonce: p.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('the identity provider returned no ID token');
      let all: Record<string, unknown> = { ...claims };
      if (!(cfg.roleClaim in all) || !(cfg.nameClaim in all)) {
        // Some providers put groups and names only in the userinfo response.
        const info = await client.fetchUserInfo(c, tokens.access_token, claims.sub);
        all = { ...info, ...all };
      }
      const raw = all[cfg.roleClaim];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
      const roles = new Set<Role>();
      for (const v of values) for (const r of cfg.roleMap[v] ?? []) roles.add(r);
      const name = all[cfg.nameClaim];
      return {
        name: typeof name === 'string' && name !== '' ? name : claims.sub,
        roles: [...roles],
        subject: claims.sub,
        issuer: claims.iss,
      };
    },
    pending: () => pending.size,
  };
}
