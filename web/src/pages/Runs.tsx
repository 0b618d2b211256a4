import { useState } from 'react';
import { can, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { type AuditEntry, type RunRow, STATUS_CLASS } from '../respond';
import { href } from '../router';
import { useJson, useSession } from '../state';

/** Runs: newest first; one run as a timeline of its steps, with cancel and release. */
export function RunsPage({ id, alertId }: { id: string | null; alertId?: string }) {
  return id ? <RunDetail id={id} /> : <RunList {...(alertId ? { alertId } : {})} />;
}

export function RunList({ alertId, compact }: { alertId?: string; compact?: boolean }) {
  const q = useJson<{ items: RunRow[] }>(
    `/api/v1/runs${alertId ? `?alert_id=${encodeURIComponent(alertId)}` : ''}`,
  );
  const body = (
    <>
      {q.data && q.data.items.length === 0 && <p className="empty">No runs.</p>}
      {q.data && q.data.items.length > 0 && (
        <table className="kv" data-testid="runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Playbook</th>
              <th scope="col">Alert</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {q.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href(`/runs/${r.id}`)}>{r.id}</a>
                </td>
                <td>
                  {r.playbook} v{r.version}
                </td>
                <td>
                  <a href={href(`/alerts/${encodeURIComponent(r.alert_id)}`)}>{r.title}</a>
                </td>
                <td>
                  <span className={`badge ${STATUS_CLASS[r.status] ?? ''}`}>{r.status}</span>
                  {r.released ? ' (released)' : ''}
                </td>
                <td>{time(r.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
  // Without response configured the product has no /runs: an alert page shows nothing then.
  if (compact && q.error?.startsWith('no route')) return null;
  if (compact)
    return (
      <Panel title="Response runs" loading={q.loading} error={q.error} onRetry={q.reload} testId="alert-runs">
        {body}
      </Panel>
    );
  return (
    <div className="page">
      <h1>Runs</h1>
      <Panel title="Runs" loading={q.loading} error={q.error} onRetry={q.reload}>
        {body}
      </Panel>
    </div>
  );
}

function RunDetail({ id }: { id: string }) {
  const s = useSession();
  const [tick, setTick] = useState(0);
  const q = useJson<RunRow & { audit: AuditEntry[] }>(`/api/v1/runs/${encodeURIComponent(id)}`, tick);
  const [err, setErr] = useState<string | null>(null);
  const act = (what: 'cancel' | 'release') => {
    setErr(null);
    sendJson('POST', `/api/v1/runs/${encodeURIComponent(id)}/${what}`).then(
      () => setTick((x) => x + 1),
      (e: unknown) => setErr(`${what} failed: ${(e as Error).message}`),
    );
  };
  const r = q.data;
  return (
    <div className="page" data-testid="run-detail">
      <p>
        <a href={href('/runs')}>← Runs</a>
      </p>
      <h1>Run {id}</h1>
      <ErrorBox error={q.error ?? err} onRetry={q.reload} />
      {r && (
        <>
          <p className="muted">
            {r.playbook} v{r.version} · alert{' '}
            <a href={href(`/alerts/${encodeURIComponent(r.alert_id)}`)}>{r.title}</a> ·{' '}
            <span className={`badge ${STATUS_CLASS[r.status] ?? ''}`}>{r.status}</span>
            {r.error ? <span className="error-text"> · {r.error}</span> : null}
          </p>
          {can(s.me.role, 'analyst') && (
            <div className="actions">
              <button
                type="button"
                onClick={() => act('cancel')}
                disabled={!['running', 'waiting'].includes(r.status)}
              >
                Cancel
              </button>
              <button
                type="button"
                onClick={() => act('release')}
                disabled={r.released || !r.steps.some((x) => x.type === 'isolate' && x.status === 'done')}
              >
                Release isolation
              </button>
            </div>
          )}
          <Panel title="Timeline">
            <ol className="timeline" data-testid="run-steps">
              {r.steps.map((st) => (
                <li key={st.id} data-status={st.status}>
                  <strong>{st.id}</strong> <span className="muted">{st.type}</span> · {st.status}
                  {st.attempts > 1 ? ` · ${st.attempts} attempts` : ''}
                  {st.started ? ` · ${time(st.started)}` : ''}
                  {st.ended ? ` → ${time(st.ended)}` : ''}
                  {st.undone ? ' · released' : ''}
                  {st.error && <div className="error-text">{st.error}</div>}
                  {st.approval && (
                    <div>
                      Approval ({st.approval.outcome ?? 'pending'}, expires {time(st.approval.expires_at)}):{' '}
                      {st.approval.votes
                        .map((v) => `${v.decision} by ${v.who} via ${v.via} from ${v.ip} at ${time(v.at)}`)
                        .join('; ') || 'no votes yet'}
                    </div>
                  )}
                  {st.calls.map((c) => (
                    <details key={`${c.adapter}${c.summary}`}>
                      <summary>
                        {c.adapter}: {c.summary}
                      </summary>
                      <pre>{JSON.stringify(c.request, null, 2)}</pre>
                    </details>
                  ))}
                  {st.result && (
                    <details>
                      <summary>result</summary>
                      <pre>{JSON.stringify(st.result, null, 2)}</pre>
                    </details>
                  )}
                </li>
              ))}
            </ol>
          </Panel>
          <Panel title="Audit (hash-chained)">
            <table className="kv">
              <tbody>
                {r.audit.map((e) => (
                  <tr key={e.seq}>
                    <td>{time(e.ts)}</td>
                    <td>{e.kind}</td>
                    <td>{e.actor ?? ''}</td>
                    <td>
                      <code>{JSON.stringify(e.details).slice(0, 200)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Panel>
        </>
      )}
    </div>
  );
}
