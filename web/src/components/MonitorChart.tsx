import { useMemo } from 'react';
import { qs, type Series } from '../api';
import { type RuleState, ruleFormat, ruleKpi, thresholdOf } from '../monitors';
import { useJson, useTime } from '../state';
import { stepParam } from '../time';
import { alignSeries, Chart } from './Chart';

/** One rule's KPI over the time picker's range, with its threshold drawn as a second line. */
export function MonitorChart({
  filter,
  rule,
  state,
  height = 140,
}: {
  filter: string;
  rule: string;
  state: RuleState | undefined;
  height?: number;
}) {
  const { resolved, tick } = useTime();
  const kpi = useMemo(() => ruleKpi(rule), [rule]);
  const q = useJson<Series>(
    kpi
      ? `/api/v1/kpis${qs({
          metric: kpi.metric,
          stat: kpi.stat,
          step: stepParam(resolved.step),
          after: resolved.after,
          before: resolved.before,
          filter,
        })}`
      : null,
    tick,
  );
  const threshold = thresholdOf(rule, state);
  const fmt = ruleFormat(rule);
  const fill = kpi && ['bps', 'pps', 'flows'].includes(kpi.metric) ? 0 : null;
  const aligned = useMemo(() => {
    if (!q.data) return null;
    const a = alignSeries(q.data, resolved.fromMs, resolved.toMs, fill);
    const label = kpi ? `${kpi.stat ? `${kpi.stat} ` : ''}${kpi.metric}` : 'value';
    const series = a.series.slice(0, 1).map((s) => ({ ...s, label }));
    if (threshold !== null) series.push({ label: 'threshold', values: a.xs.map(() => threshold) });
    return { xs: a.xs, series };
  }, [q.data, resolved.fromMs, resolved.toMs, fill, threshold, kpi]);
  const points = q.data?.series.reduce((n, s) => n + s.points.filter((p) => p[1] !== null).length, 0) ?? 0;
  if (!kpi) return <p className="error-text">This rule does not parse: {rule}</p>;
  return (
    <div
      data-testid="monitor-chart"
      data-rule={rule}
      data-points={points}
      data-threshold={threshold ?? ''}
      aria-busy={q.loading || undefined}
    >
      {q.error && <p className="error-text">{q.error}</p>}
      {aligned && points > 0 ? (
        <Chart
          xs={aligned.xs}
          series={aligned.series}
          format={fmt}
          height={height}
          label={`${rule}: ${points} buckets${threshold !== null ? `, threshold ${fmt(threshold)}` : ''}`}
        />
      ) : (
        <div className="chart-empty" style={{ height: height + 40 }}>
          {q.data ? 'No data in this time range.' : ''}
        </div>
      )}
    </div>
  );
}
