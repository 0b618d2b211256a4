/** Threat intel as the console sees it: the API's shapes, the lookup's value kinds, the feed form's request. */

// ---- Shapes of /api/v1/intel/* ----

export interface FeedStatus {
  name: string;
  format: string;
  source: string;
  schedule_s: number;
  origin: 'config' | 'added';
  last_pull: string | null;
  last_success: string | null;
  pulls: number;
  failures: number;
  added: number;
  removed: number;
  indicators: number;
  skipped: number;
  unsupported: number;
  problems: string[];
  error: string | null;
  pull_ms: number | null;
}

export interface Indicator {
  type: string;
  value: string;
  confidence: number;
  severity: number;
  first_seen: string | null;
  last_seen: string | null;
  valid_until: string | null;
  sources: string[];
  tags: string[];
  description: string | null;
  references: string[];
}

export interface Sighting {
  ts: string;
  first_ts: string;
  indicator_type: string;
  indicator_value: string;
  sources: string[];
  confidence: number;
  severity: number;
  matched_field: string;
  matched_value: string;
  record_type: string;
  record_id: string | null;
  host: string | null;
  client_ip: string | null;
  client_port: number | null;
  server_ip: string | null;
  server_port: number | null;
  proto: number | null;
  community_id: string | null;
  retro: boolean;
}

export interface Lookup {
  value: string;
  type: string;
  indicator: Indicator | null;
  sightings: Sighting[];
}

export interface HuntFinding {
  type: string;
  value: string;
  first_seen: string | null;
  last_seen: string | null;
  flows: number;
  records: number;
  hosts: string[];
  dwell_s: number;
  packets_seen?: boolean;
}

export interface Hunt {
  id: string;
  created: string;
  reason: string;
  indicators: number;
  progress: {
    state: 'running' | 'done' | 'failed' | 'cancelled';
    scanned: number;
    types_done: number;
    types_total: number;
    sightings: number;
    error?: string;
  };
  findings: HuntFinding[];
}

// ---- "What do we know about this value": which values the lookup can answer ----

export type ValueKind =
  | 'ipv4'
  | 'ipv6'
  | 'cidr'
  | 'url'
  | 'email'
  | 'md5'
  | 'sha1'
  | 'sha256'
  | 'sha512'
  | 'ja4'
  | 'domain';

export const KIND_LABEL: Record<ValueKind, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  cidr: 'a network',
  url: 'a URL',
  email: 'an e-mail address',
  md5: 'an MD5 hash or JA3 fingerprint',
  sha1: 'a SHA-1 hash',
  sha256: 'a SHA-256 hash',
  sha512: 'a SHA-512 hash',
  ja4: 'a JA4 fingerprint',
  domain: 'a domain',
};

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function isIpv6(s: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(':') || s.split(':').length < 3) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

function isDomain(s: string): boolean {
  const d = s.replace(/\.$/, '');
  const parts = d.split('.');
  return (
    d.length <= 253 && parts.length >= 2 && parts.every((p) => LABEL.test(p)) && /[a-z]/i.test(parts.at(-1)!)
  );
}

/**
 * What kind of indicator a typed value is, or null when the intel store cannot hold it (a port,
 * a MAC, free text): the search page asks the lookup only for values it can answer.
 */
export function valueKind(raw: string): ValueKind | null {
  const s = raw.trim();
  if (!s || s.length > 2048 || /\s/.test(s)) return null;
  if (IPV4.test(s)) return 'ipv4';
  if (isIpv6(s)) return 'ipv6';
  const slash = s.indexOf('/');
  if (slash > 0 && /^\d{1,3}$/.test(s.slice(slash + 1))) {
    const a = s.slice(0, slash);
    const len = Number(s.slice(slash + 1));
    if ((IPV4.test(a) && len <= 32) || (isIpv6(a) && len <= 128)) return 'cidr';
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(s)) return 'url';
  if (/^[^@/]+@[^@/]+$/.test(s)) return isDomain(s.slice(s.indexOf('@') + 1)) ? 'email' : null;
  if (/^[0-9a-f]+$/i.test(s)) {
    const byLen: Record<number, ValueKind> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' };
    return byLen[s.length] ?? null;
  }
  if (/^[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}$/i.test(s)) return 'ja4';
  if (slash > 0 && isDomain(s.slice(0, slash))) return 'url';
  if (isDomain(s)) return 'domain';
  return null;
}

/**
 * Indicator types the lookup route does not try for a value of this kind. The route guesses one
 * type per value and takes 32 hex digits for a file hash, so a JA3 (also MD5) is searched for
 * separately through /intel/indicators.
 */
export function extraTypes(kind: ValueKind): string[] {
  return kind === 'md5' ? ['ja3', 'ja3s'] : [];
}

// ---- The add-feed form ----

export const FEED_KINDS = [
  ['csv', 'CSV (columns mapped below)'],
  ['list', 'Plain list (one value a line)'],
  ['stix', 'STIX 2.1 bundle'],
  ['taxii', 'TAXII 2.1 collection'],
  ['misp', 'MISP feed (manifest / events)'],
  ['misp_search', 'MISP restSearch'],
  ['zeek', 'Zeek intel file'],
] as const;
export type FeedKind = (typeof FEED_KINDS)[number][0];

export const INDICATOR_TYPES = [
  'ipv4',
  'ipv6',
  'cidr',
  'domain',
  'domain_suffix',
  'url',
  'http_host',
  'sni',
  'ja3',
  'ja3s',
  'ja4',
  'cert_sha1',
  'cert_sha256',
  'file_hash',
  'email',
] as const;

export interface CsvColumns {
  value: string;
  type: string;
  confidence: string;
  severity: string;
  description: string;
  tags: string;
  first_seen: string;
  last_seen: string;
}

export interface FeedForm {
  name: string;
  format: FeedKind;
  where: 'url' | 'file';
  location: string;
  /** Empty, seconds, or 15m / 1h / 1d; "0" pulls only at start and on request. */
  schedule: string;
  confidence: string;
  severity: string;
  /** One type for every value (list feeds; CSV without a type column). */
  fixedType: string;
  columns: CsvColumns;
  header: boolean;
  delimiter: string;
  collection: string;
  apiRoot: string;
  addedAfter: string;
  toIdsOnly: boolean;
  /** An API key (MISP) or bearer token (TAXII) sent with every pull. */
  token: string;
}

export const emptyFeedForm = (): FeedForm => ({
  name: '',
  format: 'csv',
  where: 'url',
  location: '',
  schedule: '1h',
  confidence: '',
  severity: '',
  fixedType: '',
  columns: {
    value: 'indicator',
    type: 'type',
    confidence: '',
    severity: '',
    description: '',
    tags: '',
    first_seen: '',
    last_seen: '',
  },
  header: true,
  delimiter: ',',
  collection: '',
  apiRoot: '',
  addedAfter: '',
  toIdsOnly: true,
  token: '',
});

/** A column as the config takes it: a 0-based index when the text is a number, a header name otherwise. */
const column = (s: string): string | number => (/^\d{1,4}$/.test(s.trim()) ? Number(s.trim()) : s.trim());

function score(label: string, s: string): number | string | undefined {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 && n <= 100 ? n : `${label}: a whole number from 0 to 100.`;
}

/**
 * The body of POST /api/v1/intel/feeds (a feed as the config file's intel.feeds[] writes it),
 * or what to fix in the form. Only what applies to the chosen kind is sent: the server refuses
 * keys it does not know.
 */
export function feedBody(f: FeedForm): { body: Record<string, unknown> } | { error: string } {
  const name = f.name.trim();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    return { error: 'Name: 1–64 letters, digits, dot, dash or underscore.' };
  const loc = f.location.trim();
  if (!loc)
    return { error: f.where === 'url' ? 'URL: where to pull the feed from.' : 'File: a path on the server.' };
  if (f.where === 'url' && !/^https?:\/\/[^/\s]/.test(loc))
    return { error: 'URL: starts with http:// or https://.' };
  if (f.where === 'file' && (f.format === 'taxii' || f.format === 'misp_search'))
    return { error: `A ${f.format} feed is pulled from a server: give its URL.` };
  const body: Record<string, unknown> = { name, format: f.format, [f.where]: loc };
  const sched = f.schedule.trim();
  if (sched) {
    if (!/^\d{1,7}[smhd]?$/.test(sched))
      return { error: 'Schedule: seconds or a duration such as 15m, 1h, 1d.' };
    body.schedule = /^\d+$/.test(sched) ? Number(sched) : sched;
  }
  for (const [k, label] of [
    ['confidence', 'Confidence'],
    ['severity', 'Severity'],
  ] as const) {
    const v = score(label, f[k]);
    if (typeof v === 'string') return { error: v };
    if (v !== undefined) body[k] = v;
  }
  if (f.format === 'csv') {
    if (!f.columns.value.trim()) return { error: 'CSV: the column that holds the value is required.' };
    const mapping: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(f.columns)) if (v.trim()) mapping[key] = column(v);
    // A fixed type wins over a type column: the config takes one or the other.
    if (f.fixedType) delete mapping.type;
    if (!f.header && Object.values(mapping).some((v) => typeof v === 'string'))
      return { error: 'CSV: columns given by name need a header line; without one use 0-based numbers.' };
    if (f.fixedType) mapping.fixed_type = f.fixedType;
    mapping.header = f.header;
    if (f.delimiter && f.delimiter !== ',') {
      const d = f.delimiter === '\\t' ? '\t' : f.delimiter;
      if (d.length !== 1) return { error: 'CSV: the delimiter is one character (\\t for a tab).' };
      mapping.delimiter = d;
    }
    body.mapping = mapping;
  } else if (f.fixedType && (f.format === 'list' || f.format === 'zeek')) body.type = f.fixedType;
  if (f.format === 'taxii') {
    if (f.collection.trim()) body.collection = f.collection.trim();
    if (f.apiRoot.trim()) body.api_root = f.apiRoot.trim();
    if (f.addedAfter.trim()) {
      if (Number.isNaN(Date.parse(f.addedAfter.trim())))
        return { error: 'Added after: an ISO-8601 time such as 2024-01-01T00:00:00Z.' };
      body.added_after = f.addedAfter.trim();
    }
  }
  if (f.format === 'misp' || f.format === 'misp_search') body.to_ids_only = f.toIdsOnly;
  if (f.token.trim() && f.where === 'url')
    body.auth =
      f.format === 'misp' || f.format === 'misp_search'
        ? { type: 'token', token: f.token.trim() }
        : { type: 'token', token: f.token.trim(), scheme: 'Bearer' };
  return { body };
}

// ---- Sightings over time, from the records themselves ----

const STEPS = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86_400, 7 * 86_400];

/**
 * Sightings counted per time bucket (the KPI route serves flows only). The step is the
 * smallest nice one that keeps the chart under `most` buckets; every bucket is present, zero
 * when nothing was seen, so a quiet period shows as quiet.
 */
export function sightingBuckets(
  times: readonly string[],
  fromMs: number,
  toMs: number,
  most = 120,
): { xs: number[]; counts: number[]; step: number } {
  const span = Math.max(1, (toMs - fromMs) / 1000);
  const step = STEPS.find((s) => span / s <= most) ?? STEPS.at(-1)!;
  const start = Math.floor(fromMs / 1000 / step) * step;
  const n = Math.max(1, Math.ceil((toMs / 1000 - start) / step));
  const xs = Array.from({ length: n }, (_, i) => start + i * step);
  const counts = new Array<number>(n).fill(0);
  for (const t of times) {
    const i = Math.floor((Date.parse(t) / 1000 - start) / step);
    if (i >= 0 && i < n) counts[i]!++;
  }
  return { xs, counts, step };
}

/** How long something has been around, in the two largest units ("3 d 4 h", "12 min 5 s"). */
export function dwell(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const units: [number, string][] = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  const i = units.findIndex(([u]) => s >= u);
  const [a, al] = units[i]!;
  const [b, bl] = units[i + 1]!;
  const hi = Math.floor(s / a);
  const lo = Math.floor((s - hi * a) / b);
  return lo ? `${hi} ${al} ${lo} ${bl}` : `${hi} ${al}`;
}

/** A filter-language string literal. */
export const quoted = (s: string): string => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** Sightings of one flow: by its id, or by its Community ID when the match was on an exported flow. */
export function flowSightingsFilter(flowId: string, communityId: string | null | undefined): string {
  const byId = `record_id = ${quoted(flowId)}`;
  return communityId ? `${byId} or community_id = ${quoted(communityId)}` : byId;
}

/** Sightings naming a host, on our side or as either end. */
export const hostSightingsFilter = (ip: string): string =>
  `host = ${ip} or client_ip = ${ip} or server_ip = ${ip}`;
