import type { Metric, SeriesStat } from '../store/types.js';

/** One KPI the exporters publish: a metric, optionally a quantile and a grouping. */
export interface KpiSpec {
  metric: Metric;
  /** For rtt_ms and srt_ms: mean (default) or a quantile. */
  stat?: SeriesStat;
  /** A flow field to group by (app, server_ip, vlan...); the largest `groups` are kept, the rest are "other". */
  groupBy?: string;
  groups?: number;
}

/** One value of one KPI series for one bucket, as every sink receives it. */
export interface KpiPoint {
  metric: Metric;
  stat: SeriesStat | null;
  groupBy: string | null;
  group: string | null;
  /** Start of the bucket, ms since the epoch. */
  tMs: number;
  value: number;
}

/**
 * A destination for KPI points (Prometheus remote write, InfluxDB...). `write` resolves once
 * the peer accepted the batch; it throws a SinkError telling whether a retry can help.
 */
export interface KpiSink {
  readonly kind: string;
  readonly name: string;
  start(): Promise<void>;
  write(points: readonly KpiPoint[]): Promise<void>;
  stop(): Promise<void>;
}

export class SinkError extends Error {
  constructor(
    message: string,
    /** False when the peer refused the data itself (a retry would be refused again). */
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/**
 * The Prometheus metric name of a KPI: base units in the name, as Prometheus' conventions ask
 * (bytes, not bits; seconds, not milliseconds). `promValue` converts the value to match.
 */
export function promName(metric: Metric): string {
  switch (metric) {
    case 'bps':
      return 'vantage_network_bytes_per_second';
    case 'pps':
      return 'vantage_network_packets_per_second';
    case 'flows':
      return 'vantage_network_flows_per_second';
    case 'rtt_ms':
      return 'vantage_network_rtt_seconds';
    case 'srt_ms':
      return 'vantage_network_srt_seconds';
    case 'retrans_rate':
      return 'vantage_network_retransmission_ratio';
  }
}

/** A KPI value in the base unit of its Prometheus name. */
export function promValue(metric: Metric, v: number): number {
  if (metric === 'bps') return v / 8;
  if (metric === 'rtt_ms' || metric === 'srt_ms') return v / 1000;
  return v;
}

/** Labels of a point, sorted by name (`__name__` not included). */
export function pointLabels(p: KpiPoint): [string, string][] {
  const out: [string, string][] = [];
  if (p.groupBy !== null) out.push([p.groupBy, p.group ?? 'none']);
  if (p.stat !== null) out.push(['stat', p.stat]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** A stable key of a point's series (metric, stat and labels), for the series limit. */
export function seriesKey(p: KpiPoint): string {
  return `${p.metric}|${p.stat ?? ''}|${p.groupBy ?? ''}|${p.group ?? ''}`;
}
