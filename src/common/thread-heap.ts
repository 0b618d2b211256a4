/**
 * The JavaScript heaps of the process's worker threads, as each last reported it: the memory
 * trace (`src/cli/memory-trace.ts`) reads them beside the main thread's, so that a soak's RSS
 * can be split among the threads that hold it (a worker's heap and Buffers are invisible to
 * `process.memoryUsage()` on the main thread).
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

export interface HeapReport {
  /** Bytes of live objects. */
  used: number;
  /**
   * Bytes V8 holds for the heap (its pages), of which `young` for the young generation, `old`
   * for the old objects, `code` for compiled code and `large` for objects of their own pages.
   */
  total: number;
  young: number;
  old: number;
  code: number;
  large: number;
  /** Bytes outside the heap that the thread's objects hold (ArrayBuffers, Buffers). */
  external: number;
  /** CPU-s the thread has used, when the reporter knows it. */
  cpu?: number;
}

/**
 * A thread's heap as a caller may know it: what is live and what V8 holds, the rest when
 * reported (the memory trace's tests and older reporters give only the first two).
 */
export type ThreadHeap = Pick<HeapReport, 'used' | 'total'> & Partial<HeapReport>;

/** This thread's heap now (a worker calls it to report; ~10 µs). */
export function heapReport(): HeapReport {
  const h = getHeapStatistics();
  let young = 0;
  let old = 0;
  let code = 0;
  let large = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'new_space') young = s.space_size;
    else if (s.space_name === 'old_space') old = s.space_size;
    else if (s.space_name === 'code_space') code = s.space_size;
    else if (s.space_name.endsWith('large_object_space')) large += s.space_size;
  }
  return {
    used: h.used_heap_size,
    total: h.total_heap_size,
    young,
    old,
    code,
    large,
    external: h.external_memory,
  };
}

/** How often a worker reports its heap, at most (ms). */
export const HEAP_REPORT_MS = 1000;

/**
 * A worker's report when one is due (at most every HEAP_REPORT_MS), else undefined; with the
 * thread's CPU-s when `cpu` reads them.
 */
export function heapReportDue(cpu?: () => number): () => HeapReport | undefined {
  let next = 0;
  return () => {
    const now = Date.now();
    if (now < next) return undefined;
    next = now + HEAP_REPORT_MS;
    const h = heapReport();
    return cpu ? { ...h, cpu: cpu() } : h;
  };
}

const reports = new Map<string, HeapReport>();

/** Keep a worker's last report under its name (the main thread, on the worker's message). */
export function recordThreadHeap(name: string, h: HeapReport): void {
  reports.set(name, h);
}

/** A worker that ended: its heap is gone. */
export function forgetThreadHeap(name: string): void {
  reports.delete(name);
}

/** Every live worker's last report, by name. */
export function threadHeaps(): Record<string, HeapReport> {
  return Object.fromEntries(reports);
}
