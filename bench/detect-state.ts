/**
 * The detectors' state at its caps (issue 21): each stateful detector, the shared baselines and
 * prevalence, and the whole set as `vantage start` builds it, fed with varied keys (random
 * sources and destinations as a spoofed flood, a scan or a busy network make them) until every
 * map is full; then the heap after a forced collection plus the ArrayBuffers' bytes (typed
 * arrays' backing stores live outside the V8 heap), per entry and in all.
 *
 * Each key gets `rounds` records spread over data time (a flood victim 40 ten-second buckets so
 * that its decided-rate series is full, a beacon pair 12 beats, the others 4): an entry as a
 * long soak leaves it, not a one-record entry.
 *
 * usage: node --expose-gc dist/bench/detect-state.js [--keys N] [--only NAME,...] [--json]
 */
import { getHeapStatistics } from 'node:v8';
import type { AnyRecord } from '../src/common/alerts.js';
import { Baselines } from '../src/detect/baseline.js';
import { createDetectors, type DetectorSet } from '../src/detect/index.js';
import { Prevalence } from '../src/detect/prevalence.js';
import { CAP_KEYS } from '../src/detect/state-budget.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');

function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapBytes(): number {
  gc?.();
  gc?.();
  return getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
}

const ext = (i: number, salt = 9): string =>
  `${20 + ((i >>> 16) & 127)}.${(i >>> 8) & 255}.${i & 255}.${salt}`;
const int = (i: number): string => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
const hash = (i: number, r: number): number => Math.imul(i * 31 + r + 1, 2654435761) >>> 0;
const LETTERS = 'qzxkjvbwpfgmhdtc';
function randomLabel(h: number, len: number): string {
  let s = '';
  for (let k = 0; k < len; k++) s += LETTERS[(h >>> ((k * 4) % 28)) & 15]!;
  return s;
}

interface Load {
  /** Detector (config key), or the shared state's name. */
  name: string;
  rounds: number;
  /** Data time between two rounds of the same key, ms. */
  stepMs: number;
  /** The record for key `i` in round `r`, written into `rec` (fields cleared by the caller). */
  fill(rec: AnyRecord, i: number, r: number, ms: number): void;
}

function flow(rec: AnyRecord, ms: number, f: Partial<AnyRecord>): void {
  Object.assign(rec, { type: 'flow', first_ts: ms, last_ts: ms, ...f });
}

const LOADS: Load[] = [
  {
    name: 'scan',
    rounds: 4,
    stepMs: 5000,
    // A scanner (or a spoofed source) probing a few refused host:port pairs.
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: ext(i),
        server_ip: int(hash(i, r) & 0xffff),
        client_port: 40000 + r,
        server_port: 1000 + r,
        proto: 6,
        client_tcp_flags: 'S',
        server_tcp_flags: 'R',
        client_packets: 1,
        server_packets: 1,
        client_ip_bytes: 60,
        server_ip_bytes: 40,
        flow_id: i * 8 + r,
      }),
  },
  {
    name: 'flood',
    rounds: 40,
    stepMs: 10_000,
    // Random victims each past the per-victim gate, from random sources, a bucket per round.
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: ext(hash(i, r) & 0x7fffff, 3),
        server_ip: ext(i),
        client_port: 53,
        server_port: 4000 + (i % 1000),
        proto: 17,
        client_packets: 1000,
        server_packets: 0,
        client_ip_bytes: 100_000,
        server_ip_bytes: 0,
        flow_id: i * 64 + r,
      }),
  },
  {
    name: 'bruteforce',
    rounds: 4,
    stepMs: 5000,
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: ext(i),
        server_ip: int(i & 0xffff),
        client_port: 40000 + r,
        server_port: 22,
        proto: 6,
        client_tcp_flags: 'SAF',
        server_tcp_flags: 'SAF',
        client_packets: 10,
        server_packets: 10,
        client_ip_bytes: 2000,
        server_ip_bytes: 3000,
        last_ts: ms + 1000,
        flow_id: i * 8 + r,
      }),
  },
  {
    name: 'dnsTunnel',
    rounds: 4,
    stepMs: 5000,
    fill: (rec, i, r, ms) =>
      Object.assign(rec, {
        type: 'dns',
        ts: ms,
        query: `${randomLabel(hash(i, r), 7)}.d${i}.com`,
        client_ip: int(i & 0xffffff),
        server_ip: '10.0.0.53',
        server_port: 53,
        qtype: 16,
        qtype_name: 'TXT',
        rcode: 0,
        flow_id: i * 8 + r,
      }),
  },
  {
    name: 'dga',
    rounds: 4,
    stepMs: 5000,
    fill: (rec, i, r, ms) =>
      Object.assign(rec, {
        type: 'dns',
        ts: ms,
        query: `${randomLabel(hash(i, r), 7)}${randomLabel(hash(r, i), 5)}.com`,
        client_ip: int(i & 0xffffff),
        server_ip: '10.0.0.53',
        server_port: 53,
        qtype: 1,
        qtype_name: 'A',
        rcode: 3,
        flow_id: i * 8 + r,
      }),
  },
  {
    name: 'beacon',
    rounds: 12,
    stepMs: 60_000,
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: int(i & 0xffff),
        server_ip: ext(i),
        client_port: 40000 + r,
        server_port: 443,
        proto: 6,
        client_tcp_flags: 'SAF',
        server_tcp_flags: 'SAF',
        client_packets: 8,
        server_packets: 8,
        client_ip_bytes: 900 + r,
        server_ip_bytes: 4000,
        flow_id: i * 16 + r,
      }),
  },
  {
    name: 'exfil',
    rounds: 4,
    stepMs: 60_000,
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: int(i),
        server_ip: ext(i),
        client_port: 40000 + r,
        server_port: 443,
        proto: 6,
        client_tcp_flags: 'SAF',
        server_tcp_flags: 'SAF',
        client_packets: 200,
        server_packets: 100,
        client_ip_bytes: 200_000,
        server_ip_bytes: 8000,
        flow_id: i * 8 + r,
      }),
  },
  {
    name: 'rareDest',
    rounds: 2,
    stepMs: 5000,
    // A new /24 per key, reached by two internal hosts.
    fill: (rec, i, r, ms) =>
      flow(rec, ms, {
        client_ip: int((i + r * 7919) & 0xffff),
        server_ip: ext(i),
        client_port: 40000 + r,
        server_port: 443,
        proto: 6,
        client_tcp_flags: 'SAF',
        server_tcp_flags: 'SAF',
        client_packets: 8,
        server_packets: 8,
        client_ip_bytes: 900,
        server_ip_bytes: 4000,
        flow_id: i * 8 + r,
      }),
  },
];

export interface StateRow {
  name: string;
  entries: number;
  bytes: number;
  perEntry: number;
  /** Baselines' and prevalence's entries the load also made (their bytes are taken out). */
  baselines: number;
  prevalence: number;
}

const rec: AnyRecord = { type: 'flow' };
function clear(r: AnyRecord): void {
  for (const k of Object.keys(r)) delete r[k];
}

/** Keys `from`..`to` of a load, round by round (data time moves on), into `set`. */
function feed(
  set: DetectorSet,
  load: Load,
  from: number,
  to: number,
  t0: number,
  maxStepMs = Infinity,
): void {
  const step = Math.min(load.stepMs, maxStepMs);
  for (let r = 0; r < load.rounds; r++) {
    const span = to - from;
    for (let i = from; i < to; i++) {
      clear(rec);
      // Keys spread over the round's step, so time moves steadily.
      load.fill(rec, i, r, t0 + r * step + Math.floor(((i - from) * step) / Math.max(1, span)));
      set.onRecord(rec);
    }
  }
}

function prevalenceOf(set: DetectorSet): number {
  return (set as { prevalence?: Prevalence }).prevalence?.size ?? 0;
}

/** Bytes per entry of the shared baselines and prevalence, measured directly. */
function shared(keys: number): { baselines: StateRow; prevalence: StateRow } {
  const m0 = heapBytes();
  const b = new Baselines(0.1, 24, keys);
  for (let i = 0; i < keys; i++)
    for (let r = 0; r < 4; r++) b.update(`flood|${ext(i)}`, 100 + r, T0 + r * 3_600_000);
  const m1 = heapBytes();
  const bytesB = m1 - m0;
  const p = new Prevalence(keys);
  for (let i = 0; i < keys; i++) for (let r = 0; r < 2; r++) p.add(int((i + r * 7919) & 0xffff), ext(i));
  const bytesP = heapBytes() - m1;
  const row = (name: string, entries: number, bytes: number): StateRow => ({
    name,
    entries,
    bytes,
    perEntry: Math.round(bytes / Math.max(1, entries)),
    baselines: 0,
    prevalence: 0,
  });
  const out = { baselines: row('baselines', b.size, bytesB), prevalence: row('prevalence', p.size, bytesP) };
  // Kept alive to here: the second measure must not see the first's entries freed.
  if (b.size < 0 || p.size < 0) throw new Error('unreachable');
  return out;
}

function one(base: Load, keys: number, sh: { baselines: StateRow; prevalence: StateRow }): StateRow {
  const rounds = Number(opt('rounds') ?? 0);
  const load = rounds > 0 ? { ...base, rounds } : base;
  const detect: Record<string, unknown> = {};
  for (const l of LOADS) detect[l.name] = { enabled: l.name === load.name };
  (detect[load.name] as Record<string, unknown>)[CAP_KEYS[load.name as keyof typeof CAP_KEYS]] = keys;
  const m0 = heapBytes();
  const set = createDetectors(detect, { emitter: { raise() {} } });
  feed(set, load, 0, keys, T0);
  const bytes = heapBytes() - m0;
  const d = set.detectors[0]!;
  const entries = d.size();
  const own = bytes - set.baselines.size * sh.baselines.perEntry - prevalenceOf(set) * sh.prevalence.perEntry;
  return {
    name: load.name,
    entries,
    bytes: own,
    perEntry: Math.round(own / Math.max(1, entries)),
    baselines: set.baselines.size,
    prevalence: prevalenceOf(set),
  };
}

/**
 * The whole set as `vantage start` builds it (default config, caps from `share` bytes or the
 * default budget's share), every load fed until its detector's map stops growing.
 */
export function wholeSet(
  maxKeys: number,
  share?: number,
  rounds = 0,
): {
  rows: { name: string; entries: number; cap: number }[];
  bytes: number;
  share: number;
  records: number;
} {
  const m0 = heapBytes();
  const set = createDetectors({}, { emitter: { raise() {} }, ...(share ? { stateBytes: share } : {}) });
  const block = 5000;
  const active = new Set(LOADS.map((l) => l.name));
  const sizeOf = (name: string): number => set.detectors.find((d) => d.name === name)?.size() ?? 0;
  const caps = (set as { caps?: { caps: Record<string, number>; share: number } }).caps;
  const capOf = (n: string): number => (caps?.caps[n] ?? 0) * (n === 'exfil' ? 2 : 1);
  let t0 = T0;
  let records = 0;
  for (let from = 0; from < maxKeys && active.size > 0; from += block) {
    for (const base of LOADS) {
      if (!active.has(base.name)) continue;
      const l = rounds > 0 ? { ...base, rounds } : base;
      const before = sizeOf(l.name);
      // Rounds 2 s apart: the loads share one data clock, and the windowed detectors (brute
      // force 2×5 min, DGA 10 min) must not close their entries before their maps fill.
      feed(set, l, from, from + block, t0, 2000);
      records += block * l.rounds;
      // At its cap when the set says what it is (other loads fill some maps too: the rare
      // destinations of beacon and exfiltration flows); otherwise when the map stopped growing.
      const c = capOf(l.name);
      if (c > 0 ? sizeOf(l.name) >= c : sizeOf(l.name) <= before) active.delete(l.name);
    }
    t0 += 40 * 2000;
  }
  const bytes = heapBytes() - m0;
  const rows = set.detectors.map((d) => ({ name: d.name, entries: d.size(), cap: capOf(d.name) }));
  rows.push({ name: 'baselines', entries: set.baselines.size, cap: capOf('baselines') });
  rows.push({ name: 'prevalence', entries: prevalenceOf(set), cap: capOf('prevalence') });
  return { rows, bytes, share: caps?.share ?? 0, records };
}

export function benchDetectState(): void {
  if (!gc) throw new Error('run with --expose-gc');
  const keys = Number(opt('keys') ?? 20_000);
  const only = opt('only')?.split(',');
  if (only?.length === 1 && only[0] === 'all') {
    const share = Number(opt('share') ?? 0);
    const w = wholeSet(Number(opt('whole-keys') ?? 400_000), share || undefined, Number(opt('rounds') ?? 0));
    process.stdout.write(`${JSON.stringify(w)}\n`);
    return;
  }
  const sh = shared(keys);
  const rows: StateRow[] = [sh.baselines, sh.prevalence];
  for (const l of LOADS) if (!only || only.includes(l.name)) rows.push(one(l, keys, sh));
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
  process.stdout.write(`detectors' state at ${keys} keys each (heap after gc + ArrayBuffers):\n`);
  for (const r of rows)
    process.stdout.write(
      `  ${r.name.padEnd(11)} ${String(r.entries).padStart(7)} entries  ${String(r.perEntry).padStart(6)} B/entry  ${mb(r.bytes).padStart(7)} MiB${r.baselines || r.prevalence ? `  (+${r.baselines} baselines, ${r.prevalence} prevalence entries taken out)` : ''}\n`,
    );
  if (!only || only.includes('all')) {
    const share = Number(opt('share') ?? 0);
    const w = wholeSet(Number(opt('whole-keys') ?? 400_000), share || undefined, Number(opt('rounds') ?? 0));
    process.stdout.write(
      `whole set (default config, ${w.records} records): ${mb(w.bytes)} MiB for a share of ${mb(w.share)} MiB; entries/cap: ${w.rows.map((r) => `${r.name} ${r.entries}/${r.cap}`).join(', ')}\n`,
    );
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ rows, whole: w })}\n`);
  }
}

if (process.argv[1]?.endsWith('detect-state.js')) benchDetectState();
