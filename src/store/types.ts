import type { AnyRecordDef } from '../schema/registry.js';
import type { Cond } from './filter.js';

/**
 * The record store interface. The embedded (DuckDB) backend implements it now; a distributed
 * backend will later. Both must pass test/store/conformance.ts.
 *
 * Records go in and come out as plain objects in the registry's JSON form (addresses and MACs
 * as text, times as ISO-8601 UTC). Times in queries are microseconds since the epoch.
 */
export type Rec = { [k: string]: unknown };

export interface TimeRange {
  /** Inclusive lower bound, µs. */
  after?: number;
  /** Exclusive upper bound, µs. */
  before?: number;
}

export interface ListQuery extends TimeRange {
  type: string;
  filter?: Cond | null;
  limit: number;
  /** Sort field (default: the record's time field) and direction (default desc). */
  sort?: string;
  desc?: boolean;
  /** Fields to return (default all). */
  fields?: readonly string[];
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface Page {
  items: Rec[];
  /** Cursor of the next page, null on the last page. */
  next: string | null;
}

export type Metric = 'bps' | 'pps' | 'flows' | 'rtt_ms' | 'srt_ms' | 'retrans_rate';
export const METRICS: readonly Metric[] = ['bps', 'pps', 'flows', 'rtt_ms', 'srt_ms', 'retrans_rate'];

/** How a per-flow metric (rtt_ms, srt_ms) is summarised in a bucket: mean, a quantile or max. */
export type SeriesStat = 'mean' | 'p50' | 'p90' | 'p95' | 'p99' | 'max';
export const SERIES_STATS: readonly SeriesStat[] = ['mean', 'p50', 'p90', 'p95', 'p99', 'max'];
/** Metrics that are a value per flow, so a quantile of them means something. */
export const PER_FLOW_METRICS: readonly Metric[] = ['rtt_ms', 'srt_ms'];

export interface SeriesQuery extends TimeRange {
  metric: Metric;
  /** For rtt_ms and srt_ms: mean (default), a quantile or max. */
  stat?: SeriesStat;
  /** Bucket width, seconds. */
  step: number;
  groupBy?: string;
  /** Number of groups kept (the largest by total); the rest are summed into "other". */
  groups?: number;
  filter?: Cond | null;
}

export interface Series {
  metric: Metric;
  stat?: SeriesStat;
  step: number;
  unit: string;
  series: { group: string | null; points: [string, number | null][] }[];
}

export type TopBy = 'bytes' | 'packets' | 'flows';
export interface TopQuery extends TimeRange {
  type: string;
  by: TopBy;
  dim: string;
  limit: number;
  filter?: Cond | null;
}
export interface TopRow {
  key: string | number | boolean | null;
  bytes: number;
  packets: number;
  flows: number;
}

export interface StoreStats {
  /** Rows appended per record type since start. */
  appended: Record<string, number>;
  /** Batches acknowledged since start. */
  batches: number;
  /** Rows per record type, live and compacted. */
  rows: Record<string, number>;
  bytesOnDisk: number;
  partitions: number;
  droppedPartitions: number;
  /** Where queries spend their time (the embedded store): seconds summed over queries. */
  reads?: {
    queries: number;
    shared: number;
    waitSeconds: number;
    runSeconds: number;
    commits: number;
    commitSeconds: number;
    commitMaxSeconds: number;
    commitYieldSeconds: number;
    /** Column commits that went through the staging table (`stagedAppend`). */
    stagedCommits: number;
    /** Requests' time waiting for a computation an identical request started (single flight). */
    sharedWaitSeconds?: number;
    /** The main thread's time filling staged commits' temp tables (synchronous), and the longest. */
    stageSeconds?: number;
    stageMaxSeconds?: number;
    /** The delay of the thread that answers the API (event loop), over the store's life. */
    loopDelayP50Seconds?: number;
    loopDelayP99Seconds?: number;
    loopDelayMaxSeconds?: number;
  };
  /**
   * The store's own checkpoints (the embedded store): run, put off because queries still
   * needed older rows, failed; seconds in all and the longest.
   */
  checkpoints?: { runs: number; busy: number; failed: number; seconds: number; maxSeconds: number };
}

/**
 * A retro-hunt's question: rows of one type in a time range where one of `ipFields` holds a
 * hunted address or falls in a hunted network. A network is its prefix, `net` = address >>
 * `shift` in the 128-bit form of src/store/values.ts (an address is shift 0); shift < 128.
 */
export interface HuntQuery extends TimeRange {
  type: string;
  fields: readonly string[];
  ipFields: readonly string[];
  nets: readonly { shift: number; net: bigint }[];
}

export interface RecordStore {
  readonly backend: string;
  /** Record types this store knows (the registry's list). */
  readonly defs: readonly AnyRecordDef[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Append a batch of records of one type. When the promise resolves the batch is durable:
   * it survives a crash of the process. Unknown fields are ignored; missing ones are null.
   */
  append(type: string, records: readonly Rec[]): Promise<void>;
  /** One page of records, newest first unless asked otherwise. Unknown types give no rows. */
  list(q: ListQuery): Promise<Page>;
  /** Every matching record in order, delivered in chunks; resolves with the row count. */
  stream(
    q: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number },
    onRows: (rows: Rec[]) => Promise<void> | void,
  ): Promise<number>;
  /**
   * The rows a retro-hunt must look at, joined in the store against the hunted addresses and
   * networks (newest first, as `stream`). Stores without it are scanned with `stream`.
   */
  hunt?(q: HuntQuery, onRows: (rows: Rec[]) => Promise<void> | void): Promise<number>;
  /** Write matching records as a Parquet file (when the backend can). */
  exportParquet?(q: Omit<ListQuery, 'limit' | 'cursor'> & { limit?: number }, path: string): Promise<number>;
  count(type: string, q: TimeRange & { filter?: Cond | null }): Promise<number>;
  timeseries(q: SeriesQuery): Promise<Series>;
  top(q: TopQuery): Promise<TopRow[]>;
  /** Distinct values of a field with first/last time and count (host pages, MAC history). */
  distinct(
    type: string,
    field: string,
    q: TimeRange & { filter?: Cond | null; limit: number },
  ): Promise<{ value: unknown; first: string; last: string; count: number }[]>;
  /** Drop partitions past the retention limits; returns how many were dropped. */
  enforceRetention(): Promise<number>;
  stats(): Promise<StoreStats>;
}
