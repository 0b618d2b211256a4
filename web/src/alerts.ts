/** Alerts in the console: their shape, the filters the Alerts page builds, and pure helpers. */
import type { TopItem } from './api';
import { filterValue } from './queries';
import { paramToSpec, type RangeSpec, specToParam } from './time';

export const CATEGORIES = [
  'scan',
  'ddos',
  'bruteforce',
  'dns_tunnel',
  'dga',
  'beacon',
  'exfiltration',
  'new_destination',
  'intel',
  'policy',
  'ids',
  'threshold',
  'other',
] as const;
export const SOURCES = ['vantage', 'suricata', 'cef', 'leef', 'firepower', 'webhook'] as const;
export const STATUSES = ['new', 'acknowledged', 'closed', 'false_positive'] as const;
export type AlertStatus = (typeof STATUSES)[number];
export const STATUS_LABEL: Record<AlertStatus, string> = {
  new: 'New',
  acknowledged: 'Acknowledged',
  closed: 'Closed',
  false_positive: 'False positive',
};
/** Lower bounds of the severity bands (the server's severityLabel). */
export const SEVERITY_BANDS = [
  { label: 'critical', min: 90 },
  { label: 'high', min: 70 },
  { label: 'medium', min: 40 },
  { label: 'low', min: 20 },
  { label: 'info', min: 0 },
] as const;

export interface Alert {
  alert_id: string;
  ts: string;
  first_ts: string;
  last_ts: string;
  updated_ts: string;
  category: string;
  detector: string;
  title: string;
  severity: number;
  severity_label: string;
  confidence: number;
  src_ip: string | null;
  src_port: number | null;
  dst_ip: string | null;
  dst_port: number | null;
  proto: number | null;
  community_id: string | null;
  vlan: number | null;
  vni: number | null;
  sensor: string;
  count: number;
  evidence: Record<string, unknown> | null;
  indicator: Record<string, unknown> | null;
  attack_technique: string | null;
  signature_id: number | null;
  source: string;
  retro: boolean;
  src_user: string | null;
  status: AlertStatus;
  assignee: string | null;
  notes: string | null;
  tags: string[];
}

export interface AlertPatch {
  status?: AlertStatus;
  assignee?: string | null;
  notes?: string | null;
  tags?: string[];
}

// ---- Filters ----

export interface QuickFilters {
  /** Minimum severity score; 0 = any. */
  minSeverity: number;
  category: string;
  /** A status, 'open' (new or acknowledged) or '' for any. */
  status: string;
  source: string;
}

export const NO_QUICK: QuickFilters = { minSeverity: 0, category: '', status: '', source: '' };

export function quickFromParams(p: URLSearchParams): QuickFilters {
  const sev = Number(p.get('sev') ?? 0);
  return {
    minSeverity: Number.isFinite(sev) && sev > 0 ? Math.min(100, sev) : 0,
    category: p.get('category') ?? '',
    status: p.get('status') ?? '',
    source: p.get('source') ?? '',
  };
}

/** The analyst's filter text and the quick filters as one expression of the filter language. */
export function alertFilter(text: string, q: QuickFilters): string {
  const parts: string[] = [];
  if (text.trim()) parts.push(text.trim());
  if (q.minSeverity > 0) parts.push(`severity >= ${Math.floor(q.minSeverity)}`);
  if (q.category) parts.push(`category = ${filterValue(q.category)}`);
  if (q.status === 'open') parts.push('status in ("new", "acknowledged")');
  else if (q.status) parts.push(`status = ${filterValue(q.status)}`);
  if (q.source) parts.push(`source = ${filterValue(q.source)}`);
  // Parentheses keep an "or" in the analyst's text from swallowing the quick filters.
  return parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' and ');
}

/** The filter that selects one group of the "group by" view. */
export function groupFilter(by: GroupBy, key: string | null): string {
  if (by === 'host') {
    if (key === null) return 'not src_ip exists and not dst_ip exists';
    return `src_ip = ${key} or dst_ip = ${key}`;
  }
  return key === null ? `not ${by} exists` : `${by} = ${filterValue(key)}`;
}

// ---- Grouping ----

export type GroupBy = 'category' | 'host' | 'severity_label' | 'detector';
export interface Group {
  key: string | null;
  count: number;
}

/**
 * Counts per group from the server's top answers (one per field). A host's count is the
 * number of alerts that name it on either side: an alert between A and B counts for both,
 * and an alert from A to A once, which the server cannot tell us, so it may count twice.
 */
export function mergeGroups(answers: TopItem[][], limit = 20): Group[] {
  const m = new Map<string | null, number>();
  for (const items of answers)
    for (const it of items) {
      const k = it.key === null ? null : String(it.key);
      m.set(k, (m.get(k) ?? 0) + it.flows);
    }
  // With more than one field, "none" on one side is not a group of its own (the other
  // side has the host): drop it.
  if (answers.length > 1) m.delete(null);
  return [...m]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || String(a.key).localeCompare(String(b.key)))
    .slice(0, limit);
}

/** Open alerts per severity band, highest first, from a top answer by severity_label. */
export function bySeverity(items: TopItem[]): { label: string; count: number }[] {
  const m = new Map(items.map((i) => [String(i.key), i.flows]));
  return SEVERITY_BANDS.map((b) => ({ label: b.label, count: m.get(b.label) ?? 0 }));
}

// ---- Evidence ----

export type EvidenceShape =
  | { kind: 'intervals'; field: string; values: number[] }
  | { kind: 'fanout'; field: string; items: { key: string; count: number }[]; total: number }
  | { kind: 'rate'; rate: number; baseline: number; rateField: string; baselineField: string };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A fan-out as counted keys: [80, 443], {"80": 3}, or [{port: 80, count: 3}]. */
function fanout(v: unknown, field: string): { key: string; count: number }[] | null {
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    if (v.every((x) => typeof x === 'string' || isNum(x))) {
      const m = new Map<string, number>();
      for (const x of v) m.set(String(x), (m.get(String(x)) ?? 0) + 1);
      return [...m].map(([key, count]) => ({ key, count }));
    }
    const singular = field.replace(/s$/, '');
    const out: { key: string; count: number }[] = [];
    for (const x of v) {
      if (!x || typeof x !== 'object' || Array.isArray(x)) return null;
      const o = x as Record<string, unknown>;
      const key = o[singular] ?? o.key ?? o.value ?? o.ip ?? o.port ?? o.host;
      const count = o.count ?? o.flows ?? o.packets ?? 1;
      if ((typeof key !== 'string' && !isNum(key)) || !isNum(count)) return null;
      out.push({ key: String(key), count });
    }
    return out;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0 || !entries.every(([, c]) => isNum(c))) return null;
    return entries.map(([key, count]) => ({ key, count: count as number }));
  }
  return null;
}

/**
 * The shapes of evidence the console knows how to draw, and the rest as key/value pairs.
 * Detectors name their numbers (DESIGN: `intervals`, `ports`/`hosts`, `rate`/`baseline`);
 * anything else is shown as it is.
 */
export function evidenceShapes(e: Record<string, unknown> | null | undefined): {
  shapes: EvidenceShape[];
  rest: [string, unknown][];
} {
  const shapes: EvidenceShape[] = [];
  const used = new Set<string>();
  if (!e || typeof e !== 'object') return { shapes, rest: [] };
  const iv = e.intervals;
  if (Array.isArray(iv) && iv.length > 0 && iv.every(isNum)) {
    shapes.push({ kind: 'intervals', field: 'intervals', values: iv });
    used.add('intervals');
  }
  for (const field of ['ports', 'hosts']) {
    const items = fanout(e[field], field);
    if (items) {
      items.sort((a, b) => b.count - a.count || a.key.localeCompare(b.key, 'en', { numeric: true }));
      shapes.push({ kind: 'fanout', field, items, total: items.reduce((s, i) => s + i.count, 0) });
      used.add(field);
    }
  }
  if (isNum(e.rate) && isNum(e.baseline)) {
    shapes.push({
      kind: 'rate',
      rate: e.rate,
      baseline: e.baseline,
      rateField: 'rate',
      baselineField: 'baseline',
    });
    used.add('rate');
    used.add('baseline');
  }
  const rest = Object.entries(e).filter(([k]) => !used.has(k));
  return { shapes, rest };
}

/** Equal-width bins over [min, max] (a beacon's regular intervals make one tall bar). */
export function histogram(values: number[], bins = 12): { from: number; to: number; count: number }[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (min === max) return [{ from: min, to: max, count: values.length }];
  const n = Math.max(1, Math.min(bins, values.length));
  const w = (max - min) / n;
  const out = Array.from({ length: n }, (_, i) => ({ from: min + i * w, to: min + (i + 1) * w, count: 0 }));
  for (const v of values) out[Math.min(n - 1, Math.floor((v - min) / w))]!.count++;
  return out;
}

/** ATT&CK's page of a technique: T1071.004 → /techniques/T1071/004/. */
export function mitreUrl(id: string): string | null {
  const m = /^(T\d{4})(?:\.(\d{3}))?$/i.exec(id.trim());
  if (!m) return null;
  return `https://attack.mitre.org/techniques/${m[1]!.toUpperCase()}/${m[2] ? `${m[2]}/` : ''}`;
}

// ---- Pivot (cross-launch) ----

/** Time around a pivot's moment when the link names no range. */
export const PIVOT_MARGIN_MS = 15 * 60_000;

export type Pivot =
  | { kind: 'host'; ip: string; t: string }
  | { kind: 'flow'; communityId: string; t: string }
  | { kind: 'error'; message: string };

/** A time as ISO-8601, epoch seconds or epoch milliseconds (SIEMs send any of these). */
export function parsePivotTime(s: string): number | null {
  const v = s.trim();
  if (/^\d{9,11}(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (/^\d{12,14}$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * `#/pivot?ip=…&ts=…` and `#/pivot?community_id=…&ts=…`: the cross-launch templates of other
 * consoles and SIEMs, turned into a console view and its time range (`t`). An explicit `t`
 * wins; `ts` alone means ±15 minutes around it; neither keeps the current range.
 */
export function parsePivot(p: URLSearchParams, marginMs = PIVOT_MARGIN_MS): Pivot {
  let spec: RangeSpec | null = paramToSpec(p.get('t'));
  const ts = p.get('ts');
  if (!spec && ts) {
    const at = parsePivotTime(ts);
    if (at === null)
      return { kind: 'error', message: `ts: "${ts}" is not a time (use ISO-8601 or epoch seconds).` };
    spec = { from: at - marginMs, to: at + marginMs };
  }
  const t = spec ? specToParam(spec) : '';
  const ip = p.get('ip')?.trim();
  if (ip) {
    if (!/^[0-9A-Fa-f.:]{2,45}$/.test(ip))
      return { kind: 'error', message: `ip: "${ip}" is not an IP address.` };
    return { kind: 'host', ip, t };
  }
  // Community IDs are base64 and never hold a space: a template that did not encode its '+'
  // (as SIEM drill-downs often do not) arrives with spaces, which are put back.
  const cid = p.get('community_id')?.trim().replaceAll(' ', '+');
  if (cid) return { kind: 'flow', communityId: cid, t };
  return { kind: 'error', message: 'A pivot link needs ip=… or community_id=… (and ts=…).' };
}

/** The console route a pivot leads to. */
export function pivotTarget(pv: Exclude<Pivot, { kind: 'error' }>): {
  path: string;
  params: Record<string, string | undefined>;
} {
  const t = pv.t || undefined;
  if (pv.kind === 'host') return { path: `/host/${encodeURIComponent(pv.ip)}`, params: { t } };
  return { path: '/records/flow', params: { filter: `community_id = ${filterValue(pv.communityId)}`, t } };
}
