/**
 * What compliance checking costs the sensor: `vantage ingest --no-records` on the bench
 * capture with and without a policy of 1,000 groups and 11,000 edges that covers its hosts
 * (goal: at most 5% of the packet rate).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  edgeId,
  POLICY_SCHEMA,
  type PolicyDoc,
  type PolicyEdge,
  type PolicyGroup,
} from '../src/policy/model.js';
import { generate } from './gen-capture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function ip(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Groups of the capture's clients (10.0.0.0 + 1..50,000), its servers' /24s, and edges between them. */
export function benchPolicy(groups = 1000): PolicyDoc {
  const gs: PolicyGroup[] = [];
  const edges: PolicyEdge[] = [];
  const per = Math.ceil(50_000 / groups);
  const ext: PolicyGroup[] = [];
  for (let n = 0; n < 20; n++) {
    const net = `198.51.${100 + n}.0/24`;
    ext.push({
      id: `g-ext-${n}`,
      name: `external ${net}`,
      kind: 'external',
      members: [],
      cidrs: [net],
      pinned: false,
      labels: {},
    });
  }
  ext.push({
    id: 'g-ext-dns',
    name: 'external 8.8.8.0/24',
    kind: 'external',
    members: [],
    cidrs: ['8.8.8.0/24'],
    pinned: false,
    labels: {},
  });
  for (let g = 0; g < groups; g++) {
    const members: string[] = [];
    for (let k = 1 + g * per; k <= Math.min(50_000, (g + 1) * per); k++) members.push(ip(0x0a000000 + k));
    const id = `g-${g}`;
    gs.push({ id, name: `clients ${g}`, kind: 'internal', members, cidrs: [], pinned: false, labels: {} });
    const e = (dst: string, proto: number, port: number) =>
      edges.push({
        id: edgeId(id, dst, proto, port),
        src: id,
        dst,
        proto,
        port,
        flows: 1,
        bytes: 1,
        first_seen: '2024-01-01T00:00:00Z',
        last_seen: '2024-01-01T00:00:00Z',
        days: 1,
        stable: true,
        status: 'approved',
      });
    for (let n = 0; n < 10; n++) e(`g-ext-${(g + n) % 20}`, 6, 443);
    e('g-ext-dns', 17, 53);
  }
  return {
    schema: POLICY_SCHEMA,
    id: 'bench',
    version: 1,
    status: 'approved',
    created: new Date().toISOString(),
    created_by: 'bench',
    window: { after: null, before: null, flows: 0 },
    internal: ['10.0.0.0/8'],
    groups: [...gs, ...ext],
    edges,
  };
}

function run(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [`${ROOT}bin/vantage.js`, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`vantage ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function benchPolicyCompliance(): Promise<void> {
  const packets = 400_000;
  const file = `${ROOT}bench/out/synthetic-${packets}.pcap`;
  mkdirSync(`${ROOT}bench/out`, { recursive: true });
  if (!existsSync(file)) generate(file, packets);
  const doc = benchPolicy();
  const policy = `${ROOT}bench/out/policy-1000.json`;
  writeFileSync(policy, JSON.stringify(doc));
  const base: number[] = [];
  const checked: number[] = [];
  // Interleaved runs: the machine is noisy, a ratio of medians measured side by side is what holds.
  for (let i = 0; i < 5; i++) {
    base.push(run(['ingest', file, '--no-records']));
    checked.push(run(['ingest', file, '--no-records', '--policy', policy]));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const b = med(base);
  const c = med(checked);
  process.stdout.write(
    `policy of ${doc.groups.length} groups and ${doc.edges.length} edges, ${packets} packets:\n` +
      `  without policy ${(packets / b / 1e6).toFixed(2)}M packets/s, with ${(packets / c / 1e6).toFixed(2)}M packets/s: ` +
      `${(((c - b) / b) * 100).toFixed(1)}% of the packet rate (goal ≤ 5%)\n`,
  );
}
