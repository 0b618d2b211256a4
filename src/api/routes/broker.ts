import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import { parseTargetConfig } from '../../broker/config.js';
import { ConfigError, notFound, UserError } from '../../common/errors.js';
import type { AuditLog } from '../audit.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema, semantic } from '../schemas.js';

/** What the broker and stream routes need beyond the shared context. */
export interface BrokerRouteDeps {
  broker: Broker;
  /** Target changes and live streams are audited (who, what, how much). */
  audit: AuditLog;
}

const TargetBody = semantic(
  Type.Object(
    {},
    {
      additionalProperties: true,
      description:
        'A broker target as in the config file (broker.targets[]): name, filter, rules, snaplen, dedupWindowMs, queue, deliver',
      examples: [
        {
          name: 'ids',
          filter: 'tcp port 80',
          snaplen: 256,
          deliver: { type: 'vxlan', host: '10.0.0.5', port: 4789, vni: 100 },
        },
      ],
    },
  ),
);

const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });

/**
 * Packet broker targets (admin only): list them with their counters, add one (validated like
 * the config file's `broker.targets[]`; a bad key gets a 400 naming it), remove one.
 * Targets added here last until the product stops; the config file holds the permanent ones.
 *
 *   curl -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/broker/targets
 *   curl -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
 *     -d '{"name":"ids","filter":"tcp port 80","deliver":{"type":"vxlan","host":"10.0.0.5","vni":100}}' \
 *     http://127.0.0.1:8080/api/v1/broker/targets
 *   curl -X DELETE -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8080/api/v1/broker/targets/ids
 */
export function brokerRoutes(app: FastifyInstance, _ctx: ApiContext, deps: BrokerRouteDeps): void {
  const { broker } = deps;
  app.get(
    '/api/v1/broker/targets',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['broker'],
        summary: 'Broker targets with their counters (matched, sent, dropped, bytes)',
      },
    },
    async () => {
      const s = broker.stats();
      return { packets: s.packets, undeliverable: s.undeliverable, items: s.targets };
    },
  );

  app.post(
    '/api/v1/broker/targets',
    {
      config: { access: 'admin' },
      bodyLimit: 64 << 10,
      schema: {
        tags: ['broker'],
        summary: 'Add a broker target (filter, rules, slicing, de-duplication, delivery)',
        body: TargetBody,
        response: {
          201: Type.Object({}, { additionalProperties: true }),
          400: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const body = req.body as Static<typeof TargetBody>;
      let tc: ReturnType<typeof parseTargetConfig>;
      try {
        tc = parseTargetConfig(body, 'target');
      } catch (e) {
        if (e instanceof ConfigError) throw new UserError(400, e.message.replace(/^config: /, ''));
        throw e;
      }
      if (!tc.deliver)
        throw new UserError(
          400,
          'target.deliver: required: how to deliver the packets (vxlan, gre, erspan, pcap-tcp, interface)',
        );
      if (broker.stats().targets.some((t) => t.name === tc.name))
        throw new UserError(409, `target.name: a target named '${tc.name}' exists already`);
      let stats: Awaited<ReturnType<Broker['addTarget']>>;
      try {
        stats = await broker.addTarget(tc);
      } catch (e) {
        throw new UserError(400, `target.deliver: ${(e as Error).message}`);
      }
      deps.audit({ action: 'broker.target_add', actor: req.token?.name ?? null, details: { target: tc } });
      return reply.code(201).send(stats);
    },
  );

  app.delete(
    '/api/v1/broker/targets/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['broker'],
        summary: 'Remove a broker target; returns its last counters',
        params: NameParams,
        response: { 404: ErrorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as Static<typeof NameParams>;
      const last = await broker.removeTarget(name);
      if (!last) throw notFound(`no broker target named '${name.slice(0, 64)}'`);
      deps.audit({
        action: 'broker.target_remove',
        actor: req.token?.name ?? null,
        details: { name, matched: last.matched, sent: last.sent, dropped: last.dropped, bytes: last.bytes },
      });
      return last;
    },
  );
}
