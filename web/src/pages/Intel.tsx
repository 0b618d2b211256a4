import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { can, getJson, type Page, qs, sendJson } from '../api';
import { Chart } from '../components/Chart';
import { IndicatorFacts } from '../components/IntelLookup';
import { SeverityBadge, SightingTable } from '../components/Sightings';
import { ErrorBox, Panel } from '../components/Status';
import { int, time } from '../format';
import {
  dwell,
  emptyFeedForm,
  FEED_KINDS,
  type FeedForm,
  type FeedKind,
  type FeedStatus,
  feedBody,
  type Hunt,
  INDICATOR_TYPES,
  type Indicator,
  type Lookup,
  sightingBuckets,
} from '../intel';
import { href, setParam, useRoute } from '../router';
import { useJson, useLoad, useSession, useTime } from '../state';
import '../intel.css';

const feedPath = (name: string, rest = '') => `/api/v1/intel/feeds/${encodeURIComponent(name)}${rest}`;

function schedule(s: number): string {
  if (s <= 0) return 'on request';
  return `every ${dwell(s)}`;
}

function FeedRow({ f, onChanged }: { f: FeedStatus; onChanged: () => void }) {
  const { me } = useSession();
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const act = (what: string, method: string, rest: string, done: (r: unknown) => string) => {
    setBusy(true);
    setErr(null);
    setMsg(null);
    sendJson<unknown>(method, feedPath(f.name, rest)).then(
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
  const state = f.error ? 'failing' : f.last_success ? 'ok' : 'unknown';
  return (
    <tr data-feed={f.name} data-state={state} data-indicators={f.indicators}>
      <th scope="row">
        {f.name} <span className="muted small">{f.format}</span>
        <div className="muted small" title={f.source}>
          {f.source.length > 60 ? `${f.source.slice(0, 57)}…` : f.source}
        </div>
      </th>
      <td>{schedule(f.schedule_s)}</td>
      <td>
        {time(f.last_pull)}
        {f.pull_ms !== null && <span className="muted small"> ({int(f.pull_ms)} ms)</span>}
      </td>
      <td className="num" data-field="indicators">
        {int(f.indicators)}
      </td>
      <td className="num">
        +{int(f.added)} / −{int(f.removed)}
      </td>
      <td>
        <span className={`badge health-${state}`}>{state}</span>{' '}
        {f.error && (
          <span className="error-text" data-field="error">
            {f.error}
          </span>
        )}
        {f.skipped + f.unsupported > 0 && (
          <div className="muted small" title={f.problems.join('\n')}>
            {int(f.skipped)} skipped, {int(f.unsupported)} unsupported
            {f.problems[0] ? `: ${f.problems[0]}` : ''}
          </div>
        )}
        <ErrorBox error={err} />
        <span className="muted small" aria-live="polite">
          {msg}
        </span>
      </td>
      <td>
        <div className="actions">
          {can(me.role, 'analyst') && (
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                act('Pull', 'POST', '/pull', (r) => {
                  const s = r as FeedStatus;
                  return s.error ? `Pulled: ${s.error}` : `Pulled: ${int(s.indicators)} indicators.`;
                })
              }
            >
              Pull now
            </button>
          )}
          {can(me.role, 'admin') && f.origin === 'added' && (
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => {
                if (confirm(`Remove the feed ${f.name} and its indicators?`))
                  act('Remove', 'DELETE', '', () => 'Removed.');
              }}
            >
              Remove
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

function Feeds({ feeds, onChanged }: { feeds: FeedStatus[]; onChanged: () => void }) {
  if (feeds.length === 0)
    return (
      <p className="empty">No feeds yet. Add one below, or list them in the config file (intel.feeds).</p>
    );
  return (
    <div className="table-wrap">
      <table className="grid-table" data-testid="intel-feeds-table">
        <thead>
          <tr>
            <th scope="col">Feed</th>
            <th scope="col">Schedule</th>
            <th scope="col">Last pull</th>
            <th scope="col">Indicators</th>
            <th scope="col">Added / removed</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {feeds.map((f) => (
            <FeedRow key={f.name} f={f} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AddFeed({ onAdded }: { onAdded: () => void }) {
  const id = useId();
  const [f, setF] = useState<FeedForm>(emptyFeedForm);
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof FeedForm>(k: K, v: FeedForm[K]) => setF((x) => ({ ...x, [k]: v }));
  const col = (k: keyof FeedForm['columns'], v: string) =>
    setF((x) => ({ ...x, columns: { ...x.columns, [k]: v } }));
  const field = (key: string, label: string, input: ReactNode) => (
    <>
      <label htmlFor={`${id}-${key}`}>{label}</label>
      {input}
    </>
  );
  const text = (key: string, label: string, value: string, on: (v: string) => void, extra = {}) =>
    field(
      key,
      label,
      <input id={`${id}-${key}`} value={value} onChange={(e) => on(e.target.value)} {...extra} />,
    );
  const typeSelect = (key: string, label: string) =>
    field(
      key,
      label,
      <select id={`${id}-${key}`} value={f.fixedType} onChange={(e) => set('fixedType', e.target.value)}>
        <option value="">
          {f.format === 'csv' ? 'From the type column, else guessed' : 'Guessed per value'}
        </option>
        {INDICATOR_TYPES.map((t) => (
          <option key={t}>{t}</option>
        ))}
      </select>,
    );
  return (
    <Panel title="Add a feed" testId="intel-add-feed">
      <form
        className="stack intel-form"
        onSubmit={(e) => {
          e.preventDefault();
          setErr(null);
          setMsg(null);
          const b = feedBody(f);
          if ('error' in b) {
            setErr(b.error);
            return;
          }
          setBusy(true);
          sendJson<FeedStatus>('POST', '/api/v1/intel/feeds', b.body).then(
            (s) => {
              setBusy(false);
              setMsg(
                s.error
                  ? `Added ${s.name}, but its first pull failed: ${s.error}`
                  : `Added ${s.name}: ${int(s.indicators)} indicators.`,
              );
              setF(emptyFeedForm());
              onAdded();
            },
            (e: unknown) => {
              setBusy(false);
              setErr(`The server refused the feed: ${(e as Error).message}`);
            },
          );
        }}
      >
        <div className="filterbar">
          {text('name', 'Name', f.name, (v) => set('name', v), { required: true, maxLength: 64 })}
          {field(
            'kind',
            'Kind',
            <select
              id={`${id}-kind`}
              value={f.format}
              onChange={(e) => set('format', e.target.value as FeedKind)}
            >
              {FEED_KINDS.map(([k, l]) => (
                <option key={k} value={k}>
                  {l}
                </option>
              ))}
            </select>,
          )}
          {field(
            'where',
            'From',
            <select
              id={`${id}-where`}
              value={f.where}
              onChange={(e) => set('where', e.target.value as FeedForm['where'])}
            >
              <option value="url">a URL</option>
              <option value="file">a file on the server</option>
            </select>,
          )}
          {text('loc', f.where === 'url' ? 'URL' : 'File path', f.location, (v) => set('location', v), {
            className: 'grow',
            required: true,
            placeholder: f.where === 'url' ? 'https://example.org/iocs.csv' : '/var/lib/vantage/iocs.csv',
          })}
        </div>
        <div className="filterbar">
          {text('sched', 'Schedule', f.schedule, (v) => set('schedule', v), {
            placeholder: '1h',
            size: 6,
            'aria-describedby': `${id}-sched-h`,
          })}
          {text('conf', 'Confidence', f.confidence, (v) => set('confidence', v), {
            placeholder: '50',
            size: 4,
            inputMode: 'numeric',
          })}
          {text('sev', 'Severity', f.severity, (v) => set('severity', v), {
            placeholder: '50',
            size: 4,
            inputMode: 'numeric',
          })}
          {(f.format === 'csv' || f.format === 'list' || f.format === 'zeek') && typeSelect('type', 'Type')}
          {f.where === 'url' &&
            f.format !== 'csv' &&
            f.format !== 'list' &&
            text(
              'token',
              f.format.startsWith('misp') ? 'API key' : 'Bearer token',
              f.token,
              (v) => set('token', v),
              {
                type: 'password',
                autoComplete: 'off',
              },
            )}
        </div>
        <p id={`${id}-sched-h`} className="hint">
          Schedule: 15m, 1h, 1d or seconds; 0 pulls only when added and on “Pull now”. Confidence and severity
          (0–100) apply where the feed gives none.
        </p>
        {f.format === 'csv' && (
          <fieldset className="filterbar" data-testid="csv-mapping">
            <legend>CSV columns (a header name, or a 0-based number)</legend>
            {text('c-value', 'Value', f.columns.value, (v) => col('value', v), { required: true, size: 10 })}
            {!f.fixedType &&
              text('c-type', 'Type column', f.columns.type, (v) => col('type', v), { size: 8 })}
            {text('c-conf', 'Confidence column', f.columns.confidence, (v) => col('confidence', v), {
              size: 8,
            })}
            {text('c-sev', 'Severity column', f.columns.severity, (v) => col('severity', v), { size: 8 })}
            {text('c-desc', 'Description column', f.columns.description, (v) => col('description', v), {
              size: 8,
            })}
            {text('c-tags', 'Tags column', f.columns.tags, (v) => col('tags', v), { size: 8 })}
            {text('c-delim', 'Delimiter', f.delimiter, (v) => set('delimiter', v), { size: 2, maxLength: 2 })}
            <label>
              <input type="checkbox" checked={f.header} onChange={(e) => set('header', e.target.checked)} />{' '}
              First line names the columns
            </label>
          </fieldset>
        )}
        {f.format === 'taxii' && (
          <div className="filterbar">
            {text('coll', 'Collection (id or title)', f.collection, (v) => set('collection', v))}
            {text('root', 'API root', f.apiRoot, (v) => set('apiRoot', v), {
              placeholder: 'the server default',
            })}
            {text('after', 'Added after', f.addedAfter, (v) => set('addedAfter', v), {
              placeholder: '2024-01-01T00:00:00Z',
            })}
          </div>
        )}
        {(f.format === 'misp' || f.format === 'misp_search') && (
          <label>
            <input
              type="checkbox"
              checked={f.toIdsOnly}
              onChange={(e) => set('toIdsOnly', e.target.checked)}
            />{' '}
            Only attributes flagged for detection (to_ids)
          </label>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Add feed
          </button>
          <span className="muted" aria-live="polite" data-testid="intel-add-msg">
            {msg}
          </span>
        </div>
        <ErrorBox error={err} />
      </form>
    </Panel>
  );
}

/** Sightings per time bucket in the shared range, counted from the records (the KPI route serves flows). */
function SightingChart() {
  const { types } = useSession();
  const { resolved, tick } = useTime();
  const t = types.find((x) => x.type === 'sighting');
  const MOST = 10_000;
  const q = useJson<Page>(
    t
      ? `${t.path}${qs({ fields: 'ts', limit: MOST, sort: 'ts', order: 'desc', after: resolved.after, before: resolved.before })}`
      : null,
    tick,
  );
  const times = (q.data?.items ?? []).map((r) => String(r.ts));
  const b = sightingBuckets(times, resolved.fromMs, resolved.toMs);
  return (
    <Panel
      title="Sightings over time"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="intel-sightings-chart"
    >
      <p className="muted" data-testid="intel-sightings-count" data-value={times.length}>
        {int(times.length)}
        {q.data?.next ? '+' : ''} sighting{times.length === 1 ? '' : 's'} in {resolved.label.toLowerCase()},
        per {dwell(b.step)}
        {q.data?.next ? ` (the latest ${int(MOST)} are charted)` : ''}.
      </p>
      <Chart
        xs={b.xs}
        series={[{ label: 'sightings', values: b.counts }]}
        // Counts are whole: no fractional ticks on a small axis.
        format={(v) => (v === null ? '–' : Number.isInteger(v) ? int(v) : '')}
        height={160}
        label={`Sightings per ${dwell(b.step)}: ${int(times.length)} in all`}
      />
    </Panel>
  );
}

function IndicatorSearch({ onHunt }: { onHunt: (i: Indicator) => void }) {
  const id = useId();
  const r = useRoute();
  const { me } = useSession();
  const qParam = r.params.get('q') ?? '';
  const [text, setText] = useState(qParam);
  const [type, setType] = useState('');
  useEffect(() => setText(qParam), [qParam]);
  const q = useJson<{ total: number; items: Indicator[] }>(
    `/api/v1/intel/indicators${qs({ q: qParam.trim().toLowerCase(), type, limit: 50 })}`,
  );
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Panel
      title="Indicators"
      loading={q.loading}
      error={q.error}
      onRetry={q.reload}
      testId="intel-indicators"
    >
      <form
        className="filterbar"
        onSubmit={(e) => {
          e.preventDefault();
          setParam('q', text.trim() || null);
        }}
      >
        <label htmlFor={`${id}-q`}>Value contains</label>
        <input
          id={`${id}-q`}
          className="grow"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="203.0.113.7, evil.example, a hash…"
        />
        <label htmlFor={`${id}-t`}>Type</label>
        <select id={`${id}-t`} value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">Any</option>
          {INDICATOR_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      {q.data && (
        <p className="muted">
          {int(q.data.items.length)} shown of {int(q.data.total)} indicators loaded.
        </p>
      )}
      {q.data && q.data.items.length > 0 && (
        <div className="table-wrap">
          <table className="grid-table" data-testid="intel-indicators-table">
            <thead>
              <tr>
                <th scope="col">Value</th>
                <th scope="col">Type</th>
                <th scope="col">Severity</th>
                <th scope="col">Confidence</th>
                <th scope="col">Sources</th>
                <th scope="col">Valid until</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((i) => {
                const key = `${i.type}:${i.value}`;
                return (
                  <tr key={key} data-value={i.value}>
                    <td>
                      <button
                        type="button"
                        className="link-btn"
                        aria-expanded={open === key}
                        onClick={() => setOpen(open === key ? null : key)}
                      >
                        {i.value}
                      </button>
                      {open === key && <IndicatorFacts i={i} />}
                    </td>
                    <td>{i.type}</td>
                    <td>
                      <SeverityBadge value={i.severity} />
                    </td>
                    <td className="num">{i.confidence}</td>
                    <td>{i.sources.join(', ')}</td>
                    <td>{i.valid_until ? time(i.valid_until) : '–'}</td>
                    <td>
                      <div className="actions">
                        <a href={href('/search', { q: i.value })}>Search</a>
                        {can(me.role, 'analyst') && (
                          <button type="button" onClick={() => onHunt(i)}>
                            Hunt
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

function HuntProgress({ h }: { h: Hunt }) {
  const p = h.progress;
  const pct = p.types_total ? Math.round((p.types_done / p.types_total) * 100) : p.state === 'done' ? 100 : 0;
  return (
    <div className="hunt-progress">
      <progress max={100} value={pct} aria-label={`Hunt ${pct}% done`} />{' '}
      <span data-testid="hunt-state" data-state={p.state}>
        {p.state}
      </span>
      <span className="muted small">
        {' '}
        · {p.types_done}/{p.types_total} record types · {int(p.scanned)} records read · {int(p.sightings)}{' '}
        sightings
      </span>
      {p.error && <div className="error-text">{p.error}</div>}
    </div>
  );
}

function Findings({ h }: { h: Hunt }) {
  if (h.progress.state === 'running') return <p className="muted">Findings appear when the hunt ends.</p>;
  if (h.findings.length === 0)
    return (
      <p className="empty" data-testid="hunt-nothing">
        None of the {int(h.indicators)} indicators was seen in this range.
      </p>
    );
  return (
    <div className="table-wrap">
      <table className="grid-table" data-testid="hunt-findings">
        <thead>
          <tr>
            <th scope="col">Indicator</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
            <th scope="col">Here for</th>
            <th scope="col">Flows</th>
            <th scope="col">Records</th>
            <th scope="col">Internal hosts</th>
          </tr>
        </thead>
        <tbody>
          {h.findings.map((f) => (
            <tr key={`${f.type}:${f.value}`} data-value={f.value} data-flows={f.flows}>
              <td>
                <a href={href('/search', { q: f.value })}>{f.value}</a>{' '}
                <span className="muted small">{f.type}</span>
                {f.packets_seen && (
                  <span className="badge" title="The packet store holds packets of this address">
                    packets
                  </span>
                )}
              </td>
              <td data-field="first_seen">{time(f.first_seen)}</td>
              <td data-field="last_seen">{time(f.last_seen)}</td>
              <td data-field="dwell">{dwell(f.dwell_s)}</td>
              <td className="num">{int(f.flows)}</td>
              <td className="num">{int(f.records)}</td>
              <td data-field="hosts">
                <ul className="chips">
                  {f.hosts.map((ip) => (
                    <li key={ip}>
                      <a href={href(`/host/${encodeURIComponent(ip)}`)}>{ip}</a>
                    </li>
                  ))}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Retro-hunts: start one for a value or every indicator over a range; progress and findings. */
function Hunts({ preset }: { preset: { value: string; n: number } }) {
  const id = useId();
  const { me } = useSession();
  const { resolved, refresh } = useTime();
  const [value, setValue] = useState('');
  const [from, setFrom] = useState('-30d');
  const [to, setTo] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<string | null>(null);
  const [n, setN] = useState(0);
  const list = useLoad(`hunts${n}`, (signal) => getJson<{ hunts: Hunt[] }>('/api/v1/intel/hunts', signal));
  const running = list.data?.hunts.some((h) => h.progress.state === 'running') ?? false;
  // Poll while a hunt runs (the route has no push): every answer arms the next poll.
  // biome-ignore lint/correctness/useExhaustiveDependencies: list.data re-arms the timer after each answer
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(() => setN((x) => x + 1), 1500);
    return () => clearTimeout(t);
  }, [running, list.data]);
  useEffect(() => {
    if (preset.value) setValue(preset.value);
  }, [preset]);
  // A hunt that ends has written sightings (and maybe alerts): refresh the views that show them.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) refresh();
    wasRunning.current = running;
  }, [running, refresh]);
  const analyst = can(me.role, 'analyst');
  const current = list.data?.hunts.find((h) => h.id === shown) ?? list.data?.hunts[0];

  const start = async () => {
    setErr(null);
    const body: Record<string, unknown> = {};
    if (from.trim()) body.after = from.trim();
    if (to.trim()) body.before = to.trim();
    const v = value.trim();
    if (v) {
      // The hunt takes loaded indicators by type and value; the lookup normalises what was typed
      // and finds the indicator (an address inside a listed network included).
      const l = await getJson<Lookup>(`/api/v1/intel/lookup${qs({ value: v })}`).catch(() => null);
      const i = l?.indicator;
      if (!i) throw new Error(`${v} is not an indicator of any feed: a hunt looks for loaded indicators.`);
      body.values = [{ type: i.type, value: i.value }];
    }
    const h = await sendJson<Hunt>('POST', '/api/v1/intel/hunts', body);
    setShown(h.id);
    setN((x) => x + 1);
  };

  return (
    <Panel title="Retro-hunt" loading={list.loading && !list.data} error={list.error} testId="intel-hunts">
      <p className="hint">
        Look through stored flows, DNS, HTTP and TLS records for indicators: how long has it been here, and
        who talked to it? Times are ISO-8601, epoch seconds or relative (-30d); the shared range is{' '}
        {resolved.after ? `${time(resolved.after)} – ${time(resolved.before ?? null)}` : 'all data'}
        {resolved.after && (
          <>
            {' '}
            (
            <button
              type="button"
              className="link-btn"
              onClick={() => {
                setFrom(resolved.after ?? '');
                setTo(resolved.before ?? '');
              }}
            >
              use it
            </button>
            )
          </>
        )}
        .
      </p>
      {analyst ? (
        <form
          className="filterbar"
          onSubmit={(e) => {
            e.preventDefault();
            setBusy(true);
            start().then(
              () => setBusy(false),
              (e: unknown) => {
                setBusy(false);
                setErr(`The hunt did not start: ${(e as Error).message}`);
              },
            );
          }}
        >
          <label htmlFor={`${id}-v`}>For</label>
          <input
            id={`${id}-v`}
            className="grow"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="every indicator loaded (or one value)"
          />
          <label htmlFor={`${id}-from`}>From</label>
          <input id={`${id}-from`} value={from} onChange={(e) => setFrom(e.target.value)} size={22} />
          <label htmlFor={`${id}-to`}>To</label>
          <input
            id={`${id}-to`}
            value={to}
            onChange={(e) => setTo(e.target.value)}
            size={22}
            placeholder="now"
          />
          <button type="submit" className="primary" disabled={busy}>
            Start hunt
          </button>
        </form>
      ) : (
        <p className="muted">Starting a hunt needs the analyst role; your token has the {me.role} role.</p>
      )}
      <ErrorBox error={err} />
      {list.data && list.data.hunts.length === 0 && <p className="empty">No hunts yet.</p>}
      {list.data && list.data.hunts.length > 0 && (
        <div className="table-wrap">
          <table className="grid-table" data-testid="hunts-table">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Why</th>
                <th scope="col">Indicators</th>
                <th scope="col">Progress</th>
                <th scope="col">Found</th>
              </tr>
            </thead>
            <tbody>
              {list.data.hunts.slice(0, 10).map((h) => (
                <tr
                  key={h.id}
                  data-hunt-id={h.id}
                  data-state={h.progress.state}
                  aria-selected={current?.id === h.id}
                  className={current?.id === h.id ? 'selected' : undefined}
                >
                  <td>
                    <button type="button" className="link-btn" onClick={() => setShown(h.id)}>
                      {time(h.created)}
                    </button>
                  </td>
                  <td>{h.reason}</td>
                  <td className="num">{int(h.indicators)}</td>
                  <td>
                    <HuntProgress h={h} />
                  </td>
                  <td className="num">{h.progress.state === 'running' ? '…' : int(h.findings.length)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current && (
        <section data-testid="hunt-current" data-hunt-id={current.id} data-state={current.progress.state}>
          <h3>
            Findings of the hunt started {time(current.created)} ({current.reason})
          </h3>
          <Findings h={current} />
        </section>
      )}
    </Panel>
  );
}

/** Threat intel: feeds and their health, indicators, sightings, and retro-hunts over history. */
export function IntelPage() {
  const { me } = useSession();
  const feeds = useLoad('intel-feeds', (signal) =>
    getJson<{ feeds: FeedStatus[]; counters: Record<string, number> }>('/api/v1/intel/feeds', signal),
  );
  const route = useRoute();
  // A link such as the lookup's "hunt for it" names the value: the hunt form starts with it.
  const [hunt, setHunt] = useState(() => ({ value: route.params.get('q') ?? '', n: 0 }));
  const c = feeds.data?.counters;
  return (
    <div className="page" data-testid="intel">
      <h1>Threat intel</h1>
      <section className="tiles" aria-label="Summary">
        <div className="tile" data-testid="intel-indicator-total" data-value={c?.indicators ?? ''}>
          <span className="tile-label">Indicators loaded</span>
          <span className="tile-value">{c ? int(c.indicators) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Feeds</span>
          <span className="tile-value">{feeds.data ? int(feeds.data.feeds.length) : '…'}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Failing feeds</span>
          <span className="tile-value">
            {feeds.data ? int(feeds.data.feeds.filter((f) => f.error).length) : '…'}
          </span>
        </div>
        <div className="tile">
          <span className="tile-label">Records matched since start</span>
          <span className="tile-value">{c ? int(c.hits) : '…'}</span>
        </div>
      </section>
      <Panel
        title="Feeds"
        loading={feeds.loading}
        error={feeds.error}
        onRetry={feeds.reload}
        testId="intel-feeds"
        actions={
          <button type="button" onClick={feeds.reload}>
            Refresh
          </button>
        }
      >
        {feeds.data && <Feeds feeds={feeds.data.feeds} onChanged={feeds.reload} />}
      </Panel>
      {can(me.role, 'admin') && <AddFeed onAdded={feeds.reload} />}
      <SightingChart />
      <Panel title="Latest sightings" testId="intel-latest">
        <SightingTable filter="" limit={15} testId="intel-latest-sightings" />
      </Panel>
      <IndicatorSearch onHunt={(i) => setHunt((h) => ({ value: i.value, n: h.n + 1 }))} />
      <Hunts preset={hunt} />
    </div>
  );
}
