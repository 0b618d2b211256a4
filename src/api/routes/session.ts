import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UserError } from '../../common/errors.js';
import type { Auth } from '../auth/index.js';
import type { Session } from '../auth/sessions.js';
import { topRole, type UserEntry, validUserName } from '../auth/users.js';
import { ROLES } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

const SignInBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const SessionView = Type.Object({
  signed_in: Type.Boolean(),
  user: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(RoleSchema),
  role: Type.Union([RoleSchema, Type.Null()]),
  csrf_token: Type.Union([Type.String(), Type.Null()], {
    description: 'Send it in the X-CSRF-Token header with every change made with the session cookie.',
  }),
  method: Type.Union([Type.Literal('password'), Type.Literal('oidc'), Type.Null()]),
  expires: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  sso: Type.Union([Type.Object({ label: Type.String(), url: Type.String() }), Type.Null()], {
    description: 'Present when sign-in through the organisation’s identity provider is configured.',
  }),
});

const OIDC_COOKIE = 'vantage_oidc';

/**
 * Console sign-in: a password (or the organisation's identity provider) opens a session whose
 * id travels in an HttpOnly, SameSite=Strict cookie; changes made with the cookie also need the
 * session's CSRF token in X-CSRF-Token and an Origin of this server. Bearer tokens are unchanged.
 *
 *   curl -c jar -H 'content-type: application/json' -d '{"name":"admin","password":"..."}' \
 *     http://127.0.0.1:8080/api/v1/session
 *   curl -b jar http://127.0.0.1:8080/api/v1/session
 *   curl -b jar -X DELETE -H "X-CSRF-Token: $CSRF" http://127.0.0.1:8080/api/v1/session
 */
export function sessionRoutes(app: FastifyInstance, _ctx: ApiContext, auth: Auth): void {
  const sso = auth.oidc ? { label: auth.oidc.label, url: '/api/v1/session/oidc' } : null;
  const view = (s: Session | null, u?: UserEntry) => {
    const user = u ?? (s ? auth.users.get(s.user) : undefined);
    if (!s || !user) {
      return {
        signed_in: false,
        user: null,
        roles: [],
        role: null,
        csrf_token: null,
        method: null,
        expires: null,
        sso,
      };
    }
    return {
      signed_in: true,
      user: user.name,
      roles: user.roles,
      role: topRole(user.roles),
      csrf_token: s.csrf,
      method: s.method,
      expires: new Date(auth.sessions.expiresAt(s)).toISOString(),
      sso,
    };
  };

  // Login CSRF: a sign-in form on another site must not sign the browser into an attacker's account.
  const sameOrigin = (req: FastifyRequest) => {
    const o = req.headers.origin;
    if (
      typeof o === 'string' &&
      o !== `${req.protocol}://${req.headers.host ?? ''}` &&
      !auth.config.origins.includes(o)
    )
      throw new UserError(
        403,
        `cross-origin sign-in refused: origin ${o.slice(0, 100)} is not this server's`,
      );
  };

  app.post(
    '/api/v1/session',
    {
      config: { access: 'public', idempotent: false },
      // Room for the longest passwords the schema admits, JSON-escaped, so it refuses them (400), not the size limit.
      bodyLimit: 64 << 10,
      schema: {
        tags: ['session'],
        summary: 'Sign in with a user name and password; sets the session cookie',
        body: SignInBody,
        response: {
          200: SessionView,
          400: ErrorSchema,
          401: ErrorSchema,
          403: ErrorSchema,
          429: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      sameOrigin(req);
      const b = req.body as Static<typeof SignInBody>;
      const r = await auth.signIn(req, b.name, b.password);
      if (!r.ok) {
        if (r.retryAfter) reply.header('retry-after', String(r.retryAfter));
        throw new UserError(r.status, r.message);
      }
      reply.header('set-cookie', r.cookie).header('cache-control', 'no-store');
      return view(r.session, r.user);
    },
  );

  app.get(
    '/api/v1/session',
    {
      config: { access: 'public', etag: false },
      schema: {
        tags: ['session'],
        summary: 'Who is signed in with the session cookie, the CSRF token, and whether SSO is offered',
        response: { 200: SessionView },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return view(auth.sessionOf(req));
    },
  );

  app.delete(
    '/api/v1/session',
    {
      config: { access: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Sign out: ends the session of the cookie',
        response: { 204: Type.Null({ description: 'Signed out' }), 403: ErrorSchema },
      },
    },
    async (req, reply) => {
      const s = auth.sessionOf(req);
      if (s) {
        auth.checkCsrf(req, s);
        auth.sessions.end(s);
        auth.audit(req, 'auth.signout', { user: s.user });
      }
      return reply.code(204).header('set-cookie', auth.clearCookie(req)).send();
    },
  );

  if (!auth.oidc) return;
  const oidc = auth.oidc;
  const back = (reply: FastifyReply, error?: string) =>
    reply.redirect(error ? `/?sso_error=${encodeURIComponent(error.slice(0, 300))}` : '/', 302);

  app.get(
    '/api/v1/session/oidc',
    {
      config: { access: 'public', etag: false },
      schema: {
        tags: ['session'],
        summary: 'Start sign-in with the identity provider (redirects to it)',
        response: { 302: Type.Null({ description: 'To the identity provider' }) },
      },
    },
    async (req, reply) => {
      let begun: { url: string; state: string };
      try {
        begun = await oidc.begin();
      } catch (e) {
        return back(reply, `the identity provider cannot be reached: ${(e as Error).message}`);
      }
      // Lax: the provider sends the browser back with a cross-site top-level GET.
      reply.header(
        'set-cookie',
        `${OIDC_COOKIE}=${begun.state}; Path=/api/v1/session/oidc; HttpOnly; SameSite=Lax; Max-Age=600${req.protocol === 'https' ? '; Secure' : ''}`,
      );
      return reply.redirect(begun.url, 302);
    },
  );

  app.get(
    '/api/v1/session/oidc/callback',
    {
      config: { access: 'public', etag: false },
      schema: {
        tags: ['session'],
        summary: 'Where the identity provider sends the browser back; sets the session cookie',
        querystring: Type.Object({}, { additionalProperties: Type.String({ maxLength: 4096 }) }),
        response: { 302: Type.Null({ description: 'To the console' }) },
      },
    },
    async (req, reply) => {
      const q = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      const state = /(?:^|;\s*)vantage_oidc=([A-Za-z0-9_-]{1,128})/.exec(
        String(req.headers.cookie ?? ''),
      )?.[1];
      reply.header(
        'set-cookie',
        `${OIDC_COOKIE}=; Path=/api/v1/session/oidc; HttpOnly; SameSite=Lax; Max-Age=0`,
      );
      const err = new URLSearchParams(q).get('error');
      if (err) return back(reply, `the identity provider refused: ${err}`);
      if (!state || new URLSearchParams(q).get('state') !== state)
        return back(reply, 'this sign-in did not start in this browser; start again');
      let who: Awaited<ReturnType<typeof oidc.finish>>;
      try {
        who = await oidc.finish(q, state);
      } catch (e) {
        auth.audit(req, 'auth.oidc_failed', { error: String(e).slice(0, 300) });
        return back(reply, `sign-in failed: ${(e as Error).message}`);
      }
      if (!validUserName(who.name))
        return back(reply, `the provider's user name '${who.name.slice(0, 64)}' cannot be used here`);
      if (who.roles.length === 0) {
        auth.audit(req, 'auth.oidc_refused', { name: who.name, reason: 'no role' });
        return back(reply, `${who.name} has no Vantage role: ask an admin to map one of your groups`);
      }
      let u = auth.users.get(who.name);
      if (u && u.source !== 'oidc')
        return back(reply, `a local user named ${who.name} exists; an admin must rename one of them`);
      if (u?.disabled) return back(reply, `${who.name} is disabled`);
      if (!u) {
        u = {
          name: who.name,
          roles: who.roles,
          password: null,
          disabled: false,
          source: 'oidc',
          created: new Date().toISOString(),
          last_login: null,
        };
        auth.users.add(u);
        auth.audit(req, 'user.create', { user: u.name, roles: u.roles, source: 'oidc', issuer: who.issuer });
      } else if (u.roles.join() !== who.roles.join()) {
        // The provider is the authority for these users: their groups decide the roles at each sign-in.
        const roles = who.roles;
        auth.users.update(u.name, (x) => {
          x.roles = roles;
        });
        auth.audit(req, 'user.roles', { user: u.name, roles, source: 'oidc' });
      }
      const { cookie } = auth.openSession(req, u, 'oidc');
      reply.header('set-cookie', cookie);
      return back(reply);
    },
  );
}
