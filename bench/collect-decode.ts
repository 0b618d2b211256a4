/**
 * The collector's decode thread alone: CPU-s per 1M records and its garbage, decoding synthetic
 * export datagrams (30 records each, the bench sender's format) into 8192-record column
 * batches, as the decode thread does. Two paths:
 *  - `objects`: a record object per flow, then `encodeColumns` (the path before 2026-12-07);
 *  - `columns`: `ColumnWriter`, flows straight into the batch.
 * Each run is its own process (a fresh heap); `both` alternates them (A B A B ...) so a loaded
 * machine moves both alike. CPU is the whole process's (V8's GC helper threads included).
 *
 * usage: node dist/bench/collect-decode.js [both|objects|columns] [records=1000000] [version=10|9|5] [pairs=3]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { threadCpuSeconds } from '../src/capture/workers/thread-cpu.js';
import { encodeColumns } from '../src/collect/columns.js';
import { CollectDecoder } from '../src/collect/decoder.js';
import type { CollectedRecord } from '../src/collect/types.js';
import { ExportGen } from './collect.js';

/** Records per batch: 8192 when the thread keeps up; ~1,920 (64 datagrams) when it drains its spool. */
const BATCH = Number(process.env.DECODE_BATCH ?? 8192);

interface Run {
  mode: string;
  records: number;
  cpuPerM: number;
  /** The decoding thread's own CPU (V8's GC helper threads not counted). */
  threadCpuPerM: number;
  wallPerM: number;
  scavenges: number;
  markSweeps: number;
  gcMs: number;
  heapTotalMB: number;
}

async function one(mode: string, records: number, version: 5 | 9 | 10): Promise<Run> {
  const gen = new ExportGen(version);
  const dgs: Buffer[] = [];
  for (let n = 0; n < records; n += 30) dgs.push(gen.next());
  let scavenges = 0;
  let markSweeps = 0;
  let gcMs = 0;
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (kind === 1) scavenges++;
      else markSweeps++;
      gcMs += e.duration;
    }
  });
  let decode: (d: Buffer) => void;
  let flush: () => void;
  let rows: () => number;
  if (mode === 'columns') {
    const { ColumnWriter } = await import('../src/collect/column-writer.js');
    const w = new ColumnWriter();
    const dec = new CollectDecoder({}, (r) => w.other(r), w);
    decode = (d) => dec.decode(d, 0, d.length, '192.0.2.1', 2055, 0);
    flush = () => void w.finish();
    rows = () => w.n;
  } else {
    let out: CollectedRecord[] = [];
    const dec = new CollectDecoder({}, (r) => out.push(r));
    decode = (d) => dec.decode(d, 0, d.length, '192.0.2.1', 2055, 0);
    flush = () => {
      encodeColumns(out);
      out = [];
    };
    rows = () => out.length;
  }
  // Warm-up (templates learned, code optimised) outside the measure.
  for (let i = 0; i < 2000; i++) {
    decode(dgs[i % dgs.length]!);
    if (rows() >= BATCH) flush();
  }
  flush();
  obs.observe({ entryTypes: ['gc'] });
  const c0 = process.cpuUsage();
  const tc0 = threadCpuSeconds();
  const t0 = performance.now();
  for (const d of dgs) {
    decode(d);
    if (rows() >= BATCH) flush();
  }
  flush();
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  const tc = threadCpuSeconds() - tc0;
  // GC entries are delivered after the fact.
  await new Promise((r) => setTimeout(r, 300));
  obs.disconnect();
  const m = (dgs.length * 30) / 1e6;
  return {
    mode,
    records: dgs.length * 30,
    cpuPerM: (c.user + c.system) / 1e6 / m,
    threadCpuPerM: tc / m,
    wallPerM: (t1 - t0) / 1e3 / m,
    scavenges,
    markSweeps,
    gcMs,
    heapTotalMB: getHeapStatistics().total_heap_size / 1e6,
  };
}

async function main(): Promise<void> {
  const [what = 'both', recArg = '1000000', verArg = '10', pairsArg = '3'] = process.argv.slice(2);
  const records = Number(recArg);
  const version = Number(verArg) as 5 | 9 | 10;
  if (what !== 'both') {
    process.stdout.write(`${JSON.stringify(await one(what, records, version))}\n`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  console.log(
    `decode thread alone, v${version}, ${records} records per run, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  for (let p = 0; p < Number(pairsArg); p++) {
    for (const mode of ['objects', 'columns']) {
      const r = spawnSync(process.execPath, [self, mode, recArg, verArg], { encoding: 'utf8' });
      if (r.status !== 0) {
        console.log(`${mode}: failed ${r.stderr}`);
        continue;
      }
      const x = JSON.parse(r.stdout) as Run;
      console.log(
        `  ${mode.padEnd(8)} ${x.cpuPerM.toFixed(2)} CPU-s per 1M records (thread ${x.threadCpuPerM.toFixed(2)}, wall ${x.wallPerM.toFixed(2)} s), GC: ${x.scavenges} scavenges, ${x.markSweeps} other, ${x.gcMs.toFixed(0)} ms; heap ${x.heapTotalMB.toFixed(0)} MB`,
      );
    }
  }
}

void main();
