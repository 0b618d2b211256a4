import './allocator.js';
import type { AnyRecordDef, FieldType } from '../../schema/registry.js';
import { BIGINT, BOOLEAN, DOUBLE, type DuckDBType, TIMESTAMP, UBIGINT, UHUGEINT, VARCHAR } from './duckdb.js';

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
/**
 * A live generation's table: generation 0 is `live_<type>` (the only one of a keyed type, and
 * the table of stores made before generations), generation N `live_<type>__N`.
 */
export const liveGenTable = (def: AnyRecordDef, gen: number): string =>
  gen === 0 ? liveTable(def) : `${liveTable(def)}__${gen}`;
export const q = (name: string): string => `"${name}"`;

export function createTableSql(def: AnyRecordDef, table = liveTable(def)): string {
  const cols = columnsOf(def).map((c) => `${q(c.name)} ${c.sqlType}`);
  return `CREATE TABLE IF NOT EXISTS ${table} (${cols.join(', ')}, _seq UBIGINT)`;
}

/**
 * Parquet file formats. 1: every field as its own column (addresses split in two halves).
 * 2 (written now): PARQUET_VERSION V2 encodings (delta-coded integers and times), and floats
 * that are whole thousandths (the ms fields, which the sensor derives from µs) stored as
 * integers (`f__k`, delta/bit-packed) with the rare other values in `f__x`; fields with a
 * DERIVED expression are only stored where they differ from it (`f__x`, `f__n` marks NULL).
 * Reading computes exactly the expression the writer checked, so every value round-trips.
 */
export const PARQUET_FORMAT = 2;
export const PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2';

/**
 * Rows per Parquet row group a compaction writes. DuckDB's writer holds a whole row group
 * uncompressed (COLUMN_DATA) and its encoded pages (ALLOCATOR) until it is flushed, inside
 * memory_limit: at 122,880 collected-flow rows that was ~68 MB of each, the largest part of
 * DuckDB's pool at the 400k records/s peak.
 */
export const PARQUET_ROW_GROUP_ROWS = 30_720;

export function parquetOptions(rowGroupRows = PARQUET_ROW_GROUP_ROWS): string {
  return `${PARQUET_OPTIONS}, ROW_GROUP_SIZE ${rowGroupRows}`;
}

const THOUSAND = 'CAST(1000 AS DOUBLE)';
/** Fields computed from other stored fields, per record type. */
const DERIVED: Record<string, Record<string, string>> = {
  flow: {
    duration_ms: `CAST(epoch_us("last_ts") - epoch_us("first_ts") AS DOUBLE) / ${THOUSAND}`,
  },
};

function derivedOf(def: AnyRecordDef, c: Column): string | undefined {
  const d = DERIVED[def.type]?.[c.name];
  // Only when the inputs are fields of the record (a registry change must not break reads).
  return d && [...d.matchAll(/"([a-z_0-9]+)"/g)].every((m) => Object.hasOwn(def.fields, m[1]!))
    ? d
    : undefined;
}

/**
 * Columns as written to Parquet: Parquet has no 128-bit integer (DuckDB would write a lossy
 * DOUBLE), so each address column is split into two UBIGINT halves.
 */
export function parquetSelect(def: AnyRecordDef): string {
  return columnsOf(def)
    .map((c) => {
      const n = q(c.name);
      if (c.type === 'ip')
        return `CAST(${n} >> 64 AS UBIGINT) AS ${q(`${c.name}__hi`)}, CAST(${n} & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS ${q(`${c.name}__lo`)}`;
      const d = derivedOf(def, c);
      if (d)
        return `CASE WHEN ${n} IS NOT DISTINCT FROM ${d} THEN NULL ELSE ${n} END AS ${q(`${c.name}__x`)}, CASE WHEN ${n} IS NULL AND ${d} IS NOT NULL THEN TRUE END AS ${q(`${c.name}__n`)}`;
      if (c.type === 'float') {
        const k = `TRY_CAST(round(${n} * 1000) AS BIGINT)`;
        const exact = `COALESCE(CAST(${k} AS DOUBLE) / ${THOUSAND} = ${n}, FALSE)`;
        return `CASE WHEN ${exact} THEN ${k} END AS ${q(`${c.name}__k`)}, CASE WHEN NOT ${exact} THEN ${n} END AS ${q(`${c.name}__x`)}`;
      }
      return n;
    })
    .concat('_seq')
    .join(', ');
}

/** The inverse of parquetSelect: rebuild fields when reading Parquet files of a format. */
export function parquetRead(
  def: AnyRecordDef,
  present: ReadonlySet<string>,
  format = PARQUET_FORMAT,
): string {
  return columnsOf(def)
    .map((c) => {
      const n = q(c.name);
      if (!present.has(c.name)) return `CAST(NULL AS ${c.sqlType}) AS ${n}`;
      if (c.type === 'ip') {
        const hi = q(`${c.name}__hi`);
        return `CASE WHEN ${hi} IS NULL THEN NULL ELSE (CAST(${hi} AS UHUGEINT) << 64) | CAST(${q(`${c.name}__lo`)} AS UHUGEINT) END AS ${n}`;
      }
      if (format >= 2) {
        const d = derivedOf(def, c);
        const x = q(`${c.name}__x`);
        if (d)
          return `CASE WHEN ${q(`${c.name}__n`)} THEN NULL WHEN ${x} IS NOT NULL THEN ${x} ELSE ${d} END AS ${n}`;
        if (c.type === 'float')
          return `COALESCE(CAST(${q(`${c.name}__k`)} AS DOUBLE) / ${THOUSAND}, ${x}) AS ${n}`;
      }
      return `CAST(${n} AS ${c.sqlType}) AS ${n}`;
    })
    .concat('_seq')
    .join(', ');
}
