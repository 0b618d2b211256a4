import { useEffect, useState } from 'react';
import { type Alert, type AlertPatch, STATUS_LABEL, STATUSES } from '../alerts';
import { can, type Page, qs, sendJson } from '../api';
import { time } from '../format';
import { href } from '../router';
import { useJson, useSession, useTime } from '../state';
import { CursorPager } from './CursorPager';
import { ErrorBox } from './Status';

const FIELDS =
  'alert_id,ts,last_ts,severity,severity_label,category,title,src_ip,src_port,dst_ip,dst_port,status,assignee,count,source';

export function SeverityBadge({ a }: { a: Pick<Alert, 'severity' | 'severity_label'> }) {
  return (
    <span className={`sev sev-${a.severity_label}`} title={`Severity ${a.severity} of 100`}>
      {a.severity_label}
    </span>
  );
}

export function HostLink({ ip, port }: { ip: string | null; port?: number | null }) {
  if (!ip) return <span className="muted">–</span>;
  return (
    <>
      <a href={href(`/host/${encodeURIComponent(ip)}`)}>{ip}</a>
      {port !== null && port !== undefined ? <span className="muted">:{port}</span> : null}
    </>
  );
}

/** Apply one change to many alerts; the server's refusal of any of them is reported whole. */
export async function patchAlerts(
  ids: string[],
  patch: AlertPatch,
): Promise<{ ok: number; errors: string[] }> {
  const results = await Promise.allSettled(
    ids.map((id) => sendJson<Alert>('PATCH', `/api/v1/alerts/${encodeURIComponent(id)}`, patch)),
  );
  const errors = [
    ...new Set(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))),
  ];
  return { ok: results.filter((r) => r.status === 'fulfilled').length, errors };
}

const COLUMNS: [string, string, boolean][] = [
  ['severity', 'Severity', true],
  ['title', 'Alert', true],
  ['category', 'Category', true],
  ['src_ip', 'Source', true],
  ['dst_ip', 'Destination', true],
  ['count', 'Events', true],
  ['last_ts', 'Last seen', true],
  ['status', 'Status', true],
  ['assignee', 'Assignee', true],
];

/**
 * Alerts matching a filter in the shared time range: sortable columns, pages, and for
 * analysts a status per row and bulk actions over the selected rows.
 */
export function AlertTable({
  filter,
  pageSize = 50,
  testId = 'alerts-table',
  compact = false,
}: {
  filter: string;
  pageSize?: number;
  testId?: string;
  /** Without selection and bulk actions (the host page's panel). */
  compact?: boolean;
}) {
  const { resolved, tick } = useTime();
  const { me } = useSession();
  const mayChange = can(me.role, 'analyst') && !compact;
  const [sort, setSort] = useState<{ field: string; desc: boolean }>({ field: 'last_ts', desc: true });
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query starts at the first page
  useEffect(() => {
    setCursors([]);
    setSelected(new Set());
  }, [filter, sort, resolved.after, resolved.before]);
  const cursor = cursors[cursors.length - 1];
  const q = useJson<Page>(
    `/api/v1/alerts${qs({
      after: resolved.after,
      before: resolved.before,
      filter,
      sort: sort.field,
      order: sort.desc ? 'desc' : 'asc',
      fields: FIELDS,
      limit: pageSize,
      cursor,
    })}`,
    tick,
  );
  const rows = (q.data?.items ?? []) as unknown as Alert[];
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.alert_id));

  const apply = (ids: string[], patch: AlertPatch, what: string) => {
    setBusy(true);
    setErr(null);
    setMsg(null);
    patchAlerts(ids, patch).then(({ ok, errors }) => {
      setBusy(false);
      if (errors.length)
        setErr(`${what} refused for ${ids.length - ok} of ${ids.length}: ${errors.join('; ')}`);
      if (ok) setMsg(`${what}: ${ok} alert${ok === 1 ? '' : 's'} changed.`);
      setSelected(new Set());
      q.reload();
    });
  };
  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });
  const ids = [...selected];
  const me_ = me.name || me.id;

  return (
    <div className="records" data-testid={testId}>
      {mayChange && (
        <div className="toolbar actions" data-testid="alert-bulk">
          <span className="muted">
            {ids.length ? `${ids.length} selected:` : 'Select alerts to change them:'}
          </span>
          <button
            type="button"
            disabled={!ids.length || busy}
            onClick={() => apply(ids, { status: 'acknowledged' }, 'Acknowledge')}
          >
            Acknowledge
          </button>
          <button
            type="button"
            disabled={!ids.length || busy}
            onClick={() => apply(ids, { status: 'closed' }, 'Close')}
          >
            Close
          </button>
          <button
            type="button"
            disabled={!ids.length || busy}
            onClick={() => apply(ids, { status: 'false_positive' }, 'False positive')}
          >
            False positive
          </button>
          <button
            type="button"
            disabled={!ids.length || busy}
            onClick={() => apply(ids, { assignee: me_ }, 'Assign to me')}
          >
            Assign to me
          </button>
          <span className="muted" aria-live="polite">
            {msg}
          </span>
        </div>
      )}
      <ErrorBox error={err} />
      <ErrorBox error={q.error} onRetry={q.reload} />
      <div className="table-wrap" aria-busy={q.loading || undefined}>
        <table className="grid-table">
          <caption className="sr-only">Alerts; select a column heading to sort</caption>
          <thead>
            <tr>
              {mayChange && (
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every alert of this page"
                    checked={allSelected}
                    onChange={(e) =>
                      setSelected(new Set(e.target.checked ? rows.map((r) => r.alert_id) : []))
                    }
                  />
                </th>
              )}
              {COLUMNS.map(([c, label]) => {
                const active = sort.field === c;
                return (
                  <th
                    key={c}
                    scope="col"
                    aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                  >
                    <button
                      type="button"
                      className="th-btn"
                      onClick={() =>
                        setSort({
                          field: c,
                          desc: active ? !sort.desc : c === 'severity' || c === 'count' || c === 'last_ts',
                        })
                      }
                    >
                      {label}
                      <span aria-hidden="true">{active ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.alert_id} data-alert-id={a.alert_id} data-status={a.status}>
                {mayChange && (
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${a.title}`}
                      checked={selected.has(a.alert_id)}
                      onChange={(e) => toggle(a.alert_id, e.target.checked)}
                    />
                  </td>
                )}
                <td>
                  <SeverityBadge a={a} />
                </td>
                <td>
                  <a href={href(`/alerts/${encodeURIComponent(a.alert_id)}`)}>{a.title}</a>
                </td>
                <td>{a.category}</td>
                <td>
                  <HostLink ip={a.src_ip} port={a.src_port} />
                </td>
                <td>
                  <HostLink ip={a.dst_ip} port={a.dst_port} />
                </td>
                <td className="num">{a.count}</td>
                <td>{time(a.last_ts)}</td>
                <td className={`status-${a.status}`}>
                  {mayChange ? (
                    <select
                      aria-label={`Status of ${a.title}`}
                      value={a.status}
                      disabled={busy}
                      onChange={(e) =>
                        apply([a.alert_id], { status: e.target.value as Alert['status'] }, 'Status')
                      }
                    >
                      {STATUSES.map((s) => (
                        <option key={s} value={s}>
                          {STATUS_LABEL[s]}
                        </option>
                      ))}
                    </select>
                  ) : (
                    STATUS_LABEL[a.status]
                  )}
                </td>
                <td>{a.assignee ?? ''}</td>
              </tr>
            ))}
            {q.data && rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length + 1} className="empty">
                  No alerts match in this time range.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <CursorPager
        cursors={cursors}
        setCursors={setCursors}
        next={q.data?.next}
        previousLabel="← Previous"
        nextLabel="Next →"
      />
    </div>
  );
}
