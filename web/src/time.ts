/** The time range every page shares: a preset relative to now, all data, or an absolute span. */

export const PRESETS = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { id: 'all', label: 'All data', ms: 0 },
] as const;

export type PresetId = (typeof PRESETS)[number]['id'];
export type RangeSpec = { preset: PresetId } | { from: number; to: number };

/** The span of the stored data, ms since the epoch. */
export interface DataSpan {
  first: number;
  last: number;
}

export interface Resolved {
  /** Query parameters for the API (absent = unbounded). */
  after?: string;
  before?: string;
  /** The span the charts draw, ms. */
  fromMs: number;
  toMs: number;
  /** Bucket width for time series, seconds. */
  step: number;
  label: string;
}

const NICE_STEPS = [
  1,
  5,
  10,
  30,
  60,
  300,
  600,
  900,
  1800,
  3600,
  3 * 3600,
  6 * 3600,
  12 * 3600,
  86400,
  7 * 86400,
  30 * 86400,
  91 * 86400,
  365 * 86400,
];

/** The smallest nice bucket width that keeps a series under `points` buckets. */
export function pickStep(spanMs: number, points = 600): number {
  const want = spanMs / 1000 / points;
  return NICE_STEPS.find((s) => s >= want) ?? Math.ceil(want / 86400) * 86400;
}

export function stepParam(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function resolve(spec: RangeSpec, span: DataSpan | null, now = Date.now()): Resolved {
  if ('from' in spec) {
    return {
      after: iso(spec.from),
      before: iso(spec.to),
      fromMs: spec.from,
      toMs: spec.to,
      step: pickStep(spec.to - spec.from),
      label: `${iso(spec.from).slice(0, 19).replace('T', ' ')} – ${iso(spec.to).slice(0, 19).replace('T', ' ')} UTC`,
    };
  }
  const p = PRESETS.find((x) => x.id === spec.preset) ?? PRESETS[3];
  if (p.id === 'all') {
    const fromMs = span ? span.first : now - 86_400_000;
    const toMs = span ? Math.max(span.last + 1000, fromMs + 1000) : now;
    return { fromMs, toMs, step: pickStep(toMs - fromMs), label: p.label };
  }
  return { after: iso(now - p.ms), fromMs: now - p.ms, toMs: now, step: pickStep(p.ms), label: p.label };
}

/** The range as the `t` parameter of a console link, and back. */
export function specToParam(spec: RangeSpec): string {
  return 'from' in spec ? `${Math.round(spec.from)}-${Math.round(spec.to)}` : spec.preset;
}

export function paramToSpec(s: string | null | undefined): RangeSpec | null {
  if (!s) return null;
  const m = /^(\d{1,15})-(\d{1,15})$/.exec(s);
  if (m) {
    const from = Number(m[1]);
    const to = Number(m[2]);
    return to > from ? { from, to } : null;
  }
  return PRESETS.some((p) => p.id === s) ? { preset: s as PresetId } : null;
}

/**
 * `from`/`to` as ISO-8601 (the server's context links, and links written by hand): an
 * absolute range, or null when either is missing or not a time.
 */
export function isoRangeToSpec(from: string | null, to: string | null): RangeSpec | null {
  if (!from || !to) return null;
  const f = Date.parse(from);
  const t = Date.parse(to);
  return Number.isNaN(f) || Number.isNaN(t) || t <= f ? null : { from: f, to: t };
}

/** The default when a link names no range: recent data if there is any, else all of it. */
export function defaultSpec(span: DataSpan | null, now = Date.now()): RangeSpec {
  if (span && now - span.last < 86_400_000) return { preset: '24h' };
  return { preset: 'all' };
}
