import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { notFound, UserError } from '../../common/errors.js';
import { rolesAllow, USER_NAME } from '../auth/users.js';
import { ROLES, type Role } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

const CreateToken = Type.Object(
  {
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    name: Type.Optional(Type.String({ maxLength: 128, pattern: '^[\\w .@-]*$' })),
    user: Type.Optional(
      Type.String({ pattern: USER_NAME, maxLength: 64, description: 'The user the token acts as' }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Token management (admin only).
 *
 *   curl -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
 *     -d '{"role":"analyst","name":"alice"}' http://127.0.0.1:8080/api/v1/tokens
 */
export function adminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/api/v1/tokens',
    {
      config: { access: 'admin' },
      schema: { tags: ['admin'], summary: 'List tokens (never their secrets)' },
    },
    async () => ({ items: ctx.tokens.list().map(({ hash: _h, ...rest }) => rest) }),
  );
  app.post(
    '/api/v1/tokens',
    {
      config: { access: 'admin' },
      bodyLimit: 4096,
      schema: {
        tags: ['admin'],
        summary: 'Create a token; the secret is shown once',
        body: CreateToken,
        response: {
          201: Type.Object({}, { additionalProperties: true }),
          400: ErrorSchema,
          403: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const b = req.body as Static<typeof CreateToken>;
      let owner: string | undefined;
      if (b.user !== undefined) {
        const u = ctx.auth?.users.get(b.user);
        if (!u) throw notFound(`no user named ${b.user}`);
        if (!rolesAllow(u.roles, b.role as Role))
          throw new UserError(
            403,
            `${u.name} has ${u.roles.join(', ')}; a token cannot do more than its user`,
          );
        owner = u.name;
      }
      const { token, entry } = ctx.tokens.create(b.role as Role, b.name ?? '', owner);
      ctx.auth?.audit(req, 'token.create', { id: entry.id, role: entry.role, owner: owner ?? null });
      return reply.code(201).send({
        token,
        id: entry.id,
        role: entry.role,
        name: entry.name,
        created: entry.created,
        ...(owner ? { user: owner } : {}),
      });
    },
  );
  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Revoke a token',
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) }),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!ctx.tokens.revoke(id)) throw notFound('no token with that id');
      ctx.auth?.audit(req, 'token.revoke', { id });
      return reply.code(204).send();
    },
  );
}
