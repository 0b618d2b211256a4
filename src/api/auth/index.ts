import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UserError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Metrics } from '../../common/metrics.js';
import type { AuditLog } from '../audit.js';
import type { Role, TokenStore } from '../auth.js';
import type { Access } from '../context.js';
import { type AuthConfig, DEFAULT_AUTH } from './config.js';
import { Lockout } from './lockout.js';
import { createOidc, type Oidc } from './oidc.js';
import { hashPassword, needsRehash, randomPassword, type ScryptParams, verifyPassword } from './password.js';
import { csrfMatches, type Session, SessionStore } from './sessions.js';
import { rolesAllow, topRole, type UserEntry, UserStore } from './users.js';

/** Who is calling: from a bearer token or a console session. */
export interface Identity {
  /** Token id, or `session` for a console session. */
  id: string;
  /** The user name when the caller is a person; the token's name for a token without a user. */
  name: string;
  user: string | null;
  roles: Role[];
  via: 'token' | 'session';
  session?: Session;
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
}

export const SESSION_COOKIE = 'vantage_session';
export const CSRF_HEADER = 'x-csrf-token';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The same answer for a wrong password, an unknown user and a disabled user. */
export const SIGNIN_REFUSED = 'user name or password not accepted';

export interface AuthDeps {
  dataDir: string;
  tokens: TokenStore;
  metrics: Metrics;
  audit?: AuditLog | undefined;
  log?: Logger | undefined;
}

export type SignIn =
  | { ok: true; user: UserEntry; cookie: string; session: Session }
  | { ok: false; status: 401 | 429; message: string; retryAfter?: number };

/**
 * People and their credentials: user accounts, password sign-in with lockout, console sessions
 * with CSRF protection, tokens that belong to users, and OIDC sign-in when configured. Built
 * inert; `start()` discovers the OIDC provider and sweeps expired sessions.
 */
export interface Auth {
  readonly config: AuthConfig;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly tokens: TokenStore;
  readonly oidc: Oidc | null;
  readonly scrypt: ScryptParams;
  start(): Promise<void>;
  stop(): void;
  /** The onRequest check of every non-public route: sets req.identity and req.token or throws 401/403. */
  authorize(req: FastifyRequest, access: Exclude<Access, 'public'>): void;
  /** The session of the request's cookie, if it is live (no CSRF check: for safe requests). */
  sessionOf(req: FastifyRequest): Session | null;
  /** The Origin and CSRF checks of a cookie-authenticated change; throws 403. */
  checkCsrf(req: FastifyRequest, s: Session): void;
  signIn(req: FastifyRequest, name: string, password: string): Promise<SignIn>;
  /** Session cookie for a new session of `user` (the password or OIDC path has vouched for them). */
  openSession(
    req: FastifyRequest,
    user: UserEntry,
    method: Session['method'],
  ): { cookie: string; session: Session };
  clearCookie(req: FastifyRequest): string;
  /** First start: user `admin` with a random password written to DIR/admin-password; null if users exist. */
  ensureAdmin(): Promise<string | null>;
  setPassword(name: string, password: string): Promise<UserEntry | undefined>;
  checkPasswordRules(password: string, key?: string): void;
  audit(req: FastifyRequest | null, action: string, details: Record<string, unknown>): void;
  /** Forget every failed sign-in (an admin's way out of a lock that hit everyone behind one address). */
  unlockAll(): void;
}

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== 'string') return undefined;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function createAuth(config: AuthConfig = DEFAULT_AUTH, deps: AuthDeps): Auth {
  const users = new UserStore(deps.dataDir);
  const sessions = new SessionStore({
    idleMs: config.session.idleMinutes * 60_000,
    absoluteMs: config.session.absoluteHours * 3_600_000,
    max: config.session.maxSessions,
  });
  const lockLimits = {
    baseMs: config.lockout.baseSeconds * 1000,
    maxMs: config.lockout.maxSeconds * 1000,
    windowMs: config.lockout.windowMinutes * 60_000,
    maxKeys: 100_000,
  };
  const userLock = new Lockout({ ...lockLimits, threshold: config.lockout.userFailures });
  const addrLock = new Lockout({ ...lockLimits, threshold: config.lockout.addressFailures });
  const scrypt: ScryptParams = { N: config.password.scryptN, r: 8, p: 1 };
  const oidc = config.oidc ? createOidc(config.oidc) : null;
  const { metrics } = deps;
  // Verified against when the user does not exist, so that answer costs what a real check costs.
  let dummy: Promise<string> | null = null;
  let sweeper: NodeJS.Timeout | null = null;

  metrics.collect(() => {
    metrics.set('vantage_auth_sessions', 'Console sessions alive.', {}, sessions.size);
    for (const [k, v] of Object.entries(sessions.counters))
      metrics.set(
        'vantage_auth_sessions_total',
        'Console sessions by what happened to them.',
        { event: k },
        v,
      );
    metrics.set(
      'vantage_auth_lockout_keys',
      'User names and addresses with recent failed sign-ins.',
      {},
      userLock.size + addrLock.size,
    );
    metrics.set(
      'vantage_auth_lockout_evicted_total',
      'Failed-sign-in records forgotten at the memory bound.',
      {},
      userLock.evicted + addrLock.evicted,
    );
  });

  const ip = (req: FastifyRequest): string => req.ip;
  const secure = (req: FastifyRequest): boolean =>
    config.session.secureCookie === 'always' ||
    (config.session.secureCookie === 'auto' &&
      (req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https'));

  function audit(req: FastifyRequest | null, action: string, details: Record<string, unknown>): void {
    const who = req?.identity;
    deps.audit?.({
      action,
      actor: who?.name ?? null,
      details: {
        ...(who ? { actor_user: who.user, token_id: who.via === 'token' ? who.id : null } : {}),
        ...(req ? { address: req.ip } : {}),
        ...details,
      },
    });
  }

  function checkCsrf(req: FastifyRequest, s: Session): void {
    const origin = req.headers.origin;
    const own = `${req.protocol}://${req.headers.host ?? ''}`;
    if (typeof origin === 'string') {
      if (origin !== own && !config.origins.includes(origin)) {
        metrics.inc(
          'vantage_auth_csrf_refused_total',
          'Cookie-authenticated changes refused (origin or CSRF token).',
          { reason: 'origin' },
        );
        throw new UserError(
          403,
          `cross-origin request refused: origin ${origin.slice(0, 100)} is not this server's`,
        );
      }
    } else {
      const site = req.headers['sec-fetch-site'];
      if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
        metrics.inc(
          'vantage_auth_csrf_refused_total',
          'Cookie-authenticated changes refused (origin or CSRF token).',
          { reason: 'origin' },
        );
        throw new UserError(403, `cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 20)})`);
      }
    }
    const presented = req.headers[CSRF_HEADER];
    if (!csrfMatches(s, typeof presented === 'string' ? presented : undefined)) {
      metrics.inc(
        'vantage_auth_csrf_refused_total',
        'Cookie-authenticated changes refused (origin or CSRF token).',
        { reason: 'token' },
      );
      throw new UserError(
        403,
        `missing or wrong ${CSRF_HEADER} header: the console sends the token GET /api/v1/session returns`,
      );
    }
  }

  function sessionOf(req: FastifyRequest): Session | null {
    const id = cookieValue(req, SESSION_COOKIE);
    if (!id) return null;
    const s = sessions.get(id);
    if (!s) return null;
    const u = users.get(s.user);
    if (!u || u.disabled) {
      sessions.end(s);
      return null;
    }
    return s;
  }

  function identify(req: FastifyRequest): Identity {
    const h = req.headers.authorization;
    if (h) {
      const m = /^Bearer ([A-Za-z0-9_.~+/=-]{8,256})$/i.exec(h);
      if (!m) throw new UserError(401, 'malformed Authorization header: expected "Bearer <token>"');
      const e = deps.tokens.verify(m[1]!);
      if (!e)
        throw new UserError(
          401,
          'token not recognised: it may be revoked or mistyped; create one with `vantage token create`',
        );
      if (!e.user) return { id: e.id, name: e.name, user: null, roles: [e.role], via: 'token' };
      const u = users.get(e.user);
      if (!u || u.disabled)
        throw new UserError(401, `token not accepted: its user ${e.user} is disabled or removed`);
      // A token never does more than its user may now (roles can have been lowered since).
      const roles = rolesAllow(u.roles, e.role) ? [e.role] : u.roles;
      return { id: e.id, name: u.name, user: u.name, roles, via: 'token' };
    }
    const id = cookieValue(req, SESSION_COOKIE);
    if (!id) {
      throw new UserError(
        401,
        'missing token: send "Authorization: Bearer <token>" or sign in (POST /api/v1/session); the first start wrote an admin token to DATA_DIR/admin-token',
      );
    }
    const s = sessionOf(req);
    if (!s) throw new UserError(401, 'session expired or signed out: sign in again');
    if (UNSAFE.has(req.method)) checkCsrf(req, s);
    sessions.touch(s);
    const u = users.get(s.user)!;
    return {
      id: `session:${s.hash.slice(0, 12)}`,
      name: u.name,
      user: u.name,
      roles: u.roles,
      via: 'session',
      session: s,
    };
  }

  const auth: Auth = {
    config,
    users,
    sessions,
    tokens: deps.tokens,
    oidc,
    scrypt,
    async start() {
      sweeper = setInterval(() => sessions.sweep(), 60_000);
      sweeper.unref();
      if (oidc) {
        try {
          await oidc.discover();
        } catch (e) {
          // Password and token sign-in work without the provider; the SSO button reports it.
          deps.log?.warn('OIDC provider discovery failed; SSO sign-in retries on use', { error: String(e) });
        }
      }
    },
    stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
    },
    authorize(req, access) {
      const who = identify(req);
      if (!rolesAllow(who.roles, access)) {
        throw new UserError(
          403,
          `this route needs the ${access} role or higher; you have ${who.roles.join(', ')}`,
        );
      }
      req.identity = who;
      // Routes name the actor by req.token.name: the user for a person, so "no self-approval"
      // compares people whether they used a token or the console.
      req.token = {
        id: who.via === 'session' ? `user:${who.name}` : who.id,
        role: topRole(who.roles),
        name: who.name,
      };
    },
    sessionOf,
    checkCsrf,
    async signIn(req, name, password) {
      const now = Date.now();
      const uk = `u:${name.toLowerCase()}`;
      const ak = `a:${ip(req)}`;
      const wait = Math.max(userLock.remaining(uk, now), addrLock.remaining(ak, now));
      if (wait > 0) {
        metrics.inc('vantage_auth_signins_total', 'Password sign-ins by result.', { result: 'locked' });
        audit(req, 'auth.signin_locked', { name });
        const s = Math.ceil(wait / 1000);
        return {
          ok: false,
          status: 429,
          message: `too many failed sign-ins; try again in ${s} s`,
          retryAfter: s,
        };
      }
      const u = users.get(name);
      dummy ??= hashPassword(randomPassword(), scrypt);
      const stored = u?.password ?? (await dummy);
      const good = await verifyPassword(password, stored);
      if (!good || !u || u.disabled || u.password === null) {
        metrics.inc('vantage_auth_signins_total', 'Password sign-ins by result.', { result: 'failed' });
        audit(req, 'auth.signin_failed', { name });
        for (const [lock, key, scope] of [
          [userLock, uk, 'user'],
          [addrLock, ak, 'address'],
        ] as const) {
          if (!lock.fail(key, now)) continue;
          metrics.inc('vantage_auth_lockouts_total', 'Sign-in locks imposed, by what was locked.', { scope });
          audit(req, 'auth.lockout', {
            scope,
            ...(scope === 'user' ? { name } : {}),
            seconds: Math.ceil(lock.remaining(key, now) / 1000),
          });
        }
        return { ok: false, status: 401, message: SIGNIN_REFUSED };
      }
      userLock.clear(uk);
      if (needsRehash(u.password, scrypt)) {
        const h = await hashPassword(password, scrypt);
        users.update(u.name, (x) => {
          x.password = h;
        });
      }
      metrics.inc('vantage_auth_signins_total', 'Password sign-ins by result.', { result: 'ok' });
      const { cookie, session } = auth.openSession(req, u, 'password');
      return { ok: true, user: u, cookie, session };
    },
    openSession(req, user, method) {
      const { id, session } = sessions.create(user.name, method);
      users.touchLogin(user.name, new Date().toISOString());
      req.identity = {
        id: 'session',
        name: user.name,
        user: user.name,
        roles: user.roles,
        via: 'session',
        session,
      };
      audit(req, 'auth.signin', { method });
      const maxAge = Math.floor(config.session.absoluteHours * 3600);
      const cookie = `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure(req) ? '; Secure' : ''}`;
      return { cookie, session };
    },
    clearCookie(req) {
      return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure(req) ? '; Secure' : ''}`;
    },
    async ensureAdmin() {
      if (users.size > 0) return null;
      const password = randomPassword();
      users.add({
        name: 'admin',
        roles: ['admin'],
        password: await hashPassword(password, scrypt),
        disabled: false,
        source: 'local',
        created: new Date().toISOString(),
        last_login: null,
      });
      writeFileSync(join(deps.dataDir, 'admin-password'), `${password}\n`, { mode: 0o600 });
      deps.audit?.({
        action: 'user.create',
        actor: null,
        details: { user: 'admin', roles: ['admin'], first_start: true },
      });
      return password;
    },
    async setPassword(name, password) {
      const h = await hashPassword(password, scrypt);
      const u = users.update(name, (x) => {
        x.password = h;
      });
      if (u) sessions.endUser(u.name);
      return u;
    },
    checkPasswordRules(password, key = 'password') {
      if (password.length < config.password.minLength)
        throw new UserError(400, `${key}: at least ${config.password.minLength} characters`);
      if (password.length > 1024) throw new UserError(400, `${key}: at most 1024 characters`);
    },
    audit,
    unlockAll() {
      userLock.clearAll();
      addrLock.clearAll();
    },
  };
  return auth;
}

/**
 * Every change made through the API, in the audit log with the user and the token (or session)
 * that made it, whatever the route writes of its own.
 */
export function auditChanges(app: FastifyInstance, auth: Auth): void {
  app.addHook('onResponse', async (req, reply) => {
    if (!UNSAFE.has(req.method) || reply.statusCode >= 400 || !req.identity) return;
    auth.audit(req, 'api.change', {
      method: req.method,
      route: req.routeOptions.url ?? null,
      path: req.url.split('?')[0]!.slice(0, 300),
      status: reply.statusCode,
    });
  });
}
