import { useEffect, useId, useState } from 'react';
import { can, qs, sendJson } from '../api';
import { MonitorWidget } from '../components/MonitorWidget';
import { Empty, ErrorBox, Panel } from '../components/Status';
import { bytes, int, time } from '../format';
import { useRangeParams, useTop, useTotals } from '../queries';
import { href, navigate } from '../router';
import { useJson, useSession, useTime } from '../state';
import { KpiChart, METRIC_INFO, TopPanel } from './Overview';

export interface Widget {
  id: string;
  kind: 'timeseries' | 'top' | 'bar' | 'number' | 'monitor' | 'interfaces';
  title: string;
  /** monitor: the monitor's name. */
  monitor?: string;
  metric?: string;
  dim?: string;
  by?: 'bytes' | 'packets' | 'flows';
  type?: string;
  filter?: string;
  limit?: number;
  width?: number;
}

export interface Dashboard {
  id: string;
  name: string;
  owner: string;
  owner_name: string;
  shared: boolean;
  mine: boolean;
  widgets: Widget[];
  updated: string;
}

const KINDS: [Widget['kind'], string][] = [
  ['timeseries', 'Time series'],
  ['top', 'Top-N table'],
  ['bar', 'Bar chart'],
  ['number', 'Single number'],
  ['monitor', 'Monitor'],
  ['interfaces', 'Interface utilisation (SNMP)'],
];

export function newWidget(kind: Widget['kind'] = 'timeseries'): Widget {
  const id = `w${Math.random().toString(36).slice(2, 10)}`;
  if (kind === 'timeseries') return { id, kind, title: 'Traffic', metric: 'bps', width: 2 };
  if (kind === 'number') return { id, kind, title: 'Bytes', by: 'bytes', width: 1 };
  if (kind === 'monitor') return { id, kind, title: 'Monitor', width: 2 };
  if (kind === 'interfaces') return { id, kind, title: 'Interface utilisation', limit: 10, width: 2 };
  return { id, kind, title: 'Top servers', dim: 'server_ip', by: 'bytes', limit: 10, width: 2 };
}

function TopTable({ w }: { w: Widget }) {
  const q = useTop(w.dim ?? 'server_ip', w.by ?? 'bytes', w.filter ?? '', w.limit ?? 10, w.type ?? 'flow');
  return (
    <Panel title={w.title} loading={q.loading} error={q.error} onRetry={q.reload}>
      {q.data && (
        <table className="grid-table">
          <thead>
            <tr>
              <th scope="col">{w.dim}</th>
              <th scope="col">Bytes</th>
              <th scope="col">Packets</th>
              <th scope="col">Flows</th>
            </tr>
          </thead>
          <tbody>
            {q.data.items.map((i) => (
              <tr key={String(i.key)}>
                <td>{String(i.key ?? '(none)')}</td>
                <td className="num">{bytes(i.bytes)}</td>
                <td className="num">{int(i.packets)}</td>
                <td className="num">{int(i.flows)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function NumberWidget({ w }: { w: Widget }) {
  const q = useTotals(w.filter ?? '');
  const by = w.by ?? 'bytes';
  const v = q.totals?.[by];
  return (
    <Panel title={w.title} loading={q.loading} error={q.error} onRetry={q.reload}>
      <p className="big-number" data-value={v ?? ''}>
        {v === undefined ? '…' : by === 'bytes' ? bytes(v) : int(v)}
      </p>
      <p className="hint">
        {by} of flows{w.filter ? ` where ${w.filter}` : ''}
      </p>
    </Panel>
  );
}

interface IfPoll {
  ts: string;
  device: string;
  if_index: number;
  if_name: string | null;
  if_alias: string | null;
  if_speed: number | null;
  in_util: number | null;
  out_util: number | null;
  in_bps: number | null;
  out_bps: number | null;
}

/** The busiest interfaces of the SNMP-polled devices: each one's newest poll in the range. */
function InterfacesWidget({ w }: { w: Widget }) {
  const { after, before } = useRangeParams();
  const { tick } = useTime();
  const q = useJson<{ items: IfPoll[] }>(
    `/api/v1/records/snmp_interface${qs({ after, before, limit: 1000 })}`,
    tick,
  );
  const newest = new Map<string, IfPoll>();
  for (const p of q.data?.items ?? []) {
    const k = `${p.device}|${p.if_index}`;
    if (!newest.has(k)) newest.set(k, p);
  }
  const util = (p: IfPoll) => Math.max(p.in_util ?? -1, p.out_util ?? -1);
  const rows = [...newest.values()].sort((a, b) => util(b) - util(a)).slice(0, w.limit ?? 10);
  const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
  return (
    <Panel title={w.title} loading={q.loading} error={q.error} onRetry={q.reload}>
      {rows.length === 0 ? (
        <Empty>No SNMP polls in this range (config key snmp).</Empty>
      ) : (
        <table className="grid-table" data-testid="interfaces-widget">
          <thead>
            <tr>
              <th>Device</th>
              <th>Interface</th>
              <th>Speed</th>
              <th>In</th>
              <th>Out</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={`${p.device}|${p.if_index}`}>
                <td className="mono">{p.device}</td>
                <td title={p.if_alias ?? ''}>
                  {p.if_name ?? `ifIndex ${p.if_index}`}
                  {p.if_alias ? <span className="muted"> {p.if_alias}</span> : null}
                </td>
                <td>{p.if_speed ? `${int(p.if_speed / 1e6)} Mbit/s` : '–'}</td>
                <td>{pct(p.in_util)}</td>
                <td>{pct(p.out_util)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

export function WidgetView({ w }: { w: Widget }) {
  switch (w.kind) {
    case 'timeseries':
      return (
        <KpiChart metric={w.metric ?? 'bps'} filter={w.filter ?? ''} groupBy={w.dim ?? ''} title={w.title} />
      );
    case 'top':
      return <TopTable w={w} />;
    case 'bar':
      return (
        <TopPanel
          dim={w.dim ?? 'server_ip'}
          title={w.title}
          by={w.by ?? 'bytes'}
          filter={w.filter ?? ''}
          limit={w.limit ?? 10}
          type={w.type ?? 'flow'}
        />
      );
    case 'number':
      return <NumberWidget w={w} />;
    case 'monitor':
      return <MonitorWidget name={w.monitor ?? ''} title={w.title} />;
    case 'interfaces':
      return <InterfacesWidget w={w} />;
  }
}

function MonitorPicker({ value, onChange }: { value: string; onChange: (name: string) => void }) {
  const q = useJson<{ items: { name: string }[] }>('/api/v1/monitors');
  return (
    <label>
      Monitor
      <select value={value} aria-label="Monitor shown" onChange={(e) => onChange(e.target.value)}>
        <option value="">(pick one)</option>
        {(q.data?.items ?? []).map((m) => (
          <option key={m.name} value={m.name}>
            {m.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function WidgetEditor({
  w,
  onChange,
  onMove,
  onRemove,
  index,
  count,
}: {
  w: Widget;
  onChange: (w: Widget) => void;
  onMove: (d: number) => void;
  onRemove: () => void;
  index: number;
  count: number;
}) {
  const { types } = useSession();
  const id = useId();
  const type = types.find((t) => t.type === (w.type ?? 'flow')) ?? types[0];
  const set = (p: Partial<Widget>) => onChange({ ...w, ...p });
  return (
    <fieldset className="widget-editor" data-testid="widget-editor">
      <legend>
        Widget {index + 1}: {w.title}
      </legend>
      <label>
        Kind
        <select
          value={w.kind}
          onChange={(e) =>
            onChange({ ...newWidget(e.target.value as Widget['kind']), id: w.id, title: w.title })
          }
        >
          {KINDS.map(([k, l]) => (
            <option key={k} value={k}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label>
        Title
        <input value={w.title} maxLength={128} onChange={(e) => set({ title: e.target.value })} />
      </label>
      {w.kind === 'monitor' && (
        <MonitorPicker value={w.monitor ?? ''} onChange={(m) => set({ monitor: m })} />
      )}
      {w.kind === 'timeseries' && (
        <label>
          Metric
          <select value={w.metric ?? 'bps'} onChange={(e) => set({ metric: e.target.value })}>
            {Object.entries(METRIC_INFO).map(([m, i]) => (
              <option key={m} value={m}>
                {i.title}
              </option>
            ))}
          </select>
        </label>
      )}
      {(w.kind === 'top' || w.kind === 'bar' || w.kind === 'timeseries') && (
        <label>
          {w.kind === 'timeseries' ? 'Split by (optional)' : 'Field'}
          <select
            value={w.dim ?? ''}
            onChange={(e) =>
              set(e.target.value ? { dim: e.target.value } : { dim: undefined as unknown as string })
            }
          >
            {w.kind === 'timeseries' && <option value="">(none)</option>}
            {(types.find((t) => t.type === 'flow')?.fields ?? [])
              .concat(w.kind !== 'timeseries' && type?.type !== 'flow' ? (type?.fields ?? []) : [])
              .filter((f, i, a) => a.findIndex((x) => x.name === f.name) === i)
              .map((f) => (
                <option key={f.name} value={f.name}>
                  {f.label}
                </option>
              ))}
          </select>
        </label>
      )}
      {w.kind !== 'timeseries' && w.kind !== 'monitor' && w.kind !== 'interfaces' && (
        <label>
          Measure
          <select
            value={w.by ?? 'bytes'}
            onChange={(e) => set({ by: e.target.value as Widget['by'] & string })}
          >
            <option value="bytes">Bytes</option>
            <option value="packets">Packets</option>
            <option value="flows">Flows</option>
          </select>
        </label>
      )}
      {(w.kind === 'top' || w.kind === 'bar' || w.kind === 'interfaces') && (
        <label>
          Rows
          <input
            type="number"
            min={1}
            max={100}
            value={w.limit ?? 10}
            onChange={(e) => set({ limit: Math.max(1, Math.min(100, Number(e.target.value) || 10)) })}
          />
        </label>
      )}
      {w.kind !== 'monitor' && w.kind !== 'interfaces' && (
        <label className="grow">
          Filter
          <input
            id={`${id}-f`}
            value={w.filter ?? ''}
            maxLength={4096}
            placeholder="server_port = 443"
            onChange={(e) => set({ filter: e.target.value })}
          />
        </label>
      )}
      <label>
        Width
        <select value={w.width ?? 2} onChange={(e) => set({ width: Number(e.target.value) })}>
          <option value={1}>1/4</option>
          <option value={2}>1/2</option>
          <option value={3}>3/4</option>
          <option value={4}>Full</option>
        </select>
      </label>
      <div className="row">
        <button
          type="button"
          disabled={index === 0}
          onClick={() => onMove(-1)}
          aria-label={`Move ${w.title} earlier`}
        >
          ↑
        </button>
        <button
          type="button"
          disabled={index === count - 1}
          onClick={() => onMove(1)}
          aria-label={`Move ${w.title} later`}
        >
          ↓
        </button>
        <button type="button" className="danger" onClick={onRemove}>
          Remove
        </button>
      </div>
    </fieldset>
  );
}

function DashboardView({ id }: { id: string }) {
  const { me } = useSession();
  const q = useJson<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(id)}`);
  const [draft, setDraft] = useState<Dashboard | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    if (q.data) setDraft(structuredClone(q.data));
  }, [q.data]);
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (q.data?.mine && q.data.widgets.length === 0) setEditing(true);
  }, [q.data]);
  if (q.error) return <ErrorBox error={q.error} onRetry={q.reload} />;
  if (!draft) return <p role="status">Loading the dashboard…</p>;
  const mayEdit = draft.mine || can(me.role, 'admin');
  const save = () => {
    setBusy(true);
    setErr(null);
    sendJson<Dashboard>('PUT', `/api/v1/dashboards/${draft.id}`, {
      name: draft.name,
      shared: draft.shared,
      widgets: draft.widgets,
    }).then(
      (d) => {
        setBusy(false);
        setDraft(d);
        setSaved(`Saved at ${time(d.updated)} UTC.`);
        setEditing(false);
      },
      (e: unknown) => {
        setBusy(false);
        setErr(`Could not save: ${(e as Error).message}`);
      },
    );
  };
  const widgets = draft.widgets;
  const setWidgets = (ws: Widget[]) => setDraft({ ...draft, widgets: ws });
  return (
    <div className="page">
      <div className="row spread">
        <h1 data-testid="dashboard-name">{draft.name}</h1>
        <div className="row">
          {draft.shared && <span className="badge">shared</span>}
          {!draft.mine && <span className="muted">by {draft.owner_name || draft.owner}</span>}
          {mayEdit && !editing && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
      </div>
      {editing && (
        <section className="editor" aria-label="Edit dashboard">
          <div className="row">
            <label>
              Name
              <input
                value={draft.name}
                maxLength={128}
                onChange={(e) => setDraft({ ...draft, name: e.target.value })}
                data-testid="dashboard-name-input"
              />
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={draft.shared}
                onChange={(e) => setDraft({ ...draft, shared: e.target.checked })}
              />{' '}
              Shared with everyone
            </label>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('timeseries')])}>
              Add time series
            </button>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('top')])}>
              Add top-N table
            </button>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('bar')])}>
              Add bar chart
            </button>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('number')])}>
              Add single number
            </button>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('monitor')])}>
              Add monitor
            </button>
            <button type="button" onClick={() => setWidgets([...widgets, newWidget('interfaces')])}>
              Add interface utilisation
            </button>
          </div>
          {widgets.map((w, i) => (
            <WidgetEditor
              key={w.id}
              w={w}
              index={i}
              count={widgets.length}
              onChange={(nw) => setWidgets(widgets.map((x) => (x.id === w.id ? nw : x)))}
              onRemove={() => setWidgets(widgets.filter((x) => x.id !== w.id))}
              onMove={(d) => {
                const ws = [...widgets];
                const [x] = ws.splice(i, 1);
                ws.splice(i + d, 0, x!);
                setWidgets(ws);
              }}
            />
          ))}
          <div className="row">
            <button
              type="button"
              className="primary"
              onClick={save}
              disabled={busy}
              data-testid="dashboard-save"
            >
              {busy ? 'Saving…' : 'Save dashboard'}
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(structuredClone(q.data!));
                setEditing(false);
              }}
            >
              Discard changes
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (!confirm(`Delete the dashboard "${draft.name}"?`)) return;
                sendJson('DELETE', `/api/v1/dashboards/${draft.id}`).then(
                  () => navigate('/dashboards'),
                  (e: unknown) => setErr(`Could not delete: ${(e as Error).message}`),
                );
              }}
            >
              Delete
            </button>
          </div>
        </section>
      )}
      <ErrorBox error={err} />
      <p className="muted" aria-live="polite">
        {saved}
      </p>
      {widgets.length === 0 ? (
        <Empty>This dashboard has no widgets yet.</Empty>
      ) : (
        <div className="grid g4" data-testid="dashboard-widgets">
          {widgets.map((w) => (
            <div
              key={w.id}
              style={{ gridColumn: `span ${w.width ?? 2}` }}
              className="widget"
              data-kind={w.kind}
            >
              <WidgetView w={w} />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function DashboardList() {
  const q = useJson<{ items: Dashboard[] }>('/api/v1/dashboards');
  const [name, setName] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const nameId = useId();
  return (
    <div className="page">
      <h1>Dashboards</h1>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          sendJson<Dashboard>('POST', '/api/v1/dashboards', {
            name: name.trim() || 'Untitled',
            shared: false,
            widgets: [newWidget('timeseries'), newWidget('bar')],
          }).then(
            (d) => navigate(`/dashboards/${d.id}`),
            (e: unknown) => setErr(`Could not create the dashboard: ${(e as Error).message}`),
          );
        }}
      >
        <label htmlFor={nameId}>New dashboard</label>
        <input
          id={nameId}
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="Name"
          maxLength={128}
        />
        <button type="submit" className="primary">
          Create
        </button>
      </form>
      <ErrorBox error={err ?? q.error} onRetry={q.reload} />
      <Panel title="Yours and shared" loading={q.loading}>
        {q.data &&
          (q.data.items.length === 0 ? (
            <Empty>No dashboards yet. Create one above.</Empty>
          ) : (
            <ul className="list" data-testid="dashboard-list">
              {q.data.items.map((d) => (
                <li key={d.id}>
                  <a href={href(`/dashboards/${d.id}`)}>{d.name}</a>{' '}
                  <span className="muted">
                    {d.widgets.length} widgets · {d.mine ? 'yours' : `by ${d.owner_name || d.owner}`}
                    {d.shared ? ' · shared' : ''} · updated {time(d.updated)}
                  </span>
                </li>
              ))}
            </ul>
          ))}
      </Panel>
    </div>
  );
}

export function Dashboards({ id }: { id: string | null }) {
  return id ? <DashboardView key={id} id={id} /> : <DashboardList />;
}
