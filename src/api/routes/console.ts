import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/**
 * What the console needs to know about the caller: the token's name and role, so it can
 * hide what the role may not do (the server refuses it anyway).
 *
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/me
 */
export function consoleRoutes(app: FastifyInstance, _ctx: ApiContext): void {
  app.get(
    '/api/v1/me',
    {
      config: { access: 'viewer' },
      schema: { tags: ['system'], summary: 'The calling token: id, name, role' },
    },
    async (req) => ({
      id: req.token!.id,
      name: req.token!.name,
      role: req.token!.role,
      user: req.identity?.user ?? null,
      roles: req.identity?.roles ?? [req.token!.role],
      via: req.identity?.via ?? 'token',
    }),
  );
}
