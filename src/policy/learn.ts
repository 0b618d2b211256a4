import { createHash } from 'node:crypto';
import type { AnyRecord } from '../common/alerts.js';
import { isoToMicros } from '../store/values.js';
import { edgeId, POLICY_SCHEMA, type PolicyDoc, type PolicyEdge, type PolicyGroup } from './model.js';
import { DEFAULT_INTERNAL, externalPrefix, NetworkSet } from './networks.js';

/** A flow seen from the policy's side: who opened it to which service. */
export interface Conn {
  client: string;
  server: string;
  proto: number;
  port: number;
  tsUs: number;
  bytes: number;
}

/** Flows and collected flow records in one shape; null for records that are not connections. */
export function connOf(r: AnyRecord): Conn | null {
  if (r.type === 'flow') {
    const c = r.client_ip as string | null;
    const s = r.server_ip as string | null;
    if (!c || !s) return null;
    const proto = Number(r.proto);
    return {
      client: c,
      server: s,
      proto,
      port: proto === 6 || proto === 17 || proto === 132 ? Number(r.server_port) : 0,
      tsUs: isoToMicros(String(r.first_ts)),
      bytes: Number(r.client_ip_bytes ?? 0) + Number(r.server_ip_bytes ?? 0),
    };
  }
  if (r.type === 'exported_flow') {
    const a = r.src_ip as string | null;
    const b = r.dst_ip as string | null;
    if (!a || !b) return null;
    const proto = Number(r.proto);
    const sp = Number(r.src_port ?? 0);
    const dp = Number(r.dst_port ?? 0);
    // A collected record is one direction: the side on the lower (service) port is the server.
    const dstServes = dp <= sp || dp < 1024;
    const ported = proto === 6 || proto === 17 || proto === 132;
    return {
      client: dstServes ? a : b,
      server: dstServes ? b : a,
      proto,
      port: ported ? (dstServes ? dp : sp) : 0,
      tsUs: isoToMicros(String(r.first_ts ?? r.ts)),
      bytes: Number(r.bytes ?? 0),
    };
  }
  return null;
}

export interface LearnConfig {
  /** Networks whose hosts are grouped one by one (default RFC 1918, ULA...). */
  internal: string[];
  /** Configured scopes: hosts in these networks form these groups (pinned). */
  scopes: { name: string; cidrs: string[]; labels?: Record<string, string> }[];
  /** Jaccard similarity of two hosts' behaviour above which they share a group. */
  similarity: number;
  /** More distinct server ports than this between two groups: the edge is "any port". */
  maxPorts: number;
  /** Internal hosts clustered one by one; beyond it hosts are grouped by /24 (bounded work). */
  maxHosts: number;
  /** Distinct host → service pairs kept; connections of pairs beyond it are counted, not learned. */
  maxPairs: number;
  /** Groups carried over from an earlier version: pinned ones keep their members and names. */
  previous?: PolicyDoc;
  createdBy: string;
  id?: string;
  version?: number;
}

export const DEFAULT_LEARN: LearnConfig = {
  internal: DEFAULT_INTERNAL,
  scopes: [],
  similarity: 0.45,
  maxPorts: 16,
  maxHosts: 5000,
  maxPairs: 1_000_000,
  createdBy: 'vantage',
};

interface HostEdge {
  flows: number;
  bytes: number;
  first: number;
  last: number;
  days: Set<number>;
  /** 10-minute slots with the edge (for windows under two days). */
  slots: Set<number>;
}

/**
 * Learns a proposal from connections: every observed host pair and service is accumulated,
 * internal hosts are grouped by behaviour, and the host edges are folded into group edges.
 * Feed it with `add`, then call `propose`.
 */
export class PolicyLearner {
  private readonly cfg: LearnConfig;
  private readonly internal: NetworkSet;
  private readonly scopes: NetworkSet<number>;
  private readonly edges = new Map<string, HostEdge>();
  private readonly hosts = new Set<string>();
  private flows = 0;
  /** Connections not learned because `maxPairs` was reached. */
  private dropped = 0;
  private minUs = Number.POSITIVE_INFINITY;
  /** Days and 10-minute slots in which any traffic was seen: stability is judged against them. */
  private readonly activeDays = new Set<number>();
  private readonly activeSlots = new Set<number>();
  private maxUs = Number.NEGATIVE_INFINITY;

  constructor(cfg: Partial<LearnConfig> = {}) {
    this.cfg = { ...DEFAULT_LEARN, ...cfg };
    this.internal = new NetworkSet(this.cfg.internal.map((c) => [c, true] as const));
    this.scopes = new NetworkSet(this.cfg.scopes.flatMap((s, i) => s.cidrs.map((c) => [c, i] as const)));
  }

  add(c: Conn): void {
    if (!Number.isFinite(c.tsUs)) return;
    this.flows++;
    if (c.tsUs < this.minUs) this.minUs = c.tsUs;
    if (c.tsUs > this.maxUs) this.maxUs = c.tsUs;
    const k = `${c.client}|${c.server}|${c.proto}|${c.port}`;
    let e = this.edges.get(k);
    if (!e && this.edges.size >= this.cfg.maxPairs) {
      this.dropped++;
      return;
    }
    if (!e) {
      e = { flows: 0, bytes: 0, first: c.tsUs, last: c.tsUs, days: new Set(), slots: new Set() };
      this.edges.set(k, e);
    }
    e.flows++;
    e.bytes += c.bytes;
    if (c.tsUs < e.first) e.first = c.tsUs;
    if (c.tsUs > e.last) e.last = c.tsUs;
    e.days.add(Math.floor(c.tsUs / 86_400e6));
    e.slots.add(Math.floor(c.tsUs / 600e6));
    this.activeDays.add(Math.floor(c.tsUs / 86_400e6));
    this.activeSlots.add(Math.floor(c.tsUs / 600e6));
    this.hosts.add(c.client);
    this.hosts.add(c.server);
  }

  addRecord(r: AnyRecord): void {
    const c = connOf(r);
    if (c) this.add(c);
  }

  private isInternal(ip: string): boolean {
    return this.internal.lookup(ip) !== undefined;
  }

  /** Host → group id, and the groups. */
  private group(): { of: Map<string, string>; groups: PolicyGroup[] } {
    const of = new Map<string, string>();
    const groups: PolicyGroup[] = [];
    const byId = new Map<string, PolicyGroup>();
    const ensure = (g: PolicyGroup): PolicyGroup => {
      const have = byId.get(g.id);
      if (have) return have;
      byId.set(g.id, g);
      groups.push(g);
      return g;
    };
    // Configured scopes, then pinned groups of the previous version, take their hosts first.
    this.cfg.scopes.forEach((s, i) => {
      ensure({
        id: `g-scope-${slug(s.name)}`,
        name: s.name,
        kind: 'internal',
        members: [],
        cidrs: [...s.cidrs],
        pinned: true,
        labels: s.labels ?? {},
      });
      void i;
    });
    const pinned = new Map<string, PolicyGroup>();
    for (const g of this.cfg.previous?.groups ?? []) {
      if (g.pinned && g.kind === 'internal' && !g.id.startsWith('g-scope-')) {
        const copy = ensure({ ...g, members: [...g.members], cidrs: [...g.cidrs], labels: { ...g.labels } });
        for (const m of g.members) pinned.set(m, copy);
      }
    }
    const free: string[] = [];
    for (const h of this.hosts) {
      const si = this.scopes.lookup(h);
      if (si !== undefined) {
        of.set(h, `g-scope-${slug(this.cfg.scopes[si]!.name)}`);
        continue;
      }
      const p = pinned.get(h);
      if (p) {
        of.set(h, p.id);
        continue;
      }
      if (this.isInternal(h)) free.push(h);
      else {
        const net = externalPrefix(h);
        if (!net) continue;
        const id = `g-ext-${slug(net)}`;
        ensure({
          id,
          name: `external ${net}`,
          kind: 'external',
          members: [],
          cidrs: [net],
          pinned: false,
          labels: {},
        });
        of.set(h, id);
      }
    }
    for (const [h, id] of this.clusterHosts(free, of)) {
      of.set(h, id.id);
      const g = ensure(id);
      g.members.push(h);
    }
    for (const g of groups) g.members.sort(compareIp);
    return { of, groups };
  }

  /**
   * Behavioural grouping: hosts that serve the same services to the same clients and use the
   * same dependencies are alike. Two rounds: the first compares peers by address, the
   * second by the peers' first-round groups, so tiers converge even when each web server
   * talks to a different app server.
   */
  private clusterHosts(hosts: string[], fixed: Map<string, string>): Map<string, PolicyGroup> {
    const out = new Map<string, PolicyGroup>();
    if (hosts.length === 0) return out;
    hosts.sort(compareIp);
    if (hosts.length > this.cfg.maxHosts) {
      for (const h of hosts) {
        const net = externalPrefix(h)!;
        out.set(h, {
          id: `g-net-${slug(net)}`,
          name: `hosts in ${net}`,
          kind: 'internal',
          members: [],
          cidrs: [],
          pinned: false,
          labels: {},
        });
      }
      return out;
    }
    const label1 = (ip: string) => fixed.get(ip) ?? ip;
    const round1 = this.assign(hosts, this.features(hosts, label1));
    const label2 = (ip: string): string => {
      const r = round1.get(ip);
      return fixed.get(ip) ?? (r === undefined ? ip : `c${r}`);
    };
    const round2 = this.assign(hosts, this.features(hosts, label2));
    const members = new Map<number, string[]>();
    for (const h of hosts) {
      const c = round2.get(h)!;
      const list = members.get(c) ?? [];
      list.push(h);
      members.set(c, list);
    }
    const feats = this.features(hosts, label2);
    for (const list of members.values()) {
      const name = this.nameOf(list, feats);
      const id = `g-${createHash('sha1').update(list.join(',')).digest('hex').slice(0, 10)}`;
      const g: PolicyGroup = {
        id,
        name,
        kind: 'internal',
        members: [],
        cidrs: [],
        pinned: false,
        labels: {},
      };
      for (const h of list) out.set(h, g);
    }
    return out;
  }

  private features(
    hosts: readonly string[],
    label: (ip: string) => string,
  ): Map<string, Map<string, number>> {
    const f = new Map<string, Map<string, number>>();
    for (const h of hosts) f.set(h, new Map());
    const add = (h: string, k: string, n: number) => {
      const m = f.get(h);
      if (m) m.set(k, (m.get(k) ?? 0) + n);
    };
    for (const [k, e] of this.edges) {
      const [c, s, proto, port] = k.split('|') as [string, string, string, string];
      const svc = `${proto}/${port}`;
      add(s, `S:${svc}`, e.flows);
      add(s, `K:${svc}<${label(c)}`, e.flows);
      add(c, `C:${svc}>${label(s)}`, e.flows);
    }
    return f;
  }

  /** Leader clustering by average Jaccard similarity over features seen at least twice. */
  private assign(hosts: readonly string[], feats: Map<string, Map<string, number>>): Map<string, number> {
    const sets = new Map<string, Set<string>>();
    for (const h of hosts) {
      const m = feats.get(h)!;
      const strong = [...m].filter(([, n]) => n >= 2).map(([k]) => k);
      sets.set(h, new Set(strong.length > 0 ? strong : m.keys()));
    }
    // Busiest hosts lead: their features are the most complete picture of a role.
    const order = [...hosts].sort((a, b) => sets.get(b)!.size - sets.get(a)!.size || compareIp(a, b));
    const clusters: string[][] = [];
    const of = new Map<string, number>();
    for (const h of order) {
      const fh = sets.get(h)!;
      let best = -1;
      let bestSim = this.cfg.similarity;
      for (let i = 0; i < clusters.length; i++) {
        let sum = 0;
        const cl = clusters[i]!;
        for (const m of cl) sum += jaccard(fh, sets.get(m)!);
        const sim = sum / cl.length;
        if (sim > bestSim) {
          bestSim = sim;
          best = i;
        }
      }
      if (best < 0) {
        clusters.push([h]);
        of.set(h, clusters.length - 1);
      } else {
        clusters[best]!.push(h);
        of.set(h, best);
      }
    }
    return of;
  }

  private nameOf(list: string[], feats: Map<string, Map<string, number>>): string {
    const served = new Map<string, number>();
    const used = new Map<string, number>();
    for (const h of list) {
      for (const [k, n] of feats.get(h)!) {
        if (k.startsWith('S:')) served.set(k.slice(2), (served.get(k.slice(2)) ?? 0) + n);
        else if (k.startsWith('C:')) {
          const svc = k.slice(2, k.indexOf('>'));
          used.set(svc, (used.get(svc) ?? 0) + n);
        }
      }
    }
    // Services that carry a real share of the group's traffic name it: an admin's one-off SSH
    // or a stray file-share contact does not make workstations "servers".
    const top = (m: Map<string, number>, total: number) =>
      [...m]
        .filter(([, n]) => n >= total * 0.1)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k]) => serviceName(k));
    const sTotal = [...served.values()].reduce((a, b) => a + b, 0);
    const uTotal = [...used.values()].reduce((a, b) => a + b, 0);
    const what =
      sTotal >= (sTotal + uTotal) * 0.1 && sTotal > 0
        ? `${top(served, sTotal).join('+')} servers`
        : uTotal > 0
          ? `clients of ${top(used, uTotal).join('+')}`
          : 'hosts';
    return list.length === 1 ? `${what} ${list[0]}` : `${what} (${list.length} hosts)`;
  }

  propose(now = new Date()): PolicyDoc {
    const { of, groups } = this.group();
    const acc = new Map<
      string,
      { e: PolicyEdge; days: Set<number>; slots: Set<number>; ports: Set<number> }
    >();
    for (const [k, he] of this.edges) {
      const [c, s, protoText, portText] = k.split('|') as [string, string, string, string];
      const src = of.get(c);
      const dst = of.get(s);
      if (!src || !dst) continue;
      const proto = Number(protoText);
      const port = Number(portText);
      const key = `${src}|${dst}|${proto}|${port}`;
      let a = acc.get(key);
      if (!a) {
        a = {
          e: {
            id: edgeId(src, dst, proto, port),
            src,
            dst,
            proto,
            port,
            flows: 0,
            bytes: 0,
            first_seen: '',
            last_seen: '',
            days: 0,
            stable: false,
            status: 'pending',
          },
          days: new Set(),
          slots: new Set(),
          ports: new Set([port]),
        };
        acc.set(key, a);
      }
      a.e.flows += he.flows;
      a.e.bytes += he.bytes;
      const f = new Date(he.first / 1000).toISOString();
      const l = new Date(he.last / 1000).toISOString();
      if (a.e.first_seen === '' || f < a.e.first_seen) a.e.first_seen = f;
      if (l > a.e.last_seen) a.e.last_seen = l;
      for (const d of he.days) a.days.add(d);
      for (const h of he.slots) a.slots.add(h);
    }
    // Many server ports between the same two groups (RPC, passive FTP, ephemeral services): one "any port" edge.
    const byPair = new Map<string, (typeof acc extends Map<string, infer V> ? V : never)[]>();
    for (const a of acc.values()) {
      const k = `${a.e.src}|${a.e.dst}|${a.e.proto}`;
      const list = byPair.get(k) ?? [];
      list.push(a);
      byPair.set(k, list);
    }
    const edges: PolicyEdge[] = [];
    // Against the time the network was observed, not the window's wall-clock span: a window
    // of three captured hours spread over a day is three hours of evidence.
    const spanDays = this.activeDays.size;
    const spanSlots = Math.max(1, this.activeSlots.size);
    const finish = (e: PolicyEdge, days: Set<number>, slots: Set<number>) => {
      e.days = days.size;
      // Stable: part of normal operation over the window (on most days, or in most 10-minute
      // slots of a window shorter than two days), not a one-off.
      e.stable =
        spanDays >= 2
          ? days.size >= Math.max(2, Math.ceil(spanDays / 2))
          : slots.size >= Math.max(2, Math.ceil(spanSlots / 2));
      edges.push(e);
    };
    for (const list of byPair.values()) {
      if (list.length <= this.cfg.maxPorts || list[0]!.e.port === 0) {
        for (const a of list) finish(a.e, a.days, a.slots);
        continue;
      }
      const first = list[0]!.e;
      const merged: PolicyEdge = {
        ...first,
        id: edgeId(first.src, first.dst, first.proto, -1),
        port: -1,
        flows: 0,
        bytes: 0,
      };
      const days = new Set<number>();
      const slots = new Set<number>();
      for (const a of list) {
        merged.flows += a.e.flows;
        merged.bytes += a.e.bytes;
        if (a.e.first_seen < merged.first_seen) merged.first_seen = a.e.first_seen;
        if (a.e.last_seen > merged.last_seen) merged.last_seen = a.e.last_seen;
        for (const d of a.days) days.add(d);
        for (const h of a.slots) slots.add(h);
      }
      finish(merged, days, slots);
    }
    edges.sort((a, b) => b.flows - a.flows || a.id.localeCompare(b.id));
    const used = new Set(edges.flatMap((e) => [e.src, e.dst]));
    const iso = (us: number) => (Number.isFinite(us) ? new Date(us / 1000).toISOString() : null);
    return {
      schema: POLICY_SCHEMA,
      id: this.cfg.id ?? `proposal-${now.toISOString().replace(/[:.]/g, '-')}`,
      version: this.cfg.version ?? 0,
      status: 'proposed',
      created: now.toISOString(),
      created_by: this.cfg.createdBy,
      window: {
        after: iso(this.minUs),
        before: iso(this.maxUs),
        flows: this.flows,
        ...(this.dropped > 0 ? { not_learned: this.dropped } : {}),
      },
      internal: [...this.cfg.internal],
      groups: groups.filter((g) => used.has(g.id) || g.pinned),
      edges,
    };
  }
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, big] = a.size < b.size ? [a, b] : [b, a];
  for (const x of small) if (big.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48);
}

const SERVICES: Record<string, string> = {
  '6/80': 'http',
  '6/443': 'https',
  '6/22': 'ssh',
  '6/25': 'smtp',
  '17/53': 'dns',
  '6/53': 'dns',
  '17/123': 'ntp',
  '6/3306': 'mysql',
  '6/5432': 'postgres',
  '6/1433': 'mssql',
  '6/389': 'ldap',
  '6/445': 'smb',
  '6/3389': 'rdp',
  '6/8080': 'http-alt',
  '6/6379': 'redis',
  '17/67': 'dhcp',
};

function serviceName(svc: string): string {
  return (
    SERVICES[svc] ??
    (svc.startsWith('6/')
      ? `tcp/${svc.slice(2)}`
      : svc.startsWith('17/')
        ? `udp/${svc.slice(3)}`
        : `ip/${svc}`)
  );
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
