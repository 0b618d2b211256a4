import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { notFound, UserError } from '../../common/errors.js';
import type { Monitors } from '../../detect/monitors/monitors.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema, semantic } from '../schemas.js';

const NameParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) });

const RuleState = Type.Object({
  rule: Type.String(),
  state: Type.Union([
    Type.Literal('ok'),
    Type.Literal('firing'),
    Type.Literal('no_data'),
    Type.Literal('learning'),
  ]),
  value: Type.Union([Type.Number(), Type.Null()]),
  threshold: Type.Union([Type.Number(), Type.Null()]),
  since: Type.Union([Type.String(), Type.Null()]),
  alert_id: Type.Union([Type.String(), Type.Null()]),
});

const Spec = Type.Object(
  {
    // Redundant with the URL and refused when it differs: a constraint between two places.
    name: Type.Optional(
      semantic(
        Type.String({
          pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
          description: 'Must equal the name in the URL.',
        }),
      ),
    ),
    filter: Type.Optional(
      semantic(
        Type.String({ maxLength: 4096, description: 'Filter over flow fields; empty for all traffic.' }),
        ['server_port = 443', ''],
      ),
    ),
    rules: Type.Optional(
      Type.Array(
        semantic(Type.String({ maxLength: 200 }), ['rtt_ms p95 > 100 for 5m', 'flows < 1 for 15m']),
        {
          maxItems: 16,
          description: 'e.g. "rtt_ms p95 > 100 for 5m", "bps > 3 x baseline for 10m", "flows < 1 for 15m".',
        },
      ),
    ),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    severity: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const View = Type.Object({
  name: Type.String(),
  filter: Type.String(),
  rules: Type.Array(Type.String()),
  description: Type.Optional(Type.String()),
  severity: Type.Optional(Type.Integer()),
  enabled: Type.Optional(Type.Boolean()),
  state: Type.Array(RuleState),
  evaluated: Type.Union([Type.String(), Type.Null()]),
});

/**
 * Network monitors: named flow filters with threshold rules that raise alerts of category
 * threshold while they hold.
 *
 *   curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *     -d '{"filter":"app ~ \"salesforce\" and client_ip = 10.1.0.0/16","rules":["rtt_ms p95 > 100 for 5m"]}' \
 *     http://127.0.0.1:8080/api/v1/monitors/salesforce
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/monitors
 */
export function monitorRoutes(app: FastifyInstance, ctx: ApiContext, monitors: Monitors): void {
  app.get(
    '/api/v1/monitors',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['monitors'],
        summary: 'Every monitor with the state of its rules',
        response: { 200: Type.Object({ items: Type.Array(View) }) },
      },
    },
    async () => ({ items: monitors.list() }),
  );
  app.get(
    '/api/v1/monitors/:name',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['monitors'],
        summary: 'One monitor',
        params: NameParams,
        response: { 200: View, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      const m = monitors.get(name);
      if (!m) throw notFound(`no monitor '${name}'`);
      return m;
    },
  );
  app.put(
    '/api/v1/monitors/:name',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['monitors'],
        summary: 'Create or replace a monitor (audited)',
        params: NameParams,
        body: Spec,
        response: { 200: View, 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      const body = req.body as Record<string, unknown>;
      if (body.name !== undefined && body.name !== name) {
        throw new UserError(400, `name: the body names '${String(body.name)}' but the URL '${name}'`);
      }
      const view = monitors.put({ ...body, name });
      ctx.audit?.({ action: 'monitor.put', actor: req.token?.name ?? null, details: { monitor: view } });
      return view;
    },
  );
  app.delete(
    '/api/v1/monitors/:name',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['monitors'],
        summary: 'Remove a monitor (its firing alerts are closed; audited)',
        params: NameParams,
        response: { 204: Type.Null(), 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      if (!monitors.remove(name)) throw notFound(`no monitor '${name}'`);
      ctx.audit?.({ action: 'monitor.delete', actor: req.token?.name ?? null, details: { name } });
      return reply.code(204).send();
    },
  );
}
