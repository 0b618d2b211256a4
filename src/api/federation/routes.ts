import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Central } from '../../central/central.js';
import { partial } from '../../central/federated-store.js';
import { mergePcaps } from '../../central/pcap-merge.js';
import { type Op, revive, runOp } from '../../central/wire.js';
import { badRequest, UserError } from '../../common/errors.js';
import type { ApiContext } from '../context.js';

const VERSION = (() => {
  try {
    const u = new URL('../../../../package.json', import.meta.url);
    return String((JSON.parse(readFileSync(u, 'utf8')) as { version?: string }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

/** Header naming the sensors left out of a federated answer (a partial answer). */
export const PARTIAL_HEADER = 'vantage-missing-sensors';

/**
 * Federation. On every Vantage (sensor side):
 *   curl -H "$H" -d '{"op":"count","type":"flow","q":{}}' -H 'content-type: application/json' http://SENSOR/api/v1/federation/query
 *   curl -H "$H" http://SENSOR/api/v1/federation/info
 * On a central (config key central):
 *   curl -H "$H" http://CENTRAL/api/v1/sensors
 *   curl -d '{"name":"s4","url":"http://10.0.0.9:8080","token":"…","joinToken":"…"}' -H 'content-type: application/json' http://CENTRAL/api/v1/federation/join
 *   curl -H "$H" -o all.pcap 'http://CENTRAL/api/v1/pcap?filter=port%2053'
 * Any answer of a central that lacks a sensor carries the header vantage-missing-sensors.
 */
export function federationRoutes(app: FastifyInstance, ctx: ApiContext, central?: Central): void {
  app.post(
    '/api/v1/federation/query',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['federation'],
        summary: 'Run one store query for a central (internal protocol)',
        hide: true,
      },
    },
    async (req) => {
      const op = revive(req.body) as Op;
      if (!op || typeof op !== 'object' || !['list', 'count', 'top', 'distinct', 'series'].includes(op.op))
        throw badRequest('expected {op: list|count|top|distinct|series, ...}');
      return { result: await runOp(ctx.store, op) };
    },
  );
  app.get(
    '/api/v1/federation/info',
    {
      config: { access: 'viewer' },
      schema: { tags: ['federation'], summary: 'Version, store and newest flow' },
    },
    async () => {
      const p = await ctx.store.list({ type: 'flow', limit: 1 });
      const st = await ctx.store.stats();
      let records = 0;
      for (const [type, n] of Object.entries(st.appended)) if (type !== 'alert') records += n;
      const h = ctx.health?.();
      return {
        version: VERSION,
        backend: ctx.store.backend,
        newest: (p.items[0]?.first_ts as string) ?? null,
        // Counters since start: the central turns them into rates between two probes.
        appended: { records, alerts: st.appended.alert ?? 0 },
        health: { status: h?.status ?? 'ok', reasons: h?.reasons ?? [] },
      };
    },
  );
  if (!central) return;

  // Each request gets its own set of missing sensors; the answer names them in a header.
  app.addHook('onRequest', (_req, _reply, done) => {
    partial.run({ missing: new Set() }, done);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    const m = partial.getStore()?.missing;
    if (m && m.size > 0) void reply.header(PARTIAL_HEADER, [...m].sort().join(','));
    return payload;
  });

  app.get(
    '/api/v1/sensors',
    {
      config: { access: 'viewer' },
      schema: { tags: ['federation'], summary: 'Sensors: health, lag, versions' },
    },
    async () => ({ sensors: await central.status(), joinEnabled: Boolean(central.cfg.joinToken) }),
  );
  app.post(
    '/api/v1/federation/join',
    {
      config: { access: 'public' },
      schema: { tags: ['federation'], summary: 'A sensor registers itself with the join token' },
    },
    async (req) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const want = central.cfg.joinToken;
      const got = typeof b.joinToken === 'string' ? Buffer.from(b.joinToken) : Buffer.alloc(0);
      if (!want || got.length !== Buffer.byteLength(want) || !timingSafeEqual(got, Buffer.from(want)))
        throw new UserError(403, 'join token not accepted');
      const { joinToken: _t, ...spec } = b;
      const s = central.join(spec);
      return { joined: s.name };
    },
  );
  if (!ctx.pcap) {
    app.get(
      '/api/v1/pcap',
      {
        config: { access: 'analyst' },
        schema: {
          tags: ['federation'],
          summary: 'Packets from every sensor merged in time order into one pcap',
        },
      },
      async (req, reply) => {
        const qs = new URLSearchParams(req.url.split('?')[1] ?? '');
        qs.set('format', 'pcap');
        const missing = partial.getStore()?.missing;
        const files = await Promise.all(
          central.sensors().map(async (s) => {
            try {
              const res = await fetch(`${s.url}/api/v1/pcap?${qs}`, {
                headers: { authorization: `Bearer ${s.token}` },
                signal: AbortSignal.timeout(central.timeoutMs),
              });
              if (res.status === 400)
                throw new UserError(
                  400,
                  ((await res.json()) as { error: { message: string } }).error.message,
                );
              if (!res.ok) throw new Error(`HTTP ${res.status}`);
              return Buffer.from(await res.arrayBuffer());
            } catch (e) {
              if (e instanceof UserError) throw e;
              missing?.add(s.name);
              return Buffer.alloc(0);
            }
          }),
        );
        return reply
          .type('application/vnd.tcpdump.pcap')
          .header('content-disposition', 'attachment; filename="vantage.pcap"')
          .send(mergePcaps(files));
      },
    );
  }
}
