import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBType,
  TIMESTAMP,
  UBIGINT,
  UHUGEINT,
  VARCHAR,
} from '@duckdb/node-api';
import type { AnyRecordDef, FieldType } from '../../schema/registry.js';

/**
 * Registry → DuckDB columns. Lists and JSON are kept as JSON text (VARCHAR) so one fast
 * string path serves them and Parquet files stay plain. Each table also has `_seq`, the
 * store-wide append order, which makes paging cursors stable.
 */
export interface Column {
  name: string;
  type: FieldType;
  sqlType: string;
  duck: DuckDBType;
  nullable: boolean;
}

const SQL_TYPE: Record<FieldType, [string, DuckDBType]> = {
  string: ['VARCHAR', VARCHAR],
  ip: ['UHUGEINT', UHUGEINT],
  mac: ['UBIGINT', UBIGINT],
  int: ['BIGINT', BIGINT],
  float: ['DOUBLE', DOUBLE],
  bool: ['BOOLEAN', BOOLEAN],
  ts: ['TIMESTAMP', TIMESTAMP],
  'string[]': ['VARCHAR', VARCHAR],
  'int[]': ['VARCHAR', VARCHAR],
  json: ['VARCHAR', VARCHAR],
};

const NAME = /^[a-z_][a-z0-9_]*$/;

export function columnsOf(def: AnyRecordDef): Column[] {
  if (!NAME.test(def.type)) throw new Error(`record type '${def.type}' is not a valid table name`);
  return Object.entries(def.fields).map(([name, fd]) => {
    if (!NAME.test(name)) throw new Error(`field '${def.type}.${name}' is not a valid column name`);
    const [sqlType, duck] = SQL_TYPE[fd.type];
    return { name, type: fd.type, sqlType, duck, nullable: fd.nullable === true };
  });
}

export const liveTable = (def: AnyRecordDef): string => `live_${def.type}`;
export const q = (name: string): string => `"${name}"`;

export function createTableSql(def: AnyRecordDef): string {
  const cols = columnsOf(def).map((c) => `${q(c.name)} ${c.sqlType}`);
  return `CREATE TABLE IF NOT EXISTS ${liveTable(def)} (${cols.join(', ')}, _seq UBIGINT)`;
}

/**
 * Columns as written to Parquet: Parquet has no 128-bit integer (DuckDB would write a lossy
 * DOUBLE), so each address column is split into two UBIGINT halves.
 */
export function parquetSelect(def: AnyRecordDef): string {
  return columnsOf(def)
    .map((c) =>
      c.type === 'ip'
        ? `CAST(${q(c.name)} >> 64 AS UBIGINT) AS ${q(`${c.name}__hi`)}, CAST(${q(c.name)} & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS ${q(`${c.name}__lo`)}`
        : q(c.name),
    )
    .concat('_seq')
    .join(', ');
}

/** The inverse of parquetSelect: rebuild address columns when reading Parquet files. */
export function parquetRead(def: AnyRecordDef, present: Set<string>): string {
  return columnsOf(def)
    .map((c) =>
      !present.has(c.name)
        ? `CAST(NULL AS ${c.sqlType}) AS ${q(c.name)}`
        : c.type === 'ip'
          ? `CASE WHEN ${q(`${c.name}__hi`)} IS NULL THEN NULL ELSE (CAST(${q(`${c.name}__hi`)} AS UHUGEINT) << 64) | CAST(${q(`${c.name}__lo`)} AS UHUGEINT) END AS ${q(c.name)}`
          : `CAST(${q(c.name)} AS ${c.sqlType}) AS ${q(c.name)}`,
    )
    .concat('_seq')
    .join(', ');
}
