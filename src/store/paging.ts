import { badRequest } from '../common/errors.js';
import type { AnyRecordDef } from '../schema/registry.js';
import type { Coded } from './filter.js';
import type { Page, Rec } from './types.js';
import { ipToBigint, isoToMicros, macToNumber } from './values.js';

/**
 * What every store backend does alike around a record list: checking the asked fields and sort
 * key, the keyset cursor (last sort value in API form + `_seq`, base64url), trimming a page
 * fetched with one row more than asked, and the last-write-wins fold of keyed records.
 */

/** The fields a list returns: all of the type's when none are named; an unknown one is a 400. */
export function checkFields(def: AnyRecordDef, fields: readonly string[] | undefined): string[] {
  const all = Object.keys(def.fields);
  if (!fields || fields.length === 0) return all;
  for (const f of fields) {
    if (!Object.hasOwn(def.fields, f)) {
      throw badRequest(`unknown field '${f}' in fields; ${def.type} fields are: ${all.join(', ')}`);
    }
  }
  return [...new Set(fields)];
}

/** The sort field of a list (the record's time by default); an unknown one is a 400. */
export function sortField(def: AnyRecordDef, sort: string | undefined): string {
  const s = sort ?? def.timeField;
  if (!Object.hasOwn(def.fields, s)) throw badRequest(`cannot sort by '${s}': not a field of ${def.type}`);
  return s;
}

/**
 * A page from rows fetched with `limit + 1` (each carrying the sort field and `_seq`): the extra
 * row says there is a next page, whose cursor is the last kept row's position.
 */
export function pageOf(rows: Rec[], limit: number, sort: string, fields: readonly string[]): Page {
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows[rows.length - 1];
  const next = more && last ? encodeCursor(last[sort], Number(last._seq)) : null;
  const keep = new Set(fields);
  return { items: rows.map((r) => pick(r, keep)), next };
}

/** Of several records with one key in a batch, the last wins (a keyed record is replaced). */
export function lastPerKey(records: readonly Rec[], key: string): Rec[] {
  const byKey = new Map<unknown, Rec>();
  for (const r of records) {
    const k = r[key];
    if (byKey.has(k)) byKey.delete(k);
    byKey.set(k, r);
  }
  return byKey.size === records.length ? (records as Rec[]) : [...byKey.values()];
}

function pick(r: Rec, keep: Set<string>): Rec {
  const o: Rec = {};
  for (const k of Object.keys(r)) if (keep.has(k)) o[k] = r[k];
  return o;
}

export function encodeCursor(v: unknown, seq: number): string {
  return Buffer.from(JSON.stringify([v ?? null, seq])).toString('base64url');
}

/** A cursor holds the last row's sort value in API form; it is coded again by the field's type. */
export function decodeCursor(s: string, type: string): [Coded | null, number] {
  const bad = () => badRequest('cursor is not valid: pass the `next` value of a previous page unchanged');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[1])) throw bad();
  const x = v[0] as unknown;
  if (x === null) return [null, v[1]];
  let coded: Coded | null = null;
  if (type === 'ip' && typeof x === 'string') coded = ipToBigint(x);
  else if (type === 'ts' && typeof x === 'string') {
    const us = isoToMicros(x);
    coded = Number.isNaN(us) ? null : us;
  } else if (type === 'mac' && typeof x === 'string') coded = macToNumber(x);
  else if ((type === 'int' || type === 'float') && typeof x === 'number') coded = x;
  else if (type === 'bool' && typeof x === 'boolean') coded = x;
  else if (typeof x === 'string' && !['ip', 'ts', 'mac', 'int', 'float', 'bool'].includes(type)) coded = x;
  if (coded === null) throw bad();
  return [coded, v[1]];
}
