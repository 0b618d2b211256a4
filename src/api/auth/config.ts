import { ConfigError } from '../../common/errors.js';
import { ROLES, type Role } from '../auth.js';

/** Config key `auth`: sessions, lockout, passwords and optional OIDC sign-in (docs/config.md). */
export interface AuthConfig {
  session: {
    /** A session unused for this long ends. */
    idleMinutes: number;
    /** A session ends this long after sign-in, used or not. */
    absoluteHours: number;
    /** Secure cookie attribute: 'auto' when the request came over TLS (or X-Forwarded-Proto https). */
    secureCookie: 'auto' | 'always' | 'never';
    /** Sessions kept at most; the oldest is ended (and counted) beyond. */
    maxSessions: number;
  };
  lockout: {
    /** Failed sign-ins for one user name before it is locked. */
    userFailures: number;
    /** Failed sign-ins from one address before it is locked. */
    addressFailures: number;
    /** First lock length; each further failure doubles it. */
    baseSeconds: number;
    maxSeconds: number;
    /** Failures older than this are forgotten. */
    windowMinutes: number;
  };
  password: { minLength: number; scryptN: number };
  /** Origins besides the server's own that may send cookie-authenticated changes (a reverse proxy's). */
  origins: string[];
  oidc: OidcConfig | null;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: https://vantage.example.com/api/v1/session/oidc/callback */
  redirectUrl: string;
  scopes: string[];
  /** Claim naming the user (preferred_username, email, sub). */
  nameClaim: string;
  /** Claim holding group or role names (a string or an array of strings). */
  roleClaim: string;
  /** Claim value → Vantage roles. A user none of whose values map is refused. */
  roleMap: Record<string, Role[]>;
  /** Button label on the sign-in page. */
  label: string;
}

export const DEFAULT_AUTH: AuthConfig = {
  session: { idleMinutes: 30, absoluteHours: 12, secureCookie: 'auto', maxSessions: 10_000 },
  lockout: { userFailures: 5, addressFailures: 20, baseSeconds: 2, maxSeconds: 900, windowMinutes: 15 },
  password: { minLength: 12, scryptN: 1 << 15 },
  origins: [],
  oidc: null,
};

type Obj = Record<string, unknown>;
function obj(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  return v as Obj;
}
function known(o: Obj, key: string, keys: string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k))
      throw new ConfigError(`${key}.${k}`, `unknown key; expected one of ${keys.join(', ')}`);
}
function int(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max}`);
  return v;
}
function str(v: unknown, key: string, what: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(key, `expected ${what}`);
  return v;
}
function url(v: unknown, key: string): string {
  const s = str(v, key, 'a URL');
  try {
    const u = new URL(s);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new ConfigError(key, `'${s.slice(0, 64)}' is not an http(s) URL`);
  }
  return s;
}
function origin(v: unknown, key: string): string {
  const s = url(v, key);
  const o = new URL(s).origin;
  if (o !== s.replace(/\/$/, ''))
    throw new ConfigError(key, `'${s.slice(0, 64)}' is not an origin such as https://vantage.example.com`);
  return o;
}

export function parseAuthConfig(v: unknown, key = 'auth'): AuthConfig {
  const o = obj(v, key);
  known(o, key, ['session', 'lockout', 'password', 'origins', 'oidc']);
  const c: AuthConfig = structuredClone(DEFAULT_AUTH);
  if (o.session !== undefined) {
    const k = `${key}.session`;
    const s = obj(o.session, k);
    known(s, k, ['idleMinutes', 'absoluteHours', 'secureCookie', 'maxSessions']);
    if (s.idleMinutes !== undefined)
      c.session.idleMinutes = int(s.idleMinutes, `${k}.idleMinutes`, 1, 7 * 24 * 60);
    if (s.absoluteHours !== undefined)
      c.session.absoluteHours = int(s.absoluteHours, `${k}.absoluteHours`, 1, 24 * 90);
    if (s.secureCookie !== undefined) {
      if (s.secureCookie !== 'auto' && s.secureCookie !== 'always' && s.secureCookie !== 'never')
        throw new ConfigError(`${k}.secureCookie`, "expected 'auto', 'always' or 'never'");
      c.session.secureCookie = s.secureCookie;
    }
    if (s.maxSessions !== undefined) c.session.maxSessions = int(s.maxSessions, `${k}.maxSessions`, 1, 1e6);
  }
  if (o.lockout !== undefined) {
    const k = `${key}.lockout`;
    const l = obj(o.lockout, k);
    const keys = ['userFailures', 'addressFailures', 'baseSeconds', 'maxSeconds', 'windowMinutes'] as const;
    known(l, k, [...keys]);
    for (const f of keys) if (l[f] !== undefined) c.lockout[f] = int(l[f], `${k}.${f}`, 1, 1e6);
    if (c.lockout.maxSeconds < c.lockout.baseSeconds)
      throw new ConfigError(`${k}.maxSeconds`, `must be at least baseSeconds (${c.lockout.baseSeconds})`);
  }
  if (o.password !== undefined) {
    const k = `${key}.password`;
    const p = obj(o.password, k);
    known(p, k, ['minLength', 'scryptN']);
    if (p.minLength !== undefined) c.password.minLength = int(p.minLength, `${k}.minLength`, 8, 1024);
    if (p.scryptN !== undefined) {
      const n = int(p.scryptN, `${k}.scryptN`, 1 << 15, 1 << 20);
      if ((n & (n - 1)) !== 0)
        throw new ConfigError(`${k}.scryptN`, 'expected a power of two (32768, 65536, ...)');
      c.password.scryptN = n;
    }
  }
  if (o.origins !== undefined) {
    if (!Array.isArray(o.origins)) throw new ConfigError(`${key}.origins`, 'expected a list of origins');
    c.origins = o.origins.map((x, i) => origin(x, `${key}.origins[${i}]`));
  }
  if (o.oidc !== undefined && o.oidc !== null) c.oidc = parseOidc(o.oidc, `${key}.oidc`);
  return c;
}

function parseOidc(v: unknown, key: string): OidcConfig {
  const o = obj(v, key);
  known(o, key, [
    'issuer',
    'clientId',
    'clientSecret',
    'redirectUrl',
    'scopes',
    'nameClaim',
    'roleClaim',
    'roleMap',
    'label',
  ]);
  const roleMap: Record<string, Role[]> = {};
  const rm = obj(o.roleMap ?? {}, `${key}.roleMap`);
  for (const [value, roles] of Object.entries(rm)) {
    const k = `${key}.roleMap.${value}`;
    const list = Array.isArray(roles) ? roles : [roles];
    if (list.length === 0) throw new ConfigError(k, `expected one or more of ${ROLES.join(', ')}`);
    roleMap[value] = list.map((r, i) => {
      if (!ROLES.includes(r as Role))
        throw new ConfigError(`${k}[${i}]`, `expected one of ${ROLES.join(', ')}`);
      return r as Role;
    });
  }
  if (Object.keys(roleMap).length === 0)
    throw new ConfigError(
      `${key}.roleMap`,
      'map at least one claim value to roles, e.g. {"vantage-admins": ["admin"]}',
    );
  const scopes =
    o.scopes === undefined
      ? ['openid', 'profile', 'email']
      : (Array.isArray(o.scopes) ? o.scopes : [o.scopes]).map((s, i) =>
          str(s, `${key}.scopes[${i}]`, 'a scope name'),
        );
  if (!scopes.includes('openid')) throw new ConfigError(`${key}.scopes`, "must include 'openid'");
  return {
    issuer: url(o.issuer, `${key}.issuer`),
    clientId: str(o.clientId, `${key}.clientId`, 'the client id registered at the provider'),
    clientSecret:
      o.clientSecret === undefined ? '' : str(o.clientSecret, `${key}.clientSecret`, 'the client secret'),
    redirectUrl: url(o.redirectUrl, `${key}.redirectUrl`),
    scopes,
    nameClaim:
      o.nameClaim === undefined ? 'preferred_username' : str(o.nameClaim, `${key}.nameClaim`, 'a claim name'),
    roleClaim: o.roleClaim === undefined ? 'groups' : str(o.roleClaim, `${key}.roleClaim`, 'a claim name'),
    roleMap,
    label: o.label === undefined ? 'Sign in with SSO' : str(o.label, `${key}.label`, 'a button label'),
  };
}
