import { getJson, request } from '../api';
import { Panel } from '../components/Status';
import { bytes, int } from '../format';
import { useLoad, useTime } from '../state';
import { CentralSensors } from './CentralSensors';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  help: string;
}

/** Prometheus text exposition → samples (HELP kept for the table's explanations). */
export function parseMetrics(text: string): Sample[] {
  const help = new Map<string, string>();
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const i = rest.indexOf(' ');
      help.set(rest.slice(0, i), rest.slice(i + 1));
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const name = m[1]!;
    out.push({ name, labels, value: Number(m[4]), help: help.get(name) ?? '' });
  }
  return out;
}

/** The pipeline stage a metric belongs to: vantage_<stage>_… */
export function stageOf(name: string): string {
  const m = /^vantage_([a-z0-9]+)_/.exec(name);
  return m ? m[1]! : 'process';
}

const STAGE_TITLES: Record<string, string> = {
  ingest: 'Capture and decode (ingest)',
  capture: 'Capture',
  collect: 'Flow collector (NetFlow / IPFIX / sFlow)',
  pcap: 'Packet store',
  pcapstore: 'Packet store',
  store: 'Record store',
  api: 'API',
  telemetry: 'KPI exporters (Prometheus, InfluxDB)',
  lake: 'Data lake (Parquet)',
  snmp: 'SNMP polling of exporters and devices',
  process: 'Process',
};

interface Stats {
  rows: Record<string, number>;
  appended: Record<string, number>;
  batches: number;
  bytesOnDisk: number;
  partitions: number;
  droppedPartitions: number;
}

export function Sensors() {
  const { tick } = useTime();
  const metrics = useLoad(`m${tick}`, async (signal) =>
    parseMetrics(await (await request('/metrics', { signal })).text()),
  );
  const stats = useLoad(`s${tick}`, (signal) => getJson<Stats>('/api/v1/stats', signal));
  const stages = new Map<string, Sample[]>();
  for (const s of metrics.data ?? []) {
    const k = stageOf(s.name);
    stages.set(k, [...(stages.get(k) ?? []), s]);
  }
  return (
    <div className="page">
      <h1>Sensors</h1>
      <p className="muted">
        Counters of every stage of this sensor, from <code>/metrics</code>. Drops and errors are counted here,
        never lost silently.
      </p>
      <CentralSensors />
      <div className="grid g2">
        <Panel
          title="Record store"
          loading={stats.loading}
          error={stats.error}
          onRetry={stats.reload}
          testId="store-stats"
        >
          {stats.data && (
            <table className="kv">
              <tbody>
                <tr>
                  <th scope="row">On disk</th>
                  <td>{bytes(stats.data.bytesOnDisk)}</td>
                </tr>
                <tr>
                  <th scope="row">Batches since start</th>
                  <td>{int(stats.data.batches)}</td>
                </tr>
                <tr>
                  <th scope="row">Partitions (dropped by retention)</th>
                  <td>
                    {int(stats.data.partitions)} ({int(stats.data.droppedPartitions)})
                  </td>
                </tr>
                {Object.entries(stats.data.rows).map(([t, n]) => (
                  <tr key={t}>
                    <th scope="row">{t} rows</th>
                    <td>{int(n)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
        {[...stages.entries()].map(([stage, samples]) => (
          <Panel
            key={stage}
            title={STAGE_TITLES[stage] ?? stage}
            loading={metrics.loading}
            testId={`stage-${stage}`}
          >
            <table className="kv">
              <tbody>
                {samples.map((s) => {
                  const l = Object.entries(s.labels)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ');
                  return (
                    <tr key={s.name + l}>
                      <th scope="row" title={s.help}>
                        {s.name.replace(/^vantage_/, '')}
                        {l && <span className="muted"> {l}</span>}
                      </th>
                      <td>{int(s.value)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </Panel>
        ))}
      </div>
      {metrics.error && <p className="error">{metrics.error}</p>}
    </div>
  );
}
