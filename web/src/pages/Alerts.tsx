import { useEffect, useId, useState } from 'react';
import {
  alertFilter,
  CATEGORIES,
  type GroupBy,
  groupFilter,
  mergeGroups,
  quickFromParams,
  SEVERITY_BANDS,
  SOURCES,
  STATUS_LABEL,
  STATUSES,
} from '../alerts';
import { qs, type TopItem } from '../api';
import { AlertTable } from '../components/AlertTable';
import { Panel } from '../components/Status';
import { int } from '../format';
import { navigate, setParam, useRoute } from '../router';
import { useJson, useTime } from '../state';

const GROUPS: [GroupBy | '', string][] = [
  ['', 'No grouping'],
  ['category', 'Category'],
  ['host', 'Host (source or destination)'],
  ['severity_label', 'Severity'],
  ['detector', 'Detector'],
];

/** Counts per category, host, severity or detector of the alerts in view; a group narrows the list. */
function Groups({ by, filter, onPick }: { by: GroupBy; filter: string; onPick: (f: string) => void }) {
  const { resolved, tick } = useTime();
  const top = (dim: string) =>
    `/api/v1/top${qs({ type: 'alert', dim, by: 'flows', limit: 50, filter, after: resolved.after, before: resolved.before })}`;
  const a = useJson<{ items: TopItem[] }>(top(by === 'host' ? 'src_ip' : by), tick);
  const b = useJson<{ items: TopItem[] }>(by === 'host' ? top('dst_ip') : null, tick);
  const ready = a.data && (by !== 'host' || b.data);
  const groups = ready ? mergeGroups(by === 'host' ? [a.data!.items, b.data!.items] : [a.data!.items]) : [];
  return (
    <Panel
      title={`Alerts by ${GROUPS.find(([g]) => g === by)?.[1].toLowerCase() ?? by}`}
      loading={a.loading || b.loading}
      error={a.error ?? b.error}
      onRetry={() => {
        a.reload();
        b.reload();
      }}
      testId="alert-groups"
    >
      {ready && groups.length === 0 && <p className="empty">No alerts to group.</p>}
      <ol className="bars">
        {groups.map((g) => {
          const max = groups[0]?.count ?? 1;
          return (
            <li key={String(g.key)} data-key={String(g.key)} data-value={g.count}>
              <button
                type="button"
                className="bar"
                title="Show only these alerts"
                onClick={() => onPick(groupFilter(by, g.key))}
              >
                <span
                  className="bar-fill"
                  style={{ width: `${(g.count / max) * 100}%` }}
                  aria-hidden="true"
                />
                <span className="bar-key">{g.key ?? '(none)'}</span>
                <span className="bar-val">{int(g.count)}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </Panel>
  );
}

/** Alerts in the shared time range: the filter language, quick filters, groups and status work. */
export function AlertsPage() {
  const r = useRoute();
  const id = useId();
  const filterParam = r.params.get('filter') ?? '';
  const [text, setText] = useState(filterParam);
  useEffect(() => setText(filterParam), [filterParam]);
  const quick = quickFromParams(r.params);
  const group = (r.params.get('group') ?? '') as GroupBy | '';
  const filter = alertFilter(filterParam, quick);
  const apply = (f: string) => setParam('filter', f.trim() || null);
  const select = (name: string, label: string, value: string, options: [string, string][]) => (
    <>
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <select id={`${id}-${name}`} value={value} onChange={(e) => setParam(name, e.target.value || null)}>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </>
  );
  return (
    <div className="page">
      <h1>Alerts</h1>
      <form
        className="filterbar"
        onSubmit={(e) => {
          e.preventDefault();
          apply(text);
        }}
      >
        <label htmlFor={`${id}-f`}>Filter</label>
        <input
          id={`${id}-f`}
          className="grow"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder='severity >= 70 and category = "scan"'
          aria-describedby={`${id}-h`}
        />
        <button type="submit" className="primary">
          Apply
        </button>
        {filterParam && (
          <button type="button" onClick={() => apply('')}>
            Clear
          </button>
        )}
      </form>
      <p id={`${id}-h`} className="hint">
        Fields: severity, category, status, source, detector, src_ip, dst_ip, dst_port, title, assignee…
        Operators: = != &lt; &lt;= &gt; &gt;= ~ (contains) in, not in, exists; and / or / not.
      </p>
      <div className="filterbar" data-testid="alert-quick">
        {select('sev', 'Severity', quick.minSeverity ? String(quick.minSeverity) : '', [
          ['', 'Any'],
          ...SEVERITY_BANDS.filter((b) => b.min > 0).map((b): [string, string] => [
            String(b.min),
            `${b.label} or worse`,
          ]),
        ])}
        {select('category', 'Category', quick.category, [
          ['', 'Any'],
          ...CATEGORIES.map((c): [string, string] => [c, c]),
        ])}
        {select('status', 'Status', quick.status, [
          ['', 'Any'],
          ['open', 'Open (new or acknowledged)'],
          ...STATUSES.map((s): [string, string] => [s, STATUS_LABEL[s]]),
        ])}
        {select('source', 'Source', quick.source, [
          ['', 'Any'],
          ...SOURCES.map((s): [string, string] => [s, s]),
        ])}
        {select('group', 'Group by', group, GROUPS)}
      </div>
      {group && (
        <Groups
          by={group}
          filter={filter}
          onPick={(f) => {
            const next = filterParam.trim() ? `(${filterParam.trim()}) and (${f})` : f;
            navigate('/alerts', { ...Object.fromEntries(r.params), filter: next, group: undefined });
          }}
        />
      )}
      <AlertTable filter={filter} />
    </div>
  );
}
