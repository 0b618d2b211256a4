import { feedTime, type Ioc, type IocType, normalizeIp, parseCidrRange } from '../model.js';
import { FeedError, type ParseOptions, ParseResult, parseJson } from './common.js';

/**
 * MISP attribute types (MISP core format, draft-dulaunoy-misp-core-format) and the indicator
 * type each becomes; composite types (`a|b`) say which half to take.
 */
const MISP_TYPES: Record<string, { type: IocType; part?: 0 | 1 }> = {
  'ip-dst': { type: 'ipv4' },
  'ip-src': { type: 'ipv4' },
  'ip-dst|port': { type: 'ipv4', part: 0 },
  'ip-src|port': { type: 'ipv4', part: 0 },
  domain: { type: 'domain' },
  hostname: { type: 'domain' },
  'domain|ip': { type: 'domain', part: 0 },
  'hostname|port': { type: 'domain', part: 0 },
  url: { type: 'url' },
  link: { type: 'url' },
  md5: { type: 'file_hash' },
  sha1: { type: 'file_hash' },
  sha256: { type: 'file_hash' },
  sha512: { type: 'file_hash' },
  'filename|md5': { type: 'file_hash', part: 1 },
  'filename|sha1': { type: 'file_hash', part: 1 },
  'filename|sha256': { type: 'file_hash', part: 1 },
  'x509-fingerprint-sha1': { type: 'cert_sha1' },
  'x509-fingerprint-sha256': { type: 'cert_sha256' },
  'ja3-fingerprint-md5': { type: 'ja3' },
  'email-src': { type: 'email' },
  'email-dst': { type: 'email' },
  email: { type: 'email' },
};

/** threat_level_id 1 high … 4 undefined, as a 0–100 severity. */
const THREAT_LEVEL: Record<string, number> = { '1': 90, '2': 60, '3': 30, '4': 50 };

export interface MispOptions {
  /** Take only attributes flagged for detection (to_ids), as MISP exports do (default true). */
  toIdsOnly: boolean;
  warninglists: Warninglist[];
}

/** One event (`{"Event": {...}}`) of a MISP feed or restSearch answer. */
export function addMispEvent(r: ParseResult, doc: unknown, m: MispOptions, where: string): void {
  const ev = (doc as { Event?: unknown })?.Event ?? doc;
  if (!ev || typeof ev !== 'object') throw new FeedError(`${where}: not a MISP event`);
  const e = ev as Record<string, unknown>;
  const severity = THREAT_LEVEL[String(e.threat_level_id ?? '4')] ?? 50;
  const evTags = tagsOf(e.Tag);
  const attrs: unknown[] = Array.isArray(e.Attribute) ? [...e.Attribute] : [];
  if (Array.isArray(e.Object)) {
    for (const o of e.Object as Record<string, unknown>[])
      if (Array.isArray(o?.Attribute)) attrs.push(...o.Attribute);
  }
  for (const a of attrs)
    addMispAttribute(
      r,
      a,
      m,
      { severity, tags: evTags, info: typeof e.info === 'string' ? e.info : null },
      where,
    );
}

export function addMispAttribute(
  r: ParseResult,
  raw: unknown,
  m: MispOptions,
  ev: { severity: number; tags: string[]; info: string | null },
  where: string,
): void {
  if (!raw || typeof raw !== 'object') {
    r.note('skipped', `${where}: an attribute is not an object`);
    return;
  }
  const a = raw as Record<string, unknown>;
  if (m.toIdsOnly && a.to_ids !== true && a.to_ids !== '1' && a.to_ids !== 1) return;
  if (a.deleted === true) return;
  const map = MISP_TYPES[String(a.type)];
  if (!map) {
    r.note('unsupported', `${where}: attribute type ${String(a.type)} is not matched on network records`);
    return;
  }
  let v = String(a.value ?? '');
  if (map.part !== undefined) v = v.split('|')[map.part] ?? '';
  let type = map.type;
  if (type === 'ipv4') {
    const ip = normalizeIp(v.trim());
    if (ip) type = ip.type;
  }
  if (onWarninglist(m.warninglists, type, v.trim().toLowerCase())) {
    r.note('skipped', `${where}: ${v.slice(0, 80)} is on a warninglist`);
    return;
  }
  const ts = feedTime(a.timestamp);
  r.add(
    type,
    v,
    {
      severity: ev.severity,
      first_seen: Number.isFinite(feedTime(a.first_seen)) ? feedTime(a.first_seen) : ts,
      last_seen: Number.isFinite(feedTime(a.last_seen)) ? feedTime(a.last_seen) : ts,
      tags: [
        ...ev.tags,
        ...tagsOf(a.Tag),
        ...(typeof a.category === 'string' ? [`misp:category=${a.category}`] : []),
      ],
      description: typeof a.comment === 'string' && a.comment !== '' ? a.comment : ev.info,
    },
    `${where}: `,
  );
}

function tagsOf(t: unknown): string[] {
  return Array.isArray(t)
    ? t.map((x) => (x as { name?: unknown })?.name).filter((x): x is string => typeof x === 'string')
    : [];
}

/** A MISP warninglist (misp-warninglists format): values that must never alert. */
export interface Warninglist {
  name: string;
  type: 'string' | 'cidr' | 'hostname' | 'substring' | 'regex';
  values: Set<string>;
  ranges: { v6: boolean; lo: bigint; hi: bigint }[];
}

export function parseWarninglist(text: string, where: string): Warninglist {
  const d = parseJson(text, where) as Record<string, unknown>;
  if (!d || !Array.isArray(d.list)) throw new FeedError(`${where}: a warninglist needs a list array`);
  const type = (
    ['string', 'cidr', 'hostname', 'substring', 'regex'].includes(String(d.type)) ? d.type : 'string'
  ) as Warninglist['type'];
  const values = new Set<string>();
  const ranges: Warninglist['ranges'] = [];
  for (const v of d.list) {
    const s = String(v).trim().toLowerCase();
    if (type === 'cidr') {
      const r = parseCidrRange(s);
      if (r) ranges.push(r);
    } else values.add(s.replace(/^\*?\./, ''));
  }
  return { name: String(d.name ?? where), type, values, ranges };
}

export function onWarninglist(lists: readonly Warninglist[], type: IocType, v: string): boolean {
  for (const w of lists) {
    if (w.type === 'cidr') {
      if (type !== 'ipv4' && type !== 'ipv6' && type !== 'cidr') continue;
      const r = parseCidrRange(v);
      if (r && w.ranges.some((x) => x.v6 === r.v6 && r.lo >= x.lo && r.hi <= x.hi)) return true;
    } else if (w.type === 'hostname') {
      const host = type === 'url' ? v.split('/')[0]! : v;
      for (let d = host; d !== ''; d = d.includes('.') ? d.slice(d.indexOf('.') + 1) : '')
        if (w.values.has(d)) return true;
    } else if (w.type === 'substring') {
      for (const s of w.values) if (v.includes(s)) return true;
    } else if (w.values.has(v)) return true;
  }
  return false;
}

/** The manifest of a MISP feed directory: event uuids to fetch. */
export function mispManifestEvents(text: string): string[] {
  const d = parseJson(text, 'MISP manifest.json');
  if (!d || typeof d !== 'object' || Array.isArray(d))
    throw new FeedError('MISP manifest.json is not a JSON object');
  const ids = Object.keys(d);
  for (const id of ids)
    if (!/^[0-9a-f-]{36}$/i.test(id))
      throw new FeedError(`MISP manifest.json has a bad event uuid '${id.slice(0, 60)}'`);
  return ids;
}

/** A restSearch answer ({response: {Attribute: [...]}} or {response: [{Event}...]}). */
export function parseMispSearch(text: string, opts: ParseOptions, m: MispOptions): ParseResult {
  const d = parseJson(text, 'MISP restSearch answer') as Record<string, unknown>;
  const resp = (d?.response ?? d) as unknown;
  const r = new ParseResult(opts);
  if (Array.isArray(resp)) {
    for (const [i, e] of resp.entries()) addMispEvent(r, e, m, `event ${i}`);
  } else if (resp && typeof resp === 'object' && Array.isArray((resp as Record<string, unknown>).Attribute)) {
    for (const a of (resp as { Attribute: unknown[] }).Attribute)
      addMispAttribute(r, a, m, { severity: 50, tags: [], info: null }, 'attribute');
  } else throw new FeedError('MISP restSearch answer has neither events nor attributes');
  return r;
}

export type { Ioc };
