import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../common/errors.js';
import { METRICS, type Metric, SERIES_STATS, type SeriesStat, type TopBy } from '../../store/types.js';
import { parseDuration } from '../../store/values.js';
import { type ApiContext, defOf, parseFilterParam, parseRange } from '../context.js';
import { ErrorSchema, semantic, TimeQuery } from '../schemas.js';

const KpiQuery = Type.Object(
  {
    ...TimeQuery,
    metric: Type.Union(
      METRICS.map((m) => Type.Literal(m)),
      {
        description:
          'bps, pps, flows (per second), rtt_ms, srt_ms (means), retrans_rate (retransmitted / packets).',
      },
    ),
    // Valid only with metric rtt_ms or srt_ms: a constraint between two parameters.
    stat: Type.Optional(
      semantic(
        Type.Union(
          SERIES_STATS.map((s) => Type.Literal(s)),
          {
            description: 'For rtt_ms and srt_ms only: mean (default), p50, p90, p95, p99 or max per bucket.',
          },
        ),
      ),
    ),
    step: Type.Optional(
      Type.String({ pattern: '^[1-9][0-9]{0,5}[smhd]$', description: 'Bucket width: 10s, 1m, 5m, 1h, 1d.' }),
    ),
    group_by: Type.Optional(
      semantic(Type.String({ maxLength: 64, description: 'A flow field: app, server_ip, server_port...' }), [
        'app',
        'server_port',
      ]),
    ),
    groups: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Groups kept (largest first); the rest are "other".',
      }),
    ),
  },
  { additionalProperties: false },
);

const TopQuery = Type.Object(
  {
    ...TimeQuery,
    by: Type.Optional(Type.Union([Type.Literal('bytes'), Type.Literal('packets'), Type.Literal('flows')])),
    dim: semantic(
      Type.String({
        maxLength: 64,
        description: 'Field to rank: server_ip, client_ip, app, server_port...',
      }),
      ['server_ip'],
    ),
    // Which fields dim may name depends on the type: a valid pair is one the registry has.
    type: Type.Optional(
      semantic(Type.String({ pattern: '^[a-z_]{1,32}$', description: 'Record type (default flow).' }), [
        'flow',
      ]),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/**
 * KPI time series and top-N.
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/kpis?metric=bps&step=1m&group_by=app'
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/top?by=bytes&dim=server_ip&limit=10'
 */
export function kpiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const flowDef = () => {
    const d = defOf(ctx, 'flow');
    if (!d) throw badRequest('no flow record type is registered');
    return d;
  };
  app.get(
    '/api/v1/kpis',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['kpis'],
        summary: 'KPI time series over flows',
        querystring: KpiQuery,
        response: { 400: ErrorSchema },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof KpiQuery>;
      const def = flowDef();
      const step = parseDuration(q.step ?? '1m');
      if (step === null) throw badRequest(`step: '${q.step}' is not a duration; use 10s, 1m, 5m, 1h or 1d`);
      if (q.group_by !== undefined && !Object.hasOwn(def.fields, q.group_by)) {
        throw badRequest(`group_by: '${q.group_by}' is not a flow field; see /api/v1/fields`);
      }
      return ctx.store.timeseries({
        metric: q.metric as Metric,
        ...(q.stat ? { stat: q.stat as SeriesStat } : {}),
        step,
        ...parseRange(q),
        filter: parseFilterParam(q.filter, def),
        ...(q.group_by ? { groupBy: q.group_by } : {}),
        ...(q.groups ? { groups: q.groups } : {}),
      });
    },
  );
  app.get(
    '/api/v1/top',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['kpis'],
        summary: 'Top values of a field by bytes, packets or flows',
        querystring: TopQuery,
        response: { 400: ErrorSchema },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof TopQuery>;
      const type = q.type ?? 'flow';
      const def = defOf(ctx, type);
      if (!def) return { type, by: q.by ?? 'bytes', dim: q.dim, items: [] };
      if (!Object.hasOwn(def.fields, q.dim))
        throw badRequest(`dim: '${q.dim}' is not a field of ${type} records; see /api/v1/fields`);
      const by = (q.by ?? 'bytes') as TopBy;
      const items = await ctx.store.top({
        type,
        by,
        dim: q.dim,
        limit: q.limit ?? 10,
        ...parseRange(q),
        filter: parseFilterParam(q.filter, def),
      });
      return { type, by, dim: q.dim, items };
    },
  );
}
