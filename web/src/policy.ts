/** The communication policy as the console reads it: shapes, the graph layout and the edge filters. */

import { PROTOS } from './format';

export type EdgeStatus = 'pending' | 'approved' | 'rejected';
export const EDGE_STATUSES: readonly EdgeStatus[] = ['pending', 'approved', 'rejected'];

export interface PolicyGroup {
  id: string;
  name: string;
  kind: 'internal' | 'external';
  members: string[];
  cidrs: string[];
  pinned: boolean;
}

export interface PolicyEdge {
  id: string;
  src: string;
  dst: string;
  proto: number;
  port: number;
  flows: number;
  bytes: number;
  first_seen: string;
  last_seen: string;
  days: number;
  stable: boolean;
  status: EdgeStatus;
  reviewed_by?: string;
  reviewed_at?: string;
}

export interface PolicyDoc {
  id: string;
  version: number;
  status: 'proposed' | 'approved' | 'superseded';
  created: string;
  created_by: string;
  approved_by?: string;
  approved_at?: string;
  window: { after: string | null; before: string | null; flows: number };
  groups: PolicyGroup[];
  edges: PolicyEdge[];
}

export interface PolicyDiff {
  from: { id: string; version: number } | null;
  to: { id: string; version: number };
  added: PolicyEdge[];
  removed: PolicyEdge[];
  changed: { id: string; from: EdgeStatus; to: EdgeStatus }[];
}

export interface Compliance {
  policy: { id: string; version: number } | null;
  totals: { permitted: number; rejected: number; escaped: number } | null;
  groups: { id: string; name: string; permitted: number; rejected: number; escaped: number }[];
}

/** "TCP/443", "UDP/any", "ICMP". */
export function service(e: Pick<PolicyEdge, 'proto' | 'port'>): string {
  const p = PROTOS[e.proto] ?? `proto ${e.proto}`;
  if (e.port === 0) return p;
  return `${p}/${e.port === -1 ? 'any' : e.port}`;
}

// ---- Edge filters of the review table ----

export interface EdgeFilter {
  /** stable: part of normal operation; incidental: one-offs worth a second look. */
  stability: 'all' | 'stable' | 'incidental';
  status: 'all' | EdgeStatus;
  /** Matches group names, the service and the edge id. */
  text: string;
}

export const ALL_EDGES: EdgeFilter = { stability: 'all', status: 'all', text: '' };

export function filterEdges(
  edges: readonly PolicyEdge[],
  f: EdgeFilter,
  names: ReadonlyMap<string, string>,
): PolicyEdge[] {
  const words = f.text.toLowerCase().split(/\s+/).filter(Boolean);
  return edges.filter((e) => {
    if (f.stability === 'stable' && !e.stable) return false;
    if (f.stability === 'incidental' && e.stable) return false;
    if (f.status !== 'all' && e.status !== f.status) return false;
    if (words.length === 0) return true;
    const hay =
      `${names.get(e.src) ?? e.src} ${names.get(e.dst) ?? e.dst} ${service(e)} ${e.id}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Edges per status, for the review's summary line. */
export function countByStatus(edges: readonly PolicyEdge[]): Record<EdgeStatus, number> {
  const n = { pending: 0, approved: 0, rejected: 0 };
  for (const e of edges) n[e.status]++;
  return n;
}

/** The changes that set `status` on the edges that do not have it yet (a bulk action sends only those). */
export function bulkChanges(
  edges: readonly PolicyEdge[],
  ids: ReadonlySet<string>,
  status: EdgeStatus,
): { edge: string; status: EdgeStatus }[] {
  return edges.filter((e) => ids.has(e.id) && e.status !== status).map((e) => ({ edge: e.id, status }));
}

// ---- The group graph ----

export interface NodePos {
  id: string;
  x: number;
  y: number;
  r: number;
  tier: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, NodePos>;
}

/**
 * Tiers by role: a group nobody connects to (clients) is tier 0, each group sits one tier
 * right of the deepest group that connects to it (web → app → db), external networks take the
 * last column. Cycles are broken by ignoring edges that point back to a group already being
 * ranked. Within a tier, groups are ordered by the mean row of their callers, which keeps
 * most edges short and uncrossed without a force simulation.
 */
export function layoutGroups(
  groups: readonly Pick<PolicyGroup, 'id' | 'kind' | 'members' | 'cidrs'>[],
  edges: readonly Pick<PolicyEdge, 'src' | 'dst'>[],
  opts: { colWidth?: number; rowHeight?: number; padX?: number; padY?: number } = {},
): Layout {
  const colWidth = opts.colWidth ?? 200;
  const rowHeight = opts.rowHeight ?? 100;
  // Room for the labels under the outer nodes, and for self loops and bends above and below.
  const padX = opts.padX ?? 120;
  const padY = opts.padY ?? 90;
  const ids = new Set(groups.map((g) => g.id));
  const callers = new Map<string, string[]>();
  for (const e of edges) {
    if (e.src === e.dst || !ids.has(e.src) || !ids.has(e.dst)) continue;
    const l = callers.get(e.dst) ?? [];
    l.push(e.src);
    callers.set(e.dst, l);
  }
  const tier = new Map<string, number>();
  const visiting = new Set<string>();
  const rank = (id: string): number => {
    const known = tier.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return -1;
    visiting.add(id);
    let t = 0;
    for (const c of callers.get(id) ?? []) t = Math.max(t, rank(c) + 1);
    visiting.delete(id);
    tier.set(id, t);
    return t;
  };
  const internal = groups.filter((g) => g.kind === 'internal');
  for (const g of internal) rank(g.id);
  const lastInternal = Math.max(-1, ...internal.map((g) => tier.get(g.id) ?? 0));
  for (const g of groups) if (g.kind === 'external') tier.set(g.id, lastInternal + 1);

  const cols: string[][] = [];
  for (const g of groups) {
    const t = tier.get(g.id) ?? 0;
    const col = cols[t] ?? [];
    col.push(g.id);
    cols[t] = col;
  }
  const row = new Map<string, number>();
  for (const col of cols) {
    if (!col) continue;
    const key = (id: string) => {
      const rs = (callers.get(id) ?? []).map((c) => row.get(c)).filter((r): r is number => r !== undefined);
      return rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : Number.POSITIVE_INFINITY;
    };
    // Stable order for groups without placed callers: their order in the document.
    col.sort((a, b) => key(a) - key(b));
    for (const [i, id] of col.entries()) row.set(id, i);
  }
  const tallest = Math.max(1, ...cols.map((c) => c?.length ?? 0));
  const height = padY * 2 + (tallest - 1) * rowHeight;
  const width = padX * 2 + Math.max(0, cols.length - 1) * colWidth;
  const size = new Map(groups.map((g) => [g.id, g.members.length + g.cidrs.length]));
  const maxSize = Math.max(1, ...size.values());
  const nodes = new Map<string, NodePos>();
  cols.forEach((col, t) => {
    if (!col) return;
    // Centre each column vertically.
    const top = padY + ((tallest - col.length) * rowHeight) / 2;
    col.forEach((id, i) => {
      nodes.set(id, {
        id,
        tier: t,
        x: padX + t * colWidth,
        y: top + i * rowHeight,
        // Area grows with members: radius with the square root, between 10 and 34 px.
        r: 10 + 24 * Math.sqrt((size.get(id) ?? 0) / maxSize),
      });
    });
  });
  return { width, height, nodes };
}

/**
 * The path of an edge from the rim of one node to the rim of the other; a bend keeps the two
 * directions of a pair apart, and an edge to itself is a loop above the node.
 */
export function edgePath(a: NodePos, b: NodePos, bend = 0.18): string {
  if (a.id === b.id) {
    const r = a.r;
    return `M ${a.x - r * 0.5} ${a.y - r * 0.85} C ${a.x - r * 1.6} ${a.y - r * 2.8}, ${a.x + r * 1.6} ${a.y - r * 2.8}, ${a.x + r * 0.5} ${a.y - r * 0.85}`;
  }
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const d = Math.hypot(dx, dy) || 1;
  const ux = dx / d;
  const uy = dy / d;
  const sx = a.x + ux * a.r;
  const sy = a.y + uy * a.r;
  const ex = b.x - ux * (b.r + 4);
  const ey = b.y - uy * (b.r + 4);
  // Control point off the middle, to the left of the direction of travel; long edges bend no
  // more than short ones, so they stay inside the drawing.
  const off = Math.min(d * bend, 36);
  const cx = (sx + ex) / 2 - uy * off;
  const cy = (sy + ey) / 2 + ux * off;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return `M ${r1(sx)} ${r1(sy)} Q ${r1(cx)} ${r1(cy)} ${r1(ex)} ${r1(ey)}`;
}

/**
 * One line per group pair for the graph: the strictest status of its services wins (a pair
 * with one pending service is pending), so nothing unreviewed hides behind an approved line.
 */
export function pairEdges(edges: readonly PolicyEdge[]): {
  src: string;
  dst: string;
  status: EdgeStatus;
  services: string[];
  flows: number;
}[] {
  const rank: Record<EdgeStatus, number> = { approved: 0, rejected: 1, pending: 2 };
  const m = new Map<
    string,
    { src: string; dst: string; status: EdgeStatus; services: string[]; flows: number }
  >();
  for (const e of edges) {
    const k = `${e.src}\u0000${e.dst}`;
    const have = m.get(k);
    if (!have) {
      m.set(k, { src: e.src, dst: e.dst, status: e.status, services: [service(e)], flows: e.flows });
      continue;
    }
    have.services.push(service(e));
    have.flows += e.flows;
    if (rank[e.status] > rank[have.status]) have.status = e.status;
  }
  return [...m.values()];
}

/** Default name of the group an analyst splits off: "web (2)". */
export function splitName(name: string, taken: readonly string[]): string {
  for (let i = 2; ; i++) {
    const n = `${name} (${i})`;
    if (!taken.includes(n)) return n;
  }
}

/**
 * Configured scopes for a proposal, one per line: "name: 10.0.1.0/24, 10.0.2.0/24". A scope
 * becomes a pinned group of its own whatever the flows say; the server checks the networks.
 */
export function parseScopes(
  text: string,
): { scopes: { name: string; cidrs: string[] }[] } | { error: string } {
  const scopes: { name: string; cidrs: string[] }[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([^:]{1,64}):(.*)$/.exec(line);
    const name = m?.[1]?.trim();
    const cidrs = (m?.[2] ?? '')
      .split(/[\s,]+/)
      .map((c) => c.trim())
      .filter(Boolean);
    if (!name || cidrs.length === 0)
      return { error: `line ${i + 1}: write "name: network, network" (e.g. "db: 10.0.3.0/24")` };
    if (scopes.some((s) => s.name === name))
      return { error: `line ${i + 1}: the scope ${name} is named twice` };
    scopes.push({ name, cidrs });
  }
  return { scopes };
}
