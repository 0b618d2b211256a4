/**
 * Probe: the embedded store alone under sustained collected-flow appends, as the collector's
 * feed commits them, sampling the process's RSS, DuckDB's own accounting (duckdb_memory())
 * and the V8 heap. What DuckDB holds outside its memory_limit is RSS − heap − the rest.
 *
 * usage: node dist/test/load/store-memory.js [rows] [rows-per-commit] [rate rows/s, 0 = max]
 * Environment: QUERIES (top-10 queries running side by side all along, as the soak's API load;
 * default 4), BUDGET_MB (default 768), VANTAGE_DUCKDB_SET (k=v,k=v: DuckDB settings to try).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportedFlowBatches } from '../../bench/store-columns.js';
import { columnarOf } from '../../src/collect/columns.js';
import { memoryBudget } from '../../src/common/budget.js';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { describeKinds, memoryKinds } from './smaps.js';

const total = Number(process.argv[2]) || 4_000_000;
const perCommit = Number(process.argv[3]) || 192_000;
const rate = Number(process.argv[4]) || 0;
const budget = memoryBudget(Number.parseInt(process.env.BUDGET_MB ?? '768', 10) * 1e6);

const rss = (): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
const hwm = (): number =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;

const batches = exportedFlowBatches();
const dir = mkdtempSync(join(tmpdir(), 'store-memory-'));
const s = createEmbeddedStore(
  {
    dataDir: dir,
    memoryLimit: budget.duckdb,
    threads: budget.duckdbThreads,
    duckdbSettings: Object.fromEntries(
      (process.env.VANTAGE_DUCKDB_SET ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('=') as [string, string]),
    ),
  },
  { log: silentLogger },
);
await s.start();
const base = rss();
const mb = (n: number): string => (n / 1e6).toFixed(0);
// biome-ignore lint/suspicious/noExplicitAny: probe reaches the store's DuckDB instance
const db = (s as any).db as import('@duckdb/node-api').DuckDBInstance;
const qc = await db.connect();
async function duckMem(): Promise<string> {
  const r = await qc.runAndReadAll(
    'SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0',
  );
  return r
    .getRows()
    .map((x) => `${x[0]}=${mb(Number(x[1]))}${Number(x[2]) ? `+${mb(Number(x[2]))}t` : ''}`)
    .join(' ');
}
let n = 0;
let done = false;
const lat: number[] = [];
const queries = Array.from({ length: Number(process.env.QUERIES ?? 4) }, async () => {
  while (!done) {
    const q0 = performance.now();
    await s.top({ type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 10 });
    lat.push(performance.now() - q0);
  }
});
let peak = 0;
let peakAt = '';
const t0 = performance.now();
let lastSample = 0;
const per = Math.ceil(perCommit / 7680);
const samples: number[] = [];
for (let k = 0; n < total; k += per) {
  const parts = Array.from({ length: per }, (_, j) => columnarOf(batches[(k + j) % batches.length]!).flows);
  await s.appendColumnParts('exported_flow', parts);
  for (const p of parts) n += p.rows.length;
  if (rate > 0) {
    const due = (n / rate) * 1000 - (performance.now() - t0);
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
  const now = performance.now() - t0;
  const r = rss();
  samples.push(r);
  if (r > peak) {
    peak = r;
    peakAt = `${(now / 1000).toFixed(1)}s`;
  }
  if (now - lastSample >= 2000) {
    lastSample = now;
    const m = process.memoryUsage();
    process.stdout.write(
      `${(now / 1000).toFixed(0)}s rows ${n} rss ${mb(r)} heap ${mb(m.heapTotal)} ext ${mb(m.external)} | ${await duckMem()} | ${describeKinds(memoryKinds()!)}\n`,
    );
  }
}
done = true;
await Promise.all(queries);
await s.compactionDone();
lat.sort((a, b) => a - b);
const idle: number[] = [];
for (let i = 0; i < 5; i++) {
  const q0 = performance.now();
  await s.top({ type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 10 });
  idle.push(Math.round(performance.now() - q0));
}
const sec = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage();
process.stdout.write(
  `# ${n} rows in ${sec.toFixed(1)} s (${(n / sec / 1e3).toFixed(0)}k rows/s, ${(n / ((cpu.user + cpu.system) / 1e6) / 1e3).toFixed(0)}k per CPU-s of the process), settings ${process.env.VANTAGE_DUCKDB_SET ?? '-'}; memory_limit ${mb(budget.duckdb)} MB, threads ${budget.duckdbThreads}; RSS after start ${mb(base)} MB, peak ${mb(Math.max(peak, hwm()))} MB (VmHWM ${mb(hwm())}) at ${peakAt}; ${lat.length} top queries, p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(0)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]?.toFixed(0)} ms; alone after the appends (ms): ${idle.join(' ')}\n`,
);
qc.closeSync();
await s.stop();
rmSync(dir, { recursive: true, force: true });
