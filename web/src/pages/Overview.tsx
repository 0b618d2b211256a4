import { useMemo } from 'react';
import { getJson, qs, request, type TopItem } from '../api';
import { BarList, type TopBy } from '../components/BarList';
import { alignSeries, Chart } from '../components/Chart';
import { OpenAlerts } from '../components/OpenAlerts';
import { Panel } from '../components/Status';
import { bytes, countryName, int, ms, pct, si } from '../format';
import { keyFilter, useKpi, useTop, useTotals } from '../queries';
import { href } from '../router';
import { useLoad, useTime } from '../state';
import { parseMetrics } from './Sensors';

export const METRIC_INFO: Record<
  string,
  { title: string; format: (v: number | null) => string; fill: 0 | null }
> = {
  bps: { title: 'Traffic (bits/s)', format: (v) => si(v, 'b/s'), fill: 0 },
  pps: { title: 'Packets/s', format: (v) => si(v, 'p/s'), fill: 0 },
  flows: { title: 'New flows/s', format: (v) => si(v, '/s'), fill: 0 },
  rtt_ms: { title: 'Handshake RTT (mean)', format: ms, fill: null },
  srt_ms: { title: 'Server response time (mean)', format: ms, fill: null },
  retrans_rate: { title: 'Retransmission rate', format: pct, fill: null },
};

/** One KPI over time, with drag-to-zoom onto the shared time range. */
export function KpiChart({
  metric,
  filter = '',
  groupBy = '',
  title,
  height = 160,
}: {
  metric: string;
  filter?: string;
  groupBy?: string;
  title?: string;
  height?: number;
}) {
  const t = useTime();
  const q = useKpi(metric, filter, groupBy);
  const info = METRIC_INFO[metric] ?? { title: metric, format: (v: number | null) => si(v), fill: null };
  const aligned = useMemo(
    () => (q.data ? alignSeries(q.data, t.resolved.fromMs, t.resolved.toMs, info.fill) : null),
    [q.data, t.resolved.fromMs, t.resolved.toMs, info.fill],
  );
  const points = q.data?.series.reduce((a, s) => a + s.points.filter((p) => p[1] !== null).length, 0) ?? 0;
  const sum = q.data?.series.reduce((a, s) => a + s.points.reduce((b, p) => b + (p[1] ?? 0), 0), 0) ?? 0;
  return (
    <Panel
      title={title ?? info.title}
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId={`kpi-${metric}`}
      className="chart-panel"
    >
      <div data-points={points} data-sum={sum} data-testid={`kpi-${metric}-data`}>
        {aligned && points > 0 ? (
          <Chart
            xs={aligned.xs}
            series={aligned.series}
            format={info.format}
            height={height}
            label={`${title ?? info.title}: ${points} buckets`}
            onZoom={(a, b) => t.setSpec({ from: a, to: b })}
          />
        ) : (
          <div className="chart-empty" style={{ height: height + 40 }}>
            {q.data ? 'No data in this time range.' : ''}
          </div>
        )}
      </div>
    </Panel>
  );
}

/** A top-N of flows as bars linking to the flows under each bar. */
export function TopPanel({
  dim,
  title,
  by = 'bytes',
  filter = '',
  limit = 10,
  type = 'flow',
  keyLabel,
  testId,
}: {
  dim: string;
  title: string;
  by?: TopBy;
  filter?: string;
  limit?: number;
  type?: string;
  keyLabel?: (k: TopItem['key']) => string;
  testId?: string;
}) {
  const q = useTop(dim, by, filter, limit, type);
  return (
    <Panel
      title={title}
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId={testId}
      className="top-panel"
    >
      {q.data && (
        <BarList
          items={q.data.items}
          by={by}
          label={title}
          {...(keyLabel ? { keyLabel } : {})}
          hrefFor={(it) =>
            href(`/records/${type}`, {
              filter: [filter && `(${filter})`, keyFilter(dim, it.key)].filter(Boolean).join(' and '),
            })
          }
        />
      )}
    </Panel>
  );
}

function Countries() {
  const { resolved, tick } = useTime();
  const q = useLoad(`geo${resolved.after}${resolved.before}${tick}`, (signal) =>
    getJson<{
      items: { country: string; bytes: number; packets: number; flows: number }[];
      source: string | null;
    }>(`/api/v1/geo/countries${qs({ after: resolved.after, before: resolved.before, limit: 10 })}`, signal),
  );
  return (
    <Panel
      title="Top countries"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="top-countries"
    >
      {q.data && (
        <>
          <BarList
            items={q.data.items.map((c) => ({
              key: c.country,
              bytes: c.bytes,
              packets: c.packets,
              flows: c.flows,
            }))}
            by="bytes"
            label="Top countries"
            keyLabel={(k) => `${countryName(k as string)}${k && k !== 'ZZ' ? ` (${k})` : ''}`}
          />
          <p className="hint">
            {q.data.source
              ? `GeoIP: ${q.data.source}. A flow counts for the country of each end.`
              : 'No GeoIP database is installed: every country is "unknown".'}
          </p>
        </>
      )}
    </Panel>
  );
}

function SensorHealth() {
  const { tick } = useTime();
  const q = useLoad(`metrics${tick}`, async (signal) =>
    parseMetrics(await (await request('/metrics', { signal })).text()),
  );
  const m = q.data;
  const v = (name: string) => m?.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  return (
    <Panel
      title="Sensor and collector health"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="health"
    >
      <dl className="stats">
        <div>
          <dt>Packets read</dt>
          <dd>{int(v('vantage_ingest_packets_total'))}</dd>
        </div>
        <div>
          <dt>Malformed (weird)</dt>
          <dd>{int(v('vantage_ingest_weird_total'))}</dd>
        </div>
        <div>
          <dt>Damaged files</dt>
          <dd>{int(v('vantage_ingest_errors_total'))}</dd>
        </div>
        <div>
          <dt>Stored on disk</dt>
          <dd>{bytes(v('vantage_store_bytes'))}</dd>
        </div>
      </dl>
      <a href={href('/sensors')}>All counters per stage →</a>
    </Panel>
  );
}

export function Overview() {
  const totals = useTotals();
  const t = useTime();
  return (
    <div className="page">
      <h1>
        Overview <span className="muted small">{t.resolved.label}</span>
      </h1>
      <section
        className="tiles"
        aria-label="Totals in the time range"
        aria-busy={totals.loading || undefined}
      >
        <div className="tile" data-testid="total-flows" data-value={totals.totals?.flows ?? ''}>
          <span className="tile-label">Flows</span>
          <span className="tile-value">{totals.totals ? int(totals.totals.flows) : '…'}</span>
        </div>
        <div className="tile" data-testid="total-bytes" data-value={totals.totals?.bytes ?? ''}>
          <span className="tile-label">Bytes</span>
          <span className="tile-value">{totals.totals ? bytes(totals.totals.bytes) : '…'}</span>
        </div>
        <div className="tile" data-testid="total-packets" data-value={totals.totals?.packets ?? ''}>
          <span className="tile-label">Packets</span>
          <span className="tile-value">{totals.totals ? int(totals.totals.packets) : '…'}</span>
        </div>
      </section>
      {totals.error && <p className="error">{totals.error}</p>}
      <h2 className="section">Traffic</h2>
      <div className="grid g3">
        <KpiChart metric="bps" />
        <KpiChart metric="pps" />
        <KpiChart metric="flows" />
      </div>
      <h2 className="section">Top</h2>
      <div className="grid g3">
        <TopPanel dim="client_ip" title="Top talkers (clients)" testId="top-talkers" />
        <TopPanel dim="server_ip" title="Top servers" testId="top-servers" />
        <TopPanel dim="app" title="Top applications" testId="top-apps" />
        <TopPanel dim="server_port" title="Top server ports" testId="top-ports" by="flows" />
        <Countries />
        <SensorHealth />
        <OpenAlerts />
      </div>
      <h2 className="section">TCP health</h2>
      <div className="grid g3">
        <KpiChart metric="rtt_ms" />
        <KpiChart metric="srt_ms" />
        <KpiChart metric="retrans_rate" />
      </div>
    </div>
  );
}
