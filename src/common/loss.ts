/**
 * Every record or packet a source could not keep, per source and reason, in one ledger: what
 * `/metrics` shows, what the periodic `loss` records carry, and what `/api/v1/health` reads to
 * answer `degraded`. Reasons: `socket` (the kernel dropped the datagram: we did not read it in
 * time), `queue_full` (a bounded queue inside the pipeline was full), `store_behind` (the
 * queue to the store was full), `store_error` (the store refused a batch), `ring_full` (a
 * mirror receiver's ring was full: the sensor was behind for longer than the ring holds),
 * `sampled` (kept 1-in-N under overload: not lost for KPIs, the factor is on the records),
 * `spool_full` (the collector's disk spool was at its bound).
 */
export type LossReason =
  | 'socket'
  | 'queue_full'
  | 'ring_full'
  | 'store_behind'
  | 'store_error'
  | 'sampled'
  | 'spool_full';

export interface LossEntry {
  source: string;
  reason: LossReason;
  /** Since start. */
  total: number;
}

interface Counter extends LossEntry {
  /** Total at the last `interval()`. */
  reported: number;
  /** When the total last grew (ms). */
  grewAt: number;
}

export class LossLedger {
  private readonly counters = new Map<string, Counter>();
  private readonly pollers: (() => void)[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  private counter(source: string, reason: LossReason): Counter {
    const k = `${source}\u0000${reason}`;
    let c = this.counters.get(k);
    if (!c) {
      c = { source, reason, total: 0, reported: 0, grewAt: 0 };
      this.counters.set(k, c);
    }
    return c;
  }

  /** Count `n` more lost. */
  add(source: string, reason: LossReason, n: number): void {
    if (n <= 0) return;
    const c = this.counter(source, reason);
    c.total += n;
    c.grewAt = this.now();
  }

  /** A counter kept elsewhere (the kernel's socket drops): its current total. */
  observe(source: string, reason: LossReason, total: number): void {
    const c = this.counter(source, reason);
    if (total > c.total) {
      c.total = total;
      c.grewAt = this.now();
    }
  }

  /** A function that refreshes observed counters; run before every read. */
  poll(fn: () => void): void {
    this.pollers.push(fn);
  }

  refresh(): void {
    for (const p of this.pollers) {
      try {
        p();
      } catch {
        // a source that stopped has nothing to report
      }
    }
  }

  entries(): LossEntry[] {
    this.refresh();
    return [...this.counters.values()].map(({ source, reason, total }) => ({ source, reason, total }));
  }

  total(source: string, reason: LossReason): number {
    return this.counters.get(`${source}\u0000${reason}`)?.total ?? 0;
  }

  /** What grew since the last call: one entry per source and reason (the `loss` records). */
  interval(): (LossEntry & { count: number })[] {
    this.refresh();
    const out: (LossEntry & { count: number })[] = [];
    for (const c of this.counters.values()) {
      if (c.total === c.reported) continue;
      out.push({ source: c.source, reason: c.reason, total: c.total, count: c.total - c.reported });
      c.reported = c.total;
    }
    return out;
  }

  /** Sources losing data now: their counters grew within `windowMs`. */
  losing(windowMs: number): LossEntry[] {
    this.refresh();
    const since = this.now() - windowMs;
    return [...this.counters.values()]
      .filter((c) => c.total > 0 && c.grewAt >= since)
      .map(({ source, reason, total }) => ({ source, reason, total }));
  }
}
