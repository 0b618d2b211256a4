import { isoNs } from '../common/time.js';
import { ALL_RECORDS } from '../schema/records.js';
import type { Rec } from './types.js';

/**
 * Records in column form, as the collector's decode thread produces them: row-major numbers
 * (NaN = null) and string-dictionary indexes (-1 = null), plus a row selection. The store
 * appends these without making an object per record, which is where its rows/s come from;
 * the selection lets a caller drop or sample rows without copying the batch.
 */
export interface Columnar {
  /**
   * Fields held as numbers, in the order of each row's Float64 values. A time (a `ts` field)
   * held here is ms since the epoch, fractions to the µs; a `bool` is 1 or 0.
   */
  num: readonly string[];
  /** Fields held as strings (text, addresses, MACs, ISO times), by index into `dict`. */
  str: readonly string[];
  /** `num.length` values per source row. */
  f: Float64Array;
  /** `str.length` dictionary indexes per source row. */
  s: Int32Array;
  dict: readonly string[];
  /** Source rows to store, in order. */
  rows: ArrayLike<number>;
  /** Values of JSON fields by source row (rows without one are null). */
  json?: Readonly<Record<string, ReadonlyMap<number, unknown>>>;
}

/** Row indexes 0..n-1: a batch that stores every row it holds. */
export function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/**
 * The first `n` rows of a builder's row-major buffers (sized for `capacity` rows) as a batch of
 * all of them; a partial batch gets buffers cut to its rows.
 */
export function filledBatch(
  num: readonly string[],
  str: readonly string[],
  f: Float64Array,
  s: Int32Array,
  dict: readonly string[],
  n: number,
  capacity: number,
): Columnar {
  const full = n === capacity;
  return {
    num,
    str,
    f: full ? f : f.slice(0, n * num.length),
    s: full ? s : s.slice(0, n * str.length),
    dict,
    rows: allRows(n),
  };
}

const NUM_PLAIN = 0;
const NUM_TS = 1;
const NUM_BOOL = 2;
const numKinds = new WeakMap<readonly string[], Map<string, Uint8Array>>();

/** How each number field of a layout becomes a record value (times and booleans as records have them). */
export function kindsOf(num: readonly string[], type: string): Uint8Array {
  let byType = numKinds.get(num);
  if (!byType) {
    byType = new Map();
    numKinds.set(num, byType);
  }
  let k = byType.get(type);
  if (!k) {
    const fields = ALL_RECORDS.find((d) => d.type === type)?.fields;
    k = new Uint8Array(num.length);
    for (let j = 0; j < num.length; j++) {
      const t = fields?.[num[j]!]?.type;
      k[j] = t === 'ts' ? NUM_TS : t === 'bool' ? NUM_BOOL : NUM_PLAIN;
    }
    byType.set(type, k);
  }
  return k;
}

/** ISO-8601 text of a ms time held as a number (µs precision, as the store keeps times). */
export function msToIso(ms: number): string {
  const us = Math.round(ms * 1000);
  const sec = Math.floor(us / 1e6);
  return isoNs(sec, (us - sec * 1e6) * 1000);
}

/** A number column's value as a record holds it. */
export function numValue(kind: number, v: number): number | string | boolean | null {
  if (Number.isNaN(v)) return null;
  return kind === NUM_PLAIN ? v : kind === NUM_TS ? msToIso(v) : v !== 0;
}

/** The selected rows as plain records (for record watchers and backends without a column path). */
export function columnarToRecords(c: Columnar, type: string): Rec[] {
  const out: Rec[] = new Array(c.rows.length);
  const nn = c.num.length;
  const ns = c.str.length;
  const kinds = kindsOf(c.num, type);
  for (let k = 0; k < c.rows.length; k++) {
    const i = c.rows[k]!;
    const r: Rec = { type };
    for (let j = 0; j < nn; j++) {
      const v = c.f[i * nn + j]!;
      r[c.num[j]!] = numValue(kinds[j]!, v);
    }
    for (let j = 0; j < ns; j++) {
      const d = c.s[i * ns + j]!;
      r[c.str[j]!] = d < 0 ? null : c.dict[d]!;
    }
    if (c.json) for (const [name, m] of Object.entries(c.json)) r[name] = m.get(i) ?? null;
    out[k] = r;
  }
  return out;
}

/**
 * One batch from several with the same field layout (the store feed appends what waited in
 * one go: fewer, larger appends cost less per row).
 */
export function concatColumnar(parts: readonly Columnar[]): Columnar {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  const nn = first.num.length;
  const ns = first.str.length;
  let total = 0;
  let dictLen = 0;
  for (const p of parts) {
    total += p.rows.length;
    dictLen += p.dict.length;
  }
  const f = new Float64Array(total * nn);
  const s = new Int32Array(total * ns);
  const dict: string[] = new Array(dictLen);
  const json: Record<string, Map<number, unknown>> = {};
  let row = 0;
  let dbase = 0;
  for (const p of parts) {
    for (let d = 0; d < p.dict.length; d++) dict[dbase + d] = p.dict[d]!;
    for (let k = 0; k < p.rows.length; k++) {
      const i = p.rows[k]!;
      f.set(p.f.subarray(i * nn, i * nn + nn), row * nn);
      for (let j = 0; j < ns; j++) {
        const v = p.s[i * ns + j]!;
        s[row * ns + j] = v < 0 ? -1 : v + dbase;
      }
      if (p.json)
        for (const [name, m] of Object.entries(p.json)) {
          const v = m.get(i);
          if (v !== undefined) {
            json[name] ??= new Map();
            json[name].set(row, v);
          }
        }
      row++;
    }
    dbase += p.dict.length;
  }
  const rows = new Uint32Array(total);
  for (let i = 0; i < total; i++) rows[i] = i;
  const out: Columnar = { num: first.num, str: first.str, f, s, dict, rows };
  if (Object.keys(json).length > 0) out.json = json;
  return out;
}

type ColumnAppend = (
  type: string,
  x: Columnar | readonly Columnar[],
  opts?: { hold?: boolean; copied?: () => void },
) => Promise<void>;

/**
 * A store wrapper's version of one of the store's column appends (`appendColumns` takes one
 * batch, `appendColumnParts` the parts of one commit): `around` gets the batches and a call of
 * the store's own method, to run before or after what the wrapper adds. Undefined when the
 * store has no such method, so callers fall back as they would on the store itself.
 */
export function wrapColumnAppend(
  store: object,
  method: 'appendColumns' | 'appendColumnParts',
  around: (type: string, batches: readonly Columnar[], inner: () => Promise<void>) => Promise<void>,
): ColumnAppend | undefined {
  const inner = (store as Record<string, unknown>)[method] as ColumnAppend | undefined;
  if (typeof inner !== 'function') return undefined;
  return (type, x, opts) => {
    const batches = method === 'appendColumns' ? [x as Columnar] : (x as readonly Columnar[]);
    return around(type, batches, () =>
      opts ? inner.call(store, type, x, opts) : inner.call(store, type, x),
    );
  };
}
