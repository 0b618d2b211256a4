import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AlertHub } from '../../bus/hub.js';
import { badRequest, notFound, UserError } from '../../common/errors.js';
import { mergePresence, presence } from '../../pcapstore/presence.js';
import type { PcapQuery } from '../../pcapstore/query.js';
import { ALERT_STATUSES, type AlertRecord, alertRecord } from '../../schema/alert.js';
import { flowRecord } from '../../schema/records.js';
import { parseFilter } from '../../store/filter.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema, recordSchema, TimeParam } from '../schemas.js';
import { parseApiTime } from '../time.js';
import { PcapResponse, pcapDownloader } from './pcap.js';

/** Packets and KPIs are looked up this long around an alert's episode. */
const MARGIN_MS = 60_000;
/** Longest window a pivot searches: a days-long episode is cut to its last part. */
const MAX_WINDOW_MS = 6 * 3_600_000;

const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }) });

const Patch = Type.Object(
  {
    status: Type.Optional(Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)))),
    assignee: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
    notes: Type.Optional(Type.Union([Type.String({ maxLength: 16_384 }), Type.Null()])),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** The console's cross-launch URLs: stable, documented, usable from SIEMs and other consoles. */
export function pivotUrls(
  a: Pick<AlertRecord, 'src_ip' | 'dst_ip' | 'community_id' | 'first_ts' | 'alert_id'>,
) {
  const ts = encodeURIComponent(a.first_ts);
  const out: Record<string, string> = { alert: `/#/alerts/${encodeURIComponent(a.alert_id)}` };
  if (a.src_ip) out.src = `/#/pivot?ip=${encodeURIComponent(a.src_ip)}&ts=${ts}`;
  if (a.dst_ip) out.dst = `/#/pivot?ip=${encodeURIComponent(a.dst_ip)}&ts=${ts}`;
  if (a.community_id) out.flow = `/#/pivot?community_id=${encodeURIComponent(a.community_id)}&ts=${ts}`;
  return out;
}

function windowOf(a: AlertRecord): { afterMs: number; beforeMs: number } {
  const first = Date.parse(a.first_ts);
  const last = Date.parse(a.last_ts);
  const beforeMs = last + MARGIN_MS;
  return { afterMs: Math.max(first - MARGIN_MS, beforeMs - MAX_WINDOW_MS), beforeMs };
}

/**
 * Alerts: one record list like every other (GET /api/v1/alerts, filters, paging, exports),
 * plus one alert, an analyst's changes, and the three pivots of every alert.
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/alerts?filter=severity%20%3E%3D%2070'
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/alerts/ALERT_ID
 *   curl -X PATCH -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *     -d '{"status":"acknowledged","assignee":"alice"}' http://127.0.0.1:8080/api/v1/alerts/ALERT_ID
 *   curl -H "Authorization: Bearer $TOKEN" -o alert.pcap http://127.0.0.1:8080/api/v1/alerts/ALERT_ID/pcap
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/alerts/ALERT_ID/presence
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/alerts/ALERT_ID/context
 */
export function alertRoutes(app: FastifyInstance, ctx: ApiContext, hub: AlertHub): void {
  const load = async (id: string): Promise<AlertRecord> => {
    const a = await hub.get(id);
    if (!a) throw notFound(`no alert ${id}`);
    return a;
  };
  const AlertSchema = recordSchema(alertRecord);

  app.get(
    '/api/v1/alerts/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: 'One alert, with the console URLs that pivot from it',
        params: IdParams,
        response: {
          200: Type.Object({ alert: AlertSchema, links: Type.Record(Type.String(), Type.String()) }),
          400: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const a = await load((req.params as { id: string }).id);
      return { alert: a, links: pivotUrls(a) };
    },
  );

  app.patch(
    '/api/v1/alerts/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['alerts'],
        summary: 'Change the status, assignee, notes or tags of an alert (audited)',
        params: IdParams,
        body: Patch,
        response: { 200: AlertSchema, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const patch = req.body as Parameters<AlertHub['update']>[1];
      const before = await load(id);
      const a = await hub.update(id, patch);
      if (!a) throw notFound(`no alert ${id}`);
      ctx.audit?.({
        action: 'alert.update',
        actor: req.token?.name ?? null,
        details: {
          alert_id: id,
          from: { status: before.status, assignee: before.assignee },
          change: patch,
        },
      });
      return a;
    },
  );

  const pcapDeps = ctx.pcap;
  if (pcapDeps) {
    const download = pcapDownloader(pcapDeps);
    app.get(
      '/api/v1/alerts/:id/pcap',
      {
        config: { access: 'analyst', etag: false },
        schema: {
          tags: ['alerts'],
          summary:
            "The alert's packets: its 5-tuple (or its hosts) from a minute before the episode to a minute after",
          params: IdParams,
          querystring: Type.Object(
            {
              format: Type.Optional(Type.Union([Type.Literal('pcap'), Type.Literal('pcapng')])),
              max_packets: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
            },
            { additionalProperties: false },
          ),
          response: PcapResponse,
        },
      },
      async (req, reply) => {
        const a = await load((req.params as { id: string }).id);
        const { afterMs, beforeMs } = windowOf(a);
        const q: PcapQuery = { after: afterMs * 1000, before: beforeMs * 1000 };
        const mp = (req.query as { max_packets?: number }).max_packets;
        if (mp !== undefined) q.maxPackets = mp;
        if (a.community_id) q.communityId = a.community_id;
        else {
          const ips = [a.src_ip, a.dst_ip].filter((x): x is string => !!x);
          if (ips.length === 0)
            throw new UserError(404, 'this alert names no host, so it has no packets to look up');
          q.ip = ips;
          if (a.dst_port !== null && a.proto !== null && (a.proto === 6 || a.proto === 17))
            q.port = a.dst_port;
          if (a.proto !== null) q.proto = a.proto;
        }
        return download(req, reply, q);
      },
    );
  }

  app.get(
    '/api/v1/alerts/:id/presence',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['alerts'],
        summary:
          "Are the alert's hosts still talking? Last seen and flows since (default: the last 15 minutes)",
        params: IdParams,
        querystring: Type.Object(
          { since: Type.Optional(TimeParam('Since when (default -15m).')) },
          { additionalProperties: false },
        ),
        response: { 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const a = await load((req.params as { id: string }).id);
      const sinceText = (req.query as { since?: string }).since ?? '-15m';
      const since = parseApiTime(sinceText);
      if (since === null)
        throw badRequest(`since: '${sinceText.slice(0, 64)}' is not a time; use ISO-8601 or -15m`);
      const ip = a.src_ip ?? a.dst_ip;
      if (!ip) throw new UserError(404, 'this alert names no host to look up');
      const peer = a.src_ip && a.dst_ip ? a.dst_ip : null;
      const answers = [];
      if (pcapDeps) answers.push(presence(pcapDeps.store, ip, peer, since));
      const flows = await pcapDeps?.flowPresence?.(ip, peer, since);
      if (flows) answers.push(flows);
      const merged = answers.length > 0 ? mergePresence(answers) : null;
      return {
        alert_id: a.alert_id,
        ip,
        peer,
        since: new Date(since / 1000).toISOString(),
        presence: merged,
      };
    },
  );

  app.get(
    '/api/v1/alerts/:id/context',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: "KPIs and top talkers around the alert's time, and the console URLs of that moment",
        params: IdParams,
        response: { 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const a = await load((req.params as { id: string }).id);
      const { afterMs, beforeMs } = windowOf(a);
      const range = { after: afterMs * 1000, before: beforeMs * 1000 };
      const hosts = [a.src_ip, a.dst_ip].filter((x): x is string => !!x);
      const hostFilter =
        hosts.length > 0
          ? parseFilter(hosts.map((h) => `ip = ${JSON.stringify(h)}`).join(' or '), flowRecord)
          : null;
      const spanS = (beforeMs - afterMs) / 1000;
      const step = spanS <= 900 ? 10 : spanS <= 7200 ? 60 : 300;
      const [bps, peers, total] = await Promise.all([
        ctx.store.timeseries({ metric: 'bps', step, filter: hostFilter, ...range }),
        hosts.length > 0
          ? ctx.store.top({
              type: 'flow',
              by: 'bytes',
              dim: 'server_ip',
              limit: 10,
              filter: hostFilter,
              ...range,
            })
          : Promise.resolve([]),
        ctx.store.count('flow', { ...range, filter: hostFilter }),
      ]);
      const fromIso = new Date(afterMs).toISOString();
      const toIso = new Date(beforeMs).toISOString();
      return {
        alert_id: a.alert_id,
        window: { after: fromIso, before: toIso },
        flows: total,
        bps,
        top_servers: peers,
        links: {
          ...pivotUrls(a),
          dashboard: `/#/overview?from=${encodeURIComponent(fromIso)}&to=${encodeURIComponent(toIso)}`,
          flows: `/#/records/flow?filter=${encodeURIComponent(hosts.map((h) => `ip = ${h}`).join(' or '))}&from=${encodeURIComponent(fromIso)}&to=${encodeURIComponent(toIso)}`,
        },
      };
    },
  );
}
