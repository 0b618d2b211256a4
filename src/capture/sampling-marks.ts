import type { Columnar } from '../store/columnar.js';

/**
 * Puts a mirror receiver's overload sampling factor on the flow records: a packet hook that
 * notes, on each flow's first packet, the factor N the receiver gave that packet (its flow was
 * kept 1 in N, so it stands for N flows; every later packet of the flow carries the same N), and
 * writes it as `sampling_rate` when the flow record is emitted. Records leaving as column
 * batches get the column through `fillColumns` (their rows come out in the order the hook saw
 * them end). Flows kept without sampling carry 1.
 *
 * Structurally a packet hook of the sensor (src/analyze/types.ts Analyzer), kept free of the
 * stages downstream of capture.
 */
interface Lookup {
  generation(slot: number): number;
}

export class FlowSamplingMarks {
  readonly name = 'mirror-sampling';
  private factorOf = new Uint16Array(1024);
  private genOf = new Uint32Array(1024);
  /** Factors of the flow rows emitted as columns and not yet filled in, in order. */
  private queue = new Uint16Array(4096);
  private qHead = 0;
  private qLen = 0;

  /** `source.factor` is read for each packet: the receiver sets it before it hands the frame out. */
  constructor(
    private readonly source: { readonly factor: number },
    private readonly columns = true,
  ) {}

  onPacket(_p: unknown, flows: Lookup, slot: number): boolean {
    if (slot < 0) return true;
    if (slot >= this.factorOf.length) this.grow(slot);
    this.factorOf[slot] = Math.max(1, this.source.factor);
    this.genOf[slot] = flows.generation(slot);
    // The factor was fixed at the flow's first packet: nothing more to learn from this flow.
    return false;
  }

  onFlowEnd(rec: { [k: string]: unknown }, slot: number, flows: Lookup): void {
    const k =
      slot >= 0 && slot < this.factorOf.length && this.genOf[slot] === flows.generation(slot)
        ? this.factorOf[slot]!
        : 1;
    rec.sampling_rate = k;
    if (!this.columns) return;
    if (this.qLen === this.queue.length) this.growQueue();
    this.queue[(this.qHead + this.qLen) % this.queue.length] = k;
    this.qLen++;
  }

  /**
   * The flow batch with its `sampling_rate` column: the batch itself when every row's factor
   * is 1 (the column stays null, read as unsampled), else a copy with the column added.
   */
  fillColumns(c: Columnar): Columnar {
    const n = c.rows.length;
    const take = Math.min(n, this.qLen);
    let any = false;
    const ks = new Uint16Array(n).fill(1);
    const q = this.queue;
    for (let i = 0; i < take; i++) {
      const k = q[(this.qHead + i) % q.length]!;
      ks[i] = k;
      if (k > 1) any = true;
    }
    this.qHead = (this.qHead + take) % q.length;
    this.qLen -= take;
    if (!any) return c;
    const nn = c.num.length;
    let j = c.num.indexOf('sampling_rate');
    let f = c.f;
    let num = c.num;
    if (j < 0) {
      // Widen every source row by one number (rows index the source rows).
      const width = nn + 1;
      const rowsIn = Math.floor(c.f.length / Math.max(1, nn));
      f = new Float64Array(rowsIn * width);
      for (let r = 0; r < rowsIn; r++) {
        f.set(c.f.subarray(r * nn, r * nn + nn), r * width);
        f[r * width + nn] = Number.NaN;
      }
      num = [...c.num, 'sampling_rate'];
      j = nn;
    }
    const width = num.length;
    for (let i = 0; i < n; i++) f[c.rows[i]! * width + j] = ks[i]!;
    return { ...c, num, f };
  }

  private grow(slot: number): void {
    let n = this.factorOf.length;
    while (n <= slot) n *= 2;
    const f = new Uint16Array(n);
    f.set(this.factorOf);
    const g = new Uint32Array(n);
    g.set(this.genOf);
    this.factorOf = f;
    this.genOf = g;
  }

  private growQueue(): void {
    const q = new Uint16Array(this.queue.length * 2);
    for (let i = 0; i < this.qLen; i++) q[i] = this.queue[(this.qHead + i) % this.queue.length]!;
    this.queue = q;
    this.qHead = 0;
  }
}
