import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getHeapSpaceStatistics } from 'node:v8';
import type { Collector } from '../collect/receiver.js';
import { mallocTrims } from '../common/budget.js';
import { type HeapReport, type ThreadHeap, threadHeaps } from '../common/thread-heap.js';
import type { StoreFeed } from '../store/feed.js';
import { type MemoryKinds, memoryKinds } from './smaps.js';

/**
 * Where the process's memory is over time, for finding what a peak RSS is made of under load
 * (`VANTAGE_MEMORY_TRACE=FILE vantage start ...`, read by bench/collect-store.ts): one JSON
 * line per sample with the resident memory (anonymous vs file-backed), this thread's V8 heap by
 * space, Buffers outside it, the decode thread's heap, DuckDB's buffer manager beside its limit,
 * the feed's queue and the spool. Off unless asked: each sample reads /proc and asks DuckDB.
 * `VANTAGE_MEMORY_TRACE_MS` samples at another interval (250 ms by default); with
 * `VANTAGE_MEMORY_TRACE_KINDS=1` a sample every 5 s also sums /proc/self/smaps by kind of
 * mapping, to tell which allocator a swing of the RSS comes from (the kernel walks every page
 * table for it: ~40 ms of this thread for a 500 MB process here, so not 4 times a second).
 */
export interface MemorySample {
  /** Wall time, ms. */
  t: number;
  /** Resident bytes (VmRSS: the kernel's counters, anonymous + file-backed + shared). */
  rss: number;
  /** The same counter as Node reads it (`process.memoryUsage().rss`), a moment apart from `rss`. */
  vmRss?: number;
  anon: number;
  file: number;
  heapUsed: number;
  heapTotal: number;
  /** V8's young generation (both semi-spaces) as committed. */
  young: number;
  external: number;
  arrayBuffers: number;
  workerHeapUsed: number;
  workerHeapTotal: number;
  /** The decode thread's young generation (new space) and bytes outside its heap. */
  workerYoung: number;
  workerExternal: number;
  workerOld: number;
  workerCode: number;
  workerLarge: number;
  /** The other worker threads' heaps (the capture and mirror pipelines'), by name. */
  threads: Record<string, HeapReport>;
  /** glibc's periodic trims so far (`budget.ts`): runs, seconds, RSS given back. */
  trims: { runs: number; seconds: number; releasedBytes: number };
  /** CPU-s the collector's decode thread has used (0 when unknown). */
  workerCpu?: number;
  duckdb: number;
  duckdbTemp: number;
  duckdbLimit: number;
  duckdbTags: Record<string, number>;
  feedBytes: number;
  feedRows: number;
  stored: number;
  spoolBytes: number;
  spoolDatagrams: number;
  /** glibc's heap over all arenas (the addon's mallocInfo; 0 without it): in use, free but kept. */
  glibcUsed: number;
  glibcFree: number;
  /** The store's checkpoints so far (run, and their seconds): a swing lines up with them or not. */
  checkpoints?: number;
  checkpointSeconds?: number;
  /** Resident bytes by kind of mapping (`smaps.ts`), with VANTAGE_MEMORY_TRACE_KINDS=1, every 5 s. */
  kinds?: MemoryKinds;
}

type MallocInfo = () => { used: number; free: number; mapped: number };

function mallocInfo(): MallocInfo | null {
  try {
    return (createRequire(import.meta.url)('vantage-pcap') as { mallocInfo?: MallocInfo }).mallocInfo ?? null;
  } catch {
    return null;
  }
}

type MemoryStore = {
  memoryUse?(): Promise<{ limit: number; used: number; temp: number; tags: Record<string, number> }>;
  readonly checkpoints?: { runs: number; ms: number };
};

/**
 * Resident bytes and their anonymous part, from the kernel's counters in /proc/self/status
 * (RssAnon + RssFile + RssShmem = VmRSS). Not smaps_rollup: that walks every page table, ~20 ms
 * for a 500 MB process here, which at 4 samples a second took 8% of the thread it measured.
 */
function rollup(): { rss: number; anon: number } {
  try {
    const t = readFileSync('/proc/self/status', 'latin1');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    const rss = process.memoryUsage.rss();
    return { rss, anon: rss };
  }
}

/** How often a trace with kinds walks /proc/self/smaps. */
const KINDS_EVERY_MS = 5000;

/** Bytes a memory trace writes at most (about 8 hours of samples), then it stops. */
export const MEMORY_TRACE_MAX_BYTES = 64 * 2 ** 20;

/**
 * What a trace samples: the store always; the collector and the feed under `vantage start`; a
 * pipeline worker's heap under `ingest --workers 1` (as it last reported it).
 */
export interface MemoryTraceDeps {
  store: unknown;
  collector?: Collector;
  feed?: StoreFeed;
  workerHeap?: () => ThreadHeap | null;
}

export interface MemoryTrace {
  stop(): void;
  /**
   * A sample now when one is due (a promise to await), else undefined. A synchronous file reader
   * holds the event loop for seconds, so the timer alone would see only the reader's pauses:
   * `ingest` calls this between the reader's blocks.
   */
  due(): Promise<void> | undefined;
  /** Sample on without asking the store (it is closing: its last checkpoint is traced too). */
  dropStore(): void;
}

export function startMemoryTrace(
  path: string,
  deps: MemoryTraceDeps,
  everyMs = Number(process.env.VANTAGE_MEMORY_TRACE_MS) || 250,
  maxBytes = MEMORY_TRACE_MAX_BYTES,
  withKinds = process.env.VANTAGE_MEMORY_TRACE_KINDS === '1',
): MemoryTrace {
  const fd = openSync(path, 'a');
  let written = 0;
  let store = deps.store as MemoryStore;
  const glibc = mallocInfo();
  let busy = false;
  let last = 0;
  let stopped = false;
  let kindsAt = Number.NEGATIVE_INFINITY;
  const sample = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    last = Date.now();
    try {
      const db = (await store.memoryUse?.().catch(() => null)) ?? { limit: 0, used: 0, temp: 0, tags: {} };
      const m = process.memoryUsage();
      const r = rollup();
      let young = 0;
      for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') young = s.space_size;
      const c = deps.collector?.stats();
      const f = deps.feed?.stats() ?? { queuedBytes: 0, queuedRows: 0, inFlight: 0, stored: 0 };
      const wh = c ? c.workerHeap : (deps.workerHeap?.() ?? null);
      const g = glibc?.() ?? { used: 0, free: 0 };
      const kinds = withKinds && last - kindsAt >= KINDS_EVERY_MS ? memoryKinds('self') : null;
      if (kinds) kindsAt = last;
      const s: MemorySample = {
        t: Date.now(),
        rss: r.rss,
        vmRss: m.rss,
        anon: r.anon,
        file: r.rss - r.anon,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        young,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        workerHeapUsed: wh?.used ?? 0,
        workerHeapTotal: wh?.total ?? 0,
        workerCpu: wh?.cpu ?? 0,
        workerYoung: wh?.young ?? 0,
        workerExternal: wh?.external ?? 0,
        workerOld: wh?.old ?? 0,
        workerCode: wh?.code ?? 0,
        workerLarge: wh?.large ?? 0,
        threads: threadHeaps(),
        trims: { ...mallocTrims },
        duckdb: db.used,
        duckdbTemp: db.temp,
        duckdbLimit: db.limit,
        duckdbTags: db.tags,
        feedBytes: f.queuedBytes,
        feedRows: f.queuedRows + f.inFlight,
        stored: f.stored,
        spoolBytes: c?.spool?.bytes ?? 0,
        spoolDatagrams: c?.spool?.datagrams ?? 0,
        glibcUsed: g.used,
        glibcFree: g.free,
        ...(store.checkpoints
          ? { checkpoints: store.checkpoints.runs, checkpointSeconds: store.checkpoints.ms / 1000 }
          : {}),
        ...(kinds ? { kinds } : {}),
      };
      // Stopped while DuckDB answered: the file is closed.
      if (stopped) return;
      const line = `${JSON.stringify(s)}\n`;
      written += writeSync(fd, line);
      if (written >= maxBytes) {
        // A trace left on must not fill the disk: ~4 samples a second is ~170 MB a day.
        writeSync(fd, `${JSON.stringify({ stopped: `the trace reached its bound of ${maxBytes} bytes` })}\n`);
        clearInterval(timer);
        stopped = true;
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      stopped = true;
      closeSync(fd);
    },
    dropStore() {
      store = {};
    },
    due() {
      return !busy && !stopped && Date.now() - last >= everyMs ? sample() : undefined;
    },
  };
}
