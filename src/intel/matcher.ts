import { ipv6BytesToString, parseIpv6 } from '../common/addr.js';
import { type IocStore, newTypeMaps, type TypeMaps } from './ioc-store.js';
import { IOC_TYPES, type Ioc, type IocType, maskV4 } from './model.js';
import { BloomBits, SEED, step, strHash, TAG, v4Key } from './prefilter.js';

interface V4Prefix {
  len: number;
  map: Map<number, Ioc>;
}
interface V6Prefix {
  len: number;
  map: Map<string, Ioc>;
}

type ExactType = Exclude<IocType, 'ipv4' | 'ipv6' | 'cidr' | 'domain' | 'domain_suffix'>;

/**
 * The index every record is looked up in: hash maps for exact values (addresses by their text,
 * domains, URLs, fingerprints), one hash map per prefix length in use for networks (longest
 * first, so the most specific network answers), and the suffix map probed at every label
 * boundary for "this domain and its subdomains".
 *
 * A matcher over the IOC store (`over`) reads the store's own per-type maps and builds only the
 * network tables, so a million indicators are not indexed twice. That is safe because a feed
 * is replaced synchronously and the watcher gets the new matcher in the same turn: no record
 * is matched between the two. `build` makes a matcher with maps of its own (retro-hunts over a
 * chosen set).
 */
export class Matcher {
  readonly v4: Map<string, Ioc>;
  readonly v6: Map<string, Ioc>;
  private v4Nets: V4Prefix[] = [];
  private v6Nets: V6Prefix[] = [];
  readonly domain: Map<string, Ioc>;
  readonly suffix: Map<string, Ioc>;
  readonly exact: Record<ExactType, Map<string, Ioc>>;
  private readonly sizeOf: () => number;
  /** IPv4 addresses (as /32) and networks, by `v4Key`. */
  private ipF: BloomBits = new BloomBits(0);
  /** Prefix lengths of the IPv4 networks, longest first. */
  private v4Lens: number[] = [];
  /** Names (domain, HTTP host, SNI) whole, and the "and subdomains" names, tagged apart. */
  private nameF: BloomBits = new BloomBits(0);
  private anySuffix = false;
  /** Every other exact value (URLs, fingerprints, hashes), tagged by kind. */
  private exactF: BloomBits = new BloomBits(0);

  constructor(maps: TypeMaps = newTypeMaps(), size?: () => number) {
    this.v4 = maps.ipv4;
    this.v6 = maps.ipv6;
    this.domain = maps.domain;
    this.suffix = maps.domain_suffix;
    this.exact = {
      url: maps.url,
      http_host: maps.http_host,
      sni: maps.sni,
      ja3: maps.ja3,
      ja3s: maps.ja3s,
      ja4: maps.ja4,
      cert_sha1: maps.cert_sha1,
      cert_sha256: maps.cert_sha256,
      file_hash: maps.file_hash,
      email: maps.email,
    };
    let n = 0;
    if (!size) for (const t of IOC_TYPES) n += maps[t].size;
    this.sizeOf = size ?? (() => n);
    this.indexNets(maps.cidr);
    this.buildFilters(maps);
  }

  private buildFilters(maps: TypeMaps): void {
    const ip = new BloomBits(maps.ipv4.size + maps.cidr.size);
    for (const v of maps.ipv4.keys()) {
      const a = parseV4(v, 0, v.length);
      if (a >= 0) ip.add(v4Key(a, 32));
    }
    for (const p of this.v4Nets) for (const a of p.map.keys()) ip.add(v4Key(a, p.len));
    this.v4Lens = this.v4Nets.map((p) => p.len);
    this.ipF = ip;
    const names = new BloomBits(
      maps.domain.size + maps.http_host.size + maps.sni.size + maps.domain_suffix.size,
    );
    for (const m of [maps.domain, maps.http_host, maps.sni])
      for (const v of m.keys()) names.add(strHash(v) ^ TAG.name);
    for (const v of maps.domain_suffix.keys()) names.add(strHash(v) ^ TAG.suffix);
    this.anySuffix = maps.domain_suffix.size > 0;
    this.nameF = names;
    let ne = 0;
    for (const t of Object.keys(this.exact) as ExactType[]) ne += this.exact[t].size;
    const ex = new BloomBits(ne);
    for (const t of Object.keys(this.exact) as ExactType[]) {
      const tag = t === 'url' ? TAG.url : TAG.exact;
      for (const v of this.exact[t].keys()) ex.add(strHash(v) ^ tag);
    }
    this.exactF = ex;
  }

  /** False when no IPv4 indicator (address or network) can match the address. */
  mayV4(a: number): boolean {
    if (this.ipF.has(v4Key(a, 32))) return true;
    const lens = this.v4Lens;
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i]!;
      if (this.ipF.has(v4Key(maskV4(a, len), len))) return true;
    }
    return false;
  }

  /**
   * False when no domain, HTTP host or TLS server name indicator can match the name (exactly,
   * or as a subdomain of an "and subdomains" one): one pass over the name, right to left, that
   * yields the hash of every label suffix on the way. Names the pass does not fold the way the
   * indicators were normalised (a trailing dot, non-ASCII) are let through.
   */
  mayName(s: string): boolean {
    const n = s.length;
    if (n === 0) return false;
    if (s.charCodeAt(n - 1) === 46) return true;
    const f = this.nameF;
    const sfx = this.anySuffix;
    let h = SEED;
    for (let i = n - 1; i >= 0; i--) {
      let c = s.charCodeAt(i);
      if (c === 46) {
        if (sfx && f.has(h ^ TAG.suffix)) return true;
      } else if (c >= 65 && c <= 90) c += 32;
      else if (c > 127) return true;
      h = step(h, c);
    }
    return f.has(h ^ TAG.name) || (sfx && f.has(h ^ TAG.suffix));
  }

  /** False when no exact-value indicator (fingerprint, hash; URL with `url`) can equal `v`. */
  mayExact(v: string, url = false): boolean {
    for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 127) return true;
    return this.exactF.has(strHash(v) ^ (url ? TAG.url : TAG.exact));
  }

  get size(): number {
    return this.sizeOf();
  }

  /** A matcher reading the store's merged maps (rebuilt after each change to index networks again). */
  static over(store: IocStore): Matcher {
    return new Matcher(store.byType, () => store.size);
  }

  static build(iocs: Iterable<Ioc>): Matcher {
    const maps = newTypeMaps();
    for (const i of iocs) maps[i.type].set(i.value, i);
    return new Matcher(maps);
  }

  private indexNets(cidrs: Map<string, Ioc>): void {
    const v4n = new Map<number, Map<number, Ioc>>();
    const v6n = new Map<number, Map<string, Ioc>>();
    for (const [value, i] of cidrs) {
      const slash = value.indexOf('/');
      const len = Number(value.slice(slash + 1));
      const a4 = parseV4(value, 0, slash);
      if (a4 >= 0) {
        const t = v4n.get(len) ?? new Map<number, Ioc>();
        v4n.set(len, t);
        t.set(a4, i);
      } else {
        const t = v6n.get(len) ?? new Map<string, Ioc>();
        v6n.set(len, t);
        t.set(value.slice(0, slash), i);
      }
    }
    this.v4Nets = [...v4n].map(([len, map]) => ({ len, map })).sort((a, b) => b.len - a.len);
    this.v6Nets = [...v6n].map(([len, map]) => ({ len, map })).sort((a, b) => b.len - a.len);
  }

  /** The indicator an address falls under: the address itself, else the narrowest network. */
  matchIp(s: string): Ioc | undefined {
    if (s.length === 0) return undefined;
    const a = parseV4(s, 0, s.length);
    if (a >= 0) {
      if (!this.mayV4(a)) return undefined;
      // records carry canonical dotted quads, the form the indicators are stored in
      if (this.v4.size > 0) {
        const hit = this.v4.get(s);
        if (hit) return hit;
      }
      for (const p of this.v4Nets) {
        const hit = p.map.get(maskV4(a, p.len));
        if (hit) return hit;
      }
      return undefined;
    }
    if (this.v6.size === 0 && this.v6Nets.length === 0) return undefined;
    const hit = this.v6.get(s);
    if (hit) return hit;
    if (this.v6Nets.length === 0) return undefined;
    const b = parseIpv6(s);
    if (!b) return undefined;
    if (this.v6.size > 0) {
      // the record's text may not be the canonical form the indicator was stored in
      const canon = this.v6.get(ipv6BytesToString(b, 0));
      if (canon) return canon;
    }
    const work = new Uint8Array(16);
    for (const p of this.v6Nets) {
      for (let i = 0; i < 16; i++) {
        const keep = Math.max(0, Math.min(8, p.len - i * 8));
        work[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
      }
      const h = p.map.get(ipv6BytesToString(work, 0));
      if (h) return h;
    }
    return undefined;
  }

  /** An exact domain indicator, else the closest enclosing "and subdomains" one. */
  matchDomain(name: string): Ioc | undefined {
    if (name.length === 0) return undefined;
    const d = lowerNoDot(name);
    const hit = this.domain.get(d);
    if (hit) return hit;
    if (this.suffix.size === 0) return undefined;
    let i = 0;
    while (i >= 0) {
      const h = this.suffix.get(i === 0 ? d : d.slice(i));
      if (h) return h;
      const dot = d.indexOf('.', i);
      i = dot < 0 ? -1 : dot + 1;
    }
    return undefined;
  }
}

function lowerNoDot(s: string): string {
  let d = s;
  for (let i = 0; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      d = d.toLowerCase();
      break;
    }
  }
  return d.charCodeAt(d.length - 1) === 46 ? d.slice(0, -1) : d;
}

/** Dotted quad in s[from, to) as an unsigned number, -1 when it is not one (no allocation). */
export function parseV4(s: string, from: number, to: number): number {
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + octet;
}
