import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '../../bus/bus.js';
import { parseSinkSpec } from '../../bus/config.js';
import { ConfigError, UserError } from '../../common/errors.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema, semantic } from '../schemas.js';

const NameParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }) });

const SinkRow = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  filter: Type.String(),
  enabled: Type.Boolean(),
  health: Type.Union([Type.Literal('ok'), Type.Literal('failing'), Type.Literal('unknown')]),
  detail: Type.String(),
  stats: Type.Object({
    sent: Type.Integer(),
    filtered: Type.Integer(),
    failed: Type.Integer(),
    retried: Type.Integer(),
    dead: Type.Integer(),
    lag: Type.Integer({
      description: 'Alerts published but not yet delivered (or filtered out) by this sink.',
    }),
    lag_seconds: Type.Union([Type.Number(), Type.Null()]),
    last_error: Type.Union([Type.String(), Type.Null()]),
  }),
});

/**
 * Alert sinks (admin): where alerts go after the store, through the durable outbox.
 *
 *   curl -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/sinks
 *   curl -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
 *     -d '{"name":"siem","kind":"syslog","filter":"severity >= 70","syslog":{"host":"10.0.0.5","port":514,"transport":"tcp","format":"cef"}}' \
 *     http://127.0.0.1:8080/api/v1/sinks
 *   curl -X POST -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/sinks/siem/test
 */
export function sinkRoutes(app: FastifyInstance, ctx: ApiContext, bus: Bus): void {
  const known = (name: string) => {
    if (!bus.listSinks().some((s) => s.name === name)) throw new UserError(404, `no sink '${name}'`);
  };
  const rows = () => {
    const st = bus.stats();
    return bus.listSinks().map((s) => {
      const x = st.sinks.find((y) => y.name === s.name);
      return {
        name: s.name,
        kind: s.kind,
        filter: s.filter,
        enabled: true,
        health:
          (x?.health.ok ?? s.health.ok)
            ? ('ok' as const)
            : x || s.health.detail
              ? ('failing' as const)
              : ('unknown' as const),
        detail: x?.health.detail ?? s.health.detail,
        stats: {
          sent: x?.sent ?? 0,
          filtered: x?.filtered ?? 0,
          failed: x?.failed ?? 0,
          retried: x?.retried ?? 0,
          dead: x?.dead ?? 0,
          lag: x?.lagAlerts ?? 0,
          lag_seconds: x ? x.lagSeconds : null,
          last_error: x?.lastError ?? null,
        },
      };
    });
  };

  app.get(
    '/api/v1/sinks',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary: 'Alert sinks with their health, lag and counters, and the outbox',
        response: {
          200: Type.Object({
            items: Type.Array(SinkRow),
            outbox: Type.Object({
              published: Type.Integer(),
              overflow: Type.Integer(),
              bytes: Type.Integer(),
              segments: Type.Integer(),
            }),
          }),
        },
      },
    },
    async () => {
      const st = bus.stats();
      return {
        items: rows(),
        outbox: {
          published: st.published,
          overflow: st.overflow,
          bytes: st.outboxBytes,
          segments: st.segments,
        },
      };
    },
  );

  app.post(
    '/api/v1/sinks',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary:
          "Add a sink (the config file's shape: {name, kind, filter, <kind>: {...}}); it gets alerts from now on",
        body: semantic(
          Type.Object(
            {},
            {
              additionalProperties: true,
              description: 'A sink as the config file writes it: {name, kind, filter, <kind>: {...}}.',
            },
          ),
          [
            {
              name: 'example-webhook',
              kind: 'webhook',
              filter: 'severity >= 70',
              webhook: { url: 'http://127.0.0.1:9/hook', secret: 'example-secret-0123456789' },
            },
          ],
        ),
        response: { 200: SinkRow, 201: SinkRow, 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      let spec: ReturnType<typeof parseSinkSpec>;
      try {
        spec = parseSinkSpec(req.body, 'body');
      } catch (e) {
        if (e instanceof ConfigError) throw new UserError(400, e.message.replace(/^config: /, ''));
        throw e;
      }
      const same = bus.listSinks().find((s) => s.name === spec.name);
      if (same) {
        // The same sink posted again (a retried request) is not a conflict.
        if (same.kind === spec.kind && same.filter === spec.filter) {
          return reply.code(200).send(rows().find((r) => r.name === spec.name));
        }
        throw new UserError(
          409,
          `a sink named '${spec.name}' exists with another kind or filter; remove it first`,
        );
      }
      try {
        await bus.addSink(spec);
      } catch (e) {
        if (e instanceof ConfigError) throw new UserError(400, e.message.replace(/^config: /, ''));
        throw e;
      }
      // Secrets stay out of the audit log: the kind's settings are not recorded.
      ctx.audit?.({
        action: 'sink.add',
        actor: req.token?.name ?? null,
        details: { name: spec.name, kind: spec.kind, filter: spec.filter },
      });
      return reply.code(201).send(rows().find((r) => r.name === spec.name));
    },
  );

  app.delete(
    '/api/v1/sinks/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary: 'Remove a sink (what it had not delivered is not sent)',
        params: NameParams,
        response: { 204: Type.Null(), 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      known(name);
      await bus.removeSink(name);
      ctx.audit?.({ action: 'sink.remove', actor: req.token?.name ?? null, details: { name } });
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/sinks/:name/test',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary: 'Send one test alert straight to the sink and report the outcome',
        params: NameParams,
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            error: Type.Union([Type.String(), Type.Null()]),
            ms: Type.Number(),
          }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      known(name);
      return bus.testSink(name);
    },
  );

  app.get(
    '/api/v1/sinks/:name/dead-letters',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary: 'Alerts the sink gave up on after its retries',
        params: NameParams,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                alert_id: Type.String(),
                attempts: Type.Integer(),
                last_error: Type.Union([Type.String(), Type.Null()]),
                ts: Type.String(),
              }),
            ),
          }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      known(name);
      const dead = await bus.deadLetters(name);
      return {
        items: dead.map((d) => ({
          alert_id: d.alert.alert_id,
          attempts: d.attempts,
          last_error: d.error || null,
          ts: new Date(d.t).toISOString(),
        })),
      };
    },
  );

  app.post(
    '/api/v1/sinks/:name/replay',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sinks'],
        summary: "Deliver the sink's dead letters again",
        params: NameParams,
        response: { 200: Type.Object({ replayed: Type.Integer() }), 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      known(name);
      const n = await bus.replay(name);
      ctx.audit?.({ action: 'sink.replay', actor: req.token?.name ?? null, details: { name, alerts: n } });
      return { replayed: n };
    },
  );
}
