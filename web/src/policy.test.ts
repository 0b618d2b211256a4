import { describe, expect, it } from 'vitest';
import {
  ALL_EDGES,
  bulkChanges,
  edgePath,
  filterEdges,
  layoutGroups,
  type PolicyEdge,
  type PolicyGroup,
  pairEdges,
  parseScopes,
  service,
  splitName,
} from './policy';

const group = (id: string, n: number, kind: PolicyGroup['kind'] = 'internal'): PolicyGroup => ({
  id,
  name: id,
  kind,
  members: kind === 'internal' ? Array.from({ length: n }, (_, i) => `10.0.0.${i}`) : [],
  cidrs: kind === 'external' ? Array.from({ length: n }, (_, i) => `203.0.${i}.0/24`) : [],
  pinned: false,
});
const edge = (src: string, dst: string, port: number, extra: Partial<PolicyEdge> = {}): PolicyEdge => ({
  id: `${src}>${dst}:6/${port}`,
  src,
  dst,
  proto: 6,
  port,
  flows: 10,
  bytes: 1000,
  first_seen: '2024-06-03T08:00:00Z',
  last_seen: '2024-06-03T10:00:00Z',
  days: 1,
  stable: true,
  status: 'pending',
  ...extra,
});

// The three tiers of test/policy/tiers.ts, with a cycle (db calls back into app) and the internet.
const groups = [
  group('db', 2),
  group('clients', 20),
  group('inet', 3, 'external'),
  group('app', 3),
  group('web', 4),
  group('dns', 1),
];
const edges = [
  edge('clients', 'web', 443),
  edge('web', 'app', 8080),
  edge('app', 'db', 5432),
  edge('db', 'app', 9000, { stable: false, status: 'rejected' }),
  edge('clients', 'inet', 443, { status: 'approved' }),
  edge('web', 'dns', 53, { proto: 17 }),
];

describe('group graph layout', () => {
  it('puts callers left of the groups they call, in tiers, and the outside last', () => {
    const l = layoutGroups(groups, edges);
    const tier = (id: string) => l.nodes.get(id)?.tier;
    expect(tier('clients')).toBe(0);
    expect(tier('web')).toBe(1);
    expect(tier('app')).toBe(2);
    expect(tier('db')).toBe(3);
    expect(tier('dns')).toBe(2);
    expect(tier('inet')).toBe(4);
    const x = (id: string) => l.nodes.get(id)!.x;
    expect(x('clients')).toBeLessThan(x('web'));
    expect(x('db')).toBeLessThan(x('inet'));
    // Everything inside the drawing.
    for (const n of l.nodes.values()) {
      expect(n.x - n.r).toBeGreaterThanOrEqual(0);
      expect(n.y - n.r).toBeGreaterThanOrEqual(0);
      expect(n.x + n.r).toBeLessThanOrEqual(l.width);
      expect(n.y + n.r).toBeLessThanOrEqual(l.height);
    }
  });

  it('sizes nodes by members and keeps groups of one tier apart', () => {
    const l = layoutGroups(groups, edges);
    expect(l.nodes.get('clients')!.r).toBeGreaterThan(l.nodes.get('web')!.r);
    expect(l.nodes.get('web')!.r).toBeGreaterThan(l.nodes.get('dns')!.r);
    const a = l.nodes.get('app')!;
    const d = l.nodes.get('dns')!;
    expect(Math.abs(a.y - d.y)).toBeGreaterThanOrEqual(a.r + d.r);
  });

  it('survives cycles, self edges, unknown groups and no edges', () => {
    const l = layoutGroups(
      [group('a', 1), group('b', 1)],
      [edge('a', 'b', 1), edge('b', 'a', 2), edge('a', 'a', 3), edge('a', 'zz', 4)],
    );
    expect(l.nodes.size).toBe(2);
    expect(new Set([...l.nodes.values()].map((n) => n.tier))).toEqual(new Set([0, 1]));
    expect(layoutGroups([group('a', 1)], []).nodes.get('a')?.tier).toBe(0);
    expect(layoutGroups([], []).nodes.size).toBe(0);
  });

  it('draws edges from rim to rim, and a loop for a self edge', () => {
    const a = { id: 'a', x: 0, y: 0, r: 10, tier: 0 };
    const b = { id: 'b', x: 100, y: 0, r: 20, tier: 1 };
    expect(edgePath(a, b, 0)).toBe('M 10 0 Q 43 0 76 0');
    expect(edgePath(a, a)).toMatch(/^M .* C /);
  });

  it('draws one line per pair; the least reviewed status shows', () => {
    const p = pairEdges([
      edge('a', 'b', 1, { status: 'approved' }),
      edge('a', 'b', 2, { status: 'pending' }),
      edge('b', 'a', 3, { status: 'rejected' }),
    ]);
    expect(p.map((x) => [x.src, x.dst, x.status, x.services.length, x.flows])).toEqual([
      ['a', 'b', 'pending', 2, 20],
      ['b', 'a', 'rejected', 1, 10],
    ]);
  });
});

describe('edge review', () => {
  const names = new Map(groups.map((g) => [g.id, g.name.toUpperCase()]));

  it('filters stable, incidental, status and text over names and services', () => {
    expect(filterEdges(edges, ALL_EDGES, names)).toHaveLength(6);
    expect(filterEdges(edges, { ...ALL_EDGES, stability: 'incidental' }, names).map((e) => e.id)).toEqual([
      'db>app:6/9000',
    ]);
    expect(filterEdges(edges, { ...ALL_EDGES, stability: 'stable' }, names)).toHaveLength(5);
    expect(filterEdges(edges, { ...ALL_EDGES, status: 'approved' }, names).map((e) => e.dst)).toEqual([
      'inet',
    ]);
    expect(filterEdges(edges, { ...ALL_EDGES, text: 'web tcp/8080' }, names).map((e) => e.id)).toEqual([
      'web>app:6/8080',
    ]);
    expect(filterEdges(edges, { ...ALL_EDGES, text: 'udp' }, names).map((e) => e.dst)).toEqual(['dns']);
    expect(filterEdges(edges, { stability: 'stable', status: 'rejected', text: '' }, names)).toHaveLength(0);
  });

  it('a bulk action sends only the edges whose status changes', () => {
    const ids = new Set(['clients>web:6/443', 'clients>inet:6/443', 'nope']);
    expect(bulkChanges(edges, ids, 'approved')).toEqual([{ edge: 'clients>web:6/443', status: 'approved' }]);
    expect(bulkChanges(edges, new Set(), 'approved')).toEqual([]);
  });

  it('names services and split groups', () => {
    expect(service({ proto: 6, port: 443 })).toBe('TCP/443');
    expect(service({ proto: 17, port: -1 })).toBe('UDP/any');
    expect(service({ proto: 1, port: 0 })).toBe('ICMP');
    expect(service({ proto: 99, port: 0 })).toBe('proto 99');
    expect(splitName('web', ['web', 'web (2)'])).toBe('web (3)');
  });
});

describe('proposal scopes', () => {
  it('reads one scope per line and says which line is wrong', () => {
    expect(parseScopes('db: 10.0.3.0/24, 10.0.4.0/24\n\n  web:10.0.1.0/24 ')).toEqual({
      scopes: [
        { name: 'db', cidrs: ['10.0.3.0/24', '10.0.4.0/24'] },
        { name: 'web', cidrs: ['10.0.1.0/24'] },
      ],
    });
    expect(parseScopes('')).toEqual({ scopes: [] });
    expect(parseScopes('db: 10.0.3.0/24\n10.0.1.0/24')).toEqual({
      error: 'line 2: write "name: network, network" (e.g. "db: 10.0.3.0/24")',
    });
    expect(parseScopes('db:')).toHaveProperty('error');
    expect(parseScopes('db: 10.0.3.0/24\ndb: 10.0.4.0/24')).toEqual({
      error: 'line 2: the scope db is named twice',
    });
  });
});
