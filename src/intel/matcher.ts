import { ipv6BytesToString, parseIpv6 } from '../common/addr.js';
import { type Ioc, type IocType, maskV4 } from './model.js';

interface V4Prefix {
  len: number;
  map: Map<number, Ioc>;
}
interface V6Prefix {
  len: number;
  map: Map<string, Ioc>;
}

/**
 * An immutable index of indicators built for lookups on every record: hash maps for exact
 * values, one hash map per prefix length in use for networks (longest first, so the most
 * specific network answers), and the domain map probed at every label boundary for
 * "this domain and its subdomains". A new set of indicators builds a new Matcher that the
 * watcher swaps in with one assignment: a lookup in progress finishes on the old one.
 */
export class Matcher {
  readonly v4 = new Map<number, Ioc>();
  readonly v6 = new Map<string, Ioc>();
  private v4Nets: V4Prefix[] = [];
  private v6Nets: V6Prefix[] = [];
  readonly domain = new Map<string, Ioc>();
  readonly suffix = new Map<string, Ioc>();
  readonly exact: Record<
    Exclude<IocType, 'ipv4' | 'ipv6' | 'cidr' | 'domain' | 'domain_suffix'>,
    Map<string, Ioc>
  > = {
    url: new Map(),
    http_host: new Map(),
    sni: new Map(),
    ja3: new Map(),
    ja3s: new Map(),
    ja4: new Map(),
    cert_sha1: new Map(),
    cert_sha256: new Map(),
    file_hash: new Map(),
    email: new Map(),
  };
  size = 0;

  static build(iocs: Iterable<Ioc>): Matcher {
    const m = new Matcher();
    const v4n = new Map<number, Map<number, Ioc>>();
    const v6n = new Map<number, Map<string, Ioc>>();
    for (const i of iocs) {
      m.size++;
      switch (i.type) {
        case 'ipv4':
          m.v4.set(parseV4(i.value, 0, i.value.length), i);
          break;
        case 'ipv6':
          m.v6.set(i.value, i);
          break;
        case 'cidr': {
          const slash = i.value.indexOf('/');
          const len = Number(i.value.slice(slash + 1));
          const a4 = parseV4(i.value, 0, slash);
          if (a4 >= 0) {
            const t = v4n.get(len) ?? new Map<number, Ioc>();
            v4n.set(len, t);
            t.set(a4, i);
          } else {
            const t = v6n.get(len) ?? new Map<string, Ioc>();
            v6n.set(len, t);
            t.set(i.value.slice(0, slash), i);
          }
          break;
        }
        case 'domain':
          m.domain.set(i.value, i);
          break;
        case 'domain_suffix':
          m.suffix.set(i.value, i);
          break;
        default:
          m.exact[i.type].set(i.value, i);
      }
    }
    m.v4Nets = [...v4n].map(([len, map]) => ({ len, map })).sort((a, b) => b.len - a.len);
    m.v6Nets = [...v6n].map(([len, map]) => ({ len, map })).sort((a, b) => b.len - a.len);
    return m;
  }

  /** The indicator an address falls under: the address itself, else the narrowest network. */
  matchIp(s: string): Ioc | undefined {
    if (s.length === 0) return undefined;
    const a = parseV4(s, 0, s.length);
    if (a >= 0) {
      if (this.v4.size > 0) {
        const hit = this.v4.get(a);
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
