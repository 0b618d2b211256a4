import { bigintToIp, cidrToRange, ipToBigint } from '../store/values.js';

/** RFC 1918, RFC 6598 (CGN), loopback, link-local and IPv6 ULA/link-local: internal by default. */
export const DEFAULT_INTERNAL = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
];

/** A set of networks with a lookup by address: sorted, merged ranges and a binary search. */
export class NetworkSet<T = true> {
  private lo: bigint[] = [];
  private hi: bigint[] = [];
  private val: T[] = [];

  constructor(entries: readonly (readonly [string, T])[]) {
    const rs: { lo: bigint; hi: bigint; v: T }[] = [];
    for (const [cidr, v] of entries) {
      const r = cidrToRange(cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`);
      if (!r) throw new Error(`'${cidr}' is not a network (10.0.0.0/8, 2001:db8::/32)`);
      rs.push({ lo: r.lo, hi: r.hi, v });
    }
    // The most specific network wins: sort by start, and keep nested ranges apart by size.
    rs.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.hi < b.hi ? -1 : 1));
    for (const r of rs) {
      this.lo.push(r.lo);
      this.hi.push(r.hi);
      this.val.push(r.v);
    }
  }

  get size(): number {
    return this.lo.length;
  }

  /** The value of the most specific network holding the address, or undefined. */
  lookup(ip: string): T | undefined {
    const a = ipToBigint(ip);
    return a === null ? undefined : this.lookupNum(a);
  }

  lookupNum(a: bigint): T | undefined {
    // Last range starting at or before a; walk back over enclosing ranges (few: networks nest shallowly).
    let l = 0;
    let h = this.lo.length - 1;
    let i = -1;
    while (l <= h) {
      const m = (l + h) >> 1;
      if (this.lo[m]! <= a) {
        i = m;
        l = m + 1;
      } else h = m - 1;
    }
    let best: number = -1;
    for (let j = i; j >= 0 && j > i - 64; j--) {
      if (this.hi[j]! >= a && (best < 0 || this.hi[j]! - this.lo[j]! < this.hi[best]! - this.lo[best]!))
        best = j;
    }
    return best < 0 ? undefined : this.val[best];
  }
}

/** The network an external address is summarised into: its /24 (IPv4) or /48 (IPv6). */
export function externalPrefix(ip: string): string | null {
  const a = ipToBigint(ip);
  if (a === null) return null;
  if (a >> 32n === 0xffffn) {
    const net = a & ~0xffn;
    return `${bigintToIp(net)}/24`;
  }
  const net = (a >> 80n) << 80n;
  return `${bigintToIp(net)}/48`;
}
