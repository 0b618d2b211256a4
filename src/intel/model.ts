import { ipv6BytesToString, parseIpv4, parseIpv6 } from '../common/addr.js';

/**
 * What an indicator can be. `domain` is the name itself; `domain_suffix` is the name and
 * every name under it. `cidr` holds networks of either family; a /32 (or /128) is stored as
 * the address. `url` is kept without its scheme (host in lower case, then path and query) so
 * that an HTTP request's Host + target compares to it directly.
 */
export const IOC_TYPES = [
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
export type IocType = (typeof IOC_TYPES)[number];

export const isIocType = (s: string): s is IocType => (IOC_TYPES as readonly string[]).includes(s);

/** Feed API families (GET /api/v1/iocs/feeds/{family}) and the types each one serves. */
export const FEED_FAMILIES: Record<string, readonly IocType[]> = {
  ips: ['ipv4', 'ipv6', 'cidr'],
  domains: ['domain', 'domain_suffix', 'http_host'],
  urls: ['url'],
  hashes: ['file_hash', 'cert_sha1', 'cert_sha256'],
  ja3: ['ja3', 'ja3s'],
  ja4: ['ja4'],
  sni: ['sni'],
};

/**
 * One indicator as a feed gives it. Times are ms since the epoch (NaN when unknown) so that a
 * million of them stay small; the ISO form is made when one is served.
 */
export interface Ioc {
  type: IocType;
  value: string;
  /** 0–100. */
  confidence: number;
  /** 0–100. */
  severity: number;
  first_seen: number;
  last_seen: number;
  /** Expiry, ms; NaN: never. */
  valid_until: number;
  /** Feeds that carry it (a merged indicator lists them all). */
  sources: readonly string[];
  tags: readonly string[];
  description: string | null;
  references: readonly string[];
}

export const NO_STRINGS: readonly string[] = Object.freeze([]);

/** The store key of an indicator: one indicator per type and normalised value. */
export const iocKey = (type: IocType, value: string): string => `${type}\u0000${value}`;

const HEX = /^[0-9a-f]+$/;
const LABEL = /^[a-z0-9_*]([a-z0-9_-]{0,62})?$/;

/**
 * The canonical form of a value of a type, or null when it is not one. A value that names a
 * different type than asked (an IP given as a CIDR /32, a CIDR given as an address) comes back
 * with its real type.
 */
export function normalizeIoc(type: IocType, raw: string): { type: IocType; value: string } | null {
  const v = raw.trim();
  if (v.length === 0 || v.length > 2048) return null;
  switch (type) {
    case 'ipv4':
    case 'ipv6':
    case 'cidr':
      return normalizeIp(v);
    case 'domain':
    case 'domain_suffix':
    case 'http_host':
    case 'sni': {
      let d = v.toLowerCase();
      if (d.endsWith('.')) d = d.slice(0, -1);
      let t: IocType = type;
      if (d.startsWith('*.') || d.startsWith('.')) {
        d = d.slice(d.indexOf('.') + 1);
        t = 'domain_suffix';
      }
      if (type === 'http_host') d = stripPort(d);
      return isDomain(d) ? { type: t, value: d } : null;
    }
    case 'url': {
      const u = normalizeUrl(v);
      return u === null ? null : { type, value: u };
    }
    case 'ja3':
    case 'ja3s': {
      const h = v.toLowerCase();
      return h.length === 32 && HEX.test(h) ? { type, value: h } : null;
    }
    case 'ja4':
      // a_b_c with a 10-character head (t13d1516h2_8daaf6152771_b0da82dd1658)
      return /^[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}$/i.test(v)
        ? { type, value: v.toLowerCase() }
        : null;
    case 'cert_sha1':
    case 'cert_sha256':
    case 'file_hash': {
      const h = v.toLowerCase().replace(/:/g, '');
      const okLen =
        type === 'cert_sha1'
          ? h.length === 40
          : type === 'cert_sha256'
            ? h.length === 64
            : [32, 40, 64, 128].includes(h.length);
      return okLen && HEX.test(h) ? { type, value: h } : null;
    }
    case 'email': {
      const e = v.toLowerCase();
      const at = e.lastIndexOf('@');
      return at > 0 && isDomain(e.slice(at + 1)) && !/\s/.test(e) ? { type, value: e } : null;
    }
  }
}

export function normalizeIp(v: string): { type: IocType; value: string } | null {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  let len = -1;
  if (slash >= 0) {
    const l = v.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return null;
    len = Number(l);
  }
  const a4 = parseIpv4(addr);
  if (a4 !== null) {
    if (len > 32) return null;
    if (len < 0 || len === 32) return { type: 'ipv4', value: ipv4String(a4) };
    return { type: 'cidr', value: `${ipv4String(maskV4(a4, len))}/${len}` };
  }
  const a6 = parseIpv6(addr);
  if (a6 === null) return null;
  if (len > 128) return null;
  if (len < 0 || len === 128) return { type: 'ipv6', value: ipv6BytesToString(a6, 0) };
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    a6[i] = a6[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { type: 'cidr', value: `${ipv6BytesToString(a6, 0)}/${len}` };
}

export const maskV4 = (a: number, len: number): number =>
  len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0;
export const ipv4String = (v: number): string =>
  `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

function stripPort(h: string): string {
  const c = h.lastIndexOf(':');
  return c > 0 && /^\d+$/.test(h.slice(c + 1)) && !h.includes(']') ? h.slice(0, c) : h;
}

export function isDomain(d: string): boolean {
  if (d.length === 0 || d.length > 253) return false;
  const labels = d.split('.');
  for (const l of labels) if (!LABEL.test(l)) return false;
  return true;
}

/** `http://Host:80/path?q` → `host/path?q`; a bare `host/path` is taken as it is. */
export function normalizeUrl(v: string): string | null {
  if (/\s/.test(v)) return null;
  let rest = v;
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v);
  let scheme = 'http';
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = v.slice(m[0].length);
  }
  const slash = rest.search(/[/?#]/);
  let host = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  let path = slash < 0 ? '/' : rest.slice(slash);
  if (path.startsWith('?')) path = `/${path}`;
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  // normal form must be stable: `host#frag` and `host` are both `host/`
  if (path === '') path = '/';
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if ((scheme === 'http' && host.endsWith(':80')) || (scheme === 'https' && host.endsWith(':443'))) {
    host = host.slice(0, host.lastIndexOf(':'));
  }
  // a host is a name, an address or [v6], with a port; anything else is not a URL we can match
  if (host.length === 0 || !/^[a-z0-9._~%-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/.test(host))
    return null;
  return `${host}${path}`;
}

/** Guess the type of a bare value (plain lists, CSV without a type column). */
export function guessIocType(v: string): IocType | null {
  const s = v.trim();
  if (s.length === 0) return null;
  const ip = normalizeIp(s);
  if (ip) return ip.type;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return 'url';
  if (s.includes('@')) return 'email';
  if (/^[0-9a-f]+$/i.test(s) && [32, 40, 64, 128].includes(s.length)) return 'file_hash';
  if (/^[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}$/i.test(s)) return 'ja4';
  if (s.includes('/')) return 'url';
  if (s.startsWith('*.') || s.startsWith('.')) return 'domain_suffix';
  if (isDomain(s.toLowerCase().replace(/\.$/, ''))) return 'domain';
  return null;
}

/** Fill the optional parts of an indicator a feed gave. */
export function makeIoc(
  type: IocType,
  value: string,
  source: readonly string[],
  p: Partial<Omit<Ioc, 'type' | 'value' | 'sources'>> = {},
): Ioc {
  return {
    type,
    value,
    confidence: clamp100(p.confidence ?? 50),
    severity: clamp100(p.severity ?? 50),
    first_seen: p.first_seen ?? Number.NaN,
    last_seen: p.last_seen ?? Number.NaN,
    valid_until: p.valid_until ?? Number.NaN,
    sources: source,
    tags: p.tags && p.tags.length > 0 ? p.tags : NO_STRINGS,
    description: p.description ?? null,
    references: p.references && p.references.length > 0 ? p.references : NO_STRINGS,
  };
}

export const clamp100 = (v: number): number =>
  Number.isFinite(v) ? Math.max(0, Math.min(100, Math.round(v))) : 50;

/** Parse a time a feed gives (ISO-8601 or epoch seconds); NaN when absent or bad. */
export function feedTime(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? (v < 1e11 ? v * 1000 : v) : Number.NaN;
  if (typeof v !== 'string' || v === '') return Number.NaN;
  if (/^\d{9,13}(\.\d+)?$/.test(v)) return feedTime(Number(v));
  return Date.parse(v);
}

export const isoOrNull = (ms: number): string | null =>
  Number.isFinite(ms) ? new Date(ms).toISOString() : null;

/** The JSON form an indicator is served and persisted in. */
export function iocJson(i: Ioc): Record<string, unknown> {
  return {
    type: i.type,
    value: i.value,
    confidence: i.confidence,
    severity: i.severity,
    first_seen: isoOrNull(i.first_seen),
    last_seen: isoOrNull(i.last_seen),
    valid_until: isoOrNull(i.valid_until),
    sources: i.sources,
    tags: i.tags,
    description: i.description,
    references: i.references,
  };
}

/** An address or network as an inclusive range of integers (STIX ISSUBSET / ISSUPERSET). */
export function parseCidrRange(s: string): { v6: boolean; lo: bigint; hi: bigint } | null {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const lenText = slash < 0 ? null : s.slice(slash + 1);
  if (lenText !== null && !/^\d{1,3}$/.test(lenText)) return null;
  const a4 = parseIpv4(addr);
  let v: bigint;
  let bits: number;
  if (a4 !== null) {
    v = BigInt(a4);
    bits = 32;
  } else {
    const b = parseIpv6(addr);
    if (!b) return null;
    v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    bits = 128;
  }
  const len = lenText === null ? bits : Number(lenText);
  if (len > bits) return null;
  const host = (1n << BigInt(bits - len)) - 1n;
  const lo = v & ~host & ((1n << BigInt(bits)) - 1n);
  return { v6: bits === 128, lo, hi: lo | host };
}
