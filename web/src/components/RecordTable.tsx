import { useEffect, useId, useState } from 'react';
import { download, type Page, qs, type Rec, type TypeInfo } from '../api';
import { cell } from '../format';
import { href } from '../router';
import { useJson, useTime } from '../state';
import { CursorPager } from './CursorPager';
import { ErrorBox } from './Status';

const DEFAULT_COLUMNS: Record<string, string[]> = {
  flow: [
    'first_ts',
    'proto',
    'client_ip',
    'client_port',
    'server_ip',
    'server_port',
    'app',
    'client_ip_bytes',
    'server_ip_bytes',
    'rtt_ms',
  ],
  dns: ['ts', 'client_ip', 'server_ip', 'query', 'qtype_name', 'rcode_name', 'answers'],
};

function defaultColumns(t: TypeInfo): string[] {
  const want = DEFAULT_COLUMNS[t.type];
  const names = t.fields.map((f) => f.name);
  if (want) return want.filter((n) => names.includes(n));
  return [
    t.time_field,
    ...names.filter((n) => n !== t.time_field && n !== 'flow_id' && n !== 'community_id'),
  ].slice(0, 8);
}

function loadColumns(t: TypeInfo): string[] {
  try {
    const saved = JSON.parse(localStorage.getItem(`vantage.columns.${t.type}`) ?? 'null') as string[] | null;
    const names = new Set(t.fields.map((f) => f.name));
    const ok = saved?.filter((c) => names.has(c));
    if (ok?.length) return ok;
  } catch {}
  return defaultColumns(t);
}

/**
 * Records of one type matching a filter in the shared time range: chosen columns, sort by
 * any column (done by the server), pages, CSV and Parquet export of the whole result.
 */
export function RecordTable({
  type,
  filter,
  pageSize = 50,
}: {
  type: TypeInfo;
  filter: string;
  pageSize?: number;
}) {
  const { resolved, tick } = useTime();
  const id = useId();
  const [columns, setColumns] = useState(() => loadColumns(type));
  const [sort, setSort] = useState<{ field: string; desc: boolean }>({ field: type.time_field, desc: true });
  const [cursors, setCursors] = useState<string[]>([]);
  const [exportMsg, setExportMsg] = useState<string | null>(null);
  const [exportErr, setExportErr] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query starts at the first page
  useEffect(() => setCursors([]), [filter, sort, resolved.after, resolved.before, type.type]);
  useEffect(() => setColumns(loadColumns(type)), [type]);

  const withId = type.fields.some((f) => f.name === 'flow_id');
  const fieldsParam = [...new Set([...columns, ...(withId ? ['flow_id'] : [])])].join(',');
  const base = {
    after: resolved.after,
    before: resolved.before,
    filter,
    sort: sort.field,
    order: sort.desc ? 'desc' : 'asc',
  };
  const cursor = cursors[cursors.length - 1];
  const q = useJson<Page>(
    `${type.path}${qs({ ...base, fields: fieldsParam, limit: pageSize, cursor })}`,
    tick,
  );
  const byName = new Map(type.fields.map((f) => [f.name, f]));
  // Records have no key of their own; a page is replaced whole, so its position is one.
  const rows = (q.data?.items ?? []).map((r, i) => ({ r, k: `${cursor ?? ''}:${i}` }));

  const saveColumns = (c: string[]) => {
    setColumns(c);
    try {
      localStorage.setItem(`vantage.columns.${type.type}`, JSON.stringify(c));
    } catch {}
  };
  const doExport = (format: 'csv' | 'parquet') => {
    setExportErr(null);
    setExportMsg(`Preparing the ${format.toUpperCase()} export…`);
    download(
      `${type.path}${qs({ ...base, fields: format === 'csv' ? columns.join(',') : undefined, format })}`,
      `${type.type}.${format}`,
    ).then(
      (r) => setExportMsg(`Saved ${r.name} (${r.bytes.toLocaleString('en-US')} bytes).`),
      (e: unknown) => {
        setExportMsg(null);
        setExportErr(`Export failed: ${(e as Error).message}`);
      },
    );
  };

  const renderCell = (r: Rec, name: string) => {
    const f = byName.get(name);
    const v = r[name];
    const text = cell(name, f?.type ?? 'string', v);
    if (f?.type === 'ip' && typeof v === 'string')
      return <a href={href(`/host/${encodeURIComponent(v)}`)}>{text}</a>;
    return text;
  };

  return (
    <div className="records" data-testid={`records-${type.type}`}>
      <div className="toolbar">
        <details className="columns">
          <summary>Columns ({columns.length})</summary>
          <fieldset>
            <legend className="sr-only">Columns shown</legend>
            {type.fields.map((f) => (
              <label key={f.name} title={f.doc}>
                <input
                  type="checkbox"
                  checked={columns.includes(f.name)}
                  onChange={(e) =>
                    saveColumns(
                      e.target.checked
                        ? type.fields.map((x) => x.name).filter((n) => n === f.name || columns.includes(n))
                        : columns.filter((c) => c !== f.name),
                    )
                  }
                />{' '}
                {f.label}
              </label>
            ))}
            <button type="button" onClick={() => saveColumns(defaultColumns(type))}>
              Reset columns
            </button>
          </fieldset>
        </details>
        <button type="button" onClick={() => doExport('csv')}>
          Export CSV
        </button>
        <button type="button" onClick={() => doExport('parquet')}>
          Export Parquet
        </button>
        <span className="muted" aria-live="polite">
          {exportMsg}
        </span>
      </div>
      <ErrorBox error={exportErr} />
      <ErrorBox error={q.error} onRetry={q.reload} />
      <div className="table-wrap" aria-busy={q.loading || undefined}>
        <table className="grid-table" aria-describedby={`${id}-cap`}>
          <caption id={`${id}-cap`} className="sr-only">
            {type.type} records; select a column heading to sort
          </caption>
          <thead>
            <tr>
              {withId && (
                <th scope="col">
                  <span className="sr-only">Flow</span>
                </th>
              )}
              {columns.map((c) => {
                const f = byName.get(c);
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
                      title={f ? `${f.doc}${f.unit ? ` (${f.unit})` : ''}` : c}
                      onClick={() =>
                        setSort({
                          field: c,
                          desc: active ? !sort.desc : f?.type !== 'string' && f?.type !== 'ip',
                        })
                      }
                    >
                      {f?.label ?? c}
                      {f?.unit ? <span className="unit"> {f.unit}</span> : null}
                      <span aria-hidden="true">{active ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.map(({ r, k }) => (
              <tr key={k} data-flow-id={r.flow_id === undefined ? undefined : String(r.flow_id)}>
                {withId && (
                  <td>
                    {r.flow_id !== null && r.flow_id !== undefined && (
                      <a
                        className="flow-link"
                        href={href(`/flow/${String(r.flow_id)}`)}
                        title="Open the flow"
                      >
                        Flow<span className="sr-only"> {String(r.flow_id)}</span>
                      </a>
                    )}
                  </td>
                )}
                {columns.map((c) => (
                  <td
                    key={c}
                    className={
                      byName.get(c)?.type === 'int' || byName.get(c)?.type === 'float' ? 'num' : undefined
                    }
                  >
                    {renderCell(r, c)}
                  </td>
                ))}
              </tr>
            ))}
            {q.data && q.data.items.length === 0 && (
              <tr>
                <td colSpan={columns.length + 1} className="empty">
                  No {type.type} records match in this time range.
                </td>
              </tr>
            )}
            {!q.data &&
              Array.from({ length: 5 }, (_, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: placeholder rows have no identity
                <tr key={i} className="placeholder">
                  <td colSpan={columns.length + 1}>&nbsp;</td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>
      <CursorPager
        cursors={cursors}
        setCursors={setCursors}
        next={q.data?.next}
        previousLabel="← Newer"
        nextLabel="Older →"
      />
    </div>
  );
}
