import { useEffect, useId, useState } from 'react';
import { type Alert, type AlertPatch, mitreUrl, PIVOT_MARGIN_MS, STATUS_LABEL } from '../alerts';
import { can, download, getJson, qs, sendJson, type TopItem } from '../api';
import { SeverityBadge } from '../components/AlertTable';
import { BarList } from '../components/BarList';
import { Evidence } from '../components/Evidence';
import { ErrorBox, Panel } from '../components/Status';
import { int, PROTOS, time } from '../format';
import { href } from '../router';
import { useJson, useSession } from '../state';
import { specToParam } from '../time';
import { RunList } from './Runs';

interface Presence {
  alert_id: string;
  ip: string;
  peer: string | null;
  since: string;
  presence: {
    lastSeen: string | null;
    flows: number;
    peers: { ip: string; lastSeenUs: number; flows: number }[];
    sources: string[];
  } | null;
}
interface Context {
  window: { after: string; before: string };
  flows: number;
  top_servers: TopItem[];
  links: Record<string, string>;
}

/** A host's page around the alert's episode, so what is shown is what the detector saw. */
function hostHref(ip: string, a: Alert): string {
  const t = specToParam({
    from: Date.parse(a.first_ts) - PIVOT_MARGIN_MS,
    to: Date.parse(a.last_ts) + PIVOT_MARGIN_MS,
  });
  return href(`/host/${encodeURIComponent(ip)}`, { t });
}

/** "Still talking?": the presence answer, from a chosen moment. */
function StillTalking({ a }: { a: Alert }) {
  const id = useId();
  const [since, setSince] = useState('-15m');
  const [busy, setBusy] = useState(false);
  const [ans, setAns] = useState<Presence | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const ask = () => {
    setBusy(true);
    setErr(null);
    getJson<Presence>(`/api/v1/alerts/${encodeURIComponent(a.alert_id)}/presence${qs({ since })}`).then(
      (p) => {
        setAns(p);
        setBusy(false);
      },
      (e: unknown) => {
        setErr((e as Error).message);
        setBusy(false);
      },
    );
  };
  const p = ans?.presence;
  return (
    <div data-testid="presence">
      <div className="actions">
        <label htmlFor={`${id}-since`}>Since</label>
        <select id={`${id}-since`} value={since} onChange={(e) => setSince(e.target.value)}>
          <option value="-15m">the last 15 minutes</option>
          <option value="-1h">the last hour</option>
          <option value="-24h">the last 24 hours</option>
          <option value={a.first_ts}>the alert ({time(a.first_ts)})</option>
        </select>
        <button type="button" onClick={ask} disabled={busy} data-testid="presence-ask">
          Still talking?
        </button>
      </div>
      <ErrorBox error={err} />
      {ans && (
        <div aria-live="polite" data-testid="presence-answer" data-flows={p?.flows ?? 0}>
          {p?.lastSeen ? (
            <p>
              <strong>Yes:</strong> {ans.ip}
              {ans.peer ? ` with ${ans.peer}` : ''} last seen {time(p.lastSeen)}, {int(p.flows)} flows since{' '}
              {time(ans.since)}.
            </p>
          ) : (
            <p>
              <strong>No:</strong> {ans.ip}
              {ans.peer ? ` and ${ans.peer}` : ''} not seen since {time(ans.since)}.
            </p>
          )}
          {p && p.peers.length > 0 && (
            <BarList
              items={p.peers.map((x) => ({ key: x.ip, bytes: 0, packets: 0, flows: x.flows }))}
              by="flows"
              label="Peers since then"
              hrefFor={(it) => hostHref(String(it.key), a)}
            />
          )}
        </div>
      )}
    </div>
  );
}

function Pivots({ a }: { a: Alert }) {
  const { me, pcap } = useSession();
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const analyst = can(me.role, 'analyst');
  const why = !analyst
    ? 'Packets need the analyst role.'
    : !pcap.available
      ? (pcap.reason ?? 'Packet download is unavailable.')
      : null;
  const dl = () => {
    setErr(null);
    setMsg('Preparing the packets…');
    download(`/api/v1/alerts/${encodeURIComponent(a.alert_id)}/pcap`, `alert-${a.alert_id}.pcap`).then(
      (r) => setMsg(`Saved ${r.name} (${r.bytes.toLocaleString('en-US')} bytes).`),
      (e: unknown) => {
        setMsg(null);
        setErr(`Download failed: ${(e as Error).message}`);
      },
    );
  };
  const dashboards = () => {
    setErr(null);
    getJson<Context>(`/api/v1/alerts/${encodeURIComponent(a.alert_id)}/context`).then(
      (c) => {
        // The server's links are absolute console URLs (/#/…): keep only the route.
        const link = c.links.dashboard ?? '';
        location.hash = link.slice(link.indexOf('#') + 1);
      },
      (e: unknown) => setErr(`The context failed: ${(e as Error).message}`),
    );
  };
  return (
    <Panel title="Pivots" testId="alert-pivots">
      <div className="actions">
        <button type="button" onClick={dl} disabled={why !== null} data-testid="alert-pcap">
          Download PCAP
        </button>
        <button type="button" onClick={dashboards} data-testid="alert-dashboards">
          Open dashboards at this time
        </button>
        <span className="muted" aria-live="polite" data-testid="alert-pcap-msg">
          {why ?? msg}
        </span>
      </div>
      <ErrorBox error={err} />
      {analyst ? <StillTalking a={a} /> : <p className="muted">"Still talking?" needs the analyst role.</p>}
    </Panel>
  );
}

/** Status, assignee and notes: analysts change them, everyone reads them. */
function Triage({ a, onChange }: { a: Alert; onChange: (a: Alert) => void }) {
  const { me } = useSession();
  const id = useId();
  const may = can(me.role, 'analyst');
  const [notes, setNotes] = useState(a.notes ?? '');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  useEffect(() => setNotes(a.notes ?? ''), [a.notes]);
  const patch = (p: AlertPatch, what: string) => {
    setBusy(true);
    setErr(null);
    setMsg(null);
    sendJson<Alert>('PATCH', `/api/v1/alerts/${encodeURIComponent(a.alert_id)}`, p).then(
      (next) => {
        setBusy(false);
        setMsg(`${what}: saved.`);
        onChange(next);
      },
      (e: unknown) => {
        setBusy(false);
        setErr(`${what} refused: ${(e as Error).message}`);
      },
    );
  };
  const me_ = me.name || me.id;
  return (
    <Panel title="Triage" testId="alert-triage">
      <p>
        Status{' '}
        <strong className={`status-${a.status}`} data-testid="alert-status">
          {STATUS_LABEL[a.status]}
        </strong>
        {' · '}assignee <strong>{a.assignee ?? 'nobody'}</strong>
        {a.tags.length > 0 && <> · tags {a.tags.join(', ')}</>}
      </p>
      {may ? (
        <>
          <div className="actions">
            {a.status !== 'acknowledged' && (
              <button
                type="button"
                disabled={busy}
                onClick={() => patch({ status: 'acknowledged' }, 'Acknowledge')}
              >
                Acknowledge
              </button>
            )}
            {a.status !== 'closed' && (
              <button type="button" disabled={busy} onClick={() => patch({ status: 'closed' }, 'Close')}>
                Close
              </button>
            )}
            {a.status !== 'false_positive' && (
              <button
                type="button"
                disabled={busy}
                onClick={() => patch({ status: 'false_positive' }, 'False positive')}
              >
                False positive
              </button>
            )}
            {a.status !== 'new' && (
              <button type="button" disabled={busy} onClick={() => patch({ status: 'new' }, 'Reopen')}>
                Reopen
              </button>
            )}
            {a.assignee !== me_ && (
              <button type="button" disabled={busy} onClick={() => patch({ assignee: me_ }, 'Assign to me')}>
                Assign to me
              </button>
            )}
          </div>
          <label htmlFor={`${id}-notes`}>Notes</label>
          <textarea
            id={`${id}-notes`}
            className="alert-notes"
            value={notes}
            maxLength={16_384}
            onChange={(e) => setNotes(e.target.value)}
          />
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={busy || notes === (a.notes ?? '')}
              onClick={() => patch({ notes: notes.trim() ? notes : null }, 'Notes')}
            >
              Save notes
            </button>
            <span className="muted" aria-live="polite">
              {msg}
            </span>
          </div>
        </>
      ) : (
        <>
          <p className="pre">{a.notes || <span className="muted">No notes.</span>}</p>
          <p className="muted" data-testid="alert-readonly">
            Changing an alert needs the analyst role; you are signed in as a {me.role}.
          </p>
        </>
      )}
      <ErrorBox error={err} />
    </Panel>
  );
}

export function AlertPage({ id }: { id: string }) {
  const q = useJson<{ alert: Alert; links: Record<string, string> }>(
    `/api/v1/alerts/${encodeURIComponent(id)}`,
  );
  const [local, setLocal] = useState<Alert | null>(null);
  // The previous alert's answers stay in the hooks while another one loads: show neither.
  const a = local?.alert_id === id ? local : q.data?.alert.alert_id === id ? q.data.alert : undefined;
  if (!a)
    return (
      <div className="page">
        <h1>Alert</h1>
        <ErrorBox error={q.error} onRetry={q.reload} />
        {q.loading && <p className="muted">Loading…</p>}
      </div>
    );
  const technique = a.attack_technique ? mitreUrl(a.attack_technique) : null;
  const ind = a.indicator;
  return (
    <div className="page" data-testid="alert-detail" data-alert-id={a.alert_id}>
      <p>
        <a href={href('/alerts')}>← Alerts</a>
      </p>
      <h1>
        <SeverityBadge a={a} /> <span data-testid="alert-title">{a.title}</span>
      </h1>
      <p className="muted">
        {a.category} · {a.detector} · source {a.source}
        {a.retro ? ' · retro-hunt' : ''} · sensor {a.sensor} · severity {a.severity}, confidence{' '}
        {a.confidence}
      </p>
      <div className="grid g2">
        <Panel title="Connection">
          <table className="kv">
            <tbody>
              <tr>
                <th scope="row">Source</th>
                <td data-field="src_ip">
                  {a.src_ip ? <a href={hostHref(a.src_ip, a)}>{a.src_ip}</a> : '–'}
                  {a.src_port !== null ? <span className="muted">:{a.src_port}</span> : null}
                  {a.src_user ? <span className="muted"> ({a.src_user})</span> : null}
                </td>
              </tr>
              <tr>
                <th scope="row">Destination</th>
                <td data-field="dst_ip">
                  {a.dst_ip ? <a href={hostHref(a.dst_ip, a)}>{a.dst_ip}</a> : '–'}
                  {a.dst_port !== null ? <span className="muted">:{a.dst_port}</span> : null}
                </td>
              </tr>
              <tr>
                <th scope="row">Protocol</th>
                <td>{a.proto === null ? '–' : (PROTOS[a.proto] ?? a.proto)}</td>
              </tr>
              {a.community_id && (
                <tr>
                  <th scope="row">Community ID</th>
                  <td>
                    <a
                      href={href('/pivot', { community_id: a.community_id, ts: a.first_ts, t: '' })}
                      title="The flows of this connection"
                    >
                      {a.community_id}
                    </a>
                  </td>
                </tr>
              )}
              {(a.vlan !== null || a.vni !== null) && (
                <tr>
                  <th scope="row">VLAN / VNI</th>
                  <td>
                    {a.vlan ?? '–'} / {a.vni ?? '–'}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Panel>
        <Panel title="Timeline">
          <table className="kv">
            <tbody>
              <tr>
                <th scope="row">First seen</th>
                <td>{time(a.first_ts)}</td>
              </tr>
              <tr>
                <th scope="row">Last seen</th>
                <td>{time(a.last_ts)}</td>
              </tr>
              <tr>
                <th scope="row">Events</th>
                <td data-testid="alert-count">{int(a.count)}</td>
              </tr>
              <tr>
                <th scope="row">Updated</th>
                <td>{time(a.updated_ts)}</td>
              </tr>
              {a.attack_technique && (
                <tr>
                  <th scope="row">MITRE ATT&amp;CK</th>
                  <td>
                    {technique ? (
                      <a href={technique} target="_blank" rel="noreferrer noopener">
                        {a.attack_technique}
                      </a>
                    ) : (
                      a.attack_technique
                    )}
                  </td>
                </tr>
              )}
              {a.signature_id !== null && (
                <tr>
                  <th scope="row">Signature</th>
                  <td>{a.signature_id}</td>
                </tr>
              )}
            </tbody>
          </table>
        </Panel>
        <Panel title="Evidence" testId="alert-evidence">
          <Evidence evidence={a.evidence} />
        </Panel>
        {ind && (
          <Panel title="Indicator" testId="alert-indicator">
            <table className="kv">
              <tbody>
                {Object.entries(ind).map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    <td>
                      {Array.isArray(v)
                        ? v.join(', ')
                        : typeof v === 'object'
                          ? JSON.stringify(v)
                          : String(v)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Panel>
        )}
        <Triage a={a} onChange={setLocal} />
        <Pivots a={a} />
        <RunList alertId={a.alert_id} compact />
      </div>
    </div>
  );
}
