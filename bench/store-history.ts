/**
 * What the embedded store's memory grows by with the history it keeps: collected flows appended
 * at full rate into small live generations, so that each is compacted into a Parquet partition
 * (with its top-N rollup rows) within a second or two, until N partitions are listed. Every STEP
 * partitions, after a full GC: the main thread's V8 heap and its global handles (native objects
 * referenced from JavaScript), glibc's bytes in use (DuckDB's C++ objects, Node's buffers),
 * DuckDB's own accounting, the RSS and the DuckDB file's size; at the end the least-squares growth per partition of each. A store that runs for months at 100k records/s lists ~4,300
 * partitions a day (one per 2M rows), so a few kB per partition is what its memory grows by
 * a day until retention drops the oldest. Measures; never asserts.
 *
 * usage: node --expose-gc dist/bench/store-history.js [partitions=400]
 * Environment: COMPACT_ROWS (rows per live generation, default 20,000), STEP (partitions between
 * samples, default 50), BUDGET_MB (default 768), ROLLUPS=0 (no top-N rollups: what the rest grows by).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { columnarOf } from '../src/collect/columns.js';
import { memoryBudget } from '../src/common/budget.js';
import { silentLogger } from '../src/common/log.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import { exportedFlowBatches } from './store-columns.js';

const MB = 1e6;
const target = Number(process.argv[2]) || 400;
const compactRows = Number(process.env.COMPACT_ROWS ?? 20_000);
const step = Number(process.env.STEP ?? 50);
const budget = memoryBudget(Number(process.env.BUDGET_MB ?? 768) * MB);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const mallocInfo = (
  createRequire(import.meta.url)('vantage-pcap') as { mallocInfo?: () => { used: number; free: number } }
).mallocInfo;
const rssBytes = (): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;

const dir = mkdtempSync(join(tmpdir(), 'bench-store-history-'));
const s = createEmbeddedStore(
  {
    dataDir: dir,
    memoryLimit: budget.duckdb,
    threads: budget.duckdbThreads,
    stagedAppend: false,
    compactRows,
  },
  { log: silentLogger },
);
await s.start();
const batches = exportedFlowBatches();

type Sample = {
  parts: number;
  heap: number;
  handles: number;
  glibc: number;
  duckdb: number;
  rss: number;
  file: number;
};
const samples: Sample[] = [];
const sample = async (parts: number): Promise<void> => {
  await s.compactionDone();
  gc();
  gc();
  const duck = Object.values((await s.memoryUse()).tags).reduce((a, v) => a + Number(v), 0);
  const x = {
    parts,
    heap: process.memoryUsage().heapUsed,
    handles: getHeapStatistics().total_global_handles_size,
    glibc: mallocInfo?.().used ?? 0,
    duckdb: duck,
    rss: rssBytes(),
    file: statSync(join(dir, 'records.duckdb')).size,
  };
  samples.push(x);
  process.stdout.write(
    `partitions ${String(parts).padStart(5)}  heap ${(x.heap / MB).toFixed(2)} MB  global handles ${(x.handles / MB).toFixed(2)} MB  glibc used ${(x.glibc / MB).toFixed(2)} MB  DuckDB ${(x.duckdb / MB).toFixed(1)} MB  RSS ${(x.rss / MB).toFixed(0)} MB  DuckDB file ${(x.file / MB).toFixed(0)} MB\n`,
  );
};

let k = 0;
let rows = 0;
let next = step;
const t0 = performance.now();
for (;;) {
  const parts = (await s.stats()).partitions;
  if (parts >= next) {
    await sample(parts);
    if (parts >= target) break;
    next += step;
  }
  const cols = [columnarOf(batches[k++ % batches.length]!).flows];
  await s.appendColumnParts('exported_flow', cols);
  rows += cols[0]!.rows.length;
}
const secs = (performance.now() - t0) / 1000;

/** Least-squares slope of y over the samples after the first (its warm-up), bytes per partition. */
function slope(y: (x: Sample) => number): number {
  const xs = samples.slice(1);
  const n = xs.length;
  const mx = xs.reduce((a, p) => a + p.parts, 0) / n;
  const my = xs.reduce((a, p) => a + y(p), 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of xs) {
    sxy += (p.parts - mx) * (y(p) - my);
    sxx += (p.parts - mx) ** 2;
  }
  return sxy / sxx;
}
const kb = (v: number): string => `${(v / 1e3).toFixed(1)} kB`;
process.stdout.write(
  `store history: ${rows} rows in ${samples.at(-1)!.parts} partitions of ${compactRows} rows, ${secs.toFixed(0)} s; ` +
    `growth per partition (from the second sample): V8 heap ${kb(slope((p) => p.heap))}, V8's global handles ${kb(slope((p) => p.handles))}, glibc used ${kb(slope((p) => p.glibc))}, ` +
    `DuckDB ${kb(slope((p) => p.duckdb))}, RSS ${kb(slope((p) => p.rss))}, DuckDB file ${kb(slope((p) => p.file))}\n`,
);
await s.stop();
rmSync(dir, { recursive: true, force: true });
