import type { AnyRecordDef, FieldType } from '../schema/registry.js';
import type { Coded, Cond } from './filter.js';
import { ipToBigint, isoToMicros, macToNumber } from './values.js';

/**
 * A bound filter evaluated on one record in memory, with exactly the answers of the store's
 * SQL (embedded/sql.ts condSql) on the same record: values are coded as the store writes them
 * (chunk-writer.ts), a comparison with a missing value is false, lists and JSON are matched as
 * their JSON text, `~` is a case-insensitive substring test. Used where records flow past
 * without a store (alert sinks, live subscriptions).
 */
export type Matcher = (rec: Record<string, unknown>) => boolean;

type Val = number | bigint | string | boolean | null;

/** The value a field would have in its store column (null when the store writes NULL). */
function coded(type: FieldType, x: unknown): Val {
  if (x === null || x === undefined) return null;
  switch (type) {
    case 'ip':
      return ipToBigint(String(x));
    case 'mac':
      return macToNumber(String(x));
    case 'int':
      return typeof x === 'number' && !Number.isNaN(x) ? Math.trunc(x) : null;
    case 'float':
      return typeof x === 'number' ? x : null;
    case 'bool':
      return Boolean(x);
    case 'ts': {
      const t = typeof x === 'string' ? isoToMicros(x) : typeof x === 'number' ? x * 1000 : Number.NaN;
      return Number.isNaN(t) ? null : Math.round(t);
    }
    case 'string[]':
    case 'int[]':
    case 'json':
      return JSON.stringify(x);
    default:
      return typeof x === 'string' ? x : String(x);
  }
}

/** A bound value in the column's type, as the SQL casts its parameter (sql.ts Params.add). */
function param(type: FieldType, v: Coded): Val {
  switch (type) {
    case 'ip':
      return BigInt(v as bigint);
    case 'mac':
    case 'int':
    case 'float':
      return Number(v);
    case 'ts':
      return Math.round(Number(v));
    case 'bool':
      return Boolean(v);
    default:
      return String(v);
  }
}

function compare(a: Val, op: string, b: Val): boolean {
  if (a === null || b === null) return false;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

/** Strings compare by UTF-8 bytes in the store; JS compares UTF-16 units, which differ above U+FFFF. */
function cmpStrings(a: string, op: string, b: string): boolean {
  if (op === '=' || op === '!=') return (a === b) === (op === '=');
  const c = Buffer.compare(Buffer.from(a), Buffer.from(b));
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
}

export function compileMatcher(cond: Cond | null, def: AnyRecordDef): Matcher {
  if (!cond) return () => true;
  const typeOf = (field: string): FieldType => {
    const fd = Object.hasOwn(def.fields, field) ? def.fields[field] : undefined;
    if (!fd) throw new Error(`not a field of ${def.type}: ${field}`);
    return fd.type;
  };
  const build = (c: Cond): Matcher => {
    switch (c.kind) {
      case 'const':
        return () => c.value;
      case 'and': {
        const items = c.items.map(build);
        return (r) => items.every((m) => m(r));
      }
      case 'or': {
        const items = c.items.map(build);
        return (r) => items.some((m) => m(r));
      }
      case 'not': {
        const m = build(c.item);
        return (r) => !m(r);
      }
      case 'null': {
        const t = typeOf(c.field);
        return (r) => coded(t, r[c.field]) === null;
      }
      case 'cmp': {
        const t = typeOf(c.field);
        const v = param(t, c.value);
        if (t === 'string' || t === 'string[]' || t === 'int[]' || t === 'json') {
          return (r) => {
            const a = coded(t, r[c.field]);
            return a !== null && cmpStrings(a as string, c.op, v as string);
          };
        }
        return (r) => compare(coded(t, r[c.field]), c.op, v);
      }
      case 'range': {
        const t = typeOf(c.field);
        const lo = param(t, c.lo);
        const hi = param(t, c.hi);
        return (r) => {
          const a = coded(t, r[c.field]);
          return compare(a, '>=', lo) && compare(a, '<=', hi);
        };
      }
      case 'in': {
        const t = typeOf(c.field);
        const vs = c.values.map((v) => param(t, v));
        return (r) => {
          const a = coded(t, r[c.field]);
          return a !== null && vs.some((v) => v === a);
        };
      }
      case 'contains': {
        const t = typeOf(c.field);
        if (t === 'int[]') {
          const want = Number(c.value);
          return (r) => {
            const x = r[c.field];
            return Array.isArray(x) && x.some((e) => typeof e === 'number' && Math.trunc(e) === want);
          };
        }
        const needle = c.value.toLowerCase();
        return (r) => {
          const a = coded(t, r[c.field]);
          return a !== null && String(a).toLowerCase().includes(needle);
        };
      }
    }
  };
  return build(cond);
}
