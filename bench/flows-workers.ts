/**
 * Could `vantage ingest --no-records` (flows + L7 + detectors, nothing printed) gain wall time
 * from the pipeline worker built for `ingest --store` (src/capture/workers/)? One process per
 * mode, as the ingest command would run it: the reader (and the detectors, fed by column
 * batches) on this thread; the Sensor (decode, metering, L7, column building) either here too
 * (`inline`) or on one worker thread (`worker`, lossless file input, 1 MiB batches, flow and
 * DNS rows back by transfer). Prints one JSON line: CPU seconds of every thread
 * (process.cpuUsage), this thread's CPU, wall seconds, GC events.
 *
 * With `--workers 2` flows are sharded by their symmetric hash over two workers (the main
 * thread then decodes each packet far enough to hash it).
 *
 *   node dist/bench/flows-workers.js inline|worker [capture] [--no-l7] [--no-detect] [--workers N] [--young MB]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { threadCpuSeconds } from '../src/capture/workers/thread-cpu.js';
import { createThreadedPipeline } from '../src/capture/workers/threaded.js';
import { createWatchers } from '../src/cli/watchers.js';
import { AlertAggregator } from '../src/common/alerts.js';
import { createSensor, type SensorRecord } from '../src/flow/sensor.js';
import type { Columnar } from '../src/store/columnar.js';
import { watchColumns } from '../src/store/watching-store.js';

const args = process.argv.slice(2);
const mode = args[0] === 'worker' ? 'worker' : 'inline';
const wi = args.indexOf('--workers');
const workers = wi > 0 ? Number(args[wi + 1]) : 1;
// --young N: the workers' young generation, MB (`vantage start` gives a live source's 24).
const yi = args.indexOf('--young');
const youngMb = yi > 0 ? Number(args[yi + 1]) : undefined;
const file =
  args.find(
    (a, i) => i > 0 && !a.startsWith('--') && args[i - 1] !== '--workers' && args[i - 1] !== '--young',
  ) ?? 'bench/out/realistic-1360000.pcap';
const l7 = !args.includes('--no-l7');
const detect = !args.includes('--no-detect');

let gcs = 0;
new PerformanceObserver((l) => {
  gcs += l.getEntries().length;
}).observe({ entryTypes: ['gc'] });

let records = 0;
let alerts = 0;
const agg = new AlertAggregator(() => alerts++, { mode: 'final', sensor: 'bench' });
const watchers = await createWatchers({ ...(detect ? {} : { detect: false as const }) }, agg);
const sink = (r: SensorRecord): void => {
  records++;
  for (const w of watchers) w.onRecord(r);
};
const columns = (type: string, c: Columnar): void => {
  records += c.rows.length;
  watchColumns(watchers, type, c);
};
const flow = { idleTimeout: 60, tcpIdleTimeout: 300, activeTimeout: 1800 };
const t0 = performance.now();
const c0 = process.cpuUsage();
const m0 = threadCpuSeconds();
let packets = 0;
if (mode === 'inline') {
  const sensor = createSensor(sink, { columns, l7, flow });
  const s = await readCaptureFile(file, sensor.onFrame);
  packets = s.packets;
  sensor.finish();
} else {
  const p = createThreadedPipeline(sink, {
    flow,
    l7,
    workers,
    ...(youngMb ? { youngMb } : {}),
    columns,
    columnRows: 32_768,
    lossless: true,
    batchBytes: 1 << 20,
    batchPackets: 1 << 16,
  });
  await p.ready;
  const s = await readCaptureFile(file, p.onFrame, () => p.between()).finally(() => p.endOfFile());
  packets = s.packets;
  await p.finish();
}
for (const w of watchers) w.finish();
agg.flush();
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
await new Promise((r) => setTimeout(r, 50));
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    mode,
    workers: mode === 'worker' ? workers : 0,
    l7,
    detect,
    packets,
    records,
    alerts,
    cpu_s: r3((cpu.user + cpu.system) / 1e6),
    main_thread_cpu_s: r3(threadCpuSeconds() - m0),
    wall_s: r3(wall),
    gc_per_mpkt: Math.round((gcs / packets) * 1e6),
  })}\n`,
);
