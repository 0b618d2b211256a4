import { useState } from 'react';
import { can, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import type { PendingApproval } from '../respond';
import { href } from '../router';
import { useJson, useSession } from '../state';

/** Requests waiting for a decision; the same requests the signed links decide. */
export function Approvals() {
  const s = useSession();
  const [tick, setTick] = useState(0);
  const q = useJson<{ items: PendingApproval[] }>('/api/v1/approvals', tick);
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const decide = (a: PendingApproval, decision: 'approve' | 'deny') => {
    setErr(null);
    setMsg(null);
    sendJson<{ outcome: string | null }>('POST', `/api/v1/approvals/${encodeURIComponent(a.id)}/decide`, {
      decision,
    }).then(
      (r) => {
        setMsg(`Recorded your ${decision}: ${r.outcome ?? 'waiting for more approvals'}.`);
        setTick((x) => x + 1);
      },
      (e: unknown) => setErr((e as Error).message),
    );
  };
  return (
    <div className="page" data-testid="approvals">
      <h1>Approvals</h1>
      <ErrorBox error={err} />
      {msg && <p aria-live="polite">{msg}</p>}
      <Panel title="Waiting for a decision" loading={q.loading} error={q.error} onRetry={q.reload}>
        {q.data && q.data.items.length === 0 && <p className="empty">Nothing waits for a decision.</p>}
        {q.data?.items.map((a) => (
          <article key={a.id} className="card" data-testid={`approval-${a.id}`}>
            <h3>
              <a href={href(`/alerts/${encodeURIComponent(a.alert_id)}`)}>{a.title}</a>
            </h3>
            <p>{a.message}</p>
            <p className="muted">
              {a.playbook} · {a.src_ip ?? '–'} → {a.dst_ip ?? '–'} · severity {a.severity} · needs {a.quorum}{' '}
              of {[...a.roles.map((r) => `role ${r}`), ...a.users].join(', ')} · expires {time(a.expires_at)}{' '}
              (then {a.on_timeout}) · <a href={href(`/runs/${a.run_id}`)}>run</a>
            </p>
            {a.votes.length > 0 && <p>Votes: {a.votes.map((v) => `${v.decision} by ${v.who}`).join(', ')}</p>}
            {a.excluded.includes(s.me.name) ? (
              <p className="muted">You triggered or own this alert: someone else decides.</p>
            ) : (
              can(s.me.role, 'analyst') && (
                <div className="actions">
                  <button type="button" onClick={() => decide(a, 'approve')}>
                    Approve
                  </button>
                  <button type="button" onClick={() => decide(a, 'deny')}>
                    Deny
                  </button>
                </div>
              )
            )}
          </article>
        ))}
      </Panel>
    </div>
  );
}
