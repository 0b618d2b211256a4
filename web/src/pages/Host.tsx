import { qs, type TopItem } from '../api';
import { AlertTable } from '../components/AlertTable';
import { BarList } from '../components/BarList';
import { type HostName, HostNamesView, type HostOs, HostOsView } from '../components/HostProfile';
import { IntelHits } from '../components/IntelHits';
import { RecordTable } from '../components/RecordTable';
import { ErrorBox, Panel } from '../components/Status';
import { bytes, countryName, int, ms, time } from '../format';
import { hostSightingsFilter } from '../intel';
import { hostFilter } from '../queries';
import { href } from '../router';
import { useJson, useSession, useTime } from '../state';
import { KpiChart } from './Overview';

interface HostAnswer {
  ip: string;
  flows?: number;
  first_seen?: string | null;
  last_seen?: string | null;
  traffic?: { as_client: TopItem; as_server: TopItem };
  rtt_ms?: number | null;
  macs?: { mac: string; first: string; last: string; flows: number }[];
  users?: { user: string; first: string; last: string; events: number }[];
  peers?: { servers: TopItem[]; clients: TopItem[] };
  apps?: TopItem[];
  server_ports?: TopItem[];
  vendor: string | null;
  os?: HostOs | null;
  host_names?: HostName[];
  names: string[];
  related: Record<string, Record<string, unknown>[]>;
}

/** Peers around the host, sized by bytes: servers it talked to on the right, clients on the left. */
function PeersGraph({ ip, peers }: { ip: string; peers: { servers: TopItem[]; clients: TopItem[] } }) {
  const W = 640;
  const H = 260;
  const all = [
    ...peers.clients.map((p) => ({ ...p, side: -1 })),
    ...peers.servers.map((p) => ({ ...p, side: 1 })),
  ];
  if (all.length === 0) return <p className="empty">No peers in this time range.</p>;
  const max = Math.max(...all.map((p) => p.bytes), 1);
  const place = (list: TopItem[], side: number) =>
    list.map((p, i) => ({ p, x: W / 2 + side * 150, y: ((i + 1) * H) / (list.length + 1), side }));
  const nodes = [...place(peers.clients, -1), ...place(peers.servers, 1)];
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="peers" role="img" aria-label={`Peers of ${ip}: ${all.length}`}>
      {nodes.map(({ p, x, y }) => (
        <line
          key={`l${String(p.key)}${x}`}
          x1={W / 2}
          y1={H / 2}
          x2={x}
          y2={y}
          className="edge"
          strokeWidth={1 + (5 * p.bytes) / max}
        />
      ))}
      <circle cx={W / 2} cy={H / 2} r={10} className="node self" />
      <text x={W / 2} y={H / 2 + 26} textAnchor="middle" className="label">
        {ip}
      </text>
      {nodes.map(({ p, x, y, side }) => (
        <a key={`n${String(p.key)}${x}`} href={href(`/host/${encodeURIComponent(String(p.key))}`)}>
          <title>{`${String(p.key)}: ${bytes(p.bytes)} in ${p.flows} flows`}</title>
          <circle cx={x} cy={y} r={6} className="node" />
          <text x={x + side * 10} y={y + 4} textAnchor={side > 0 ? 'start' : 'end'} className="label">
            {String(p.key)}
          </text>
        </a>
      ))}
      <text x={8} y={14} className="label muted">
        clients of it
      </text>
      <text x={W - 8} y={14} textAnchor="end" className="label muted">
        servers it used
      </text>
    </svg>
  );
}

export function HostPage({ ip }: { ip: string }) {
  const { resolved, tick } = useTime();
  const { types } = useSession();
  const q = useJson<HostAnswer>(
    `/api/v1/hosts/${encodeURIComponent(ip)}${qs({ after: resolved.after, before: resolved.before })}`,
    tick,
  );
  const geo = useJson<{ country: string | null; source: string | null }>(
    `/api/v1/geo/ip/${encodeURIComponent(ip)}`,
  );
  const flow = types.find((t) => t.type === 'flow');
  const h = q.data;
  return (
    <div className="page">
      <h1>
        Host <span data-testid="host-ip">{ip}</span>
      </h1>
      <ErrorBox error={q.error} onRetry={q.reload} />
      <section className="tiles" aria-label="Summary" aria-busy={q.loading || undefined}>
        <div className="tile" data-testid="host-flows" data-value={h?.flows ?? ''}>
          <span className="tile-label">Flows</span>
          <span className="tile-value">{h ? int(h.flows) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Sent as client</span>
          <span className="tile-value">{h?.traffic ? bytes(h.traffic.as_client.bytes) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Served</span>
          <span className="tile-value">{h?.traffic ? bytes(h.traffic.as_server.bytes) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Mean RTT</span>
          <span className="tile-value">{h ? ms(h.rtt_ms) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Country</span>
          <span className="tile-value small">{geo.data ? countryName(geo.data.country) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Vendor</span>
          <span className="tile-value small">{h ? (h.vendor ?? 'unknown') : '…'}</span>
        </div>
        <div className="tile" data-testid="host-os-tile" data-value={h?.os?.name ?? ''}>
          <span className="tile-label">Operating system</span>
          <span className="tile-value small">{h ? (h.os?.name ?? 'unknown') : '…'}</span>
        </div>
      </section>
      <p className="muted">
        First seen {time(h?.first_seen)} · last seen {time(h?.last_seen)}
      </p>
      <Panel title="Operating system" loading={q.loading} testId="host-os">
        {h && <HostOsView os={h.os ?? null} />}
      </Panel>
      <div className="grid g2">
        <KpiChart metric="bps" filter={hostFilter(ip)} title="Traffic of this host" />
        <KpiChart metric="rtt_ms" filter={hostFilter(ip)} title="Handshake RTT of its flows" />
        <Panel title="Peers" loading={q.loading}>
          {h?.peers && <PeersGraph ip={ip} peers={h.peers} />}
        </Panel>
        <Panel title="Host names (DHCP, mDNS, NetBIOS, DNS PTR)" loading={q.loading} testId="host-names">
          {h && <HostNamesView names={h.host_names ?? []} />}
        </Panel>
        <Panel title="Names in records (DNS, DHCP, SNI)" loading={q.loading}>
          {h &&
            (h.names.length ? (
              <ul className="chips">
                {h.names.map((n) => (
                  <li key={n}>{n}</li>
                ))}
              </ul>
            ) : (
              <p className="empty">No names seen.</p>
            ))}
        </Panel>
        <Panel title="MAC history" loading={q.loading}>
          {h?.macs && (
            <table className="kv">
              <thead>
                <tr>
                  <th scope="col">MAC</th>
                  <th scope="col">First</th>
                  <th scope="col">Last</th>
                  <th scope="col">Flows</th>
                </tr>
              </thead>
              <tbody>
                {h.macs.map((m) => (
                  <tr key={m.mac}>
                    <td>{m.mac}</td>
                    <td>{time(m.first)}</td>
                    <td>{time(m.last)}</td>
                    <td className="num">{int(m.flows)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
        <Panel title="Users (identity)" loading={q.loading} testId="host-users">
          {h?.users && h.users.length > 0 ? (
            <table className="kv">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">First</th>
                  <th scope="col">Last</th>
                  <th scope="col">Events</th>
                </tr>
              </thead>
              <tbody>
                {h.users.map((u) => (
                  <tr key={u.user}>
                    <td>{u.user}</td>
                    <td>{time(u.first)}</td>
                    <td>{time(u.last)}</td>
                    <td className="num">{int(u.events)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="empty">No logons seen (RADIUS accounting, Windows logons, VPN logs).</p>
          )}
        </Panel>
        <Panel title="Applications" loading={q.loading}>
          {h?.apps && <BarList items={h.apps} by="bytes" label="Applications" />}
        </Panel>
        <Panel title="Ports it serves" loading={q.loading}>
          {h?.server_ports && <BarList items={h.server_ports} by="flows" label="Ports it serves" />}
        </Panel>
      </div>
      <Panel title="Alerts naming this host" testId="host-alerts">
        <AlertTable
          filter={`src_ip = ${ip} or dst_ip = ${ip}`}
          pageSize={10}
          testId="host-alerts-table"
          compact
        />
      </Panel>
      <IntelHits
        sightingFilter={hostSightingsFilter(ip)}
        alertFilter={`src_ip = ${ip} or dst_ip = ${ip}`}
        testId="host-intel"
      />
      <h2 className="section">Flows</h2>
      {flow && <RecordTable type={flow} filter={hostFilter(ip)} pageSize={25} />}
      {h &&
        Object.keys(h.related).map((t) => {
          const ti = types.find((x) => x.type === t);
          if (!ti) return null;
          const ipFields = ti.fields.filter((f) => f.type === 'ip').map((f) => `${f.name} = ${ip}`);
          return (
            <section key={t}>
              <h2 className="section">{t} records</h2>
              <RecordTable type={ti} filter={ipFields.join(' or ')} pageSize={10} />
            </section>
          );
        })}
    </div>
  );
}
