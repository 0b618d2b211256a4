import { parseIpv4, parseIpv6 } from '../common/addr.js';

/** CIDR lists parsed once; lookups of an address string go through a small bounded cache. */
export class NetSet {
  /** IPv4 networks and masks side by side (a tuple per network was destructured per lookup). */
  private readonly v4Net: number[] = [];
  private readonly v4Mask: number[] = [];
  private readonly v6: [Uint8Array, number][] = [];
  private readonly cache = new Map<string, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      if (!p) throw new Error(`not a CIDR: ${c}`);
      if (p.v === 4) {
        this.v4Net.push((p.addr & p.mask) >>> 0);
        this.v4Mask.push(p.mask);
      } else this.v6.push([p.bytes, p.len]);
    }
  }

  get empty(): boolean {
    return this.v4Net.length === 0 && this.v6.length === 0;
  }

  /** Whether the IPv4 address `a` (as `fastIpv4` reads it) is in one of the networks. */
  hasV4(a: number): boolean {
    const nets = this.v4Net;
    const masks = this.v4Mask;
    for (let i = 0; i < nets.length; i++) if ((a & masks[i]!) >>> 0 === nets[i]!) return true;
    return false;
  }

  has(ip: string | null | undefined): boolean {
    if (!ip || this.empty) return false;
    // IPv4 is parsed in place, faster than a cache lookup and without its garbage under a flood
    // of random sources; IPv6 goes through the cache.
    const a = fastIpv4(ip);
    if (a >= 0) return this.hasV4(a);
    const c = this.cache.get(ip);
    if (c !== undefined) return c;
    const r = this.lookup(ip);
    if (this.cache.size >= 65_536) this.cache.clear();
    this.cache.set(ip, r);
    return r;
  }

  /** True when no IPv6 prefix can hold `ip`, known from its first group alone. */
  private outsideByFirstGroup(ip: string): boolean {
    const g = firstGroup(ip);
    if (g < 0) return false;
    for (const [net, len] of this.v6) {
      const bits = len < 16 ? len : 16;
      const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
      if ((g & mask) === ((((net[0] ?? 0) << 8) | (net[1] ?? 0)) & mask)) return false;
    }
    return true;
  }

  private lookup(ip: string): boolean {
    if (ip.includes(':')) {
      // Most addresses are outside every prefix by their first 16 bits: decided without the
      // full parse (and its arrays). An address rejected here may be malformed, which would
      // answer false as well.
      if (this.outsideByFirstGroup(ip)) return false;
      const b = parseIpv6(ip);
      if (!b) return false;
      for (const [net, len] of this.v6) if (prefixMatch(b, net, len)) return true;
      return false;
    }
    const a = parseIpv4(ip);
    return a !== null && this.hasV4(a);
  }
}

/** Dotted-quad IPv4 as an unsigned number, -1 when the string is not one. */
export function fastIpv4(s: string): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

/**
 * The first 16 bits of an IPv6 text when the text starts with them (1–4 hex digits and a colon;
 * 0 after a leading colon), -1 when they cannot be read that simply.
 */
export function firstGroup(s: string): number {
  if (s.charCodeAt(0) === 58) return 0;
  let v = 0;
  for (let i = 0; i < 5 && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) return i === 0 ? -1 : v;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0 || i === 4) return -1;
    v = v * 16 + d;
  }
  return -1;
}

function prefixMatch(a: Uint8Array, net: Uint8Array, len: number): boolean {
  let bits = len;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[i] ?? 0) & m) !== ((net[i] ?? 0) & m)) return false;
  }
  return true;
}

type Cidr = { v: 4; addr: number; mask: number } | { v: 6; bytes: Uint8Array; len: number };

export function parseCidr(s: string): Cidr | null {
  if (typeof s !== 'string') return null;
  const [ip, lenS, extra] = s.split('/');
  if (ip === undefined || extra !== undefined) return null;
  if (ip.includes(':')) {
    const bytes = parseIpv6(ip);
    const len = lenS === undefined ? 128 : Number(lenS);
    if (!bytes || !Number.isInteger(len) || len < 0 || len > 128) return null;
    return { v: 6, bytes, len };
  }
  const addr = parseIpv4(ip);
  const len = lenS === undefined ? 32 : Number(lenS);
  if (addr === null || !Number.isInteger(len) || len < 0 || len > 32) return null;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { v: 4, addr: (addr & mask) >>> 0, mask };
}

/** The network an address belongs to for "rare destination" purposes: a /24 or a /48. */
export function networkOf(ip: string): string {
  if (ip.includes(':')) {
    const b = parseIpv6(ip);
    if (!b) return ip;
    const h = Buffer.from(b.subarray(0, 6)).toString('hex');
    return `${h.slice(0, 4)}:${h.slice(4, 8)}:${h.slice(8, 12)}::/48`;
  }
  const i = ip.lastIndexOf('.');
  return i < 0 ? ip : `${ip.slice(0, i)}.0/24`;
}

export const RFC1918_ULA = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
