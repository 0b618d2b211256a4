import { isoNs } from '../common/time.js';
import type { AnyRecordDef } from '../schema/registry.js';
import { type Columnar, filledBatch } from '../store/columnar.js';
import type { RecordSink } from './types.js';

/**
 * L7 records in column form: an analyzer fills one reused record object (no object per record)
 * and hands it here with its time as (seconds, ns); the values are copied into the batch's
 * columns by code generated from the record's declaration, strings through a per-batch
 * dictionary (an address, name or mnemonic is one entry however many rows carry it), JSON
 * fields by row. The time never becomes text: it is a ms number, to the µs the store keeps.
 * Other times of the record (a certificate's validity) are rare and stay the text the record
 * has. The buffers start small and double up to `capacity` rows: a type with few records
 * (HTTP on a TLS network) does not hold a full batch's memory.
 */
/** Rows of a builder's first buffers. */
const FIRST_ROWS = 1024;
/** Texts up to this length are keyed by every character. */
const SHORT_TEXT = 40;
/** Slots of a builder's table of recent texts. */
const RECENT = 2048;

/**
 * Where a text sits in a direct-mapped table: every character of a short text (addresses, which
 * differ in a digit or two that a sample of four characters missed, so that a network's hosts
 * shared a few slots), a few characters and the length of a longer one.
 */
export function textKey(v: string): number {
  const n = v.length;
  if (n === 0) return 0;
  if (n <= SHORT_TEXT) {
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ v.charCodeAt(i), 0x01000193);
    return h ^ (h >>> 15);
  }
  let h = Math.imul(n, 0x9e3779b1) ^ v.charCodeAt(n - 1);
  h = Math.imul(h, 0x85ebca6b) ^ v.charCodeAt(n >> 1);
  h = Math.imul(h, 0xc2b2ae35) ^ v.charCodeAt(n >> 2);
  h = Math.imul(h, 0x27d4eb2f) ^ v.charCodeAt((n * 3) >> 2);
  return h ^ (h >>> 15);
}

export class RecordColumnBuilder {
  readonly num: string[] = [];
  readonly str: string[] = [];
  private readonly jsonFields: string[] = [];
  private f: Float64Array;
  private s: Int32Array;
  /** Rows the current buffers hold (grows to `capacity`). */
  private room: number;
  private dict: string[] = [];
  private json: RowValues[];
  private rows = 0;
  private readonly index = new Map<string, number>();
  private readonly put: (
    r: Record<string, unknown>,
    f: Float64Array,
    s: Int32Array,
    row: number,
    d: (v: string) => number,
    u: (v: string) => number,
    lv: (string | null)[],
    ld: Int32Array,
  ) => void;
  /** Per string field, the previous record's value and its dictionary entry (null: none yet). */
  private readonly lastV: (string | null)[];
  private readonly lastD: Int32Array;
  private readonly tsAt: number;
  /**
   * Recent texts and their entries in a direct-mapped table in front of the dictionary's map:
   * in the sensor the map is cold by the next record of a type (tens of packets of other flows
   * lie between two), so a lookup there is a few cache misses; this table is small and stays
   * warm. A slot is used only for the same text in the same batch.
   */
  private readonly recentText: (string | null)[] = new Array<string | null>(RECENT).fill(null);
  /** Per slot, side by side (one cache line where two arrays were two): batch + 1, entry. */
  private readonly recentOfD = new Float64Array(RECENT * 2);
  private readonly text = (v: string): number => {
    const i = textKey(v) & (RECENT - 1);
    const b = this.batches + 1;
    const od = this.recentOfD;
    if (od[2 * i] === b && this.recentText[i] === v) return od[2 * i + 1]!;
    let d = this.index.get(v);
    if (d === undefined) {
      d = this.dict.length;
      this.dict.push(v);
      if (this.index.size < 16_384) this.index.set(v, d);
    }
    this.recentText[i] = v;
    od[2 * i] = b;
    od[2 * i + 1] = d;
    return d;
  };
  private readonly unique = (v: string): number => {
    this.dict.push(v);
    return this.dict.length - 1;
  };

  constructor(
    readonly def: AnyRecordDef,
    readonly capacity: number,
    private readonly out: (type: string, c: Columnar) => void,
  ) {
    const lines: string[] = [];
    for (const [name, fd] of Object.entries(def.fields)) {
      const t = fd.type;
      if (t === 'int' || t === 'float' || t === 'bool' || (t === 'ts' && name === def.timeField)) {
        const j = this.num.length;
        this.num.push(name);
        if (t === 'ts') continue;
        lines.push(
          t === 'bool'
            ? `v = r.${name}; f[fb + ${j}] = v === true ? 1 : v === false ? 0 : NaN;`
            : `v = r.${name}; f[fb + ${j}] = typeof v === 'number' ? v : NaN;`,
        );
      } else if (t === 'json' || t === 'string[]' || t === 'int[]') {
        this.jsonFields.push(name);
      } else {
        const j = this.str.length;
        this.str.push(name);
        // A flow's Community ID is new for nearly every record: entered as it is, not looked up.
        // Other fields often repeat the previous record's value (a status, a name, a version,
        // the same client): that is checked before the dictionary's map.
        lines.push(
          name === 'community_id'
            ? `v = r.${name}; s[sb + ${j}] = typeof v === 'string' ? u(v) : -1;`
            : `v = r.${name}; if (typeof v !== 'string') s[sb + ${j}] = -1; else if (v === lv[${j}]) s[sb + ${j}] = ld[${j}]; else { lv[${j}] = v; s[sb + ${j}] = ld[${j}] = d(v); }`,
        );
      }
    }
    this.tsAt = this.num.indexOf(def.timeField);
    const nn = this.num.length;
    const ns = this.str.length;
    this.lastV = new Array<string | null>(ns).fill(null);
    this.lastD = new Int32Array(ns);
    this.put = new Function(
      'r',
      'f',
      's',
      'row',
      'd',
      'u',
      'lv',
      'ld',
      `let v; const fb = row * ${nn}; const sb = row * ${ns};\n${lines.join('\n')}`,
    ) as RecordColumnBuilder['put'];
    this.room = Math.min(capacity, FIRST_ROWS);
    this.f = new Float64Array(this.room * nn);
    this.s = new Int32Array(this.room * ns);
    this.json = this.jsonFields.map(() => new RowValues());
  }

  /** Copy a record into the next row; `tsSec`/`tsNs` is its time. A full batch goes out. */
  add(r: Record<string, unknown>, tsSec: number, tsNs: number): void {
    const row = this.rows;
    if (row === this.room) this.grow();
    this.put(r, this.f, this.s, row, this.text, this.unique, this.lastV, this.lastD);
    if (this.tsAt >= 0)
      this.f[row * this.num.length + this.tsAt] = (tsSec * 1e6 + Math.floor(tsNs / 1e3)) / 1e3;
    for (let k = 0; k < this.jsonFields.length; k++) {
      this.json[k]!.put(row, r[this.jsonFields[k]!]);
    }
    this.rows = row + 1;
    if (this.rows >= this.capacity) this.flush();
  }

  // ---- rows written field by field (an analyzer that writes its columns itself) ----

  /** Batches handed out so far: a caller's cached dictionary entries belong to one batch. */
  get batch(): number {
    return this.batches;
  }

  /** Where a field sits: its number column, string column or JSON field (-1: not that kind). */
  numIndex(name: string): number {
    return this.num.indexOf(name);
  }

  strIndex(name: string): number {
    return this.str.indexOf(name);
  }

  jsonIndex(name: string): number {
    return this.jsonFields.indexOf(name);
  }

  /**
   * Start the next row at time (`tsSec`, `tsNs`); every number, string and JSON field of the
   * row must then be set (`setNum`, `setStr`, `setJson`) before `endRow`.
   */
  beginRow(tsSec: number, tsNs: number): void {
    const row = this.rows;
    if (row === this.room) this.grow();
    this.fb = row * this.num.length;
    this.sb = row * this.str.length;
    if (this.tsAt >= 0) this.f[this.fb + this.tsAt] = (tsSec * 1e6 + Math.floor(tsNs / 1e3)) / 1e3;
  }

  /** A number field of the row begun (NaN: null; booleans 1/0). */
  setNum(j: number, v: number): void {
    this.f[this.fb + j] = v;
  }

  /** A string field of the row begun, as a dictionary entry (`intern`, `internNew`; -1: null). */
  setStr(j: number, d: number): void {
    this.s[this.sb + j] = d;
  }

  setJson(k: number, v: unknown): void {
    this.json[k]!.put(this.rows, v);
  }

  /** The dictionary entry of `v` in this batch. */
  intern(v: string): number {
    return this.text(v);
  }

  /** A new dictionary entry for a value that does not repeat (a Community ID). */
  internNew(v: string): number {
    return this.unique(v);
  }

  /** The row begun is complete; a full batch goes out. */
  endRow(): void {
    this.rows++;
    if (this.rows >= this.capacity) this.flush();
  }

  private fb = 0;
  private sb = 0;
  private batches = 0;

  private grow(): void {
    this.room = Math.min(this.capacity, this.room * 2);
    const f = new Float64Array(this.room * this.num.length);
    f.set(this.f);
    const s = new Int32Array(this.room * this.str.length);
    s.set(this.s);
    this.f = f;
    this.s = s;
  }

  /** Hand out the rows so far and start a new batch. */
  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    const nn = this.num.length;
    const ns = this.str.length;
    const c: Columnar = filledBatch(this.num, this.str, this.f, this.s, this.dict, n, this.room);
    if (this.jsonFields.length > 0)
      c.json = Object.fromEntries(this.jsonFields.map((k, i) => [k, this.json[i]!]));
    // The next batch starts at the size this one reached: a steady type does not grow again.
    this.f = new Float64Array(this.room * nn);
    this.s = new Int32Array(this.room * ns);
    this.dict = [];
    this.json = this.jsonFields.map(() => new RowValues());
    this.index.clear();
    // The entries of the last values were in the dictionary just handed out.
    this.lastV.fill(null);
    this.rows = 0;
    this.batches++;
    this.out(this.def.type, c);
  }
}

/**
 * The values of one JSON field by row, for rows 0..n-1 filled in order: an array where a Map
 * kept an entry per row (a set per row and per field was a third of a record's copy). Read as
 * the Map it replaces (`get(row)` is undefined for a row without a value).
 */
export class RowValues implements ReadonlyMap<number, unknown> {
  private readonly v: unknown[] = [];
  private n = 0;

  /**
   * The value of `row` (null and undefined are no value). Rows come in order, so this appends;
   * a row set again replaces its value rather than landing on the next row.
   */
  put(row: number, x: unknown): void {
    const v = this.v;
    while (v.length < row) v.push(undefined);
    const had = row < v.length && v[row] !== undefined;
    const val = x === null ? undefined : x;
    v[row] = val;
    this.n += (val === undefined ? 0 : 1) - (had ? 1 : 0);
  }

  get(row: number): unknown {
    return this.v[row];
  }

  has(row: number): boolean {
    return this.v[row] !== undefined;
  }

  get size(): number {
    return this.n;
  }

  *entries(): MapIterator<[number, unknown]> {
    const v = this.v;
    for (let i = 0; i < v.length; i++) if (v[i] !== undefined) yield [i, v[i]];
  }

  *keys(): MapIterator<number> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<unknown> {
    for (const [, x] of this.entries()) yield x;
  }

  [Symbol.iterator](): MapIterator<[number, unknown]> {
    return this.entries();
  }

  forEach(fn: (value: unknown, key: number, map: ReadonlyMap<number, unknown>) => void): void {
    for (const [k, x] of this.entries()) fn(x, k, this);
  }
}

/**
 * Where an analyzer's records of one type go: fresh objects to the record sink (NDJSON, tests),
 * or rows of a column builder (the store path), where one record object is refilled for every
 * record and its time never becomes text. `observe` sees, in column mode, the records `wants`
 * picks, with their time as text (the host profiler reads a few of them).
 */
export class RecordOut<R extends { type: string; ts: string }> {
  private readonly scratch: R | null;
  private sec = 0;
  private ns = 0;

  constructor(
    private readonly type: R['type'],
    private readonly sink: RecordSink,
    private readonly cols?: RecordColumnBuilder,
    private readonly observe?: { wants: (r: R) => boolean; see: (r: R) => void },
  ) {
    this.scratch = cols ? ({ type, ts: '' } as R) : null;
  }

  /** The record to fill with every field but its type and time, in their declared order. */
  begin(tsSec: number, tsNs: number): R {
    this.sec = tsSec;
    this.ns = tsNs;
    return this.scratch ?? ({ type: this.type, ts: isoNs(tsSec, tsNs) } as R);
  }

  /** The record `begin` gave, filled. */
  end(rec: R): void {
    const cols = this.cols;
    if (cols === undefined) {
      this.sink(rec);
      return;
    }
    const o = this.observe;
    if (o?.wants(rec)) {
      rec.ts = isoNs(this.sec, this.ns);
      o.see(rec);
    }
    cols.add(rec, this.sec, this.ns);
  }
}
