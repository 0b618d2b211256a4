import type { FastifyInstance } from 'fastify';
import { notFound } from '../../common/errors.js';
import { fieldLabel } from '../../schema/registry.js';
import type { ApiContext } from '../context.js';
import { produces, Text } from '../contract.js';
import { ErrorSchema } from '../schemas.js';
import { ENDPOINTS } from './records.js';

/**
 * Health, metrics and the field registry.
 *
 *   curl http://127.0.0.1:8080/api/v1/health
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/metrics
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/fields
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/metrics/network
 */
export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/api/v1/health',
    { config: { access: 'public' }, schema: { tags: ['system'], summary: 'Liveness (no token needed)' } },
    async () => {
      const h = ctx.health?.();
      return {
        status: h?.status ?? 'ok',
        store: ctx.store.backend,
        ...(h?.reasons.length ? { reasons: h.reasons } : {}),
      };
    },
  );
  app.get(
    '/metrics',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics',
        response: { 200: produces({ 'text/plain': Text }, 'Metrics in the Prometheus text format') },
      },
    },
    async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await ctx.metrics.render()),
  );
  // The network's KPIs (not the product's counters) for a Prometheus scrape: the newest finished
  // bucket of each series, stamped with the bucket's time.
  app.get(
    '/metrics/network',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['system'],
        summary: 'Network KPIs for a Prometheus scrape',
        description:
          'The newest finished bucket of every KPI series of the `telemetry` config key, in OpenMetrics when the Accept header asks for it, else the Prometheus text format. 404 when telemetry is not configured.',
        response: {
          200: produces(
            { 'text/plain': Text, 'application/openmetrics-text': Text },
            'KPIs in the Prometheus text format or OpenMetrics',
          ),
          404: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const t = ctx.telemetry;
      if (!t) throw notFound('network KPIs are not exported: add the telemetry key to the config file');
      if ((req.headers.accept ?? '').includes('application/openmetrics-text'))
        return reply
          .type('application/openmetrics-text; version=1.0.0; charset=utf-8')
          .send(t.exposition('openmetrics'));
      return reply.type('text/plain; version=0.0.4').send(t.exposition('text'));
    },
  );
  app.get(
    '/api/v1/fields',
    { config: { access: 'viewer' }, schema: { tags: ['system'], summary: 'Record types and their fields' } },
    async () => {
      const paths = Object.fromEntries(Object.entries(ENDPOINTS).map(([p, t]) => [t, `/api/v1/${p}`]));
      return {
        types: ctx.store.defs.map((d) => ({
          type: d.type,
          doc: d.doc,
          time_field: d.timeField,
          path: paths[d.type] ?? `/api/v1/records/${d.type}`,
          fields: Object.entries(d.fields).map(([name, fd]) => ({
            name,
            type: fd.type,
            label: fieldLabel(name, fd),
            doc: fd.doc,
            unit: fd.unit ?? null,
            nullable: fd.nullable === true,
          })),
        })),
      };
    },
  );
  app.get(
    '/api/v1/stats',
    { config: { access: 'viewer' }, schema: { tags: ['system'], summary: 'Store statistics' } },
    async () => ({ ...(await ctx.store.stats()), ...(ctx.liveStats?.() ?? {}) }),
  );
}

export const LANDING = `<!doctype html><html><head><meta charset="utf-8"><title>Vantage</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em;color:#222}code,pre{background:#f3f3f3;padding:.1em .3em;border-radius:3px}pre{padding:.8em;overflow:auto}</style></head>
<body><h1>Vantage</h1><p>The API is running. The console is not built yet; meanwhile use the API.</p>
<ul><li><a href="/api/v1/docs">Interactive API documentation</a></li><li><a href="/api/v1/openapi.json">OpenAPI document</a></li><li><a href="/api/v1/health">Health</a></li></ul>
<p>Every route but health needs a token: the first start wrote one to <code>DATA_DIR/admin-token</code>.</p>
<pre>TOKEN=$(cat data/admin-token)
curl -H "Authorization: Bearer $TOKEN" 'http://HOST/api/v1/flows?limit=10'
curl -H "Authorization: Bearer $TOKEN" 'http://HOST/api/v1/top?by=bytes&amp;dim=server_ip'
curl -H "Authorization: Bearer $TOKEN" 'http://HOST/api/v1/kpis?metric=bps&amp;step=1m&amp;group_by=app'</pre></body></html>`;
