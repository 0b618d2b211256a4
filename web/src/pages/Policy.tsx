import { useId, useMemo, useState } from 'react';
import { ApiError, can, download, getJson, sendJson } from '../api';
import { AlertTable } from '../components/AlertTable';
import { PolicyGraph } from '../components/PolicyGraph';
import { Empty, ErrorBox, Panel } from '../components/Status';
import '../components/policy.css';
import { bytes, int, time } from '../format';
import {
  ALL_EDGES,
  bulkChanges,
  type Compliance,
  countByStatus,
  EDGE_STATUSES,
  type EdgeFilter,
  type EdgeStatus,
  filterEdges,
  type PolicyDiff,
  type PolicyDoc,
  type PolicyEdge,
  parseScopes,
  service,
} from '../policy';
import { href, setParam, useRoute } from '../router';
import { useJson, useLoad, useSession, useTime } from '../state';
import { ProposalGroups } from './PolicyGroups';

const VIOLATIONS = 'category = "policy"';
const P = '/api/v1/policy';
const proposalPath = (id: string, rest = '') => `${P}/proposals/${encodeURIComponent(id)}${rest}`;

function Propose({ onProposed }: { onProposed: (id: string) => void }) {
  const { me } = useSession();
  const { resolved } = useTime();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [scopes, setScopes] = useState('');
  const id = useId();
  if (!can(me.role, 'analyst'))
    return (
      <p className="hint" data-testid="propose-denied">
        Analysts propose policies and admins approve them; your token has the {me.role} role, so you can look
        but not change anything.
      </p>
    );
  const after = new Date(resolved.fromMs).toISOString();
  const before = new Date(resolved.toMs).toISOString();
  return (
    <div className="actions" data-testid="policy-propose">
      <button
        type="button"
        className="primary"
        disabled={busy}
        onClick={() => {
          const sc = parseScopes(scopes);
          if ('error' in sc) {
            setErr(`Scopes: ${sc.error}`);
            return;
          }
          setBusy(true);
          setErr(null);
          sendJson<PolicyDoc>('POST', `${P}/proposals`, {
            after,
            before,
            ...(sc.scopes.length ? { scopes: sc.scopes } : {}),
          }).then(
            (d) => {
              setBusy(false);
              onProposed(d.id);
            },
            (e: unknown) => {
              setBusy(false);
              setErr(`Could not propose: ${(e as Error).message}`);
            },
          );
        }}
      >
        {busy ? 'Learning…' : 'Propose from this time range'}
      </button>
      <span className="muted">
        Learns groups and their dependencies from the flows stored between {time(after)} and {time(before)}{' '}
        UTC (the time picker above).
      </span>
      <details className="grow">
        <summary>Scopes (optional)</summary>
        <label htmlFor={`${id}-sc`}>
          Networks that are one group whatever the flows say, one per line: <code>db: 10.0.3.0/24</code>
        </label>
        <textarea
          id={`${id}-sc`}
          className="alert-notes mono"
          rows={3}
          value={scopes}
          onChange={(e) => setScopes(e.target.value)}
          spellCheck={false}
        />
      </details>
      <ErrorBox error={err} />
    </div>
  );
}

function StatusBadge({ s }: { s: EdgeStatus }) {
  return <span className={`badge edge-${s}`}>{s}</span>;
}

function Diff({ diff, names }: { diff: PolicyDiff; names: Map<string, string> }) {
  const line = (e: Pick<PolicyEdge, 'src' | 'dst' | 'proto' | 'port'>) =>
    `${names.get(e.src) ?? e.src} → ${names.get(e.dst) ?? e.dst} ${service(e)}`;
  return (
    <Panel
      title={
        diff.from
          ? `What is new since version ${diff.from.version} (the approved one)`
          : 'What is new: no version is approved yet, so every edge'
      }
      testId="policy-diff"
    >
      <p data-added={diff.added.length} data-removed={diff.removed.length} data-changed={diff.changed.length}>
        {int(diff.added.length)} new, {int(diff.removed.length)} gone, {int(diff.changed.length)} changed
        status.
      </p>
      {diff.added.length > 0 && (
        <details open={diff.added.length <= 12}>
          <summary>New dependencies</summary>
          <ul className="list">
            {diff.added.map((e) => (
              <li key={e.id} data-edge-id={e.id}>
                {line(e)} <span className="muted">{int(e.flows)} flows</span>
              </li>
            ))}
          </ul>
        </details>
      )}
      {diff.removed.length > 0 && (
        <details>
          <summary>No longer seen</summary>
          <ul className="list">
            {diff.removed.map((e) => (
              <li key={e.id}>{line(e)}</li>
            ))}
          </ul>
        </details>
      )}
      {diff.changed.length > 0 && (
        <details>
          <summary>Status changed</summary>
          <ul className="list">
            {diff.changed.map((c) => (
              <li key={c.id}>
                <code>{c.id}</code>: {c.from} → {c.to}
              </li>
            ))}
          </ul>
        </details>
      )}
    </Panel>
  );
}

/** The review table: filters, per-edge and bulk status for admins. */
function EdgeReview({
  doc,
  names,
  group,
  onChanged,
}: {
  doc: PolicyDoc;
  names: Map<string, string>;
  group: string | null;
  onChanged: (d: PolicyDoc) => void;
}) {
  const { me } = useSession();
  const admin = can(me.role, 'admin');
  const id = useId();
  const [f, setF] = useState<EdgeFilter>(ALL_EDGES);
  const [sel, setSel] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const shown = useMemo(() => {
    const es = filterEdges(doc.edges, f, names);
    return group ? es.filter((e) => e.src === group || e.dst === group) : es;
  }, [doc.edges, f, names, group]);
  const send = (changes: { edge: string; status: EdgeStatus }[], what: string) => {
    if (changes.length === 0) {
      setMsg('Nothing to change.');
      return;
    }
    setBusy(true);
    setErr(null);
    setMsg(null);
    sendJson<PolicyDoc>('PATCH', proposalPath(doc.id, '/edges'), { changes }).then(
      (d) => {
        setBusy(false);
        setSel(new Set());
        setMsg(`${what}: ${changes.length} edge${changes.length === 1 ? '' : 's'}.`);
        onChanged(d);
      },
      (e: unknown) => {
        setBusy(false);
        setErr(`${what} failed: ${(e as Error).message}`);
      },
    );
  };
  const allShown = shown.length > 0 && shown.every((e) => sel.has(e.id));
  const counts = countByStatus(doc.edges);
  return (
    <Panel
      title={`Edges to review (${int(counts.pending)} pending, ${int(counts.approved)} approved, ${int(counts.rejected)} rejected)`}
      testId="edge-review"
    >
      <div className="filterbar">
        <label htmlFor={`${id}-st`}>Seen</label>
        <select
          id={`${id}-st`}
          value={f.stability}
          data-testid="edge-filter-stability"
          onChange={(e) => setF({ ...f, stability: e.target.value as EdgeFilter['stability'] })}
        >
          <option value="all">Stable and incidental</option>
          <option value="stable">Stable (normal operation)</option>
          <option value="incidental">Incidental (one-offs)</option>
        </select>
        <label htmlFor={`${id}-s`}>Status</label>
        <select
          id={`${id}-s`}
          value={f.status}
          data-testid="edge-filter-status"
          onChange={(e) => setF({ ...f, status: e.target.value as EdgeFilter['status'] })}
        >
          <option value="all">Any</option>
          {EDGE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-t`}>Find</label>
        <input
          id={`${id}-t`}
          className="grow"
          value={f.text}
          placeholder="group name, TCP/5432…"
          onChange={(e) => setF({ ...f, text: e.target.value })}
        />
        {group && (
          <span className="muted">Only edges of {names.get(group)} (click the group again to show all)</span>
        )}
      </div>
      {admin && (
        <div className="toolbar actions" data-testid="edge-bulk">
          <span className="muted">{int(sel.size)} selected</span>
          <button
            type="button"
            disabled={busy || sel.size === 0}
            onClick={() => send(bulkChanges(doc.edges, sel, 'approved'), 'Approve')}
          >
            Approve selected
          </button>
          <button
            type="button"
            disabled={busy || sel.size === 0}
            onClick={() => send(bulkChanges(doc.edges, sel, 'rejected'), 'Reject')}
          >
            Reject selected
          </button>
          <button
            type="button"
            disabled={busy || sel.size === 0}
            onClick={() => send(bulkChanges(doc.edges, sel, 'pending'), 'Reset')}
          >
            Back to pending
          </button>
          <span className="muted" aria-live="polite" data-testid="edge-msg">
            {msg}
          </span>
        </div>
      )}
      <ErrorBox error={err} />
      <div className="table-wrap">
        <table className="grid-table" data-testid="edge-table" data-rows={shown.length}>
          <caption className="sr-only">Dependencies between groups learned from flows</caption>
          <thead>
            <tr>
              {admin && (
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every edge shown"
                    checked={allShown}
                    onChange={(e) => setSel(e.target.checked ? new Set(shown.map((x) => x.id)) : new Set())}
                  />
                </th>
              )}
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Service</th>
              <th scope="col">Flows</th>
              <th scope="col">Bytes</th>
              <th scope="col">Days</th>
              <th scope="col">Seen</th>
              <th scope="col">Last seen</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id} data-edge-id={e.id} data-status={e.status} data-stable={e.stable}>
                {admin && (
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${names.get(e.src)} to ${names.get(e.dst)} ${service(e)}`}
                      checked={sel.has(e.id)}
                      onChange={(ev) => {
                        const s = new Set(sel);
                        if (ev.target.checked) s.add(e.id);
                        else s.delete(e.id);
                        setSel(s);
                      }}
                    />
                  </td>
                )}
                <td>{names.get(e.src) ?? e.src}</td>
                <td>{names.get(e.dst) ?? e.dst}</td>
                <td>{service(e)}</td>
                <td className="num">{int(e.flows)}</td>
                <td className="num">{bytes(e.bytes)}</td>
                <td className="num">{e.days}</td>
                <td>{e.stable ? 'stable' : <span className="muted">incidental</span>}</td>
                <td>{time(e.last_seen)}</td>
                <td>
                  {admin ? (
                    <select
                      aria-label={`Status of ${names.get(e.src)} to ${names.get(e.dst)} ${service(e)}`}
                      className={`edge-${e.status}`}
                      value={e.status}
                      disabled={busy}
                      onChange={(ev) =>
                        send([{ edge: e.id, status: ev.target.value as EdgeStatus }], 'Set status')
                      }
                    >
                      {EDGE_STATUSES.map((s) => (
                        <option key={s} value={s}>
                          {s}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <StatusBadge s={e.status} />
                  )}
                  {e.reviewed_by && <span className="muted small"> by {e.reviewed_by}</span>}
                </td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={10} className="empty">
                  No edge matches these filters.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}

function ProposalView({ id, onGone }: { id: string; onGone: () => void }) {
  const { me } = useSession();
  const q = useLoad(`proposal:${id}`, (signal) =>
    getJson<{ proposal: PolicyDoc; diff: PolicyDiff }>(proposalPath(id), signal),
  );
  const [group, setGroup] = useState<string | null>(null);
  const [approveErr, setApproveErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const doc = q.data?.proposal;
  const names = useMemo(() => new Map((doc?.groups ?? []).map((g) => [g.id, g.name])), [doc]);
  if (q.error) return <ErrorBox error={q.error} onRetry={q.reload} />;
  if (!doc || !q.data) return <p role="status">Loading the proposal…</p>;
  const counts = countByStatus(doc.edges);
  const mine = doc.created_by === me.name;
  return (
    <section aria-label={`Proposal ${doc.id}`} data-testid="proposal" data-proposal-id={doc.id}>
      <Panel
        title={
          <>
            Proposal <code>{doc.id}</code>
          </>
        }
        actions={
          <div className="actions">
            {can(me.role, 'admin') && (
              <button
                type="button"
                className="primary"
                data-testid="approve-proposal"
                disabled={busy}
                onClick={() => {
                  if (
                    counts.pending > 0 &&
                    !confirm(
                      `${counts.pending} edges are still pending; they will not be permitted. Approve?`,
                    )
                  )
                    return;
                  setBusy(true);
                  setApproveErr(null);
                  sendJson<PolicyDoc>('POST', proposalPath(doc.id, '/approve')).then(
                    (d) => {
                      setBusy(false);
                      onGone();
                      setParam('approved', String(d.version));
                    },
                    (e: unknown) => {
                      setBusy(false);
                      // The server's own words: who may approve, and why not this admin.
                      setApproveErr(
                        e instanceof ApiError && e.status === 403
                          ? e.message
                          : `Could not approve: ${(e as Error).message}`,
                      );
                    },
                  );
                }}
              >
                Approve proposal
              </button>
            )}
            {can(me.role, 'analyst') && (
              <button
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => {
                  if (!confirm(`Discard the proposal ${doc.id}?`)) return;
                  sendJson('DELETE', proposalPath(doc.id)).then(onGone, (e: unknown) =>
                    setApproveErr(`Could not discard: ${(e as Error).message}`),
                  );
                }}
              >
                Discard
              </button>
            )}
          </div>
        }
      >
        <p>
          Proposed by <strong data-testid="proposed-by">{doc.created_by}</strong> on {time(doc.created)} UTC
          from {int(doc.window.flows)} flows between {time(doc.window.after)} and {time(doc.window.before)}:{' '}
          {int(doc.groups.length)} groups, {int(doc.edges.length)} edges.
          {mine && can(me.role, 'admin') && ' You proposed it, so another admin must approve it.'}
        </p>
        <div data-testid="approve-error">
          <ErrorBox error={approveErr} />
        </div>
        <PolicyGraph
          groups={doc.groups}
          edges={doc.edges}
          selected={group}
          onSelect={(g) => setGroup(group === g ? null : g)}
          label={`Proposal ${doc.id}: ${doc.groups.length} groups, ${doc.edges.length} edges`}
        />
      </Panel>
      <Diff diff={q.data.diff} names={names} />
      <EdgeReview doc={doc} names={names} group={group} onChanged={() => q.reload()} />
      <ProposalGroups doc={doc} onChanged={() => q.reload()} />
    </section>
  );
}

interface VersionRow {
  version: number;
  id: string;
  status: string;
  approved_by?: string;
  approved_at?: string;
  groups: number;
  edges: number;
}

function Versions({ items }: { items: VersionRow[] }) {
  const [err, setErr] = useState<string | null>(null);
  const get = (v: number, format: 'nft' | 'k8s' | 'json') =>
    download(
      `${P}/versions/${v}/export?format=${format}`,
      `policy-v${v}.${format === 'k8s' ? 'yaml' : format}`,
    ).catch((e: unknown) => setErr(`Export failed: ${(e as Error).message}`));
  return (
    <Panel title="Approved versions" testId="policy-versions">
      <ErrorBox error={err} />
      {items.length === 0 ? (
        <Empty>No version approved yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="grid-table">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Status</th>
                <th scope="col">Groups</th>
                <th scope="col">Edges</th>
                <th scope="col">Approved by</th>
                <th scope="col">Approved</th>
                <th scope="col">Export</th>
              </tr>
            </thead>
            <tbody>
              {[...items].reverse().map((v) => (
                <tr key={v.version} data-version={v.version} data-status={v.status}>
                  <td>
                    <a href={href('/policy', { version: String(v.version) })}>v{v.version}</a>
                  </td>
                  <td>{v.status === 'approved' ? <span className="badge">active</span> : v.status}</td>
                  <td className="num">{int(v.groups)}</td>
                  <td className="num">{int(v.edges)}</td>
                  <td>{v.approved_by ?? '–'}</td>
                  <td>{time(v.approved_at)}</td>
                  <td>
                    <div className="actions">
                      <button type="button" onClick={() => get(v.version, 'nft')}>
                        nftables
                      </button>
                      <button type="button" onClick={() => get(v.version, 'k8s')}>
                        Kubernetes
                      </button>
                      <button type="button" onClick={() => get(v.version, 'json')}>
                        JSON
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

function CompliancePanel({ tick }: { tick: number }) {
  const q = useJson<Compliance>(`${P}/compliance`, tick);
  const c = q.data;
  return (
    <Panel
      title="Compliance since the server started"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="policy-compliance"
    >
      {c && !c.totals && <Empty>No approved policy: nothing is checked yet.</Empty>}
      {c?.totals && (
        <table className="grid-table">
          <thead>
            <tr>
              <th scope="col">Source group</th>
              <th scope="col">Permitted</th>
              <th scope="col">Rejected</th>
              <th scope="col">Escaped</th>
            </tr>
          </thead>
          <tbody>
            {c.groups.map((g) => (
              <tr key={g.id} data-group={g.id} data-escaped={g.escaped}>
                <td>{g.name}</td>
                <td className="num">{int(g.permitted)}</td>
                <td className="num">{int(g.rejected)}</td>
                <td className="num">{int(g.escaped)}</td>
              </tr>
            ))}
            <tr
              data-testid="compliance-totals"
              data-escaped={c.totals.escaped}
              data-permitted={c.totals.permitted}
            >
              <th scope="row">All (v{c.policy?.version})</th>
              <td className="num">{int(c.totals.permitted)}</td>
              <td className="num">{int(c.totals.rejected)}</td>
              <td className="num">{int(c.totals.escaped)}</td>
            </tr>
          </tbody>
        </table>
      )}
      <p className="hint">
        Permitted: an approved edge. Rejected: an edge a reviewer rejected. Escaped: no edge at all (a new
        dependency). Rejected and escaped flows are violations.
      </p>
    </Panel>
  );
}

function VersionView({ v }: { v: number }) {
  const q = useJson<PolicyDoc>(`${P}/versions/${v}`);
  if (q.error) return <ErrorBox error={q.error} onRetry={q.reload} />;
  if (!q.data) return <p role="status">Loading version {v}…</p>;
  const d = q.data;
  return (
    <Panel
      title={`Version ${d.version} (${d.status === 'approved' ? 'active' : d.status})`}
      testId="policy-version"
    >
      <p>
        Proposed by {d.created_by}, approved by {d.approved_by ?? '–'} on {time(d.approved_at)} UTC:{' '}
        {int(d.groups.length)} groups, {int(d.edges.filter((e) => e.status === 'approved').length)} approved
        edges.
      </p>
      <PolicyGraph groups={d.groups} edges={d.edges} label={`Policy version ${d.version}`} />
    </Panel>
  );
}

/**
 * The communication policy: propose from stored flows, review and approve (another admin than
 * the proposer), what changed, the versions and their exports, compliance and violations.
 */
export function PolicyPage() {
  const r = useRoute();
  const { tick } = useTime();
  const selected = r.params.get('proposal');
  const versionParam = Number(r.params.get('version') ?? 0);
  const approved = r.params.get('approved');
  const proposals = useJson<{ items: PolicyDoc[] }>(`${P}/proposals`, tick);
  const versions = useJson<{ items: VersionRow[] }>(`${P}/versions`, tick);
  const active = versions.data?.items.find((v) => v.status === 'approved');
  const shownVersion = versionParam > 0 ? versionParam : (active?.version ?? 0);
  const reloadAll = () => {
    proposals.reload();
    versions.reload();
  };
  return (
    <div className="page" data-testid="policy">
      <h1>Policy</h1>
      <p className="hint" data-testid="policy-active" data-version={active?.version ?? 0}>
        {active
          ? `Version ${active.version} is active: every flow outside its approved edges is a violation.`
          : 'No policy is approved yet: propose one from a time range of normal traffic, review it, and have another admin approve it.'}
      </p>
      {approved && (
        <p className="notice" role="status" data-testid="policy-approved">
          Approved: version {approved} is now active.
        </p>
      )}
      <Propose
        onProposed={(id) => {
          proposals.reload();
          setParam('proposal', id);
        }}
      />
      <Panel
        title="Proposals waiting for review"
        loading={proposals.loading}
        error={proposals.error}
        onRetry={proposals.reload}
        testId="proposal-list"
      >
        {proposals.data &&
          (proposals.data.items.length === 0 ? (
            <Empty>No proposal is waiting.</Empty>
          ) : (
            <ul className="list">
              {proposals.data.items.map((p) => (
                <li key={p.id} data-proposal-id={p.id}>
                  <a
                    href={href('/policy', { proposal: p.id })}
                    aria-current={selected === p.id ? 'true' : undefined}
                  >
                    {p.id}
                  </a>{' '}
                  <span className="muted">
                    by {p.created_by} on {time(p.created)} · {int(p.groups.length)} groups ·{' '}
                    {int(p.edges.length)} edges ({int(countByStatus(p.edges).pending)} pending)
                  </span>
                </li>
              ))}
            </ul>
          ))}
      </Panel>
      {selected ? (
        <ProposalView
          key={selected}
          id={selected}
          onGone={() => {
            setParam('proposal', null);
            reloadAll();
          }}
        />
      ) : (
        shownVersion > 0 && <VersionView key={shownVersion} v={shownVersion} />
      )}
      <Versions items={versions.data?.items ?? []} />
      <CompliancePanel tick={tick} />
      <Panel
        title="Violations"
        testId="policy-violations-panel"
        actions={<a href={href('/alerts', { category: 'policy' })}>Open in Alerts</a>}
      >
        <AlertTable filter={VIOLATIONS} compact pageSize={20} testId="policy-violations" />
      </Panel>
    </div>
  );
}
