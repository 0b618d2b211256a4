import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, UserError } from '../../common/errors.js';
import type { ApiContext } from '../context.js';
import { type Dashboard, DashboardStore, type Widget } from '../dashboards.js';
import { ErrorSchema, semantic } from '../schemas.js';

const WidgetSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' }),
    kind: Type.Union([
      Type.Literal('timeseries'),
      Type.Literal('top'),
      Type.Literal('bar'),
      Type.Literal('number'),
      Type.Literal('monitor'),
      Type.Literal('interfaces'),
    ]),
    title: Type.String({ maxLength: 128 }),
    monitor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' })),
    metric: Type.Optional(Type.String({ pattern: '^[a-z_]{1,32}$' })),
    dim: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,64}$' })),
    by: Type.Optional(Type.Union([Type.Literal('bytes'), Type.Literal('packets'), Type.Literal('flows')])),
    type: Type.Optional(Type.String({ pattern: '^[a-z_]{1,32}$' })),
    filter: Type.Optional(semantic(Type.String({ maxLength: 4096 }), ['server_port = 443'])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    width: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  },
  { additionalProperties: false },
);

const DashboardBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    shared: Type.Optional(Type.Boolean({ description: 'Readable by every token when true.' })),
    widgets: Type.Array(WidgetSchema, { maxItems: 48 }),
  },
  { additionalProperties: false },
);
type Body = Static<typeof DashboardBody>;

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) });

/**
 * Custom dashboards, saved per user (token) and optionally shared with everyone. Any role may
 * keep its own dashboards; only the owner or an admin changes or deletes one.
 *
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/dashboards
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
 *     -d '{"name":"Web","shared":true,"widgets":[{"id":"w1","kind":"timeseries","title":"HTTPS bps","metric":"bps","filter":"server_port = 443"}]}' \
 *     http://127.0.0.1:8080/api/v1/dashboards
 */
export function dashboardRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const store = new DashboardStore(ctx.dataDir);
  const visible = (req: FastifyRequest, d: Dashboard) =>
    d.shared || d.owner === req.token!.id || req.token!.role === 'admin';
  const mayChange = (req: FastifyRequest, d: Dashboard) =>
    d.owner === req.token!.id || req.token!.role === 'admin';
  const fetchOne = (req: FastifyRequest): Dashboard => {
    const d = store.get((req.params as { id: string }).id);
    if (!d || !visible(req, d))
      throw notFound('no dashboard with that id (or it is private to another user)');
    return d;
  };
  const clean = (b: Body) => ({
    name: b.name.trim() || 'Untitled',
    shared: b.shared === true,
    widgets: b.widgets as Widget[],
  });

  app.get(
    '/api/v1/dashboards',
    {
      config: { access: 'viewer' },
      schema: { tags: ['dashboards'], summary: 'Your dashboards and the shared ones' },
    },
    async (req) => ({
      items: store
        .list()
        .filter((d) => d.owner === req.token!.id || d.shared)
        .map((d) => ({ ...d, mine: d.owner === req.token!.id })),
    }),
  );
  app.get(
    '/api/v1/dashboards/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['dashboards'],
        summary: 'One dashboard',
        params: IdParams,
        response: { 404: ErrorSchema },
      },
    },
    async (req) => {
      const d = fetchOne(req);
      return { ...d, mine: d.owner === req.token!.id };
    },
  );
  app.post(
    '/api/v1/dashboards',
    {
      config: { access: 'viewer' },
      bodyLimit: 256 * 1024,
      schema: {
        tags: ['dashboards'],
        summary: 'Create a dashboard owned by the calling token (at most 50 per user)',
        body: DashboardBody,
        response: {
          201: Type.Object({}, { additionalProperties: true }),
          400: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const d = store.create({ id: req.token!.id, name: req.token!.name }, clean(req.body as Body));
      return reply.code(201).send({ ...d, mine: true });
    },
  );
  app.put(
    '/api/v1/dashboards/:id',
    {
      config: { access: 'viewer' },
      bodyLimit: 256 * 1024,
      schema: {
        tags: ['dashboards'],
        summary: 'Replace a dashboard (owner or admin)',
        params: IdParams,
        body: DashboardBody,
        response: { 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => {
      const d = fetchOne(req);
      if (!mayChange(req, d))
        throw new UserError(
          403,
          `only its owner (${d.owner_name || d.owner}) or an admin may change this dashboard`,
        );
      const out = store.update(d.id, clean(req.body as Body))!;
      return { ...out, mine: out.owner === req.token!.id };
    },
  );
  app.delete(
    '/api/v1/dashboards/:id',
    {
      config: { access: 'viewer' },
      schema: { tags: ['dashboards'], summary: 'Delete a dashboard (owner or admin)', params: IdParams },
    },
    async (req, reply) => {
      const d = fetchOne(req);
      if (!mayChange(req, d))
        throw new UserError(
          403,
          `only its owner (${d.owner_name || d.owner}) or an admin may delete this dashboard`,
        );
      store.remove(d.id);
      return reply.code(204).send();
    },
  );
}
