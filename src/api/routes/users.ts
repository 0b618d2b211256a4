import { type Static, type TString, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, UserError } from '../../common/errors.js';
import type { Auth } from '../auth/index.js';
import { hashPassword, randomPassword, verifyPassword } from '../auth/password.js';
import { normaliseRoles, rolesAllow, USER_NAME, viewOf } from '../auth/users.js';
import { ROLES, type Role } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Roles = Type.Array(RoleSchema, { minItems: 1, maxItems: 4, uniqueItems: true });
const Name = Type.String({ pattern: USER_NAME, maxLength: 64 });
const Current = Type.String({ minLength: 1, maxLength: 1024 });
const UserView = Type.Object({
  name: Type.String(),
  roles: Type.Array(RoleSchema),
  disabled: Type.Boolean(),
  source: Type.Union([Type.Literal('local'), Type.Literal('oidc')]),
  created: Type.String({ format: 'date-time' }),
  last_login: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  has_password: Type.Boolean(),
});
const createUser = (password: TString) =>
  Type.Object(
    { name: Name, roles: Roles, password: Type.Optional(password) },
    { additionalProperties: false },
  );
const PatchUser = Type.Object(
  { roles: Type.Optional(Roles), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
const resetBody = (password: TString) =>
  Type.Object({ password: Type.Optional(password) }, { additionalProperties: false });
const ownPassword = (password: TString) =>
  Type.Object({ current: Current, password }, { additionalProperties: false });
const NameParam = Type.Object({ name: Name });
const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  created: Type.String({ format: 'date-time' }),
  user: Type.Optional(Type.String()),
});
const CreateOwnToken = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 128, pattern: '^[\\w .@-]*$' })),
    role: Type.Optional(RoleSchema),
  },
  { additionalProperties: false },
);

/**
 * User accounts (admin only) and what every user does for themselves: change their password,
 * create and revoke their own tokens. Every change is in the audit log with who made it.
 *
 *   curl -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     -d '{"name":"alice","roles":["analyst"]}' http://127.0.0.1:8080/api/v1/users
 *   curl -X PATCH -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     -d '{"disabled":true}' http://127.0.0.1:8080/api/v1/users/alice
 *   curl -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{}' \
 *     http://127.0.0.1:8080/api/v1/users/alice/password
 *   curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *     -d '{"name":"laptop","role":"viewer"}' http://127.0.0.1:8080/api/v1/me/tokens
 */
export function userRoutes(app: FastifyInstance, _ctx: ApiContext, auth: Auth): void {
  const tags = ['users'];
  // The schema states the configured rule, so a client learns it from the document.
  const Password = Type.String({ minLength: auth.config.password.minLength, maxLength: 1024 });
  const CreateUser = createUser(Password);
  const ResetBody = resetBody(Password);
  const OwnPassword = ownPassword(Password);
  const enabledAdmins = () => auth.users.list().filter((u) => !u.disabled && u.roles.includes('admin'));
  const me = (req: FastifyRequest) => {
    const user = req.identity?.user;
    if (!user) throw new UserError(409, 'this token belongs to no user; create one with --user, or sign in');
    return user;
  };

  app.get(
    '/api/v1/users',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Users with their roles (never their passwords)',
        response: { 200: Type.Object({ items: Type.Array(UserView) }) },
      },
    },
    async () => ({ items: auth.users.list().map(viewOf) }),
  );

  app.post(
    '/api/v1/users',
    {
      config: { access: 'admin', idempotent: false },
      // Room for the longest passwords the schema admits, JSON-escaped, so it refuses them (400), not the size limit.
      bodyLimit: 64 << 10,
      schema: {
        tags,
        summary: 'Create a user; without a password, a random one is made and shown once',
        body: CreateUser,
        response: {
          201: Type.Object({ user: UserView, password: Type.Optional(Type.String()) }),
          400: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const b = req.body as Static<ReturnType<typeof createUser>>;
      if (auth.users.get(b.name)) throw new UserError(409, `a user named ${b.name} exists`);
      if (b.password !== undefined) auth.checkPasswordRules(b.password);
      const password = b.password ?? randomPassword();
      const u = {
        name: b.name,
        roles: normaliseRoles(b.roles as Role[]),
        password: await hashPassword(password, auth.scrypt),
        disabled: false,
        source: 'local' as const,
        created: new Date().toISOString(),
        last_login: null,
      };
      if (auth.users.get(b.name)) throw new UserError(409, `a user named ${b.name} exists`);
      auth.users.add(u);
      auth.audit(req, 'user.create', { user: u.name, roles: u.roles });
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ user: viewOf(u), ...(b.password === undefined ? { password } : {}) });
    },
  );

  app.get(
    '/api/v1/users/:name',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'One user', params: NameParam, response: { 200: UserView, 404: ErrorSchema } },
    },
    async (req) => {
      const u = auth.users.get((req.params as { name: string }).name);
      if (!u) throw notFound('no such user');
      return viewOf(u);
    },
  );

  app.patch(
    '/api/v1/users/:name',
    {
      config: { access: 'admin' },
      bodyLimit: 64 << 10,
      schema: {
        tags,
        summary: 'Set roles, disable or enable a user (disabling ends their sessions and stops their tokens)',
        params: NameParam,
        body: PatchUser,
        response: { 200: UserView, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const b = req.body as Static<typeof PatchUser>;
      const u = auth.users.get(name);
      if (!u) throw notFound('no such user');
      const roles = b.roles ? normaliseRoles(b.roles as Role[]) : u.roles;
      const disabled = b.disabled ?? u.disabled;
      // Keep one way in: the last enabled admin can neither be disabled nor lose the role.
      const admins = enabledAdmins();
      if (admins.length === 1 && admins[0] === u && (disabled || !roles.includes('admin')))
        throw new UserError(409, `${u.name} is the last enabled admin; make another admin first`);
      const changed = auth.users.update(u.name, (x) => {
        x.roles = roles;
        x.disabled = disabled;
      })!;
      if (disabled) auth.sessions.endUser(u.name);
      auth.audit(req, 'user.update', { user: u.name, ...b });
      return viewOf(changed);
    },
  );

  app.post(
    '/api/v1/users/:name/password',
    {
      config: { access: 'admin', idempotent: false },
      bodyLimit: 64 << 10,
      schema: {
        tags,
        summary: 'Reset a password (a random one when none is given, shown once); ends the user’s sessions',
        params: NameParam,
        body: ResetBody,
        response: {
          200: Type.Object({ password: Type.Optional(Type.String()) }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const b = (req.body ?? {}) as Static<ReturnType<typeof resetBody>>;
      if (!auth.users.get(name)) throw notFound('no such user');
      if (b.password !== undefined) auth.checkPasswordRules(b.password);
      const password = b.password ?? randomPassword();
      const u = await auth.setPassword(name, password);
      if (!u) throw notFound('no such user');
      auth.audit(req, 'user.password_reset', { user: u.name });
      reply.header('cache-control', 'no-store');
      return b.password === undefined ? { password } : {};
    },
  );

  app.post(
    '/api/v1/me/password',
    {
      config: { access: 'viewer', idempotent: false },
      bodyLimit: 64 << 10,
      schema: {
        tags,
        summary: 'Change your own password (your other sessions end)',
        body: OwnPassword,
        response: {
          204: Type.Null({ description: 'Changed' }),
          400: ErrorSchema,
          403: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const name = me(req);
      const b = req.body as Static<ReturnType<typeof ownPassword>>;
      const u = auth.users.get(name);
      if (!u || u.password === null)
        throw new UserError(
          409,
          'your account signs in through the identity provider; change the password there',
        );
      if (!(await verifyPassword(b.current, u.password))) {
        auth.audit(req, 'user.password_change_refused', { user: u.name });
        throw new UserError(403, 'current password not accepted');
      }
      auth.checkPasswordRules(b.password);
      await auth.setPassword(u.name, b.password);
      auth.audit(req, 'user.password_change', { user: u.name });
      // The session this came from stays signed in; the others (and a thief's) have ended.
      if (req.identity?.session) {
        const { cookie } = auth.openSession(req, u, req.identity.session.method);
        reply.header('set-cookie', cookie);
      }
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/me/tokens',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        summary: 'Your tokens (never their secrets)',
        response: { 200: Type.Object({ items: Type.Array(TokenView) }), 409: ErrorSchema },
      },
    },
    async (req) => {
      const name = me(req).toLowerCase();
      return {
        items: auth.tokens
          .list()
          .filter((t) => t.user?.toLowerCase() === name)
          .map(({ hash: _h, ...t }) => t),
      };
    },
  );

  app.post(
    '/api/v1/me/tokens',
    {
      config: { access: 'viewer', idempotent: false },
      bodyLimit: 64 << 10,
      schema: {
        tags,
        summary: 'Create a token of your own (at most your role); the secret is shown once',
        body: CreateOwnToken,
        response: {
          201: Type.Intersect([TokenView, Type.Object({ token: Type.String() })]),
          400: ErrorSchema,
          403: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const name = me(req);
      const u = auth.users.get(name)!;
      const b = req.body as Static<typeof CreateOwnToken>;
      const role = (b.role ?? req.token!.role) as Role;
      if (!rolesAllow(u.roles, role))
        throw new UserError(
          403,
          `you cannot create a token with the ${role} role: you have ${u.roles.join(', ')}`,
        );
      const { token, entry } = auth.tokens.create(role, b.name ?? '', u.name);
      auth.audit(req, 'token.create', { id: entry.id, role, owner: u.name });
      const { hash: _h, ...view } = entry;
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...view, token });
    },
  );

  app.delete(
    '/api/v1/me/tokens/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        summary: 'Revoke one of your tokens',
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) }),
        response: { 204: Type.Null({ description: 'Revoked' }), 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const name = me(req).toLowerCase();
      const { id } = req.params as { id: string };
      const t = auth.tokens.list().find((x) => x.id === id && x.user?.toLowerCase() === name);
      if (!t || !auth.tokens.revoke(id)) throw notFound('you have no token with that id');
      auth.audit(req, 'token.revoke', { id, owner: t.user });
      return reply.code(204).send();
    },
  );
}
