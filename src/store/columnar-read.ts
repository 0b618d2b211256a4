import type { AnyRecordDef } from '../schema/registry.js';
import { allRows, type Columnar, kindsOf, numValue } from './columnar.js';
import type { Rec } from './types.js';

/**
 * Reading a Columnar batch by field name, for record watchers that work on columns: where a
 * field sits (looked up once per field list, not per row) and one row as a plain record (made
 * only for the rare row a watcher must look at whole, such as an intel hit).
 */
export interface ColumnIndex {
  /** Position of a field among `c.num`, -1 when the batch has no such number column. */
  num(name: string): number;
  /** Position of a field among `c.str`, -1 when the batch has no such string column. */
  str(name: string): number;
}

const cache = new WeakMap<readonly string[], Map<string, number>>();

function positions(list: readonly string[]): Map<string, number> {
  let m = cache.get(list);
  if (!m) {
    m = new Map(list.map((n, i) => [n, i]));
    cache.set(list, m);
  }
  return m;
}

export function columnIndex(c: Columnar): ColumnIndex {
  const n = positions(c.num);
  const s = positions(c.str);
  return { num: (name) => n.get(name) ?? -1, str: (name) => s.get(name) ?? -1 };
}

/** Source row `i` of the batch as a record (the same object `columnarToRecords` makes for it). */
export function rowRecord(c: Columnar, i: number, type: string): Rec {
  const nn = c.num.length;
  const ns = c.str.length;
  const r: Rec = { type };
  const kinds = kindsOf(c.num, type);
  for (let j = 0; j < nn; j++) r[c.num[j]!] = numValue(kinds[j]!, c.f[i * nn + j]!);
  for (let j = 0; j < ns; j++) {
    const d = c.s[i * ns + j]!;
    r[c.str[j]!] = d < 0 ? null : c.dict[d]!;
  }
  if (c.json) for (const [name, m] of Object.entries(c.json)) r[name] = m.get(i) ?? null;
  return r;
}

/** String of row `i` in string column `j` (null when the column is absent or the value null). */
export function strAt(c: Columnar, i: number, j: number): string | null {
  if (j < 0) return null;
  const d = c.s[i * c.str.length + j]!;
  return d < 0 ? null : c.dict[d]!;
}

/** Number of row `i` in number column `j` (NaN when the column is absent or the value null). */
export function numAt(c: Columnar, i: number, j: number): number {
  return j < 0 ? Number.NaN : c.f[i * c.num.length + j]!;
}

/**
 * Fill `out` with row `i` (every field of the batch, JSON fields included), reusing the object
 * from row to row: a consumer that reads fields and keeps none of them gets the record's
 * values without a new object per row.
 */
export function fillRow(out: Rec, c: Columnar, i: number): Rec {
  const nn = c.num.length;
  const ns = c.str.length;
  for (let j = 0; j < nn; j++) {
    const v = c.f[i * nn + j]!;
    out[c.num[j]!] = Number.isNaN(v) ? null : v;
  }
  for (let j = 0; j < ns; j++) {
    const d = c.s[i * ns + j]!;
    out[c.str[j]!] = d < 0 ? null : c.dict[d]!;
  }
  if (c.json) for (const name in c.json) out[name] = c.json[name]!.get(i) ?? null;
  return out;
}

/**
 * Records of one type in column form, laid out as the registry declares the type: numbers
 * (int, float, bool as 0/1) as numbers, text, addresses and times through a dictionary that
 * holds each distinct string once, lists and JSON as JSON values. What a producer of column
 * batches hands the store; tests and benchmarks use it to feed both watcher paths alike.
 */
export function recordsToColumnar(def: AnyRecordDef, recs: readonly Rec[]): Columnar {
  const num: string[] = [];
  const str: string[] = [];
  const js: string[] = [];
  for (const [name, fd] of Object.entries(def.fields)) {
    if (fd.type === 'int' || fd.type === 'float' || fd.type === 'bool') num.push(name);
    else if (fd.type === 'string[]' || fd.type === 'int[]' || fd.type === 'json') js.push(name);
    else str.push(name);
  }
  const n = recs.length;
  const f = new Float64Array(n * num.length);
  const s = new Int32Array(n * str.length);
  const dict: string[] = [];
  const ids = new Map<string, number>();
  const json: Record<string, Map<number, unknown>> = {};
  for (const name of js) json[name] = new Map();
  for (let i = 0; i < n; i++) {
    const r = recs[i]!;
    for (let j = 0; j < num.length; j++) {
      const v = r[num[j]!];
      f[i * num.length + j] = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number.NaN;
    }
    for (let j = 0; j < str.length; j++) {
      const v = r[str[j]!];
      let d = -1;
      if (typeof v === 'string') {
        d = ids.get(v) ?? -1;
        if (d < 0) {
          d = dict.length;
          dict.push(v);
          ids.set(v, d);
        }
      }
      s[i * str.length + j] = d;
    }
    for (const name of js) {
      const v = r[name];
      if (v !== undefined && v !== null) json[name]!.set(i, v);
    }
  }
  return { num, str, f, s, dict, rows: allRows(n), json };
}

/** Where each of a list of fields sits in a batch, for `fillFields`. */
export type FieldPlan = readonly { name: string; kind: 'num' | 'str' | 'json' | 'none'; j: number }[];

export function fieldPlan(c: Columnar, names: readonly string[]): FieldPlan {
  const ix = columnIndex(c);
  return names.map((name) => {
    const n = ix.num(name);
    if (n >= 0) return { name, kind: 'num', j: n };
    const s = ix.str(name);
    if (s >= 0) return { name, kind: 'str', j: s };
    return c.json?.[name] ? { name, kind: 'json', j: -1 } : { name, kind: 'none', j: -1 };
  });
}

/** `fillRow` for the planned fields only; a field the batch lacks stays absent, as in `rowRecord`. */
export function fillFields(out: Rec, c: Columnar, i: number, plan: FieldPlan): Rec {
  const nn = c.num.length;
  const ns = c.str.length;
  for (let k = 0; k < plan.length; k++) {
    const p = plan[k]!;
    if (p.kind === 'num') {
      const v = c.f[i * nn + p.j]!;
      out[p.name] = Number.isNaN(v) ? null : v;
    } else if (p.kind === 'str') {
      const d = c.s[i * ns + p.j]!;
      out[p.name] = d < 0 ? null : c.dict[d]!;
    } else if (p.kind === 'json') out[p.name] = c.json![p.name]!.get(i) ?? null;
  }
  return out;
}
