import { useId, useState } from 'react';
import { ApiError, can, getJson, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { int, time } from '../format';
import { type DeadLetter, SINK_EXAMPLES, SINK_KINDS, type SinkKind, type SinkRow, sinkBody } from '../sinks';
import { useLoad, useSession } from '../state';

const path = (name: string, rest = '') => `/api/v1/sinks/${encodeURIComponent(name)}${rest}`;

function DeadLetters({ sink }: { sink: string }) {
  const q = useLoad(`dead:${sink}`, (signal) =>
    getJson<{ items: DeadLetter[] }>(path(sink, '/dead-letters'), signal),
  );
  return (
    <div data-testid={`dead-letters-${sink}`}>
      <ErrorBox error={q.error} onRetry={q.reload} />
      {q.data &&
        (q.data.items.length === 0 ? (
          <p className="empty">No dead letters.</p>
        ) : (
          <table className="kv">
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((d) => (
                <tr key={`${d.alert_id}${d.ts}`}>
                  <td>
                    <a href={`#/alerts/${encodeURIComponent(d.alert_id)}`}>{d.alert_id}</a>
                  </td>
                  <td className="num">{d.attempts}</td>
                  <td>{d.last_error ?? ''}</td>
                  <td>{time(d.ts)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </div>
  );
}

function SinkCard({ s, onChanged }: { s: SinkRow; onChanged: () => void }) {
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [dead, setDead] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = (what: string, method: string, rest: string, done: (r: unknown) => string) => {
    setBusy(true);
    setErr(null);
    setMsg(null);
    sendJson<unknown>(method, path(s.name, rest)).then(
      (r) => {
        setBusy(false);
        setMsg(done(r));
        onChanged();
      },
      (e: unknown) => {
        setBusy(false);
        setErr(`${what} failed: ${(e as Error).message}`);
      },
    );
  };
  const st = s.stats;
  return (
    <Panel
      title={
        <>
          {s.name} <span className="muted small">{s.kind}</span>
        </>
      }
      testId={`sink-${s.name}`}
      actions={
        <span className={`badge health-${s.health}`} data-testid="sink-health">
          {s.enabled ? s.health : 'disabled'}
        </span>
      }
    >
      <table className="kv">
        <tbody>
          <tr>
            <th scope="row">Filter</th>
            <td>{s.filter || <span className="muted">every alert</span>}</td>
          </tr>
          <tr>
            <th scope="row">Lag</th>
            <td>
              {int(st.lag)} alerts
              {st.lag_seconds !== null ? `, ${int(st.lag_seconds)} s behind` : ''}
            </td>
          </tr>
          <tr>
            <th scope="row">Sent / failed / retried / dead</th>
            <td>
              {int(st.sent)} / {int(st.failed)} / {int(st.retried)} / {int(st.dead)}
            </td>
          </tr>
          <tr>
            <th scope="row">Last sent</th>
            <td>{time(st.last_sent)}</td>
          </tr>
          <tr>
            <th scope="row">Last error</th>
            <td className={st.last_error ? 'error-text' : 'muted'}>{st.last_error ?? 'none'}</td>
          </tr>
        </tbody>
      </table>
      <div className="actions">
        <button
          type="button"
          disabled={busy}
          onClick={() => act('Test', 'POST', '/test', () => 'Test alert sent.')}
        >
          Send test
        </button>
        <button type="button" onClick={() => setDead((d) => !d)} aria-expanded={dead}>
          Dead letters ({int(st.dead)})
        </button>
        <button
          type="button"
          disabled={busy || st.dead === 0}
          onClick={() =>
            act('Replay', 'POST', '/replay', (r) => {
              const n = (r as { replayed?: number } | null)?.replayed;
              return n === undefined ? 'Replay started.' : `Replaying ${n} dead letters.`;
            })
          }
        >
          Replay
        </button>
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            if (confirm(`Remove the sink ${s.name}? Alerts stop going there.`))
              act('Remove', 'DELETE', '', () => 'Removed.');
          }}
        >
          Remove
        </button>
        <span className="muted" aria-live="polite">
          {msg}
        </span>
      </div>
      <ErrorBox error={err} />
      {dead && <DeadLetters sink={s.name} />}
    </Panel>
  );
}

function AddSink({ onAdded }: { onAdded: () => void }) {
  const id = useId();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<SinkKind>('webhook');
  const [filter, setFilter] = useState('severity >= 70');
  const [spec, setSpec] = useState(() => JSON.stringify(SINK_EXAMPLES.webhook, null, 2));
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  return (
    <Panel title="Add a sink">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          setMsg(null);
          const b = sinkBody(name, kind, filter, spec);
          if ('error' in b) {
            setErr(b.error);
            return;
          }
          sendJson('POST', '/api/v1/sinks', b.body).then(
            () => {
              setMsg(`Added ${name.trim()}.`);
              setName('');
              onAdded();
            },
            (e: unknown) => setErr(`The server refused the sink: ${(e as Error).message}`),
          );
        }}
      >
        <div className="filterbar">
          <label htmlFor={`${id}-n`}>Name</label>
          <input
            id={`${id}-n`}
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            maxLength={64}
          />
          <label htmlFor={`${id}-k`}>Kind</label>
          <select
            id={`${id}-k`}
            value={kind}
            onChange={(e) => {
              const k = e.target.value as SinkKind;
              setKind(k);
              setSpec(JSON.stringify(SINK_EXAMPLES[k], null, 2));
            }}
          >
            {SINK_KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
          <label htmlFor={`${id}-f`}>Filter</label>
          <input
            id={`${id}-f`}
            className="grow"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="every alert"
          />
        </div>
        <label htmlFor={`${id}-s`}>
          Settings of the {kind} sink (JSON; "$ENV:NAME" reads a secret from the server's environment)
        </label>
        <textarea
          id={`${id}-s`}
          className="alert-notes mono"
          rows={8}
          value={spec}
          onChange={(e) => setSpec(e.target.value)}
          spellCheck={false}
        />
        <div className="actions">
          <button type="submit" className="primary">
            Add sink
          </button>
          <span className="muted" aria-live="polite">
            {msg}
          </span>
        </div>
        <ErrorBox error={err} />
      </form>
    </Panel>
  );
}

/** Where alerts are sent (admin): health, lag, counters, tests, dead letters and replay. */
export function Sinks() {
  const { me } = useSession();
  const admin = can(me.role, 'admin');
  const q = useLoad(admin ? 'sinks' : null, (signal) =>
    getJson<{ items: SinkRow[] }>('/api/v1/sinks', signal).catch((e: unknown) => {
      // A server without the alert bus has no such route: say so instead of an error.
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }),
  );
  if (!admin)
    return (
      <div className="page" data-testid="sinks-denied">
        <h1>Sinks</h1>
        <ErrorBox error={`Sinks are for admins; your token has the ${me.role} role.`} />
      </div>
    );
  return (
    <div className="page" data-testid="sinks">
      <h1>Sinks</h1>
      <p className="hint">
        Alerts matching a sink's filter are delivered to it, retried, and kept as dead letters when they
        cannot be.
      </p>
      <ErrorBox error={q.error} onRetry={q.reload} />
      {q.data === null && (
        <p className="empty" data-testid="sinks-unavailable">
          This server does not deliver alerts to sinks (it has no /api/v1/sinks route). Update Vantage to a
          version with the alert bus.
        </p>
      )}
      {q.data && q.data.items.length === 0 && <p className="empty">No sinks yet: add one below.</p>}
      <div className="grid g2">
        {q.data?.items.map((s) => (
          <SinkCard key={s.name} s={s} onChanged={q.reload} />
        ))}
      </div>
      {q.data && <AddSink onAdded={q.reload} />}
    </div>
  );
}
