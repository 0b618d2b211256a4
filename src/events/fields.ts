import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { communityId, communityIdAt } from '../flow/community-id.js';
import type { AlertCategory } from '../schema/alert.js';

/** Shared field conversions of the event parsers. */

const PROTOS: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  ipv6_icmp: 58,
  'ipv6-icmp': 58,
  icmpv6: 58,
  icmp6: 58,
  sctp: 132,
};

/** Protocol name ("TCP", "ipv6-icmp") or number ("6") → IP protocol number, or null. */
export function protoNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : null;
  if (typeof v !== 'string' || v === '') return null;
  const n = PROTOS[v.toLowerCase()];
  if (n !== undefined) return n;
  if (/^\d{1,3}$/.test(v)) {
    const x = Number(v);
    return x <= 255 ? x : null;
  }
  return null;
}

export function port(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
}

export function int(v: unknown): number | null {
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) ? n : null;
}

/** A 32-bit signature id for the alert record (ids beyond it stay in evidence only). */
export function sigId(v: unknown): number | null {
  const n = int(v);
  return n !== null && n >= 0 && n <= 0x7fffffff ? n : null;
}

// The last IPv4 address read, as 4 bytes: the Community ID hashes it without parsing again.
const V4 = new Uint8Array(8);

/** Dotted-quad IPv4 into V4 at `at` (0 or 4), without a regex: this runs twice per event. */
function v4Into(s: string, at: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return false;
      V4[at + part++] = val;
      val = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      val = val * 10 + c - 48;
      if (val > 255) return false;
      digits++;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  V4[at + 3] = val;
  return true;
}

/** The address in canonical text, or null when it is not an IP address. */
export function ip(v: unknown): string | null {
  if (typeof v !== 'string' || v.length < 2 || v.length > 45) return null;
  if (v.length <= 15 && v4Into(v, 0)) return v;
  const b = parseIpv6(v);
  if (b === null) return null;
  return v.toLowerCase();
}

function ipBytes(s: string): Uint8Array | null {
  const v4 = parseIpv4(s);
  if (v4 !== null) return new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
  return parseIpv6(s);
}

/** Community ID v1 of a 5-tuple given as text, or null when the tuple is incomplete. */
export function communityIdOf(
  proto: number | null,
  src: string | null,
  dst: string | null,
  sport: number | null,
  dport: number | null,
): string | null {
  if (proto === null || src === null || dst === null) return null;
  if (src.length <= 15 && dst.length <= 15 && v4Into(src, 0) && v4Into(dst, 4))
    return communityIdAt(proto, V4, 0, V4, 4, 4, sport ?? 0, dport ?? 0);
  const a = ipBytes(src);
  const b = ipBytes(dst);
  if (a === null || b === null || a.length !== b.length) return null;
  return communityId(proto, a, b, sport ?? 0, dport ?? 0);
}

const TS_RE = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\s*(Z|[+-]\d\d:?\d\d)?$/;

/**
 * ISO-8601 / RFC 3339 time → ms since the epoch, or NaN. Accepts Suricata's offset without
 * a colon (`2024-01-18T10:00:00.123456+0000`), which Date.parse does not; no offset = UTC.
 */
export function parseIsoMs(s: string): number {
  // Suricata's own form, `2024-01-18T10:00:00.123456+0000`: consecutive events share the
  // second, so the second's value is kept and only the fraction is read.
  if (
    s.length === 31 &&
    s.charCodeAt(19) === 46 &&
    s.slice(0, 19) === lastSecond &&
    s.slice(26) === lastZone
  ) {
    let f = 0;
    for (let i = 20; i < 26; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      if (i < 23) f = f * 10 + d;
    }
    return lastSecondMs + f;
  }
  const r = parseIsoFull(s);
  if (s.length === 31 && s.charCodeAt(19) === 46 && !Number.isNaN(r)) {
    lastSecond = s.slice(0, 19);
    lastZone = s.slice(26);
    lastSecondMs = parseIsoFull(`${lastSecond}${lastZone}`);
  }
  return r;
}

let lastSecond = '';
let lastZone = '';
let lastSecondMs = 0;

function parseIsoFull(s: string): number {
  const m = TS_RE.exec(s);
  if (!m) return Number.NaN;
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  let ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  ms += Math.floor(frac);
  const z = m[8];
  if (z && z !== 'Z') {
    const sign = z[0] === '-' ? -1 : 1;
    const d = z.slice(1).replace(':', '');
    ms -= sign * (Number(d.slice(0, 2)) * 60 + Number(d.slice(2, 4))) * 60_000;
  }
  const mo = Number(m[2]);
  const day = Number(m[3]);
  if (mo < 1 || mo > 12 || day < 1 || day > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60)
    return Number.NaN;
  return ms;
}

/** Any time value a tool may send: epoch s or ms (number or digits), ISO-8601, RFC 2822. */
export function parseAnyTime(v: unknown): number {
  if (typeof v === 'number') return v > 1e11 ? v : v * 1000;
  if (typeof v !== 'string' || v === '') return Number.NaN;
  if (/^\d{9,13}(\.\d+)?$/.test(v)) {
    const n = Number(v);
    return n > 1e11 ? n : n * 1000;
  }
  const iso = parseIsoMs(v);
  if (!Number.isNaN(iso)) return iso;
  return v.length <= 64 ? Date.parse(v) : Number.NaN;
}

/**
 * Snort/Suricata priority (1 high … 4 very low) → 0–100. 1 → 80 (high), 2 → 55 (medium),
 * 3 → 30 (low), 4 and beyond → 15 (info): the bands of severityLabel, centred.
 */
export function prioritySeverity(p: number | null): number {
  if (p === null || p < 1) return 55;
  if (p === 1) return 80;
  if (p === 2) return 55;
  if (p === 3) return 30;
  return 15;
}

/**
 * Suricata/Snort classtypes (by name and by the description EVE writes) whose meaning is
 * one Vantage category without doubt; every other classtype stays `ids`.
 */
const CLASSTYPES: Record<string, AlertCategory> = {
  'attempted-recon': 'scan',
  'successful-recon-limited': 'scan',
  'successful-recon-largescale': 'scan',
  'network-scan': 'scan',
  'attempted information leak': 'scan',
  'information leak': 'scan',
  'large scale information leak': 'scan',
  'detection of a network scan': 'scan',
  'attempted-dos': 'ddos',
  'successful-dos': 'ddos',
  'denial-of-service': 'ddos',
  'attempted denial of service': 'ddos',
  'denial of service': 'ddos',
  'detection of a denial of service attack': 'ddos',
  'policy-violation': 'policy',
  'potential corporate privacy violation': 'policy',
};

export function classCategory(c: unknown): AlertCategory {
  return typeof c === 'string' ? (CLASSTYPES[c.toLowerCase()] ?? 'ids') : 'ids';
}

/** A string cut to `max` characters (evidence stays bounded whatever the tool sends). */
export function cut(s: string, max = 512): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
