import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Where the threaded ingest's wall time goes (VANTAGE_PIPE_PROF=1): each thread's intervals of
 * work and of waiting by reason, with the kernel's account of the thread (time on a CPU, time
 * runnable but waiting for one: the machine's other work). Off, every hook is one test of a
 * constant; on, each interval costs two reads of /proc (~10 µs), a few thousand per ingest.
 */
export const PIPE_PROF = process.env.VANTAGE_PIPE_PROF === '1';

/** Seconds on a CPU and seconds runnable but not running, of one thread (kernel schedstat). */
export interface Sched {
  cpu: number;
  runq: number;
}

function parseSched(s: string): Sched {
  const f = s.split(' ');
  return { cpu: Number(f[0]) / 1e9, runq: Number(f[1]) / 1e9 };
}

/** The calling thread's schedstat; zeros where /proc is not there. */
export function threadSched(): Sched {
  try {
    return parseSched(readFileSync('/proc/thread-self/schedstat', 'latin1'));
  } catch {
    return { cpu: 0, runq: 0 };
  }
}

/** The calling thread's kernel id (-1 where /proc is not there). */
export function threadTid(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return -1;
  }
}

/** Every thread of this process and its schedstat. */
export function processSched(): Map<number, Sched> {
  const m = new Map<number, Sched>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        m.set(Number(t), parseSched(readFileSync(`/proc/self/task/${t}/schedstat`, 'latin1')));
      } catch {}
    }
  } catch {}
  return m;
}

function threadName(tid: number): string {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
  } catch {
    return '?';
  }
}

/** Wall clock comparable across threads, ms. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/**
 * Intervals (or gauge values) kept per name, at most. The instrument also runs in the live
 * sources' pipeline (`vantage start` with VANTAGE_PIPE_PROF=1), which never ends: past this it
 * counts what it leaves out instead of growing (~1M intervals, 32 MB of numbers per name).
 */
export const PROF_KEEP = 1 << 20;

/** One thread's named intervals: wall start and end, and the thread's CPU and run-queue time in each. */
export class Spans {
  private readonly at = new Map<string, number[]>();
  private readonly open = new Map<string, { t: number; s: Sched }>();
  /** Intervals and gauge values left out past `keep` per name. */
  dropped = 0;

  constructor(private readonly keep = PROF_KEEP) {}

  begin(name: string): void {
    if (this.open.has(name)) return;
    this.open.set(name, { t: wallMs(), s: threadSched() });
  }

  end(name: string): void {
    const o = this.open.get(name);
    if (!o) return;
    this.open.delete(name);
    const s = threadSched();
    let a = this.at.get(name);
    if (!a) {
      a = [];
      this.at.set(name, a);
    }
    if (a.length >= 4 * this.keep) this.dropped++;
    else a.push(o.t, wallMs(), s.cpu - o.s.cpu, s.runq - o.s.runq);
  }

  private readonly gauges = new Map<string, number[]>();

  /** A value seen at some moment (e.g. batches queued when a commit began). */
  note(name: string, v: number): void {
    let a = this.gauges.get(name);
    if (!a) {
      a = [];
      this.gauges.set(name, a);
    }
    if (a.length >= this.keep) this.dropped++;
    else a.push(v);
  }

  /** Per gauge: count, least, median, most. */
  noted(): Record<string, [number, number, number, number]> {
    const r: Record<string, [number, number, number, number]> = {};
    for (const [k, a0] of this.gauges) {
      const a = [...a0].sort((x, y) => x - y);
      r[k] = [a.length, a[0]!, a[a.length >> 1]!, a[a.length - 1]!];
    }
    return r;
  }

  /** Intervals of `name` as [start, end, cpu, runq] quadruples, in the order they ended. */
  raw(name: string): readonly number[] {
    return this.at.get(name) ?? [];
  }

  names(): string[] {
    return [...this.at.keys()];
  }

  /** Per name: count, wall seconds, this thread's CPU and run-queue seconds inside them. */
  totals(): Record<string, { n: number; wall: number; cpu: number; runq: number }> {
    const r: Record<string, { n: number; wall: number; cpu: number; runq: number }> = {};
    for (const [k, a] of this.at) {
      let wall = 0;
      let cpu = 0;
      let runq = 0;
      for (let i = 0; i < a.length; i += 4) {
        wall += a[i + 1]! - a[i]!;
        cpu += a[i + 2]!;
        runq += a[i + 3]!;
      }
      r[k] = { n: a.length / 4, wall: wall / 1000, cpu, runq };
    }
    return r;
  }
}

/** With profiling on: seconds since the process started at each phase of a command. */
export const phases: Record<string, number> = {};
export const mark = (name: string): void => {
  if (PIPE_PROF) phases[name] = Math.round(performance.now()) / 1000;
};

/** The spans of the calling thread (one per isolate), null when profiling is off. */
export const spans: Spans | null = PIPE_PROF ? new Spans() : null;

/**
 * Milliseconds of `gaps` (start/end pairs, any order) covered by the union of `over`'s intervals
 * (raw quadruples or pairs with `stride`).
 */
export function overlapMs(gaps: readonly number[], over: readonly number[], stride = 4): number {
  const iv: [number, number][] = [];
  for (let i = 0; i < over.length; i += stride) iv.push([over[i]!, over[i + 1]!]);
  iv.sort((a, b) => a[0] - b[0]);
  // Merged, so nested or overlapping intervals count once.
  const m: [number, number][] = [];
  for (const x of iv) {
    const last = m[m.length - 1];
    if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
    else m.push([x[0], x[1]]);
  }
  const g: [number, number][] = [];
  for (let i = 0; i < gaps.length; i += 2) g.push([gaps[i]!, gaps[i + 1]!]);
  g.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let j = 0;
  for (const [s, e] of g) {
    while (j < m.length && m[j]![1] <= s) j++;
    for (let k = j; k < m.length && m[k]![0] < e; k++) {
      const lo = Math.max(s, m[k]![0]);
      const hi = Math.min(e, m[k]![1]);
      if (hi > lo) total += hi - lo;
    }
  }
  return total;
}

/** The complement of busy intervals (pairs) inside [from, to]: a thread's idle gaps. */
export function gapsOf(busy: readonly number[], from: number, to: number): number[] {
  const iv: [number, number][] = [];
  for (let i = 0; i < busy.length; i += 2) iv.push([busy[i]!, busy[i + 1]!]);
  iv.sort((a, b) => a[0] - b[0]);
  const g: number[] = [];
  let t = from;
  for (const [s, e] of iv) {
    if (s > t) g.push(t, Math.min(s, to));
    if (e > t) t = e;
    if (t >= to) break;
  }
  if (t < to) g.push(t, to);
  return g;
}

type Account = { cpu: number; runq: number; sleep: number };

function account(a: Sched | undefined, b: Sched | undefined, wallS: number): Account {
  const cpu = b && a ? b.cpu - a.cpu : (b?.cpu ?? 0);
  const runq = b && a ? b.runq - a.runq : (b?.runq ?? 0);
  return { cpu: r3(cpu), runq: r3(runq), sleep: r3(Math.max(0, wallS - cpu - runq)) };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The threaded ingest's account between `from` and `to` (wall ms): every thread's CPU, run-queue
 * and sleeping seconds; the main thread's spans; and the worker's idle time split by what the
 * main thread was in meanwhile (a span of the worker's idle time can fall in several of them;
 * `in none` is the idle time outside all of them).
 */
export function pipeReport(o: {
  from: number;
  to: number;
  before: Map<number, Sched>;
  after: Map<number, Sched>;
  main: Spans;
  worker?: { tid: number; busy: number[]; busyRunq: number; sched0: Sched; sched: Sched } | undefined;
}): Record<string, unknown> {
  const wallS = (o.to - o.from) / 1000;
  const mainTid = process.pid;
  const wTid = o.worker?.tid ?? -2;
  let others = { cpu: 0, runq: 0, n: 0 };
  const each: [string, number][] = [];
  for (const [tid, s] of o.after) {
    if (tid === mainTid || tid === wTid) continue;
    const a = account(o.before.get(tid), s, wallS);
    others = { cpu: others.cpu + a.cpu, runq: others.runq + a.runq, n: others.n + 1 };
    if (a.cpu >= 0.01) each.push([`${tid} ${threadName(tid)}`, a.cpu]);
  }
  each.sort((x, y) => y[1] - x[1]);
  const spansOut: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(o.main.totals()))
    spansOut[k] = {
      n: t.n,
      wall: r3(t.wall),
      cpu: r3(t.cpu),
      runq: r3(t.runq),
      sleep: r3(Math.max(0, t.wall - t.cpu - t.runq)),
    };
  const out: Record<string, unknown> = {
    wall_s: r3(wallS),
    threads: {
      main: account(o.before.get(mainTid), o.after.get(mainTid), wallS),
      // The worker has exited by now: its own account, from its start to its end.
      ...(o.worker ? { worker: account(o.worker.sched0, o.worker.sched, wallS) } : {}),
      others: { cpu: r3(others.cpu), runq: r3(others.runq), threads: others.n, each },
    },
    main_spans: spansOut,
    main_gauges: o.main.noted(),
    // Intervals and values past PROF_KEEP per name, not kept (the figures above leave them out).
    main_dropped: o.main.dropped,
    // The rare long spans one by one (start after `from`, wall, CPU; seconds).
    main_spans_each: Object.fromEntries(
      o.main
        .names()
        .filter((k) => o.main.raw(k).length <= 4 * 32)
        .map((k) => {
          const a = o.main.raw(k);
          const e: number[][] = [];
          for (let i = 0; i < a.length; i += 4)
            e.push([r3((a[i]! - o.from) / 1000), r3((a[i + 1]! - a[i]!) / 1000), r3(a[i + 2]!)]);
          return [k, e];
        }),
    ),
  };
  if (o.worker) {
    const gaps = gapsOf(o.worker.busy, o.from, o.to);
    let idle = 0;
    for (let i = 0; i < gaps.length; i += 2) idle += gaps[i + 1]! - gaps[i]!;
    const during: Record<string, number> = {};
    const all: number[] = [];
    for (const k of o.main.names()) {
      const raw = o.main.raw(k);
      during[k] = r3(overlapMs(gaps, raw) / 1000);
      for (let i = 0; i < raw.length; i += 4) all.push(raw[i]!, raw[i + 1]!);
    }
    during['in none'] = r3((idle - overlapMs(gaps, all, 2)) / 1000);
    const b = o.worker.busy;
    // The last pair is the worker's end of input; the one before it its last batch.
    const lastBatchEnd = b.length >= 4 ? b[b.length - 3]! : o.from;
    const before = gapsOf(b, o.from, lastBatchEnd);
    let idleBefore = 0;
    let longest = 0;
    for (let i = 0; i < before.length; i += 2) {
      const g = before[i + 1]! - before[i]!;
      idleBefore += g;
      if (g > longest) longest = g;
    }
    // Between batches the worker either slept (nothing queued) or waited for a core with a batch
    // queued; the worker's run-queue time outside its batches is the latter.
    const runqIdle = Math.max(0, o.worker.sched.runq - o.worker.sched0.runq - o.worker.busyRunq);
    out.worker_idle = {
      seconds: r3(idle / 1000),
      of_which_runnable: r3(runqIdle),
      while_main_in: during,
      last_batch_end: r3((lastBatchEnd - o.from) / 1000),
      // Idle while packets were still coming (gaps between batches) and after the last batch.
      before_last_batch: r3(idleBefore / 1000),
      gaps_before: before.length / 2,
      longest_gap: r3(longest / 1000),
      after_last_batch: r3((o.to - lastBatchEnd) / 1000),
    };
  }
  return out;
}
