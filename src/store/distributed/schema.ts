import type { AnyRecordDef, FieldType } from '../../schema/registry.js';

/**
 * Registry → ClickHouse columns, in SQL both 18.16 and current servers accept. Addresses are
 * FixedString(16) holding the 128-bit coded value big-endian (values.ts), so byte order is
 * numeric order and a CIDR is a range; times are Int64 µs (18.16 has no DateTime64); lists
 * and JSON are JSON text. Every column is Nullable except the ones in the sorting key (the
 * time field and, for keyed records, the key), which current servers require non-Nullable.
 */
export interface ChColumn {
  name: string;
  type: FieldType;
  chType: string;
  nullable: boolean;
}

const CH_TYPE: Record<FieldType, string> = {
  string: 'String',
  ip: 'FixedString(16)',
  mac: 'UInt64',
  int: 'Int64',
  float: 'Float64',
  bool: 'UInt8',
  ts: 'Int64',
  'string[]': 'String',
  'int[]': 'String',
  json: 'String',
};

const NAME = /^[a-z_][a-z0-9_]*$/;

export function chColumns(def: AnyRecordDef): ChColumn[] {
  if (!NAME.test(def.type)) throw new Error(`record type '${def.type}' is not a valid table name`);
  return Object.entries(def.fields).map(([name, fd]) => {
    if (!NAME.test(name)) throw new Error(`field '${def.type}.${name}' is not a valid column name`);
    const nullable = name !== def.timeField && name !== def.key;
    const base = CH_TYPE[fd.type];
    return { name, type: fd.type, chType: nullable ? `Nullable(${base})` : base, nullable };
  });
}

/** Day partitions of the record's time, in UTC whatever the server's time zone. */
export const dayOf = (col: string): string => `toYYYYMMDD(toDateTime(intDiv(${col}, 1000000), 'UTC'))`;

export const localTable = (db: string, def: AnyRecordDef): string => `${db}.${def.type}_local`;

/**
 * The local (per-shard) table. Unkeyed records: MergeTree by day, ordered by time then append
 * sequence (range scans for the API's time windows, a stable paging order). Keyed records
 * (alerts): ReplacingMergeTree on the key with `_seq` as version, read with FINAL; not time
 * partitioned, since a replacement must land in the same partition as the row it replaces.
 */
export function createLocalSql(db: string, def: AnyRecordDef): string {
  const cols = chColumns(def).map((c) => `${c.name} ${c.chType}`);
  const t = def.timeField;
  const engine = def.key
    ? `ReplacingMergeTree(_seq) ORDER BY ${def.key}`
    : `MergeTree() PARTITION BY ${dayOf(t)} ORDER BY (${t}, _seq)`;
  return `CREATE TABLE IF NOT EXISTS ${localTable(db, def)} (${cols.join(', ')}, _seq UInt64) ENGINE = ${engine} SETTINGS index_granularity = 8192`;
}

export function createDistributedSql(db: string, def: AnyRecordDef, cluster: string): string {
  return `CREATE TABLE IF NOT EXISTS ${db}.${def.type} AS ${localTable(db, def)} ENGINE = Distributed(${cluster}, ${db}, ${def.type}_local)`;
}

/**
 * A flow's weight in sums over flows: a flow a mirror kept 1 in N under overload stands for N
 * (its own counts are exact). Means of per-flow times (RTT, SRT) are over the flows kept.
 */
export const FLOW_WEIGHT = 'ifNull(sampling_rate, 1)';

/** Per-minute flow sums kept by a materialized view on each shard: the KPI rollup. */
export const ROLLUP = 'flow_1m';
export const MINUTE_US = 60_000_000;

export function rollupSql(db: string, cluster: string | undefined): string[] {
  const out = [
    `CREATE TABLE IF NOT EXISTS ${db}.${ROLLUP}_local (minute Int64, flows UInt64, bytes Int64, packets Int64, rtt_sum Float64, rtt_n UInt64, srt_sum Float64, srt_n UInt64, retrans Int64) ENGINE = SummingMergeTree() PARTITION BY ${dayOf('minute')} ORDER BY minute`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ROLLUP}_mv TO ${db}.${ROLLUP}_local AS SELECT intDiv(first_ts, ${MINUTE_US}) * ${MINUTE_US} AS minute, toUInt64(sum(${FLOW_WEIGHT})) AS flows,
      sum((ifNull(client_wire_bytes, 0) + ifNull(server_wire_bytes, 0)) * ${FLOW_WEIGHT}) AS bytes,
      sum((ifNull(client_packets, 0) + ifNull(server_packets, 0)) * ${FLOW_WEIGHT}) AS packets,
      sum(ifNull(rtt_ms, 0)) AS rtt_sum, count(rtt_ms) AS rtt_n, sum(ifNull(srt_ms, 0)) AS srt_sum, count(srt_ms) AS srt_n,
      sum((ifNull(client_retransmissions, 0) + ifNull(server_retransmissions, 0)) * ${FLOW_WEIGHT}) AS retrans
      FROM ${db}.flow_local GROUP BY minute`,
  ];
  if (cluster)
    out.push(
      `CREATE TABLE IF NOT EXISTS ${db}.${ROLLUP} AS ${db}.${ROLLUP}_local ENGINE = Distributed(${cluster}, ${db}, ${ROLLUP}_local)`,
    );
  return out;
}

/** Fields the rollup reads; a registry without them gets no rollup. */
export const ROLLUP_FIELDS = [
  'first_ts',
  'client_wire_bytes',
  'server_wire_bytes',
  'client_packets',
  'server_packets',
  'rtt_ms',
  'srt_ms',
  'client_retransmissions',
  'server_retransmissions',
  'sampling_rate',
];

/**
 * Per-hour, per-address sums kept by materialized views for the top-N over long ranges: the
 * API's most asked rankings (servers and clients by bytes, packets or flows). An hour holds
 * one row per address seen in it, so a week of 100M flows over a few thousand servers ranks
 * from under a million rows. The address is stored non-Nullable with a null flag (a sorting
 * key cannot be Nullable on current servers).
 */
export const TOP_DIMS = ['server_ip', 'client_ip'] as const;
export const HOUR_US = 3_600_000_000;
export const topRollup = (dim: string): string => `flow_top_${dim}_1h`;

export function topRollupSql(db: string, cluster: string | undefined): string[] {
  const out: string[] = [];
  for (const dim of TOP_DIMS) {
    const t = topRollup(dim);
    out.push(
      `CREATE TABLE IF NOT EXISTS ${db}.${t}_local (hour Int64, kn UInt8, k FixedString(16), flows UInt64, bytes Int64, packets Int64) ENGINE = SummingMergeTree() PARTITION BY ${dayOf('hour')} ORDER BY (hour, kn, k)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${t}_mv TO ${db}.${t}_local AS ${topRollupSelect(db, dim)} GROUP BY hour, kn, k`,
    );
    if (cluster)
      out.push(
        `CREATE TABLE IF NOT EXISTS ${db}.${t} AS ${db}.${t}_local ENGINE = Distributed(${cluster}, ${db}, ${t}_local)`,
      );
  }
  return out;
}

/** The rollup's row for a batch of flows (also the backfill of a table made before the rollup). */
export function topRollupSelect(db: string, dim: string): string {
  // Floor, not truncation: a time before 1970 belongs to the hour that starts before it.
  // (`%` by a UInt32 constant gives Int32 on 18.16: it would wrap past 35 minutes.)
  return `SELECT intDiv(first_ts - if(first_ts < 0, ${HOUR_US - 1}, 0), ${HOUR_US}) * ${HOUR_US} AS hour, isNull(${dim}) AS kn, assumeNotNull(${dim}) AS k, toUInt64(sum(${FLOW_WEIGHT})) AS flows,
      sum((ifNull(client_wire_bytes, 0) + ifNull(server_wire_bytes, 0)) * ${FLOW_WEIGHT}) AS bytes,
      sum((ifNull(client_packets, 0) + ifNull(server_packets, 0)) * ${FLOW_WEIGHT}) AS packets
      FROM ${db}.flow_local`;
}
