import type { AnyRecordDef } from '../../schema/registry.js';
import type { Coded, Cond } from '../filter.js';
import { q } from './schema.js';

/** Bound parameters of one statement; SQL only ever references them by position. */
export class Params {
  readonly values: (string | number | boolean)[] = [];
  /** Add a coded value for a field type and return the SQL expression that reads it. */
  add(type: string, v: Coded): string {
    switch (type) {
      case 'ip':
        this.values.push(String(v));
        return `CAST($${this.values.length} AS UHUGEINT)`;
      case 'mac':
        this.values.push(String(v));
        return `CAST($${this.values.length} AS UBIGINT)`;
      case 'int':
        this.values.push(String(v));
        return `CAST($${this.values.length} AS BIGINT)`;
      case 'ts':
        this.values.push(String(Math.round(Number(v))));
        return `make_timestamp(CAST($${this.values.length} AS BIGINT))`;
      case 'float':
        this.values.push(Number(v));
        return `CAST($${this.values.length} AS DOUBLE)`;
      case 'bool':
        this.values.push(Boolean(v));
        return `CAST($${this.values.length} AS BOOLEAN)`;
      default:
        this.values.push(String(v));
        return `CAST($${this.values.length} AS VARCHAR)`;
    }
  }
}

/** Compile a bound filter to a SQL predicate (two-valued: a comparison with NULL is false). */
export function condSql(c: Cond, def: AnyRecordDef, p: Params): string {
  switch (c.kind) {
    case 'const':
      return c.value ? 'TRUE' : 'FALSE';
    case 'and':
    case 'or':
      return `(${c.items.map((i) => condSql(i, def, p)).join(c.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${condSql(c.item, def, p)})`;
    case 'null':
      return `(${col(c.field, def)} IS NULL)`;
    case 'cmp': {
      const t = def.fields[c.field]!.type;
      return `COALESCE(${col(c.field, def)} ${c.op} ${p.add(t, c.value)}, FALSE)`;
    }
    case 'range': {
      const t = def.fields[c.field]!.type;
      return `COALESCE(${col(c.field, def)} BETWEEN ${p.add(t, c.lo)} AND ${p.add(t, c.hi)}, FALSE)`;
    }
    case 'in': {
      const t = def.fields[c.field]!.type;
      return `COALESCE(${col(c.field, def)} IN (${c.values.map((v) => p.add(t, v)).join(', ')}), FALSE)`;
    }
    case 'contains': {
      const t = def.fields[c.field]!.type;
      if (t === 'int[]') {
        return `COALESCE(list_contains(CAST(json(${col(c.field, def)}) AS BIGINT[]), ${p.add('int', c.value)}), FALSE)`;
      }
      return `COALESCE(contains(lower(${col(c.field, def)}), lower(${p.add('string', c.value)})), FALSE)`;
    }
  }
}

/** A column reference; the name must be a registry field (checked, never user text). */
export function col(name: string, def: AnyRecordDef): string {
  if (!Object.hasOwn(def.fields, name) && name !== '_seq')
    throw new Error(`not a field of ${def.type}: ${name}`);
  return q(name);
}
