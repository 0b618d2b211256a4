import { createRequire } from 'node:module';
import { availableParallelism, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './errors.js';

/**
 * The process's memory budget and its split among the stages. Every queue between a source
 * and the store is bounded by its share (in bytes, not items: a batch of records weighs what
 * its buffers weigh), the embedded database's memory limit is its share, and what is left is
 * the JavaScript heap and the product's fixed cost. A source whose share is full drops at its
 * edge and counts the drop (`loss.ts`); nothing grows past the budget whatever the load.
 */
export interface MemoryBudget {
  /** The whole budget, bytes. */
  total: number;
  /** DuckDB's memory_limit (buffer pool, sorts, hash tables). */
  duckdb: number;
  /** DuckDB worker threads: one per ~128 MiB of its share, at most the CPU count. */
  duckdbThreads: number;
  /** Collector: datagrams received but not decoded yet (in flight to the decode thread). */
  collectDecode: number;
  /** Collector: decoded records waiting for the store. */
  collectStore: number;
  /** Live sources (capture, mirrors): records waiting for the store. */
  liveStore: number;
  /** VXLAN mirrors: the rings their receive threads fill (packets waiting for the sensor). */
  mirrorRing: number;
  /** Alerts and third-party events waiting for the store (small, and served first). */
  events: number;
  /** Capture uploads being ingested: records waiting for the store. */
  uploads: number;
  /** The detectors' per-key state (sources, victims, pairs, baselines): their caps come from it. */
  detect: number;
  /** The rest: JavaScript heap, flow tables, caches, code. */
  rest: number;
}

const MiB = 2 ** 20;

/** Shares of the budget, in this order; `rest` gets what is left. */
const SHARES = {
  // DuckDB's memory_limit bounds its buffer pool only: appends, checkpoints and query results
  // are allocated beside it. In the soak its resident memory swung between 0.5× and 1.8× the
  // limit, so the limit is a smaller share than DuckDB takes. 25%: at 18% (138 MiB of 768)
  // the 2-minute stress (bench/store-stress.ts) ran without an Out of Memory once a compaction's
  // Parquet row group was 30,720 rows, but a 600-s soak at 188k records/s made the store open its
  // database again twice (an Out of Memory in a write, or the invalidation one leads to).
  duckdb: 0.25,
  collectDecode: 0.05,
  // The queues' shares are what their batches are estimated to weigh; the heap behind them
  // (objects promoted while they wait, garbage not yet collected) weighs more.
  collectStore: 0.08,
  liveStore: 0.06,
  // At 768 MiB, 30 MiB: ~45k packets of a realistic mix, 90 ms of 500k packets/s.
  mirrorRing: 0.04,
  events: 0.02,
  uploads: 0.05,
  // At 768 MiB, 77 MiB. The detectors' maps at their old count caps held ~270 MiB, reached
  // slowly: the soak's main-thread heap grew for its whole length (bench/detect-state.ts).
  detect: 0.1,
};

/**
 * The default budget: 1/32 of the machine's RAM, at least 512 MiB and at most 4 GiB. A
 * collector or mirror target keeps running beside other work; the budget is what it may take.
 */
export function defaultBudgetBytes(ram = totalmem()): number {
  return Math.min(4096 * MiB, Math.max(512 * MiB, Math.floor(ram / 32)));
}

export function memoryBudget(total = defaultBudgetBytes(), cpus = availableParallelism()): MemoryBudget {
  if (!(total >= 256 * MiB))
    throw new ConfigError('memoryBudget', `at least 256MB is needed (got ${formatBytes(total)})`);
  const part = (s: number): number => Math.floor(total * s);
  const b: MemoryBudget = {
    total,
    duckdb: part(SHARES.duckdb),
    duckdbThreads: 1,
    collectDecode: part(SHARES.collectDecode),
    collectStore: part(SHARES.collectStore),
    liveStore: part(SHARES.liveStore),
    mirrorRing: part(SHARES.mirrorRing),
    events: part(SHARES.events),
    uploads: part(SHARES.uploads),
    detect: part(SHARES.detect),
    rest: 0,
  };
  b.duckdbThreads = Math.max(1, Math.min(cpus, Math.floor(b.duckdb / (128 * MiB))));
  b.rest =
    total -
    b.duckdb -
    b.collectDecode -
    b.collectStore -
    b.liveStore -
    b.mirrorRing -
    b.events -
    b.uploads -
    b.detect;
  return b;
}

/**
 * The collector spool's disk bound when none is configured: 5% of the free space on the data
 * directory's file system at start, at least 256 MiB (never more than half of what is free) and
 * at most 8 GiB. At 400k records/s (about 14 MB/s of IPFIX) 1 GiB holds over a minute of
 * backlog while the store catches up.
 */
export function defaultSpoolBytes(freeBytes: number): number {
  const share = Math.floor(freeBytes * 0.05);
  return Math.max(0, Math.min(8 * 2 ** 30, Math.max(share, Math.min(256 * MiB, Math.floor(freeBytes / 2)))));
}

/**
 * How far V8 lets its heap grow past the live data before the next full collection, percent.
 * V8 sizes its heap limit from the machine's RAM (4 GiB here, not the budget), and under the
 * collector's allocation rate it let the heap reach 300–400 MB for 70–180 MB live in the soak,
 * which alone broke a 768 MB budget. The limit is fixed when the process starts, but the growing
 * factor is read at every collection, so a smaller one holds the heap near the live data (at
 * the cost of more frequent collections) without a hard limit that would abort the process.
 */
export const HEAP_GROWING_PERCENT = 30;

/** Hold the JavaScript heap (this thread's and every worker's) near its live data; see above. */
export function holdHeapToBudget(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((a) => /^--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size)/.test(a))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** glibc arenas a process under a budget keeps (see capMallocArenas). */
export const MALLOC_ARENAS = 2;

/**
 * Cap glibc's malloc arenas for the threads started from now on (DuckDB's, libuv's, workers').
 * Each thread that allocates otherwise gets an arena of its own of up to 64 MiB, which a memory
 * budget cannot afford: with two arenas the soak's peak fell by ~70 MB. `MALLOC_ARENA_MAX` in the
 * environment wins (glibc has read it already); without the vantage-pcap addon nothing changes.
 * Returns the cap in force, or null when it could not be set.
 */
export function capMallocArenas(env: NodeJS.ProcessEnv = process.env): number | null {
  if (env.MALLOC_ARENA_MAX) return Number(env.MALLOC_ARENA_MAX) || null;
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as { mallocArenaMax?: (n: number) => boolean };
    return b.mallocArenaMax?.(MALLOC_ARENAS) ? MALLOC_ARENAS : null;
  } catch {
    return null;
  }
}

/**
 * How often a process under a budget gives glibc's free pages back to the kernel (ms).
 * glibc keeps what its arenas free resident for reuse, and with the threads sharing two arenas
 * each rarer, larger burst (a compaction beside a checkpoint and a query) leaves a larger pool
 * of free pages behind: the pool only grows, so the RSS of a process that runs for months climbs
 * to its worst fragmentation and stays there. `malloc_trim(0)` returns the pages inside every
 * free chunk, not only the top of the heap; it takes a few milliseconds on the main thread.
 */
export const MALLOC_TRIM_MS = 10_000;

/** VANTAGE_MALLOC_TRIM_MS: ms between trims, 0 (off) or 1,000 to 3,600,000; unset, MALLOC_TRIM_MS. */
export function trimMsFromEnv(v: string | undefined): number {
  if (v === undefined) return MALLOC_TRIM_MS;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || (n !== 0 && (n < 1000 || n > 3_600_000)))
    throw new ConfigError(
      'VANTAGE_MALLOC_TRIM_MS',
      `0 (off) or ms from 1000 to 3600000 (got ${JSON.stringify(v)})`,
    );
  return n;
}

/** What the periodic trims did (the memory trace prints it): runs, CPU time, RSS given back. */
export const mallocTrims = { runs: 0, seconds: 0, releasedBytes: 0 };

/**
 * Trim glibc's heaps every `everyMs` (see MALLOC_TRIM_MS; `VANTAGE_MALLOC_TRIM_MS=0` turns it
 * off, to measure). Returns the stop function, or null when the addon is not built or it is off.
 */
export function trimMallocEvery(
  everyMs = trimMsFromEnv(process.env.VANTAGE_MALLOC_TRIM_MS),
): (() => void) | null {
  if (everyMs === 0) return null;
  let trim: (() => boolean) | undefined;
  try {
    trim = (createRequire(import.meta.url)('vantage-pcap') as { mallocTrim?: () => boolean }).mallocTrim;
  } catch {
    return null;
  }
  if (!trim) return null;
  const t = setInterval(() => {
    const rss0 = process.memoryUsage.rss();
    const t0 = process.hrtime.bigint();
    trim();
    mallocTrims.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    mallocTrims.runs++;
    mallocTrims.releasedBytes += Math.max(0, rss0 - process.memoryUsage.rss());
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}

/** A young generation's size given in the environment (`key`): MB, 0 (V8's default) to 1024. */
export function youngMbFromEnv(key: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1024 || v.trim() === '')
    throw new ConfigError(key, `MB from 0 to 1024 (got ${JSON.stringify(v)})`);
  return n;
}

/**
 * DuckDB's memory_limit for a one-shot `ingest --store` on one thread: a third of the store's
 * share (64 MiB of a 768 MiB budget), never under DuckDB's floor here of 64 MiB. That ingest is
 * one writer and no reader, and at the end of a file it inserts each record type's rows of the
 * whole file (up to 131,072 a batch): with the store's full share DuckDB held a batch's rows in
 * its pool beside the batch's columns in the JavaScript heap (85 MB for the realistic capture's
 * 81,312 flows) and the process peaked there; at 64 MiB it writes them out as it goes and the
 * peak fell by ~40 MB (bench/README.md, 2026-12-07, issue 13). `vantage start` keeps the
 * store's share: queries, compactions and rollups run beside its appends.
 */
export function ingestDuckdbLimit(b: MemoryBudget): number {
  return Math.max(64 * MiB, Math.floor(b.duckdb / 3));
}

/** glibc's mmap threshold for `ingest` (see fixMallocMmapThreshold), bytes. */
export const MALLOC_MMAP_THRESHOLD = 64 * 1024;

/**
 * Fix glibc's mmap threshold: blocks from `bytes` up get a mapping of their own, given back to
 * the kernel when freed. glibc's default threshold starts at 128 KiB and rises to the size of
 * every mapped block that is freed (up to 32 MiB): once an ingest frees its first large column
 * buffers, every buffer below that size is carved from glibc's heaps and stays resident there
 * after V8 frees it. Fixed, the realistic ingest's glibc heap held 12–16 MB instead of 40–48
 * and the peak fell by ~30 MB at the same CPU (bench/README.md, 2026-12-07).
 * `MALLOC_MMAP_THRESHOLD_` in the environment wins (glibc has read it already). Returns the
 * threshold in force, or null when it could not be set (no vantage-pcap addon).
 */
export function fixMallocMmapThreshold(
  bytes = MALLOC_MMAP_THRESHOLD,
  env: NodeJS.ProcessEnv = process.env,
): number | null {
  if (env.MALLOC_MMAP_THRESHOLD_) return Number(env.MALLOC_MMAP_THRESHOLD_) || null;
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as {
      mallocMmapThreshold?: (n: number) => boolean;
    };
    return b.mallocMmapThreshold?.(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

/** One line for the start banner and the log. */
export function describeBudget(b: MemoryBudget): string {
  const f = formatBytes;
  return `memory budget ${f(b.total)}: store (DuckDB) ${f(b.duckdb)} with ${b.duckdbThreads} thread(s), collector decode ${f(b.collectDecode)}, collector→store ${f(b.collectStore)}, live sources→store ${f(b.liveStore)}, mirror rings ${f(b.mirrorRing)}, alerts/events ${f(b.events)}, uploads ${f(b.uploads)}, detectors' state ${f(b.detect)}, heap and the rest ${f(b.rest)}`;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(n % 2 ** 30 === 0 ? 0 : 1)}GiB`;
  return `${Math.round(n / MiB)}MiB`;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mib: MiB,
  g: 1e9,
  gb: 1e9,
  gib: 2 ** 30,
};

/** "768MB", "2GiB", "1.5g" or a number of bytes; a ConfigError naming `key` otherwise. */
export function parseBytes(key: string, v: string | number): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw new ConfigError(key, `expected a size such as 768MB or 2GiB (got '${v}')`);
  return Math.floor(Number(m[1]) * unit);
}
