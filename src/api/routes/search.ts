import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../common/errors.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Coded, Cond } from '../../store/filter.js';
import { cidrToRange, ipToBigint, macToNumber } from '../../store/values.js';
import { type ApiContext, defOf, parseRange } from '../context.js';
import { foldHostAttrs, HostNameSchema, HostOsSchema } from '../host-profile.js';
import { ErrorSchema, IpParam, TimeQuery } from '../schemas.js';

const SearchQuery = Type.Object(
  {
    q: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'An IP, CIDR, domain, port, MAC, JA3/JA4, Community ID or text.',
    }),
    after: TimeQuery.after,
    before: TimeQuery.before,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'Records per kind.' })),
  },
  { additionalProperties: false },
);

export type SearchKind = 'cidr' | 'ip' | 'mac' | 'port' | 'community_id' | 'ja3' | 'ja4' | 'domain' | 'text';

/** What the search box holds, decided by its shape. */
export function classify(q: string): SearchKind {
  const s = q.trim();
  if (s.includes('/') && cidrToRange(s)) return 'cidr';
  if (ipToBigint(s) !== null) return 'ip';
  if (macToNumber(s) !== null) return 'mac';
  if (/^\d{1,5}$/.test(s) && Number(s) <= 65535) return 'port';
  if (/^1:[A-Za-z0-9+/]{27}=$/.test(s)) return 'community_id';
  if (/^[0-9a-f]{32}$/i.test(s)) return 'ja3';
  if (/^[tqd][0-9a-z]{2}[di][0-9]{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/i.test(s)) return 'ja4';
  if (/^(?=.{3,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}\.?$/i.test(s))
    return 'domain';
  return 'text';
}

/** The condition a search term makes on one record type, or null when no field fits. */
export function searchCond(kind: SearchKind, q: string, def: AnyRecordDef): Cond | null {
  const s = q.trim();
  const fields = Object.entries(def.fields);
  const any = (items: Cond[]): Cond | null =>
    items.length === 0 ? null : items.length === 1 ? items[0]! : { kind: 'or', items };
  const eq = (pred: (n: string, t: string) => boolean, value: Coded): Cond | null =>
    any(
      fields
        .filter(([n, fd]) => pred(n, fd.type))
        .map(([n]) => ({ kind: 'cmp', field: n, op: '=', value }) as Cond),
    );
  const text = (pred: (n: string) => boolean, value: string): Cond | null =>
    any(
      fields
        .filter(([n, fd]) => (fd.type === 'string' || fd.type === 'string[]') && pred(n))
        .map(([n]) => ({ kind: 'contains', field: n, value }) as Cond),
    );
  switch (kind) {
    case 'cidr': {
      const r = cidrToRange(s)!;
      return any(
        fields
          .filter(([, fd]) => fd.type === 'ip')
          .map(([n]) => ({ kind: 'range', field: n, lo: r.lo, hi: r.hi }) as Cond),
      );
    }
    case 'ip':
      return eq((_, t) => t === 'ip', ipToBigint(s)!);
    case 'mac':
      return eq((_, t) => t === 'mac', macToNumber(s)!);
    case 'port':
      return eq((n, t) => t === 'int' && n.endsWith('port'), Number(s));
    case 'community_id':
      return eq((n) => n === 'community_id', s);
    case 'ja3':
      return text((n) => n.includes('ja3'), s.toLowerCase());
    case 'ja4':
      return text((n) => n.includes('ja4'), s.toLowerCase());
    case 'domain':
    case 'text':
      return text(() => true, s);
  }
}

const NAME_FIELDS = ['hostname', 'host', 'server_name', 'sni', 'query', 'qname', 'name'];

/**
 * The search box and host pages.
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/search?q=10.0.0.0/8'
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/hosts/10.0.0.5'
 */
export function searchRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/api/v1/search',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['search'],
        summary: 'Find every record matching a term, grouped by kind',
        querystring: SearchQuery,
        response: { 400: ErrorSchema },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof SearchQuery>;
      const range = parseRange(q);
      const kind = classify(q.q);
      const limit = q.limit ?? 20;
      const results: Record<string, { count: number; items: unknown[] }> = {};
      for (const def of ctx.store.defs) {
        const filter = searchCond(kind, q.q, def);
        if (!filter) continue;
        const [count, page] = await Promise.all([
          ctx.store.count(def.type, { ...range, filter }),
          ctx.store.list({ type: def.type, ...range, filter, limit }),
        ]);
        if (count > 0) results[def.type] = { count, items: page.items };
      }
      return { q: q.q, kind, results };
    },
  );

  app.get(
    '/api/v1/hosts/:ip',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['search'],
        summary: 'Everything known about one address: MACs, names, peers, apps, traffic, RTT',
        params: Type.Object({ ip: IpParam() }),
        querystring: Type.Object(
          { after: TimeQuery.after, before: TimeQuery.before },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              ip: Type.String(),
              os: Type.Union([HostOsSchema, Type.Null()]),
              host_names: Type.Array(HostNameSchema, {
                description: 'Names the host had (DHCP, mDNS, NetBIOS, DNS PTR), most recently seen first.',
              }),
            },
            { additionalProperties: true },
          ),
          400: ErrorSchema,
        },
      },
    },
    async (req) => {
      const { ip } = req.params as { ip: string };
      const range = parseRange(req.query as { after?: string; before?: string });
      const v = ipToBigint(ip);
      if (v === null) throw badRequest(`'${ip.slice(0, 64)}' is not an IP address (10.0.0.5 or 2001:db8::5)`);
      const flow = defOf(ctx, 'flow');
      const on = (field: string): Cond => ({ kind: 'cmp', field, op: '=', value: v });
      const either: Cond = { kind: 'or', items: [on('client_ip'), on('server_ip')] };
      const out: Record<string, unknown> = { ip };
      if (flow) {
        const [asClient, asServer, peersOut, peersIn, apps, ports, macsC, macsS, rtt, count] =
          await Promise.all([
            ctx.store.top({
              type: 'flow',
              by: 'bytes',
              dim: 'client_ip',
              limit: 1,
              ...range,
              filter: on('client_ip'),
            }),
            ctx.store.top({
              type: 'flow',
              by: 'bytes',
              dim: 'server_ip',
              limit: 1,
              ...range,
              filter: on('server_ip'),
            }),
            ctx.store.top({
              type: 'flow',
              by: 'bytes',
              dim: 'server_ip',
              limit: 10,
              ...range,
              filter: on('client_ip'),
            }),
            ctx.store.top({
              type: 'flow',
              by: 'bytes',
              dim: 'client_ip',
              limit: 10,
              ...range,
              filter: on('server_ip'),
            }),
            ctx.store.top({ type: 'flow', by: 'bytes', dim: 'app', limit: 10, ...range, filter: either }),
            ctx.store.top({
              type: 'flow',
              by: 'flows',
              dim: 'server_port',
              limit: 10,
              ...range,
              filter: on('server_ip'),
            }),
            ctx.store.distinct('flow', 'client_mac', { ...range, filter: on('client_ip'), limit: 20 }),
            ctx.store.distinct('flow', 'server_mac', { ...range, filter: on('server_ip'), limit: 20 }),
            ctx.store.timeseries({ metric: 'rtt_ms', step: 100 * 365 * 86400, ...range, filter: either }),
            ctx.store.count('flow', { ...range, filter: either }),
          ]);
        const first = await ctx.store.list({
          type: 'flow',
          ...range,
          filter: either,
          limit: 1,
          desc: false,
          fields: ['first_ts'],
        });
        const last = await ctx.store.list({
          type: 'flow',
          ...range,
          filter: either,
          limit: 1,
          fields: ['first_ts'],
        });
        const sent = asClient[0];
        const recv = asServer[0];
        const macs = new Map<string, { mac: string; first: string; last: string; flows: number }>();
        for (const m of [...macsC, ...macsS]) {
          const k = String(m.value);
          const e = macs.get(k);
          if (!e) macs.set(k, { mac: k, first: m.first, last: m.last, flows: m.count });
          else {
            e.first = m.first < e.first ? m.first : e.first;
            e.last = m.last > e.last ? m.last : e.last;
            e.flows += m.count;
          }
        }
        out.flows = count;
        out.first_seen = first.items[0]?.first_ts ?? null;
        out.last_seen = last.items[0]?.first_ts ?? null;
        out.traffic = {
          as_client: sent ?? { bytes: 0, packets: 0, flows: 0 },
          as_server: recv ?? { bytes: 0, packets: 0, flows: 0 },
        };
        out.rtt_ms = rtt.series[0]?.points[0]?.[1] ?? null;
        out.macs = [...macs.values()].sort((a, b) => a.first.localeCompare(b.first));
        out.peers = { servers: peersOut, clients: peersIn };
        out.apps = apps;
        out.server_ports = ports;
      }
      // Other record types that mention the address: devices (vendor), DNS/TLS/HTTP names.
      const related: Record<string, unknown> = {};
      const names = new Set<string>();
      for (const def of ctx.store.defs) {
        if (def.type === 'flow') continue;
        const ipFields = Object.entries(def.fields).filter(([, fd]) => fd.type === 'ip');
        if (ipFields.length === 0) continue;
        const filter: Cond = { kind: 'or', items: ipFields.map(([n]) => on(n)) };
        const page = await ctx.store.list({ type: def.type, ...range, filter, limit: 20 });
        if (page.items.length === 0) continue;
        related[def.type] = page.items;
        for (const r of page.items) {
          for (const n of NAME_FIELDS) if (typeof r[n] === 'string' && r[n]) names.add(r[n] as string);
        }
      }
      // Who used the address (RADIUS, Windows logons, VPN logs), with first and last time.
      if (defOf(ctx, 'identity')) {
        out.users = (
          await ctx.store.distinct('identity', 'user', { ...range, filter: on('ip'), limit: 20 })
        ).map((u) => ({ user: u.value, first: u.first, last: u.last, events: u.count }));
      }
      // Operating system and names, each with first and last seen (host profiler records).
      out.os = null;
      out.host_names = [];
      if (defOf(ctx, 'host_attr')) {
        const rows = await ctx.store.list({ type: 'host_attr', ...range, filter: on('ip'), limit: 1000 });
        const folded = foldHostAttrs(rows.items);
        out.os = folded.os;
        out.host_names = folded.names;
        for (const h of folded.names) names.add(h.name);
      }
      const device = (related.device as Record<string, unknown>[] | undefined)?.[0];
      out.vendor = (device?.vendor as string | undefined) ?? null;
      out.names = [...names].slice(0, 50);
      out.related = related;
      return out;
    },
  );
}
