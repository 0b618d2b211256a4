import type { LossLedger } from '../common/loss.js';
import { type Columnar, concatColumnar } from './columnar.js';
import type { Rec, RecordStore } from './types.js';

/**
 * A bounded queue between one source and the store. The source offers batches (records in
 * column form or as objects); the feed keeps at most `maxBytes` of them waiting, appends what
 * waited as one batch per type when the store has acknowledged the previous one (so the store
 * sees few, large appends and anything else that appends — alerts, events — waits behind at
 * most one of this feed's batches), and drops what does not fit at the edge, counted as
 * `store_behind` on the source. With `sampling`, a filling queue keeps 1 row in N (N = 2, 4,
 * ... `maxSampling` as it fills) and multiplies the rows' counters and sampling rate by N, so
 * sums over them stay unbiased; the rows left out are counted as `sampled`.
 *
 * The account is exact at any moment: offered = stored + dropped (by reason) + sampled out
 * + queued + in flight.
 */
export interface StoreFeedConfig {
  /** The source's name in the loss ledger and metrics (e.g. `collector`, `mirror.vxlan[0]`). */
  source: string;
  /** Bytes of batches waiting (and being appended) at most. */
  maxBytes: number;
  /**
   * Rows per append at most (waiting batches are merged up to this). Default 196,608: the
   * embedded store commits a whole DuckDB row group (122,880 rows) at half the CPU per row of
   * smaller commits, and its appender commits on its own past 204,800 rows.
   */
  maxAppendRows?: number;
  /**
   * Hand column batches to a store that can hold them for a larger commit
   * (`appendColumnParts(…, { hold: true })`) without waiting for the previous one to commit
   * (default off): batches arriving at any pace commit together as whole DuckDB row groups.
   * `maxBytes` must then cover a commit's rows, which wait queued until it.
   */
  hold?: boolean;
  /** Keep 1-in-N under overload instead of dropping whole batches (default off). */
  sampling?: boolean;
  /** Largest N (default 16). */
  maxSampling?: number;
}

export interface StoreFeedStats {
  offered: number;
  stored: number;
  storeBehind: number;
  storeErrors: number;
  sampledOut: number;
  queuedRows: number;
  queuedBytes: number;
  /** Rows in the append the store is doing now. */
  inFlight: number;
  /** The sampling factor applied to the last offered batch (1: none). */
  sampling: number;
  highWaterBytes: number;
}

type Item =
  | { kind: 'cols'; type: string; c: Columnar; bytes: number }
  | { kind: 'recs'; type: string; recs: Rec[]; bytes: number };

/** Counters scaled when a row stands for N rows. */
const SCALED = ['packets', 'bytes', 'sampling_rate'];

export class StoreFeed {
  private readonly q: Item[] = [];
  private bytes = 0;
  private running: Promise<void> | null = null;
  private readonly s: StoreFeedStats = {
    offered: 0,
    stored: 0,
    storeBehind: 0,
    storeErrors: 0,
    sampledOut: 0,
    queuedRows: 0,
    queuedBytes: 0,
    inFlight: 0,
    sampling: 1,
    highWaterBytes: 0,
  };
  private pick = 0;

  constructor(
    private readonly store: RecordStore & {
      appendColumns?(type: string, c: Columnar): Promise<void>;
      appendColumnParts?(
        type: string,
        parts: readonly Columnar[],
        opts?: { hold?: boolean; copied?: () => void },
      ): Promise<void>;
    },
    private readonly cfg: StoreFeedConfig,
    private readonly ledger: LossLedger | null = null,
    private readonly log: (msg: string, e: unknown) => void = () => {},
  ) {}

  stats(): StoreFeedStats {
    return { ...this.s, queuedBytes: this.bytes };
  }

  /** Bytes a columnar batch keeps alive (its buffers, whatever rows are selected). */
  static weigh(c: Columnar): number {
    let d = 0;
    for (const x of c.dict) d += 24 + x.length;
    return c.f.byteLength + c.s.byteLength + d + c.rows.length * 4;
  }

  /** Offer rows in column form; returns the rows accepted (the rest are counted). */
  offerColumns(type: string, c0: Columnar): number {
    const n = c0.rows.length;
    this.s.offered += n;
    if (n === 0) return 0;
    let c = c0;
    const bytes = StoreFeed.weigh(c);
    const k = this.factor(bytes);
    if (k > 1) c = this.sampleColumns(c, k);
    return this.admit({ kind: 'cols', type, c, bytes }, n, c.rows.length);
  }

  /** Offer records as objects (records of several types may share a feed). */
  offerRecords(type: string, recs: Rec[], bytesPerRecord = 600): number {
    const n = recs.length;
    this.s.offered += n;
    if (n === 0) return 0;
    let r = recs;
    const k = this.factor(n * bytesPerRecord);
    if (k > 1) r = this.sampleRecords(recs, k);
    return this.admit({ kind: 'recs', type, recs: r, bytes: r.length * bytesPerRecord }, n, r.length);
  }

  private admit(item: Item, offered: number, kept: number): number {
    const out = offered - kept;
    if (out > 0) {
      this.s.sampledOut += out;
      this.ledger?.add(this.cfg.source, 'sampled', out);
    }
    if (this.bytes + item.bytes > this.cfg.maxBytes && (this.bytes > 0 || this.running)) {
      this.s.storeBehind += kept;
      this.ledger?.add(this.cfg.source, 'store_behind', kept);
      return 0;
    }
    this.q.push(item);
    this.bytes += item.bytes;
    this.s.queuedRows += kept;
    if (this.bytes > this.s.highWaterBytes) this.s.highWaterBytes = this.bytes;
    this.running ??= this.run();
    this.wake?.();
    return kept;
  }

  /** The sampling factor for a batch of `bytes` given how full the queue is. */
  private factor(bytes: number): number {
    if (!this.cfg.sampling) return 1;
    const fill = (this.bytes + bytes) / this.cfg.maxBytes;
    let k = 1;
    // Half full: 1 in 2; three quarters: 1 in 4; and so on.
    for (let f = 0.5; fill >= f && k < (this.cfg.maxSampling ?? 16); f += (1 - f) / 2) k *= 2;
    this.s.sampling = k;
    return k;
  }

  private sampleColumns(c: Columnar, k: number): Columnar {
    const keep: number[] = [];
    for (let i = 0; i < c.rows.length; i++) if (this.pick++ % k === 0) keep.push(c.rows[i]!);
    const nn = c.num.length;
    for (const name of SCALED) {
      const j = c.num.indexOf(name);
      if (j < 0) continue;
      for (const i of keep) {
        const o = i * nn + j;
        const v = c.f[o]!;
        if (!Number.isNaN(v)) c.f[o] = v * k;
      }
    }
    return { ...c, rows: Uint32Array.from(keep) };
  }

  private sampleRecords(recs: Rec[], k: number): Rec[] {
    const out: Rec[] = [];
    for (const r of recs) {
      if (this.pick++ % k !== 0) continue;
      for (const name of SCALED) {
        const v = r[name];
        if (typeof v === 'number') r[name] = v * k;
      }
      if (!('sampling_rate' in r)) r.sample_factor = k;
      out.push(r);
    }
    return out;
  }

  /** Wakes the append loop while it waits for held appends (a batch arrived). */
  private wake: (() => void) | null = null;

  private async run(): Promise<void> {
    const max = this.cfg.maxAppendRows ?? 196_608;
    const hold = this.cfg.hold === true && typeof this.store.appendColumnParts === 'function';
    // Held appends not committed yet: their rows are in flight, their bytes still counted.
    const held = new Set<Promise<void>>();
    while (this.q.length > 0 || held.size > 0) {
      if (this.q.length === 0) {
        await Promise.race([...held, new Promise<void>((r) => (this.wake = r))]);
        this.wake = null;
        continue;
      }
      // A synchronous commit holds the event loop: let the batches that arrived meanwhile (from
      // decode threads, sockets) join the queue first, so the next commit takes them all rather
      // than one small batch each. Small commits cost DuckDB several times more per row.
      await new Promise<void>((r) => setImmediate(r));
      // What waited, of the first item's type and kind, up to `max` rows, as one append.
      const first = this.q[0]!;
      const take: Item[] = [];
      let rows = 0;
      for (let i = 0; i < this.q.length; ) {
        const it = this.q[i]!;
        const n = it.kind === 'cols' ? it.c.rows.length : it.recs.length;
        if (it.type !== first.type || it.kind !== first.kind || (rows > 0 && rows + n > max)) {
          i++;
          if (rows + n > max) break;
          continue;
        }
        take.push(it);
        rows += n;
        this.q.splice(i, 1);
      }
      this.s.queuedRows -= rows;
      this.s.inFlight += rows;
      const kind = first.kind;
      const job = this.appendTaken(first.type, kind, take, rows, hold);
      if (hold && kind === 'cols') {
        held.add(job);
        void job.then(() => held.delete(job));
      } else {
        // Objects (and stores that commit each append) go one append at a time, after the
        // held ones, in order.
        await Promise.all(held);
        await job;
      }
    }
    this.running = null;
  }

  /**
   * One append of what was taken; settles the account when the store acknowledges it. A held
   * append gives its batches back (and their bytes to the queue) once the store has copied them:
   * the rows waiting for their commit are then DuckDB's, not held twice.
   */
  private async appendTaken(
    type: string,
    kind: Item['kind'],
    take: Item[],
    rows: number,
    hold: boolean,
  ): Promise<void> {
    let bytes = 0;
    for (const t of take) bytes += t.bytes;
    const release = (): void => {
      this.bytes -= bytes;
      bytes = 0;
      take.length = 0;
    };
    try {
      if (kind === 'cols') {
        const parts = (): Columnar[] => take.map((t) => (t as Extract<Item, { kind: 'cols' }>).c);
        // The parts go over as they are when the store can commit them together (no copy); no
        // variable of this frame keeps them while a held append waits for its commit.
        if (this.store.appendColumnParts)
          await (hold
            ? this.store.appendColumnParts(type, parts(), { hold: true, copied: release })
            : this.store.appendColumnParts(type, parts()));
        else if (this.store.appendColumns) await this.store.appendColumns(type, concatColumnar(parts()));
        else throw new Error('the store has no column path');
      } else {
        const recs = take.flatMap((t) => (t as Extract<Item, { kind: 'recs' }>).recs);
        await this.store.append(type, recs);
      }
      this.s.stored += rows;
    } catch (e) {
      this.s.storeErrors += rows;
      this.ledger?.add(this.cfg.source, 'store_error', rows);
      this.log(`storing ${rows} ${type} records of ${this.cfg.source} failed`, e);
    }
    this.s.inFlight -= rows;
    release();
  }

  /** Resolves when everything offered so far is stored (or counted). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }
}
