import { ipv4ToString, ipv6WordsToString, parseIpv4, parseIpv6 } from '../common/addr.js';

/**
 * How registry values are coded for storage, shared by every backend: addresses as 128-bit
 * integers (IPv4 mapped into ::ffff:0:0/96 so one column holds both families and a CIDR is
 * a range), MACs as 48-bit integers, times as microseconds since the epoch.
 */

const V4_MAPPED = 0xffff00000000n;

export function ipToBigint(s: string): bigint | null {
  const v4 = parseIpv4(s);
  if (v4 !== null) return V4_MAPPED | BigInt(v4);
  const b = parseIpv6(s);
  if (!b) return null;
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export function bigintToIp(v: bigint): string {
  if (v >> 32n === 0xffffn) return ipv4ToString(Number(v & 0xffffffffn));
  const w = (k: number): number => Number((v >> BigInt(96 - 32 * k)) & 0xffffffffn);
  return ipv6WordsToString(w(0), w(1), w(2), w(3));
}

/** Parse "a.b.c.d/n" or "x::/n" into an inclusive range of coded addresses, or null. */
export function cidrToRange(s: string): { lo: bigint; hi: bigint } | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return null;
  const len = Number(lenText);
  const isV4 = parseIpv4(addr) !== null;
  const base = ipToBigint(addr);
  if (base === null) return null;
  const bits = isV4 ? 32 : 128;
  if (len > bits) return null;
  const host = (1n << BigInt(bits - len)) - 1n;
  const lo = base & ~host;
  return { lo, hi: lo | host };
}

export function macToNumber(s: string): number | null {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(s)) return null;
  return Number.parseInt(s.replace(/[:-]/g, ''), 16);
}

export function numberToMac(v: number): string {
  const h = v.toString(16).padStart(12, '0');
  return `${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`;
}

const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/**
 * Microseconds since the epoch of an ISO-8601 UTC time such as 2016-05-18T08:06:22.617313000Z
 * (the records' format); falls back to Date.parse for other forms. NaN when unparseable.
 */
export function isoToMicros(s: string): number {
  if (
    s.length >= 20 &&
    s.charCodeAt(4) === 45 &&
    s.charCodeAt(10) === 84 &&
    s.charCodeAt(s.length - 1) === 90
  ) {
    const y = num(s, 0, 4);
    const mo = num(s, 5, 2);
    const d = num(s, 8, 2);
    const h = num(s, 11, 2);
    const mi = num(s, 14, 2);
    const se = num(s, 17, 2);
    let frac = 0;
    if (s.charCodeAt(19) === 46) {
      // Up to 6 fractional digits are kept (microseconds).
      const end = s.length - 1;
      let scale = 100000;
      for (let i = 20; i < end && scale >= 1; i++, scale /= 10) frac += (s.charCodeAt(i) - 48) * scale;
    }
    if (mo >= 1 && mo <= 12) {
      const leap = mo > 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 1 : 0;
      const yy = y - 1970;
      const leaps = Math.floor((y - 1969) / 4) - Math.floor((y - 1901) / 100) + Math.floor((y - 1601) / 400);
      const days = yy * 365 + leaps + DAYS_BEFORE_MONTH[mo - 1]! + leap + d - 1;
      const v = (((days * 24 + h) * 60 + mi) * 60 + se) * 1e6 + frac;
      if (Number.isFinite(v)) return v;
    }
  }
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? Number.NaN : ms * 1000;
}

function num(s: string, off: number, n: number): number {
  let v = 0;
  for (let i = off; i < off + n; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

/** ISO-8601 UTC with microseconds. */
export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  const micro = Math.round(us - ms * 1000);
  return `${iso.slice(0, 23)}${String(micro).padStart(3, '0')}Z`;
}

/**
 * A time given by a user: ISO-8601, epoch seconds/milliseconds, or relative to now
 * ("-1h", "-30m", "-7d", "now"). Returns microseconds, or null when unparseable.
 */
export function parseUserTime(s: string, now = Date.now()): number | null {
  const t = s.trim();
  if (t === 'now') return now * 1000;
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(t);
  if (rel) {
    const mult = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[rel[2] as 's'];
    return Math.round((now - Number(rel[1]) * mult * 1000) * 1000);
  }
  if (/^\d{9,10}(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1e6);
  if (/^\d{12,13}$/.test(t)) return Number(t) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) return null;
  const iso = t.length === 10 ? `${t}T00:00:00Z` : /Z|[+-]\d{2}:?\d{2}$/.test(t.slice(10)) ? t : `${t}Z`;
  const v = isoToMicros(iso.replace(' ', 'T'));
  return Number.isNaN(v) ? null : v;
}

/** Parse a duration such as 30s, 1m, 5m, 1h, 1d into seconds. */
export function parseDuration(s: string): number | null {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'];
  return v > 0 ? v : null;
}
