/**
 * The embedded store under the load that made a compaction run out of DuckDB's memory: appends
 * at full rate (collected flows, the collector feed's commit size), compactions of small live
 * generations beside them, and a top-10 query started every 50 ms (the dashboard's), for a
 * fixed time. Commits are staged while queries run, as `vantage start` configures the store.
 * Reports every error the store logged or threw (compactions that failed, appends, queries),
 * the compactions completed, rows/s and rows per CPU-s, query latency, and the peaks of RSS and
 * of DuckDB's own accounting. Measures; never asserts.
 *
 * usage: node dist/bench/store-stress.js [seconds=120]
 * Environment: BUDGET_MB (the process budget whose DuckDB share and threads are used, default
 * 768), MEMORY_MB (DuckDB's memory_limit instead of the budget's share), COMPACT_ROWS (live
 * rows per generation, default 500,000), ROW_GROUP (the compaction's Parquet row group, rows),
 * PER_COMMIT (rows per commit, default 53,760), WAL_CHECKPOINT (the store's `walCheckpoint`), QUERY_MS (default 50), STAGED=0 (commits not
 * staged while queries run: through the store's `insertFeed`), MEM_EVERY_S (print the RSS, glibc's
 * heap, DuckDB's accounting and the compactions so far every that many seconds: what grows with
 * the generations a long run rotates through).
 */
import { mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { columnarOf } from '../src/collect/columns.js';
import { memoryBudget } from '../src/common/budget.js';
import type { Logger } from '../src/common/log.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import { exportedFlowBatches } from './store-columns.js';

const MB = 1e6;
const seconds = Number(process.argv[2]) || 120;
const budget = memoryBudget(Number(process.env.BUDGET_MB ?? 768) * MB);
const memoryLimit = process.env.MEMORY_MB ? Number(process.env.MEMORY_MB) * 2 ** 20 : budget.duckdb;
const perCommit = Number(process.env.PER_COMMIT ?? 53_760);
const queryMs = Number(process.env.QUERY_MS ?? 50);
const rowGroup = process.env.ROW_GROUP ? Number(process.env.ROW_GROUP) : undefined;

const status = (k: string): number =>
  Number(new RegExp(`${k}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;

/** Errors by their message's first line (numbers masked, so one kind counts once). */
const errors = new Map<string, number>();
const countError = (where: string, e: unknown): void => {
  const k = `${where}: ${String(e)
    .split('\n')[0]!
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 160)}`;
  errors.set(k, (errors.get(k) ?? 0) + 1);
};
const log: Logger = {
  debug() {},
  info() {},
  warn: (msg, f) => countError(`log ${msg}`, f?.error ?? ''),
  error: (msg, f) => countError(`log ${msg}`, f?.error ?? ''),
};

/**
 * A promise, or its absence counted as an error after `ms`: DuckDB's checkpoint fault left a
 * store's write chain waiting forever once, and a bench that hangs reports nothing.
 */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => {
      countError(what, `did not end within ${ms / 1000} s`);
      r(undefined);
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-store-stress-'));
const s = createEmbeddedStore(
  {
    dataDir: dir,
    memoryLimit,
    threads: budget.duckdbThreads,
    // STAGED=0: every commit through `insertFeed`, queries or not.
    stagedAppend: process.env.STAGED === '0' ? false : 'while-reading',
    compactRows: Number(process.env.COMPACT_ROWS ?? 500_000),
    ...(process.env.WAL_CHECKPOINT ? { walCheckpoint: process.env.WAL_CHECKPOINT } : {}),
    ...(rowGroup ? { compactRowGroup: rowGroup } : {}),
  },
  { log },
);
await s.start();
const batches = exportedFlowBatches();
const per = Math.max(1, Math.round(perCommit / 7680));

let done = false;
let rows = 0;
let duckPeak = 0;
let duckPeakTags = '';
const sampler = (async () => {
  while (!done) {
    try {
      // Through the store, so a sample after it opened its database again reads the new one.
      const r = Object.entries((await s.memoryUse()).tags).filter(([, v]) => v > 0);
      const total = r.reduce((a, x) => a + Number(x[1]), 0);
      if (total > duckPeak) {
        duckPeak = total;
        duckPeakTags = r
          .sort((a, b) => Number(b[1]) - Number(a[1]))
          .slice(0, 4)
          .map((x) => `${x[0]} ${(Number(x[1]) / MB).toFixed(0)}`)
          .join(', ');
      }
    } catch (e) {
      countError('memory sample', e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
})();

const lat: number[] = [];
const dims = ['src_ip', 'dst_ip', 'dst_port', 'proto'];
const queries = (async () => {
  let i = 0;
  const inFlight = new Set<Promise<void>>();
  while (!done) {
    const q0 = performance.now();
    const p = s
      .top({ type: 'exported_flow', by: i % 2 ? 'packets' : 'bytes', dim: dims[i % dims.length]!, limit: 10 })
      .then(
        () => {
          lat.push(performance.now() - q0);
        },
        (e: unknown) => countError('top', e),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    i++;
    // One started every QUERY_MS; at most four in flight, as the API's readers.
    while (inFlight.size >= 4) await Promise.race(inFlight);
    await new Promise((r) => setTimeout(r, queryMs));
  }
  await Promise.all(inFlight);
})();

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const memEvery = Number(process.env.MEM_EVERY_S ?? 0);
const mallocInfo = (() => {
  try {
    return (
      createRequire(import.meta.url)('vantage-pcap') as { mallocInfo?: () => { used: number; free: number } }
    ).mallocInfo;
  } catch {
    return undefined;
  }
})();
const memLines = (async () => {
  while (memEvery > 0 && !done) {
    await new Promise((r) => setTimeout(r, memEvery * 1000));
    const g = mallocInfo?.() ?? { used: 0, free: 0 };
    const u = await within(
      s.memoryUse().catch(() => null),
      5_000,
      'memory line',
    );
    const d = u ? Object.values(u.tags).reduce((a, b) => a + Number(b), 0) : Number.NaN;
    const c = (s as unknown as { compactions: number }).compactions;
    const cp = (s as unknown as { checkpoints: { runs: number } }).checkpoints.runs;
    writeSync(
      1,
      `mem t=${((performance.now() - t0) / 1000).toFixed(0)} s rows=${rows} compactions=${c} checkpoints=${cp} rss=${(status('VmRSS') / MB).toFixed(1)} glibcUsed=${(g.used / MB).toFixed(1)} glibcFree=${(g.free / MB).toFixed(1)} duckdb=${(d / MB).toFixed(1)} heapUsed=${(process.memoryUsage().heapUsed / MB).toFixed(1)} external=${(process.memoryUsage().external / MB).toFixed(1)}\n`,
    );
  }
})();

let k = 0;
let appendErrors = 0;
while (performance.now() - t0 < seconds * 1000) {
  const parts = Array.from({ length: per }, (_, j) => columnarOf(batches[(k + j) % batches.length]!).flows);
  k += per;
  try {
    const ok = await within(
      s.appendColumnParts('exported_flow', parts).then(() => true),
      60_000,
      'append',
    );
    if (!ok) break;
    for (const p of parts) rows += p.rows.length;
  } catch (e) {
    appendErrors++;
    countError('append', e);
  }
  // A turn of the event loop per commit, as the collector's feed gives.
  await new Promise((r) => setImmediate(r));
}
const sec = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
done = true;
await within(Promise.all([queries, sampler, memLines]), 60_000, 'queries');
await within(
  s.compactionDone().catch((e: unknown) => countError('compactionDone', e)),
  120_000,
  'compactionDone',
);
const compactions = (s as unknown as { compactions: number }).compactions;
lat.sort((a, b) => a - b);
const q = (f: number): string =>
  (lat[Math.min(lat.length - 1, Math.floor(lat.length * f))] ?? Number.NaN).toFixed(0);
// A stop that fails (DuckDB invalidated the database) is one more error, counted before the report.
await within(
  s.stop().catch((e: unknown) => countError('stop', e)),
  60_000,
  'stop',
);
rmSync(dir, { recursive: true, force: true });
const nErrors = [...errors.values()].reduce((a, b) => a + b, 0);
writeSync(
  1,
  `store stress ${seconds} s (DuckDB memory_limit ${(memoryLimit / 2 ** 20).toFixed(0)} MiB, ${budget.duckdbThreads} thread(s), ${process.env.COMPACT_ROWS ?? 500_000} rows per generation, row group ${rowGroup ?? 'default'}, ${per * 7680} rows per commit, a top-10 every ${queryMs} ms; load average ${loadavg()[0]!.toFixed(1)}):\n` +
    `  ${rows} rows appended, ${(rows / sec / 1e3).toFixed(0)}k rows/s wall, ${(rows / ((cpu.user + cpu.system) / 1e6) / 1e3).toFixed(0)}k per CPU-s; ${compactions} compactions; ${lat.length} queries, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms\n` +
    `  peak RSS ${(status('VmHWM') / MB).toFixed(0)} MB; DuckDB's accounting at its largest ${(duckPeak / MB).toFixed(0)} MB (${duckPeakTags})\n` +
    `  errors: ${nErrors}${appendErrors ? ` (${appendErrors} appends)` : ''}\n`,
);
for (const [k2, n] of errors) writeSync(1, `    ${n} × ${k2}\n`);
// A store that never stopped keeps its handles: the report is out, so end here.
process.exit(0);
