/**
 * What flow records cost between the flow table and the store, objects against column batches,
 * in one process run on the bench capture (issue 13, item 2). CPU time (process.cpuUsage, every
 * thread: DuckDB's included), not wall time: the machine is shared. GC events counted with a
 * PerformanceObserver. Passes alternated, least CPU of `runs`; run with --expose-gc so each
 * pass starts from a collected heap.
 *
 *  1. the sensor with L7 (decode + metering + parsing + records built), records to a sink that keeps
 *     nothing: objects (`vantage ingest --format ndjson`'s path) vs column batches (the store's);
 *  2. the same with every detector reading the records (onRecord vs onColumns);
 *  3. the flow rows alone into the embedded store: objects through `append` vs the batches
 *     through `appendColumns`, 16,384 rows per append (what `ingest --store` does).
 *
 * usage: node --expose-gc dist/bench/flow-records.js [capture] [runs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../src/capture/capture-file.js';
import type { AlertEmitter, RecordWatcher } from '../src/common/alerts.js';
import { silentLogger } from '../src/common/log.js';
import { createDetectors } from '../src/detect/index.js';
import { createSensor } from '../src/flow/sensor.js';
import type { Columnar } from '../src/store/columnar.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import type { Rec } from '../src/store/types.js';
import { cpuS, gcCount, settleGc } from './support.js';

gcCount();

interface Pass {
  cpu: number;
  gc: number;
  packets: number;
  flows: number;
}

const noAlerts: AlertEmitter = { raise() {} };

async function sensorPass(file: string, columns: boolean, detect: boolean): Promise<Pass> {
  const w: RecordWatcher | null = detect ? createDetectors(undefined, { emitter: noAlerts }) : null;
  let flows = 0;
  const sensor = createSensor(
    (r) => {
      if (r.type === 'flow' || r.type === 'dns') flows++;
      w?.onRecord(r);
    },
    {
      ...(columns
        ? {
            columns: (t: string, c: Columnar) => {
              flows += c.rows.length;
              w?.onColumns?.(t, c);
            },
            columnRows: 16_384,
          }
        : {}),
    },
  );
  global.gc?.();
  await settleGc();
  const g0 = gcCount();
  const c0 = process.cpuUsage();
  const s = await readCaptureFile(file, sensor.onFrame);
  sensor.finish();
  w?.finish();
  const cpu = cpuS(process.cpuUsage(c0));
  await settleGc();
  return { cpu, gc: gcCount() - g0, packets: s.packets, flows };
}

async function storePass(dir: string, recs: Rec[] | null, batches: Columnar[] | null): Promise<Pass> {
  rmSync(dir, { recursive: true, force: true });
  const store = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
  await store.start();
  global.gc?.();
  await settleGc();
  const g0 = gcCount();
  const c0 = process.cpuUsage();
  let n = 0;
  if (recs)
    for (let i = 0; i < recs.length; i += 16_384) {
      const part = recs.slice(i, i + 16_384);
      await store.append('flow', part);
      n += part.length;
    }
  if (batches)
    for (const c of batches) {
      await store.appendColumns('flow', c);
      n += c.rows.length;
    }
  const cpu = cpuS(process.cpuUsage(c0));
  await settleGc();
  const gc = gcCount() - g0;
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
  return { cpu, gc, packets: 0, flows: n };
}

export async function benchFlowRecords(file = 'bench/out/realistic-1360000.pcap', runs = 3): Promise<void> {
  const best = (a: Pass | undefined, b: Pass): Pass => (a === undefined || b.cpu < a.cpu ? b : a);
  const r: Record<string, Pass | undefined> = {};
  for (let i = 0; i < runs; i++)
    for (const [name, cols, det] of [
      ['objects', false, false],
      ['columns', true, false],
      ['objects + detectors', false, true],
      ['columns + detectors', true, true],
    ] as const)
      r[name] = best(r[name], await sensorPass(file, cols, det));
  process.stdout.write(`\n== flow records: objects vs column batches (${file}; least CPU of ${runs}) ==\n\n`);
  const base = r.objects!;
  const line = (name: string, p: Pass, note = ''): void => {
    process.stdout.write(
      `${name.padEnd(34)} ${p.cpu.toFixed(2).padStart(6)} CPU-s  ${(p.packets / p.cpu / 1e6).toFixed(2)} Mpkt/CPU-s  ${((p.gc * 1e6) / Math.max(1, p.packets)).toFixed(0).padStart(4)} GC/Mpkt  ${p.flows} flow + DNS records${note}\n`,
    );
  };
  for (const [name, p] of Object.entries(r)) line(`sensor, ${name}`, p!);
  const perFlow = (a: Pass, b: Pass): string => (((a.cpu - b.cpu) / base.flows) * 1e6).toFixed(2);
  process.stdout.write(
    `records built: objects cost ${perFlow(base, r.columns!)} µs per flow or DNS record more than column rows; detectors on objects ${perFlow(r['objects + detectors']!, base)} µs/record, on columns ${perFlow(r['columns + detectors']!, r.columns!)} µs/record\n`,
  );

  // The flow rows alone into the store.
  const recs: Rec[] = [];
  const batches: Columnar[] = [];
  {
    const a = createSensor((x) => void (x.type === 'flow' && recs.push(x as Rec)), { l7: false });
    await readCaptureFile(file, a.onFrame);
    a.finish();
    const b = createSensor(() => {}, { l7: false, columns: (_t, c) => batches.push(c), columnRows: 16_384 });
    await readCaptureFile(file, b.onFrame);
    b.finish();
  }
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-flow-records-'));
  const s: Record<string, Pass | undefined> = {};
  try {
    for (let i = 0; i < runs; i++) {
      s.objects = best(s.objects, await storePass(join(tmp, 'o'), recs, null));
      s.columns = best(s.columns, await storePass(join(tmp, 'c'), null, batches));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const [name, p] of Object.entries(s))
    process.stdout.write(
      `store, ${name.padEnd(8)} ${p!.flows} flow rows: ${p!.cpu.toFixed(2)} CPU-s = ${Math.round(p!.flows / p!.cpu)} rows per CPU-second, ${p!.gc} GCs (goal ≥ 1M rows/s)\n`,
    );
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchFlowRecords(
    process.argv[2],
    process.argv[3] === undefined ? undefined : Number(process.argv[3]),
  );
