/**
 * What the L7 records cost between the analyzers and the store and detectors, per record type,
 * in one process on the bench capture (issue 13, item 2). CPU time (process.cpuUsage, every
 * thread), not wall time: the machine is shared. Passes alternated, least CPU of `runs`; run
 * with --expose-gc so each pass starts from a collected heap.
 *
 *  1. the sensor with L7, records to a sink that keeps nothing: objects (NDJSON's path) against
 *     column batches (the store's), GC per million packets, records per type;
 *  2. per type, on the records of one objects pass: what an ISO time string per record costs
 *     (the object path makes one for every record), what copying the objects into column
 *     batches costs (the store's path when an analyzer makes objects), and what the detectors
 *     and the intel watcher cost reading the records as objects (`onRecord`) against the same
 *     records as column batches (`onColumns`).
 *
 * usage: node --expose-gc dist/bench/l7-records.js [capture] [runs] [types (the per-type part only)]
 */
import { RecordColumnBuilder } from '../src/analyze/record-columns.js';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { AlertAggregator, type AnyRecord, type RecordWatcher } from '../src/common/alerts.js';
import { isoNs } from '../src/common/time.js';
import { createDetectors } from '../src/detect/index.js';
import { createSensor } from '../src/flow/sensor.js';
import { DEFAULT_PARSE } from '../src/intel/feeds/common.js';
import { parseList } from '../src/intel/feeds/list.js';
import { IocStore } from '../src/intel/ioc-store.js';
import { Matcher } from '../src/intel/matcher.js';
import { IntelWatcher } from '../src/intel/watcher.js';
import { ALL_RECORDS } from '../src/schema/records.js';
import type { Columnar } from '../src/store/columnar.js';
import { cpuS, gcCount, settleGc } from './support.js';

gcCount();

interface Pass {
  cpu: number;
  gc: number;
  packets: number;
  byType: Record<string, number>;
}

async function sensorPass(file: string, columns: boolean): Promise<Pass> {
  const byType: Record<string, number> = {};
  const sensor = createSensor(
    (r) => {
      byType[r.type] = (byType[r.type] ?? 0) + 1;
    },
    columns
      ? {
          columns: (t: string, c: Columnar) => {
            byType[t] = (byType[t] ?? 0) + c.rows.length;
          },
          columnRows: 16_384,
        }
      : {},
  );
  global.gc?.();
  await settleGc();
  const g0 = gcCount();
  const c0 = process.cpuUsage();
  const s = await readCaptureFile(file, sensor.onFrame);
  sensor.finish();
  const cpu = cpuS(process.cpuUsage(c0));
  await settleGc();
  return { cpu, gc: gcCount() - g0, packets: s.packets, byType };
}

/** (seconds, ns) of a record's ISO time, as the analyzers hold it before making the string. */
function secNs(ts: unknown): [number, number] {
  const v = String(ts);
  const sec = Math.floor(Date.parse(`${v.slice(0, 19)}Z`) / 1000);
  const frac = v.length > 21 ? v.slice(20, -1).padEnd(9, '0') : '0';
  return [sec, Number(frac)];
}

function cpuOf(fn: () => void, reps: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    global.gc?.();
    const c0 = process.cpuUsage();
    fn();
    best = Math.min(best, cpuS(process.cpuUsage(c0)));
  }
  return best;
}

function intelMatcher(): Matcher {
  // A few indicators of each kind the records carry, none of them in the capture: every
  // record is looked at and none is a hit (the common case).
  const text = 'evil.example\nbad.example.org\n198.51.100.77\n2001:db8:dead::1\n203.0.113.0/28\n';
  const parsed = parseList(text, { ...DEFAULT_PARSE, sources: ['bench'] });
  const store = new IocStore(null);
  store.replaceFeed('bench', parsed.iocs, false);
  return Matcher.over(store);
}

export async function benchL7Records(
  file = 'bench/out/realistic-1360000.pcap',
  runs = 3,
  only: 'all' | 'types' = 'all',
): Promise<void> {
  if (only === 'all') await sensorPasses(file, runs);
  await typePasses(file, runs);
}

async function sensorPasses(file: string, runs: number): Promise<void> {
  const best = (a: Pass | undefined, b: Pass): Pass => (a === undefined || b.cpu < a.cpu ? b : a);
  let objects: Pass | undefined;
  let columns: Pass | undefined;
  for (let i = 0; i < runs; i++) {
    objects = best(objects, await sensorPass(file, false));
    columns = best(columns, await sensorPass(file, true));
  }
  const o = objects!;
  const c = columns!;
  process.stdout.write(`\n== L7 records: objects vs column batches (${file}; least CPU of ${runs}) ==\n\n`);
  for (const [name, p] of [
    ['objects (NDJSON path)', o],
    ['columns (store path)', c],
  ] as const)
    process.stdout.write(
      `sensor with L7, ${name.padEnd(22)} ${p.cpu.toFixed(2).padStart(6)} CPU-s  ${(p.packets / p.cpu / 1e6).toFixed(2)} Mpkt/CPU-s  ${((p.gc * 1e6) / Math.max(1, p.packets)).toFixed(0).padStart(3)} GC/Mpkt\n`,
    );
  process.stdout.write(
    `records: ${Object.entries(o.byType)
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}\n\n`,
  );
}

async function typePasses(file: string, runs: number): Promise<void> {
  // The records of one objects pass, by type.
  const recs = new Map<string, AnyRecord[]>();
  {
    const s = createSensor((r) => {
      const l = recs.get(r.type);
      if (l) l.push(r as AnyRecord);
      else recs.set(r.type, [r as AnyRecord]);
    });
    await readCaptureFile(file, s.onFrame);
    s.finish();
  }
  const matcher = intelMatcher();
  const agg = new AlertAggregator(() => {}, { mode: 'final' });
  const rows = [
    [
      'type',
      'records',
      'ISO times µs/rec',
      'to columns µs/rec',
      'detect obj',
      'detect col',
      'intel obj',
      'intel col',
    ],
  ];
  // Enough repetitions that the best of them ran optimised code.
  const reps = Math.max(8, runs);
  for (const def of ALL_RECORDS) {
    const list = recs.get(def.type);
    if (!list || list.length === 0 || def.type === 'flow') continue;
    const times = list.map((r) => secNs(r[def.timeField]));
    const us = (s: number): string => ((s / list.length) * 1e6).toFixed(2);
    const iso = cpuOf(() => {
      for (const [s, ns] of times) isoNs(s, ns);
    }, reps);
    let batches: Columnar[] = [];
    // One builder, as a sensor has: its generated copy code is optimised once.
    const b = new RecordColumnBuilder(def, 16_384, (_t, x) => batches.push(x));
    const conv = cpuOf(() => {
      batches = [];
      for (let i = 0; i < list.length; i++) b.add(list[i]!, times[i]![0], times[i]![1]);
      b.flush();
    }, reps);
    const watch = (make: () => RecordWatcher, cols: boolean): number =>
      cpuOf(() => {
        const w = make();
        if (cols) for (const x of batches) w.onColumns!(def.type, x);
        else for (const r of list) w.onRecord(r);
      }, reps);
    const detect = () => createDetectors(undefined, { emitter: agg });
    const intel = () => new IntelWatcher(matcher, agg, null);
    rows.push([
      def.type,
      String(list.length),
      us(iso),
      us(conv),
      us(watch(detect, false)),
      us(watch(detect, true)),
      us(watch(intel, false)),
      us(watch(intel, true)),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(`${r.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ')}\n`);
  process.stdout.write(
    '(µs of CPU per record; detect/intel: the watcher reading objects vs column batches)\n',
  );
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchL7Records(
    process.argv[2],
    process.argv[3] === undefined ? undefined : Number(process.argv[3]),
    process.argv[4] === 'types' ? 'types' : 'all',
  );
