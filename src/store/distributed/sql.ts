import { badRequest } from '../../common/errors.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import type { Coded, Cond } from '../filter.js';

/**
 * Filter → ClickHouse predicate. 18.16 has no query parameters over HTTP, so values are
 * written as literals; every value comes coded from the filter parser and is re-checked here
 * (numbers finite, strings quoted with every special character escaped), and column names
 * come from the registry only. Two-valued like the embedded store: a comparison with NULL is
 * false, also under NOT (ifNull(…, 0)).
 */
export function lit(type: string, v: Coded): string {
  switch (type) {
    case 'ip': {
      const b = typeof v === 'bigint' ? v : BigInt(String(v));
      if (b < 0n || b >> 128n !== 0n) throw badRequest('address out of range');
      return `toFixedString(unhex('${b.toString(16).padStart(32, '0')}'), 16)`;
    }
    case 'mac':
    case 'int':
    case 'ts': {
      const n = typeof v === 'bigint' ? v : BigInt(Math.round(Number(v)));
      return n.toString();
    }
    case 'float': {
      const n = Number(v);
      if (!Number.isFinite(n)) throw badRequest('not a finite number');
      return `toFloat64(${n.toString()})`;
    }
    case 'bool':
      return v ? '1' : '0';
    default:
      return str(String(v));
  }
}

export function str(s: string): string {
  return `'${s.replace(/[\\'\0\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!)}'`;
}

/** A column reference; the name must be a registry field (checked, never user text). */
export function col(name: string, def: AnyRecordDef): string {
  if (!Object.hasOwn(def.fields, name) && name !== '_seq')
    throw new Error(`not a field of ${def.type}: ${name}`);
  return name;
}

export function condSql(c: Cond, def: AnyRecordDef): string {
  switch (c.kind) {
    case 'const':
      return c.value ? '1' : '0';
    case 'and':
    case 'or':
      return `(${c.items.map((i) => condSql(i, def)).join(c.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${condSql(c.item, def)})`;
    case 'null':
      return `isNull(${col(c.field, def)})`;
    case 'cmp': {
      const t = def.fields[c.field]!.type;
      return `ifNull(${col(c.field, def)} ${c.op} ${lit(t, c.value)}, 0)`;
    }
    case 'range': {
      const t = def.fields[c.field]!.type;
      const f = col(c.field, def);
      return `ifNull(${f} >= ${lit(t, c.lo)} AND ${f} <= ${lit(t, c.hi)}, 0)`;
    }
    case 'in': {
      const t = def.fields[c.field]!.type;
      return `ifNull(${col(c.field, def)} IN (${c.values.map((v) => lit(t, v)).join(', ')}), 0)`;
    }
    case 'contains': {
      const t = def.fields[c.field]!.type;
      if (t === 'int[]') {
        // Lists are stored as compact JSON text ("[1,2,3]"): an element is delimited by [ , ].
        const n = lit('int', Number(c.value));
        return `ifNull(match(${col(c.field, def)}, '[\\\\[,]${n}[,\\\\]]'), 0)`;
      }
      return `ifNull(position(lowerUTF8(${col(c.field, def)}), lowerUTF8(${str(c.value)})) > 0, 0)`;
    }
  }
}
