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

/**
 * A policy that covers the capture's traffic as a learned one would: 990 groups of its 50,000
 * clients (IPv4 and the IPv6 mirror of them), 10 external groups over its servers' networks,
 * and 11 edges per client group (10,890 in all), so that almost every flow is permitted and the
 * figure is the cost of checking, not of raising alerts.
 */
export function benchPolicy(groups = 990): PolicyDoc {
  const gs: PolicyGroup[] = [];
  const edges: PolicyEdge[] = [];
  const per = Math.ceil(50_000 / groups);
  const ext: PolicyGroup[] = [];
  for (let n = 0; n < 10; n++) {
    const cidrs = [`198.51.${100 + 2 * n}.0/24`, `198.51.${101 + 2 * n}.0/24`];
    // The generator writes IPv6 addresses as 2001:db8:: + the IPv4 number.
    if (n === 0) cidrs.push('8.8.8.0/24', '2001:db8::808:808/128', '2001:db8::c633:0/112');
    ext.push({
      id: `g-ext-${n}`,
      name: `external ${n}`,
      kind: 'external',
      members: [],
      cidrs,
      pinned: false,
      labels: {},
    });
  }
  for (let g = 0; g < groups; g++) {
    const members: string[] = [];
    for (let k = 1 + g * per; k <= Math.min(50_000, (g + 1) * per); k++) {
      const v = 0x0a000000 + k;
      members.push(ip(v), `2001:db8::${((v >>> 16) & 0xffff).toString(16)}:${(v & 0xffff).toString(16)}`);
    }
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
    for (let n = 0; n < 10; n++) e(`g-ext-${n}`, 6, -1);
    e('g-ext-0', 17, 53);
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

/** CPU seconds (user + system) of one whole `vantage` run: steadier than wall time on a shared machine. */
function run(args: string[]): number {
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', 'CPU %U %S', process.execPath, `${ROOT}bin/vantage.js`, ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`vantage ${args.join(' ')}: ${r.stderr}`);
  return Number(m[1]) + Number(m[2]);
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
  // Detectors off in both: the figure is the policy's own cost.
  for (let i = 0; i < 5; i++) {
    base.push(run(['ingest', file, '--no-records', '--no-detect']));
    checked.push(run(['ingest', file, '--no-records', '--no-detect', '--policy', policy]));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const b = med(base);
  const c = med(checked);
  process.stdout.write(
    `policy of ${doc.groups.length} groups and ${doc.edges.length} edges, ${packets} packets:\n` +
      `  without policy ${(packets / b / 1e6).toFixed(2)}M packets per CPU-second, with ${(packets / c / 1e6).toFixed(2)}M: ` +
      `${(((c - b) / b) * 100).toFixed(1)}% of the packet rate (goal ≤ 5%)\n`,
  );
}
