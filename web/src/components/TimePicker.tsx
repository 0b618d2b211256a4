import { useEffect, useId, useState } from 'react';
import { useTime } from '../state';
import { PRESETS, type PresetId } from '../time';

const toLocalInput = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const fromInput = (s: string) => Date.parse(`${s}:00Z`);

/** Preset ranges, an absolute range (UTC), refresh and auto-refresh. */
export function TimePicker() {
  const t = useTime();
  const id = useId();
  const isAbs = 'from' in t.spec;
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState(toLocalInput(t.resolved.fromMs));
  const [to, setTo] = useState(toLocalInput(t.resolved.toMs));
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    setFrom(toLocalInput(t.resolved.fromMs));
    setTo(toLocalInput(t.resolved.toMs));
  }, [t.resolved.fromMs, t.resolved.toMs]);

  const apply = () => {
    const a = fromInput(from);
    const b = fromInput(to);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return setErr('Enter both times as YYYY-MM-DD HH:MM.');
    if (b <= a) return setErr('The end must be after the start.');
    setErr(null);
    setOpen(false);
    t.setSpec({ from: a, to: b });
  };

  return (
    <div className="timepicker">
      <label htmlFor={`${id}-p`} className="sr-only">
        Time range
      </label>
      <select
        id={`${id}-p`}
        data-testid="time-preset"
        value={isAbs ? 'abs' : (t.spec as { preset: PresetId }).preset}
        onChange={(e) => {
          if (e.target.value === 'abs') setOpen(true);
          else t.setSpec({ preset: e.target.value as PresetId });
        }}
      >
        {PRESETS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.label}
          </option>
        ))}
        <option value="abs">{isAbs ? t.resolved.label : 'Absolute range…'}</option>
      </select>
      <button
        type="button"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        aria-controls={`${id}-abs`}
      >
        Range…
      </button>
      <button type="button" onClick={t.refresh} title="Refresh now">
        ↻<span className="sr-only">Refresh</span>
      </button>
      <label htmlFor={`${id}-a`} className="sr-only">
        Auto-refresh
      </label>
      <select id={`${id}-a`} value={t.autoRefresh} onChange={(e) => t.setAutoRefresh(Number(e.target.value))}>
        <option value={0}>Auto-refresh off</option>
        <option value={30}>Every 30 s</option>
        <option value={60}>Every minute</option>
        <option value={300}>Every 5 minutes</option>
      </select>
      {open && (
        <div className="popover" id={`${id}-abs`}>
          <label>
            From (UTC)
            <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To (UTC)
            <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          {err && (
            <p className="error" role="alert">
              {err}
            </p>
          )}
          <div className="row">
            <button type="button" className="primary" onClick={apply}>
              Apply
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
