/**
 * The detectors alone, on exactly what the ingest path hands them: a capture goes once through
 * the Sensor with column output (as `vantage ingest --no-records` and `ingest --store` run it),
 * and every column batch and record object is kept in arrival order; then the detectors (the
 * watchers `createWatchers` builds, default configuration) read that sequence again and again.
 * Each pass starts from a collected heap. Prints one JSON line: CPU seconds of every thread
 * (process.cpuUsage: the GC's helper threads are part of what garbage costs), GC events and
 * their pause total, per pass (least and median), and the alerts and per-detector counters of
 * the last pass (the same in every pass).
 *
 *   node --expose-gc dist/bench/detect-replay.js [capture] [--passes N] [--objects] [--no-l7]
 *
 * `--objects` feeds the same records as objects (`onRecord`, as `ingest --format ndjson` does)
 * instead of column batches; the objects are made before the passes and not measured.
 * `--only scan,flood` leaves only those detectors enabled (each one's cold and warm cost apart).
 * `--no-l7` meters flows only (as `ingest --no-l7` does): the detectors see flow records alone.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { createWatchers } from '../src/cli/watchers.js';
import { AlertAggregator, type AnyRecord } from '../src/common/alerts.js';
import { createSensor } from '../src/flow/sensor.js';
import { type Columnar, columnarToRecords } from '../src/store/columnar.js';
import { watchColumns } from '../src/store/watching-store.js';

const args = process.argv.slice(2);
const pi = args.indexOf('--passes');
const passes = pi >= 0 ? Number(args[pi + 1]) : 7;
const objects = args.includes('--objects');
const l7 = !args.includes('--no-l7');
const oi = args.indexOf('--only');
const only = oi >= 0 ? (args[oi + 1] ?? '').split(',') : null;
const ALL = ['scan', 'flood', 'bruteforce', 'dnsTunnel', 'dga', 'beacon', 'exfil', 'rareDest'];
const detect = only
  ? Object.fromEntries(ALL.filter((d) => !only.includes(d)).map((d) => [d, { enabled: false }]))
  : {};
const file =
  args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--passes' && args[i - 1] !== '--only') ??
  'bench/out/realistic-1360000.pcap';

type Item = { type: string; c: Columnar } | { rec: AnyRecord };

/** A batch's own copy: a builder may reuse its buffers once the callback returned. */
function copy(c: Columnar): Columnar {
  return {
    num: c.num,
    str: c.str,
    f: c.f.slice(),
    s: c.s.slice(),
    dict: c.dict.slice(),
    rows: Uint32Array.from(c.rows),
    ...(c.json ? { json: c.json } : {}),
  };
}

const items: Item[] = [];
const sensor = createSensor((r) => void items.push({ rec: r as AnyRecord }), {
  columns: (type, c) => void items.push({ type, c: copy(c) }),
  l7,
  flow: { idleTimeout: 60, tcpIdleTimeout: 300, activeTimeout: 1800 },
});
const sum = await readCaptureFile(file, sensor.onFrame);
sensor.finish();
const recs: AnyRecord[][] = objects
  ? items.map((it) => ('rec' in it ? [it.rec] : (columnarToRecords(it.c, it.type) as AnyRecord[])))
  : [];
let records = 0;
for (const it of items) records += 'rec' in it ? 1 : it.c.rows.length;

let gcs = 0;
let gcMs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcs++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

const cpu: number[] = [];
const gcCount: number[] = [];
const gcPause: number[] = [];
let alerts = 0;
let firstCpu = Number.NaN;
let last: unknown = null;
for (let p = -1; p < passes; p++) {
  global.gc?.();
  await new Promise((r) => setTimeout(r, 20));
  alerts = 0;
  const agg = new AlertAggregator(() => alerts++, { mode: 'final', sensor: 'bench' });
  const watchers = await createWatchers({ detect }, agg);
  const g0 = gcs;
  const m0 = gcMs;
  const c0 = process.cpuUsage();
  if (objects) {
    for (const list of recs) for (const r of list) for (const w of watchers) w.onRecord(r);
  } else {
    for (const it of items) {
      if ('rec' in it) for (const w of watchers) w.onRecord(it.rec);
      else watchColumns(watchers, it.type, it.c);
    }
  }
  for (const w of watchers) w.finish();
  agg.flush();
  const c = process.cpuUsage(c0);
  // GC entries are delivered asynchronously: let them arrive before reading the counts.
  await new Promise((r) => setTimeout(r, 20));
  // A first pass warms the JIT: reported apart, since a real run's one pass is a cold one.
  if (p < 0) {
    firstCpu = (c.user + c.system) / 1e6;
    continue;
  }
  cpu.push((c.user + c.system) / 1e6);
  gcCount.push(gcs - g0);
  gcPause.push(gcMs - m0);
  const det = watchers.find((w) => w.name === 'detect') as unknown as {
    counters: unknown;
    detectors: { name: string; counters: unknown }[];
  };
  last = {
    counters: det.counters,
    detectors: Object.fromEntries(det.detectors.map((d) => [d.name, d.counters])),
  };
}
const least = (a: number[]): number => Math.min(...a);
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] ?? Number.NaN;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    file,
    path: objects ? 'objects' : 'columns',
    l7,
    packets: sum.packets,
    records,
    passes,
    cpu_s_first: r3(firstCpu),
    cpu_s_least: r3(least(cpu)),
    cpu_s_median: r3(median(cpu)),
    gc_least: least(gcCount),
    gc_median: median(gcCount),
    gc_per_mpkt: Math.round((median(gcCount) / sum.packets) * 1e6),
    gc_pause_ms_median: Math.round(median(gcPause)),
    alerts,
    state: last,
  })}\n`,
);
