import type { Columnar } from './columnar.js';

/**
 * Column batches as they cross a thread boundary (the pipeline worker to the store's thread).
 * A structured clone copies a string array entry by entry and a Map of objects object by
 * object, on both threads; here a dictionary is one string plus the end of each entry, and a
 * JSON column is the text the store writes anyway (made once on the sending thread) plus the
 * entry of each row, so a batch is a few strings and typed arrays whatever its row count.
 */

/** Strings as one string and where each ends in it (UTF-16 units). */
export interface PackedStrings {
  text: string;
  ends: Int32Array;
}

export function packStrings(a: readonly string[]): PackedStrings {
  const ends = new Int32Array(a.length);
  let o = 0;
  for (let i = 0; i < a.length; i++) {
    o += a[i]!.length;
    ends[i] = o;
  }
  // One flat string: its clone is one copy of its characters.
  return { text: a.join(''), ends };
}

export function unpackStrings(p: PackedStrings): string[] {
  const n = p.ends.length;
  const out = new Array<string>(n);
  const t = p.text;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const e = p.ends[i]!;
    out[i] = t.slice(o, e);
    o = e;
  }
  return out;
}

/** A JSON column on the wire: per source row its text's entry (-1: no value), the texts packed. */
export interface WireJson {
  at: Int32Array;
  texts: PackedStrings;
}

/** A `Columnar` on the wire; its typed arrays are transferred (`wireTransfer`). */
export interface WireColumnar {
  num: readonly string[];
  str: readonly string[];
  f: Float64Array;
  s: Int32Array;
  rows: Uint32Array | number[];
  dict: PackedStrings;
  json?: Record<string, WireJson>;
}

/** Source rows a batch holds (its row selection may name fewer). */
function sourceRows(c: Columnar): number {
  if (c.num.length > 0) return c.f.length / c.num.length;
  if (c.str.length > 0) return c.s.length / c.str.length;
  let n = 0;
  for (let k = 0; k < c.rows.length; k++) n = Math.max(n, c.rows[k]! + 1);
  return n;
}

/**
 * A JSON column's values as text, one entry per distinct value object: lists a record shares
 * with others (a TLS shape's cipher suites) are one object, made into text once, and the store
 * then writes one string for all their rows.
 */
function packJson(m: ReadonlyMap<number, unknown>, n: number): WireJson {
  const at = new Int32Array(n).fill(-1);
  const texts: string[] = [];
  const seen = new Map<unknown, number>();
  for (let r = 0; r < n; r++) {
    const x = m.get(r);
    if (x == null) continue;
    let e = typeof x === 'object' ? seen.get(x) : undefined;
    if (e === undefined) {
      const t = JSON.stringify(x);
      if (t === undefined) continue;
      e = texts.length;
      texts.push(t);
      if (typeof x === 'object') seen.set(x, e);
    }
    at[r] = e;
  }
  return { at, texts: packStrings(texts) };
}

/** The wire form of a batch (the batch's typed arrays are shared with it, then transferred). */
export function packColumnar(c: Columnar): WireColumnar {
  const rows = c.rows instanceof Uint32Array ? c.rows : Array.from(c.rows);
  const w: WireColumnar = { num: c.num, str: c.str, f: c.f, s: c.s, rows, dict: packStrings(c.dict) };
  if (c.json) {
    const n = sourceRows(c);
    const json: Record<string, WireJson> = {};
    for (const [k, m] of Object.entries(c.json)) json[k] = packJson(m, n);
    w.json = json;
  }
  return w;
}

/** The buffers to transfer with a wire batch (it is unusable on the sending side afterwards). */
export function wireTransfer(w: WireColumnar): ArrayBuffer[] {
  const t = [w.f.buffer, w.s.buffer, w.dict.ends.buffer] as ArrayBuffer[];
  if (w.rows instanceof Uint32Array) t.push(w.rows.buffer as ArrayBuffer);
  if (w.json)
    for (const j of Object.values(w.json))
      t.push(j.at.buffer as ArrayBuffer, j.texts.ends.buffer as ArrayBuffer);
  // A typed array whose buffer is shared by two fields must be transferred once.
  return [...new Set(t)];
}

/** The batch a wire batch carries: the dictionary as strings, JSON columns read from their text. */
export function unpackColumnar(w: WireColumnar): Columnar {
  const c: Columnar = { num: w.num, str: w.str, f: w.f, s: w.s, dict: unpackStrings(w.dict), rows: w.rows };
  if (w.json) {
    const json: Record<string, JsonTextColumn> = {};
    for (const [k, j] of Object.entries(w.json)) json[k] = new JsonTextColumn(j);
    c.json = json;
  }
  return c;
}

/**
 * A JSON column read from its text: `text(row)` is what the store writes (no parse, no
 * stringify); `get(row)` parses it for a reader that wants the value (a detector, a record).
 */
export class JsonTextColumn implements ReadonlyMap<number, unknown> {
  private readonly at: Int32Array;
  private readonly t: string;
  private readonly ends: Int32Array;

  constructor(w: WireJson) {
    this.at = w.at;
    this.t = w.texts.text;
    this.ends = w.texts.ends;
  }

  /** The text entry of `row` (-1: no value); rows with one entry share one value. */
  entry(row: number): number {
    return row < this.at.length ? this.at[row]! : -1;
  }

  /** The JSON text of `row`, or undefined. */
  text(row: number): string | undefined {
    const e = this.entry(row);
    if (e < 0) return undefined;
    return this.t.slice(e === 0 ? 0 : this.ends[e - 1]!, this.ends[e]!);
  }

  get(row: number): unknown {
    const t = this.text(row);
    return t === undefined ? undefined : JSON.parse(t);
  }

  has(row: number): boolean {
    return this.entry(row) >= 0;
  }

  get size(): number {
    let n = 0;
    for (let r = 0; r < this.at.length; r++) if (this.at[r]! >= 0) n++;
    return n;
  }

  *entries(): MapIterator<[number, unknown]> {
    for (let r = 0; r < this.at.length; r++) if (this.at[r]! >= 0) yield [r, this.get(r)];
  }

  *keys(): MapIterator<number> {
    for (let r = 0; r < this.at.length; r++) if (this.at[r]! >= 0) yield r;
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
