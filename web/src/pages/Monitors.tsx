import { useId, useState } from 'react';
import { can, sendJson } from '../api';
import { MonitorChart } from '../components/MonitorChart';
import { Empty, ErrorBox, Panel } from '../components/Status';
import '../components/policy.css';
import { time } from '../format';
import {
  explainRule,
  type Monitor,
  parseRule,
  RULE_EXAMPLES,
  type RuleState,
  ruleFormat,
  STATE_LABEL,
  worstState,
} from '../monitors';
import { href } from '../router';
import { useJson, useSession, useTime } from '../state';

const path = (name: string) => `/api/v1/monitors/${encodeURIComponent(name)}`;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function StateBadge({ s }: { s: RuleState['state'] | 'disabled' }) {
  return (
    <span className={`badge state-${s}`} data-state={s}>
      {s === 'disabled' ? 'Disabled' : STATE_LABEL[s]}
    </span>
  );
}

/** What each rule line means, or why the server will refuse it, while it is typed. */
export function RuleHelp({ rules }: { rules: string[] }) {
  return (
    <ul className="list rule-help" data-testid="rule-help">
      {rules.map((r, i) => {
        const p = parseRule(r);
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: lines are edited in place; the index is their identity
          <li key={i} className={'error' in p ? 'error-text' : 'muted'} data-ok={'rule' in p}>
            <code>{r || '(empty)'}</code>: {'error' in p ? p.error : explainRule(p.rule)}
          </li>
        );
      })}
    </ul>
  );
}

function Editor({
  initial,
  onSaved,
  onCancel,
}: {
  initial: Monitor | null;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const id = useId();
  const [name, setName] = useState(initial?.name ?? '');
  const [filter, setFilter] = useState(initial?.filter ?? '');
  const [rules, setRules] = useState((initial?.rules ?? [RULE_EXAMPLES[0]!]).join('\n'));
  const [severity, setSeverity] = useState(initial?.severity ?? 60);
  const [description, setDescription] = useState(initial?.description ?? '');
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const lines = rules
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const bad = lines.some((l) => 'error' in parseRule(l));
  return (
    <Panel title={initial ? `Edit ${initial.name}` : 'New monitor'} testId="monitor-editor">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          if (!NAME.test(name)) {
            setErr(
              'Name: letters, digits, dot, dash or underscore, starting with a letter or digit (at most 64).',
            );
            return;
          }
          setBusy(true);
          sendJson<Monitor>('PUT', path(name), { filter, rules: lines, severity, description, enabled }).then(
            () => {
              setBusy(false);
              onSaved();
            },
            (e: unknown) => {
              setBusy(false);
              setErr(`The server refused the monitor: ${(e as Error).message}`);
            },
          );
        }}
      >
        <div className="filterbar">
          <label htmlFor={`${id}-n`}>Name</label>
          <input
            id={`${id}-n`}
            value={name}
            required
            maxLength={64}
            readOnly={initial !== null}
            onChange={(e) => setName(e.target.value)}
            placeholder="crm-latency"
          />
          <label htmlFor={`${id}-s`}>Severity</label>
          <input
            id={`${id}-s`}
            type="number"
            min={0}
            max={100}
            value={severity}
            onChange={(e) => setSeverity(Math.max(0, Math.min(100, Number(e.target.value) || 0)))}
          />
          <label className="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
          </label>
        </div>
        <label htmlFor={`${id}-f`}>Traffic watched (a flow filter; empty for all traffic)</label>
        <input
          id={`${id}-f`}
          value={filter}
          maxLength={4096}
          onChange={(e) => setFilter(e.target.value)}
          placeholder='app ~ "salesforce" and client_ip = 10.1.0.0/16'
        />
        <label htmlFor={`${id}-r`}>Rules, one per line</label>
        <textarea
          id={`${id}-r`}
          className="alert-notes mono"
          rows={Math.max(3, lines.length + 1)}
          value={rules}
          onChange={(e) => setRules(e.target.value)}
          spellCheck={false}
          aria-describedby={`${id}-h`}
        />
        <RuleHelp rules={lines} />
        <p id={`${id}-h`} className="hint">
          A rule is <code>metric [stat] op number [x baseline] [for duration]</code>. Metrics: bps, pps, flows
          (per second), rtt_ms, srt_ms, retrans_rate; stats p50, p90, p95, p99, max for rtt_ms and srt_ms;
          <code> x baseline</code> compares with the mean of the day before; the duration (10s to 1d, default
          1m) is how long it must hold. Examples: {RULE_EXAMPLES.map((r) => `"${r}"`).join(', ')}.
        </p>
        <label htmlFor={`${id}-d`}>Description</label>
        <input
          id={`${id}-d`}
          value={description}
          maxLength={1024}
          onChange={(e) => setDescription(e.target.value)}
        />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || bad || lines.length === 0}>
            {busy ? 'Saving…' : 'Save monitor'}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
        <ErrorBox error={err} />
      </form>
    </Panel>
  );
}

function MonitorCard({ m, onEdit, onChanged }: { m: Monitor; onEdit: () => void; onChanged: () => void }) {
  const { me } = useSession();
  const [err, setErr] = useState<string | null>(null);
  const worst = worstState(m);
  return (
    <Panel
      title={m.name}
      testId={`monitor-${m.name}`}
      actions={
        <>
          <StateBadge s={worst} />
          {can(me.role, 'analyst') && (
            <>
              <button type="button" onClick={onEdit}>
                Edit
              </button>
              <button
                type="button"
                className="danger"
                onClick={() => {
                  if (!confirm(`Delete the monitor ${m.name}? Its firing alerts are closed.`)) return;
                  sendJson('DELETE', path(m.name)).then(onChanged, (e: unknown) =>
                    setErr(`Could not delete: ${(e as Error).message}`),
                  );
                }}
              >
                Delete
              </button>
            </>
          )}
        </>
      }
    >
      <ErrorBox error={err} />
      {m.description && <p>{m.description}</p>}
      <p className="hint">
        Watches {m.filter ? <code>{m.filter}</code> : 'all traffic'} · severity {m.severity ?? 60} · evaluated{' '}
        {time(m.evaluated)}
      </p>
      <table className="grid-table" data-testid="monitor-rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">State</th>
            <th scope="col">Value</th>
            <th scope="col">Threshold</th>
            <th scope="col">Since</th>
            <th scope="col">Alert</th>
          </tr>
        </thead>
        <tbody>
          {m.rules.map((r, i) => {
            const s = m.state[i];
            return (
              <tr key={r} data-rule={r} data-state={s?.state ?? ''}>
                <td>
                  <code>{r}</code>
                </td>
                <td>{s ? <StateBadge s={s.state} /> : '–'}</td>
                <td className="num">{ruleFormat(r)(s?.value)}</td>
                <td className="num">{ruleFormat(r)(s?.threshold)}</td>
                <td>{time(s?.since)}</td>
                <td>{s?.alert_id ? <a href={href(`/alerts/${s.alert_id}`)}>open alert</a> : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {m.rules.map((r, i) => (
        <figure key={r} className="evidence-fig">
          <figcaption className="muted small">{r}</figcaption>
          <MonitorChart filter={m.filter} rule={r} state={m.state[i]} />
        </figure>
      ))}
    </Panel>
  );
}

/** Monitors: named traffic with threshold rules; their state, charts, and (analysts) their editing. */
export function MonitorsPage() {
  const { me } = useSession();
  const { tick } = useTime();
  const q = useJson<{ items: Monitor[] }>('/api/v1/monitors', tick);
  const [editing, setEditing] = useState<Monitor | 'new' | null>(null);
  const mayEdit = can(me.role, 'analyst');
  return (
    <div className="page" data-testid="monitors">
      <div className="row spread">
        <h1>Monitors</h1>
        {mayEdit && editing === null && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New monitor
          </button>
        )}
      </div>
      <p className="hint">
        A monitor watches part of the traffic and raises a threshold alert while one of its rules holds.
        Charts cover the time range above.
      </p>
      {editing !== null && (
        <Editor
          key={editing === 'new' ? '' : editing.name}
          initial={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            q.reload();
          }}
        />
      )}
      <ErrorBox error={q.error} onRetry={q.reload} />
      {q.data && q.data.items.length === 0 && (
        <Empty>{mayEdit ? 'No monitors yet: add one with "New monitor".' : 'No monitors yet.'}</Empty>
      )}
      {q.data?.items.map((m) => (
        <MonitorCard key={m.name} m={m} onEdit={() => setEditing(m)} onChanged={q.reload} />
      ))}
    </div>
  );
}
