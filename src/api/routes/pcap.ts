import { PassThrough } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../common/errors.js';
import { mergePresence, type PresenceAnswer, presence } from '../../pcapstore/presence.js';
import type { PcapQuery } from '../../pcapstore/query.js';
import { prepareQuery } from '../../pcapstore/query.js';
import { checkSearch, describeQuery, searchToStream } from '../../pcapstore/search.js';
import type { PcapStore } from '../../pcapstore/store.js';
import { parseFilter } from '../../store/filter.js';
import { type ApiContext, defOf } from '../context.js';
import { Binary, produces } from '../contract.js';
import { CidrParam, COMMUNITY_ID_PATTERN, IpParam, semantic, TimeParam } from '../schemas.js';
import { parseApiTime } from '../time.js';

/** What a packet download answers: the packets, or with count=true how many there are. */
export const PcapResponse = {
  200: produces(
    {
      'application/vnd.tcpdump.pcap': Binary,
      'application/x-pcapng': Binary,
      'application/json': Type.Object(
        { packets: Type.Integer(), bytes: Type.Integer() },
        { additionalProperties: true, description: 'With count=true: what the download would hold.' },
      ),
    },
    'The packets (pcap when they share one link type, else pcapng), or their count',
  ),
};

/** What the packet routes need beyond the shared context. */
export interface PcapRouteDeps {
  store: PcapStore;
  /** Every download is audited (who, what query, how much). */
  audit: (event: { action: string; actor: string | null; details: Record<string, unknown> }) => void;
  /** The flow store's side of "still talking?"; merged with the packet store's answer. */
  flowPresence?: (ip: string, peer: string | null, sinceUs: number) => Promise<PresenceAnswer | null>;
}

const SearchQuery = Type.Object(
  {
    after: Type.Optional(TimeParam('Start (inclusive): ISO-8601, epoch seconds, now or relative (-1h).')),
    before: Type.Optional(TimeParam('End (exclusive): same forms as after.')),
    filter: Type.Optional(
      semantic(
        Type.String({ maxLength: 8192, description: "tcpdump filter, e.g. 'host 10.0.0.1 and port 443'" }),
        ['tcp port 443', 'host 10.0.0.1 and port 53'],
      ),
    ),
    ip: Type.Optional(Type.Array(IpParam(), { maxItems: 2, description: 'One address, or two for a pair.' })),
    cidr: Type.Optional(CidrParam()),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    proto: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    vlan: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095 })),
    vni: Type.Optional(Type.Integer({ minimum: 0, maximum: 16777215 })),
    community_id: Type.Optional(
      Type.String({ pattern: COMMUNITY_ID_PATTERN, description: 'Community ID v1.' }),
    ),
    max_packets: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    max_bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    format: Type.Optional(Type.Union([Type.Literal('pcap'), Type.Literal('pcapng')])),
    count: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
type SearchQueryT = Static<typeof SearchQuery>;

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = parseApiTime(v);
  if (t === null)
    throw badRequest(`${name}: '${v.slice(0, 64)}' is not a time; use ISO-8601, epoch seconds or -1h`);
  return t;
}

function toQuery(q: SearchQueryT, flowId?: number): PcapQuery {
  const out: PcapQuery = {};
  const after = time('after', q.after);
  const before = time('before', q.before);
  if (after !== undefined) out.after = after;
  if (before !== undefined) out.before = before;
  if (q.filter !== undefined) out.filter = q.filter;
  if (q.ip !== undefined) out.ip = q.ip;
  if (q.cidr !== undefined) out.cidr = q.cidr;
  if (q.port !== undefined) out.port = q.port;
  if (q.proto !== undefined) out.proto = q.proto;
  if (q.vlan !== undefined) out.vlan = q.vlan;
  if (q.vni !== undefined) out.vni = q.vni;
  if (q.community_id !== undefined) out.communityId = q.community_id;
  if (q.max_packets !== undefined) out.maxPackets = q.max_packets;
  if (q.max_bytes !== undefined) out.maxBytes = q.max_bytes;
  if (flowId !== undefined) out.flowId = flowId;
  return out;
}

/**
 * Packet retrieval and presence. Downloads stream as they are read; a bad query is refused
 * (400 with the position in the filter and what was expected) before anything is sent.
 *
 *   curl -H "Authorization: Bearer $TOKEN" -o out.pcap \
 *     'http://127.0.0.1:8080/api/v1/pcap?after=-1h&filter=host%2010.0.0.1%20and%20port%20443'
 *   curl -H "Authorization: Bearer $TOKEN" -o flow.pcap http://127.0.0.1:8080/api/v1/flows/42/pcap
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/presence?ip=10.0.0.1&ip=10.0.0.2&since=-1h'
 */
export function pcapRoutes(app: FastifyInstance, ctx: ApiContext, deps: PcapRouteDeps): void {
  const download = pcapDownloader(deps);
  /** A flow's packets lie within its record's time span: search only there. */
  const flowWindow = async (id: number): Promise<{ after?: string; before?: string }> => {
    const def = defOf(ctx, 'flow');
    if (!def) return {};
    const page = await ctx.store.list({
      type: 'flow',
      filter: parseFilter(`flow_id = ${id}`, def),
      limit: 50,
    });
    if (page.items.length === 0) return {};
    const first = page.items.map((r) => String(r.first_ts)).sort()[0]!;
    const last = page.items
      .map((r) => String(r.last_ts))
      .sort()
      .at(-1)!;
    // one second of slack either side: record times are kept to the microsecond
    const shift = (iso: string, s: number) => new Date(Date.parse(iso) + s * 1000).toISOString();
    return { after: shift(first, -1), before: shift(last, 1) };
  };

  app.get(
    '/api/v1/pcap',
    {
      config: { access: 'analyst', etag: false },
      schema: {
        tags: ['packets'],
        summary: 'Download the packets matching a time range, fields and/or a tcpdump filter as one pcap',
        querystring: SearchQuery,
        response: PcapResponse,
      },
    },
    async (req, reply) => download(req, reply, toQuery(req.query as SearchQueryT)),
  );

  app.get(
    '/api/v1/flows/:id/pcap',
    {
      config: { access: 'analyst', etag: false },
      schema: {
        tags: ['packets'],
        summary: "Download one flow's packets",
        params: Type.Object({ id: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }),
        querystring: SearchQuery,
        response: PcapResponse,
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: number }).id;
      const sq = req.query as SearchQueryT;
      const w = sq.after === undefined && sq.before === undefined ? await flowWindow(id) : {};
      return download(req, reply, toQuery({ ...sq, ...w }, id));
    },
  );

  app.get(
    '/api/v1/presence',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['packets'],
        summary: 'Is this IP (pair) still talking? Last-seen times from packets and flows',
        querystring: Type.Object(
          {
            ip: Type.Array(IpParam(), {
              minItems: 1,
              maxItems: 2,
              description: 'One address, or two for a pair.',
            }),
            since: Type.Optional(TimeParam('Since when (default -1h).')),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const q = req.query as { ip: string[]; since?: string };
      const since = time('since', q.since ?? '-1h')!;
      const peer = q.ip[1] ?? null;
      const answers = [presence(deps.store, q.ip[0]!, peer, since)];
      const flows = await deps.flowPresence?.(q.ip[0]!, peer, since);
      if (flows) answers.push(flows);
      return mergePresence(answers);
    },
  );
}

/**
 * Streams the packets of a query as a pcap (or pcapng when link types differ), audited; a
 * bad query is refused before anything is sent. Shared by every route that hands out packets.
 */
export function pcapDownloader(deps: PcapRouteDeps) {
  return async (req: FastifyRequest, reply: FastifyReply, q: PcapQuery) => {
    const pq = prepareQuery(q);
    const sq = req.query as { format?: 'pcap' | 'pcapng'; count?: boolean };
    // Without an explicit format: pcap when the packets share one link type, else pcapng.
    const format =
      sq.format ??
      (checkSearch(deps.store, pq, { countOnly: true }).linkTypes.length > 1 ? 'pcapng' : 'pcap');
    const countOnly = sq.count === true;
    checkSearch(deps.store, pq, { format, countOnly });
    const actor = req.token?.name ?? null;
    if (countOnly) {
      const res = await searchToStream(deps.store, pq, null, { countOnly: true });
      deps.audit({ action: 'pcap.count', actor, details: { query: q, packets: res.packets } });
      return reply.send(res);
    }
    const pass = new PassThrough({ highWaterMark: 4 << 20 });
    const name = `vantage-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`;
    void reply
      .type(format === 'pcap' ? 'application/vnd.tcpdump.pcap' : 'application/x-pcapng')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(pass);
    searchToStream(deps.store, pq, pass, { format, comment: describeQuery(q) }).then(
      (res) => {
        deps.audit({
          action: 'pcap.download',
          actor,
          details: { query: q, packets: res.packets, bytes: res.bytes },
        });
        pass.end();
      },
      (e: unknown) => {
        deps.audit({ action: 'pcap.download_failed', actor, details: { query: q, error: String(e) } });
        pass.destroy(e as Error);
      },
    );
    return reply;
  };
}
