/**
 * Per-minute pre-aggregates for top-N over compacted partitions: for each rolled-up dimension
 * of a record type, one table of (partition path, minute, key) → flows, bytes, packets, written
 * in the compaction's transaction. A top-N then reads the rollup rows of the whole minutes of
 * its range, the live rows (bounded by the compaction threshold) and raw Parquet rows only in
 * the partial minutes at the edges, so its cost follows the number of distinct keys per
 * minute, not the table's rows. Flow stores do the same (nfdump's per-interval files,
 * ClickHouse SummingMergeTree rollups).
 */
import type { AnyRecordDef } from '../../schema/registry.js';
import { columnsOf, q } from './schema.js';

export const MINUTE_US = 60_000_000;
/**
 * Live rows summed into a live chunk once this many are new: a top-N reads at most about this
 * many raw live rows (plus those appended while a chunk is summed).
 */
export const LIVE_CHUNK_ROWS = 131_072;

/** The dimensions rolled up by default: the consoles' top-N panels. */
export const DEFAULT_TOP_ROLLUPS: Readonly<Record<string, readonly string[]>> = {
  flow: ['client_ip', 'server_ip', 'server_port', 'app'],
  exported_flow: ['src_ip', 'dst_ip', 'dst_port', 'proto'],
};

/**
 * How many flows a row of `def` stands for, as SQL (null: one). A metered flow a mirror kept 1
 * in N under overload stands for N flows like it (its own counts are exact), so sums of flows,
 * bytes and packets over flows weigh it N; a collected flow's `sampling_rate` is the exporter's
 * packet sampling, already applied to its counts.
 */
export function flowWeight(def: AnyRecordDef): string | null {
  return def.type === 'flow' && Object.hasOwn(def.fields, 'sampling_rate')
    ? `coalesce(${q('sampling_rate')}, 1)`
    : null;
}

/**
 * What a top-N sums per row of a type: bytes and packets of both directions, or of one, times
 * the row's weight; `flows` is the aggregate that counts rows by weight.
 */
export function topMeasures(def: AnyRecordDef): { flows: string; bytes: string; packets: string } {
  const has = (f: string): boolean => Object.hasOwn(def.fields, f);
  const two = (a: string, b: string): string | null =>
    has(a) && has(b) ? `coalesce(${q(a)}, 0) + coalesce(${q(b)}, 0)` : null;
  const one = (a: string): string | null => (has(a) ? `coalesce(${q(a)}, 0)` : null);
  const w = flowWeight(def);
  const weigh = (e: string): string => (w && e !== '0' ? `(${e}) * ${w}` : e);
  return {
    flows: w ? `sum(${w})` : 'count(*)',
    bytes: weigh(two('client_wire_bytes', 'server_wire_bytes') ?? one('bytes') ?? '0'),
    packets: weigh(two('client_packets', 'server_packets') ?? one('packets') ?? '0'),
  };
}

export const topRollupTable = (def: AnyRecordDef, dim: string): string => `_rtop_${def.type}__${dim}`;
/** The same sums over chunks of the live rows: (hi = the chunk's last `_seq`, day, minute, key). */
export const liveRollupTable = (def: AnyRecordDef, dim: string): string => `_rtop_live_${def.type}__${dim}`;

export function topRollupCreateSql(def: AnyRecordDef, dim: string): string[] {
  const c = columnsOf(def).find((x) => x.name === dim);
  if (!c) throw new Error(`not a field of ${def.type}: ${dim}`);
  const sums = `k ${c.sqlType}, flows BIGINT, bytes HUGEINT, packets HUGEINT`;
  return [
    `CREATE TABLE IF NOT EXISTS ${topRollupTable(def, dim)} (path VARCHAR, minute BIGINT, ${sums})`,
    `CREATE TABLE IF NOT EXISTS ${liveRollupTable(def, dim)} (hi BIGINT, d BIGINT, minute BIGINT, ${sums})`,
  ];
}

/**
 * Live chunk rows of the live rows with `_seq` in (lo, hi]. `dayExpr` is the compaction's day
 * of a row, so the chunk rows of the rows a compaction moves are exactly those of its day.
 * `src` is the live generations that hold those rows.
 */
export function liveRollupInsertSql(
  def: AnyRecordDef,
  dim: string,
  dayExpr: string,
  lo: number,
  hi: number,
  src: string,
): string {
  const m = topMeasures(def);
  return `INSERT INTO ${liveRollupTable(def, dim)} SELECT ${hi}, ${dayExpr} AS d, ${minuteOf(def)} AS m, ${q(dim)} AS k, ${m.flows}, sum(${m.bytes}), sum(${m.packets}) FROM ${src} WHERE _seq > ${lo} AND _seq <= ${hi} GROUP BY ALL`;
}

/** A compacted partition's rollup rows (path = $1) from the live chunk rows of its rows. */
export function topRollupFromLiveSql(def: AnyRecordDef, dim: string, day: number, hi: number): string {
  return `INSERT INTO ${topRollupTable(def, dim)} SELECT $1, minute, k, sum(flows), sum(bytes), sum(packets) FROM ${liveRollupTable(def, dim)} WHERE d = ${day} AND hi <= ${hi} GROUP BY ALL`;
}

/**
 * The floor minute of the time field (NULL for a NULL time). Floor, not DuckDB's truncating
 * `//`, so a time before 1970 falls in its own minute: then every row of a minute lies in
 * [minute, minute + 1 min), which is what the query's whole-minute selection relies on.
 */
export function minuteOf(def: AnyRecordDef): string {
  const e = `epoch_us(${q(def.timeField)})`;
  return `(${e} - (((${e} % ${MINUTE_US}) + ${MINUTE_US}) % ${MINUTE_US}))`;
}

/** Rollup rows (path = $1) of the rows of `src` matching `where`. */
export function topRollupInsertSql(def: AnyRecordDef, dim: string, src: string, where: string): string {
  const m = topMeasures(def);
  return `INSERT INTO ${topRollupTable(def, dim)} SELECT $1, ${minuteOf(def)} AS m, ${q(dim)} AS k, ${m.flows}, sum(${m.bytes}), sum(${m.packets}) FROM ${src} WHERE (${where}) GROUP BY ALL`;
}

/** The whole minutes [a, b) inside a range; undefined ends stay open. */
export function wholeMinutes(
  after: number | undefined,
  before: number | undefined,
): { a?: number; b?: number } {
  const out: { a?: number; b?: number } = {};
  if (after !== undefined) out.a = Math.ceil(after / MINUTE_US) * MINUTE_US;
  if (before !== undefined) out.b = Math.floor(before / MINUTE_US) * MINUTE_US;
  return out;
}

/**
 * The sums of every compacted partition per key (one row per key): what a top-N over an open
 * range reads instead of every minute of the history, so its cost follows the distinct keys,
 * not the hours stored. Kept in the transactions that add or drop a partition.
 */
export const topTotalTable = (def: AnyRecordDef, dim: string): string => `_rtop_all_${def.type}__${dim}`;

export function topTotalCreateSql(def: AnyRecordDef, dim: string): string {
  const c = columnsOf(def).find((x) => x.name === dim);
  if (!c) throw new Error(`not a field of ${def.type}: ${dim}`);
  return `CREATE TABLE IF NOT EXISTS ${topTotalTable(def, dim)} (k ${c.sqlType}, flows BIGINT, bytes HUGEINT, packets HUGEINT)`;
}

/** The totals summed again from every partition's rollup rows (at start, after a backfill). */
export function topTotalRebuildSql(def: AnyRecordDef, dim: string): string[] {
  const t = topTotalTable(def, dim);
  return [
    `DELETE FROM ${t}`,
    `INSERT INTO ${t} SELECT k, sum(flows), sum(bytes), sum(packets) FROM ${topRollupTable(def, dim)} GROUP BY k`,
  ];
}

/**
 * Add (`sign` 1) or take away (-1) one partition's rollup rows to the totals. The table is
 * rewritten whole, one row per key (a key whose flows reach 0 goes), through a temp table of
 * the connection: tens of thousands of rows per compaction, not an index kept on every key.
 */
export function topTotalMergeSql(def: AnyRecordDef, dim: string, path: string, sign: 1 | -1): string[] {
  const t = topTotalTable(def, dim);
  const next = `${t}__next`;
  const s = sign === 1 ? '' : '-';
  return [
    `CREATE TEMP TABLE ${next} AS SELECT k, sum(flows) AS flows, sum(bytes) AS bytes, sum(packets) AS packets FROM (SELECT k, flows, bytes, packets FROM ${t} UNION ALL SELECT k, ${s}flows, ${s}bytes, ${s}packets FROM ${topRollupTable(def, dim)} WHERE path = '${path.replaceAll("'", "''")}') GROUP BY k HAVING sum(flows) <> 0`,
    `DELETE FROM ${t}`,
    `INSERT INTO ${t} SELECT k, flows, bytes, packets FROM temp.main.${next}`,
    `DROP TABLE temp.main.${next}`,
  ];
}
