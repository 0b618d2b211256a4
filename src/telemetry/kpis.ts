import type { RecordStore, SeriesQuery } from '../store/types.js';
import { isoToMicros } from '../store/values.js';
import type { KpiPoint, KpiSpec } from './types.js';

/** What the exporters publish when the config names nothing: totals, per application, latency quantiles. */
export const DEFAULT_KPIS: readonly KpiSpec[] = [
  { metric: 'bps' },
  { metric: 'pps' },
  { metric: 'flows' },
  { metric: 'retrans_rate' },
  { metric: 'rtt_ms' },
  { metric: 'rtt_ms', stat: 'p95' },
  { metric: 'rtt_ms', stat: 'p99' },
  { metric: 'srt_ms', stat: 'p95' },
  { metric: 'bps', groupBy: 'app', groups: 20 },
  { metric: 'flows', groupBy: 'app', groups: 20 },
  { metric: 'srt_ms', stat: 'p95', groupBy: 'app', groups: 20 },
  { metric: 'bps', groupBy: 'vlan', groups: 20 },
];

/**
 * The KPI points of one window [afterMs, beforeMs), bucketed by `stepS`, read from the store
 * exactly as `/api/v1/kpis` reads them (same query, same grouping), so what a Prometheus or
 * InfluxDB user sees equals what the console shows. Buckets without traffic give no point
 * for ratio metrics and 0 for rates, as the API does.
 */
export async function kpiPoints(
  store: RecordStore,
  specs: readonly KpiSpec[],
  afterMs: number,
  beforeMs: number,
  stepS: number,
): Promise<KpiPoint[]> {
  const out: KpiPoint[] = [];
  for (const spec of specs) {
    const q: SeriesQuery = {
      metric: spec.metric,
      step: stepS,
      after: afterMs * 1000,
      before: beforeMs * 1000,
    };
    if (spec.stat) q.stat = spec.stat;
    if (spec.groupBy) {
      q.groupBy = spec.groupBy;
      q.groups = spec.groups ?? 10;
    }
    const s = await store.timeseries(q);
    for (const series of s.series) {
      for (const [iso, value] of series.points) {
        if (value === null) continue;
        out.push({
          metric: spec.metric,
          stat: spec.stat && spec.stat !== 'mean' ? spec.stat : null,
          groupBy: spec.groupBy ?? null,
          group: spec.groupBy ? (series.group === null ? 'none' : String(series.group)) : null,
          tMs: Math.floor(isoToMicros(iso) / 1000),
          value,
        });
      }
    }
  }
  return out;
}
