import { alertId } from '../common/alerts.js';
import { type Ioc, iocJson, isoOrNull } from './model.js';

/** What the feed API serves per indicator; sighted feeds add where and when it was seen here. */
export interface ServedIoc {
  ioc: Ioc;
  sighting?: { first: string; last: string; count: number; hosts: string[] };
}

export const servedJson = (s: ServedIoc): Record<string, unknown> => ({
  ...iocJson(s.ioc),
  ...(s.sighting
    ? {
        first_sighted: s.sighting.first,
        last_sighted: s.sighting.last,
        sightings: s.sighting.count,
        hosts: s.sighting.hosts,
      }
    : {}),
});

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(';') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const CSV_COLS = [
  'type',
  'value',
  'confidence',
  'severity',
  'first_seen',
  'last_seen',
  'valid_until',
  'sources',
  'tags',
  'description',
];
const CSV_SIGHTED = ['first_sighted', 'last_sighted', 'sightings', 'hosts'];

export function servedCsv(items: readonly ServedIoc[], sighted: boolean): string {
  const cols = sighted ? [...CSV_COLS, ...CSV_SIGHTED] : CSV_COLS;
  const lines = [cols.join(',')];
  for (const s of items) {
    const o = servedJson(s);
    lines.push(cols.map((c) => csvCell(o[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export const servedText = (items: readonly ServedIoc[]): string =>
  items.map((s) => `${s.ioc.value}\n`).join('');

const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The STIX pattern that stands for an indicator. */
export function patternOf(i: Ioc): string {
  switch (i.type) {
    case 'ipv4':
      return `[ipv4-addr:value = ${q(i.value)}]`;
    case 'ipv6':
      return `[ipv6-addr:value = ${q(i.value)}]`;
    case 'cidr':
      return i.value.includes(':')
        ? `[ipv6-addr:value ISSUBSET ${q(i.value)}]`
        : `[ipv4-addr:value ISSUBSET ${q(i.value)}]`;
    case 'domain':
    case 'http_host':
      return `[domain-name:value = ${q(i.value)}]`;
    case 'domain_suffix':
      return `[domain-name:value = ${q(i.value)} OR domain-name:value LIKE ${q(`%.${i.value}`)}]`;
    case 'sni':
      return `[network-traffic:extensions.'tls-ext'.server_name = ${q(i.value)}]`;
    case 'url':
      return `[url:value = ${q(`http://${i.value}`)}]`;
    case 'email':
      return `[email-addr:value = ${q(i.value)}]`;
    case 'file_hash': {
      const alg =
        i.value.length === 32
          ? 'MD5'
          : i.value.length === 40
            ? "'SHA-1'"
            : i.value.length === 64
              ? "'SHA-256'"
              : "'SHA-512'";
      return `[file:hashes.${alg} = ${q(i.value)}]`;
    }
    case 'cert_sha1':
      return `[x509-certificate:hashes.'SHA-1' = ${q(i.value)}]`;
    case 'cert_sha256':
      return `[x509-certificate:hashes.'SHA-256' = ${q(i.value)}]`;
    case 'ja3':
    case 'ja3s':
    case 'ja4':
      return `[x-${i.type}:value = ${q(i.value)}]`;
  }
}

/** The STIX id of an indicator: derived from it, so every answer names it the same. */
export const indicatorId = (i: Ioc): string => `indicator--${alertId(['vantage-ioc', i.type, i.value])}`;

/** One indicator as a STIX 2.1 indicator object. */
export function indicatorObject(i: Ioc, nowMs: number): Record<string, unknown> {
  const now = new Date(nowMs).toISOString();
  const created = isoOrNull(i.first_seen) ?? now;
  const o: Record<string, unknown> = {
    type: 'indicator',
    spec_version: '2.1',
    id: indicatorId(i),
    created,
    modified: isoOrNull(i.last_seen) ?? created,
    name: `${i.type} ${i.value}`,
    indicator_types: ['malicious-activity'],
    pattern: patternOf(i),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: created,
    confidence: i.confidence,
    labels: [...new Set([...i.tags, ...i.sources.map((x) => `source:${x}`)])].filter((x) => x !== ''),
  };
  if (Number.isFinite(i.valid_until) && i.valid_until > Date.parse(created))
    o.valid_until = isoOrNull(i.valid_until);
  if (i.description) o.description = i.description;
  if (i.references.length > 0)
    o.external_references = i.references.map((url) => ({ source_name: 'reference', url }));
  if ((o.labels as string[]).length === 0) delete o.labels;
  return o;
}

/** A STIX 2.1 bundle of indicators; ids are derived from the indicator so they are stable. */
export function servedStix(items: readonly ServedIoc[], nowMs: number): Record<string, unknown> {
  const now = new Date(nowMs).toISOString();
  const objects = items.map((s) => indicatorObject(s.ioc, nowMs));
  return { type: 'bundle', id: `bundle--${alertId(['vantage-bundle', now, items.length])}`, objects };
}
