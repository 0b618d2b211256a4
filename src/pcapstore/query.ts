import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { badRequest, UserError } from '../common/errors.js';
import type { Packet } from '../decode/packet.js';
import { compileFilter } from './bpf/compile.js';
import { FilterSyntaxError, type Node } from './bpf/parse.js';
import { CID_SEED2, fnv32, ip6Key, lowerBound, type SegmentIndex } from './segment-index.js';

/** What a packet search asks for; every field narrows the result (they combine with AND). */
export interface PcapQuery {
  /** Epoch microseconds, inclusive. */
  after?: number;
  /** Epoch microseconds, exclusive. */
  before?: number;
  /** One address (either side) or two (the pair, either direction). */
  ip?: string[];
  cidr?: string;
  port?: number;
  proto?: number;
  vlan?: number;
  vni?: number;
  communityId?: string;
  flowId?: number;
  /** tcpdump filter expression, evaluated exactly as tcpdump would on the segment. */
  filter?: string;
  maxPackets?: number;
  maxBytes?: number;
}

interface Addr {
  v: 4 | 6;
  w: Uint32Array;
}

/** A validated query with addresses parsed and the filter compiled. */
export interface PreparedQuery {
  q: PcapQuery;
  afterUs: number;
  beforeUs: number;
  ips: Addr[];
  cidr: { v: 4 | 6; w: Uint32Array; mask: Uint32Array } | null;
  cid: [number, number] | null;
  filter: ReturnType<typeof compileFilter> | null;
  /** True when the query restricts by decoded fields (beyond time and the tcpdump filter). */
  structured: boolean;
}

function addr(s: string, what: string): Addr {
  const v4 = parseIpv4(s);
  if (v4 !== null) return { v: 4, w: Uint32Array.of(v4, 0, 0, 0) };
  const v6 = parseIpv6(s);
  if (v6) {
    const w = new Uint32Array(4);
    for (let i = 0; i < 4; i++)
      w[i] = ((v6[i * 4]! << 24) | (v6[i * 4 + 1]! << 16) | (v6[i * 4 + 2]! << 8) | v6[i * 4 + 3]!) >>> 0;
    return { v: 6, w };
  }
  throw badRequest(`${what}: '${s.slice(0, 64)}' is not an IPv4 or IPv6 address`);
}

/** Validate and prepare a query; bad input raises a 400 UserError naming the field. */
export function prepareQuery(q: PcapQuery): PreparedQuery {
  const int = (name: string, v: number | undefined, max: number): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= max)) {
      throw badRequest(`${name} must be an integer in 0..${max} (got ${String(v).slice(0, 32)})`);
    }
  };
  int('port', q.port, 65535);
  int('proto', q.proto, 255);
  int('vlan', q.vlan, 4095);
  int('vni', q.vni, 0xffffff);
  int('maxPackets', q.maxPackets, Number.MAX_SAFE_INTEGER);
  int('maxBytes', q.maxBytes, Number.MAX_SAFE_INTEGER);
  if (q.flowId !== undefined && !Number.isFinite(q.flowId)) throw badRequest('flowId must be a number');
  const afterUs = q.after ?? Number.NEGATIVE_INFINITY;
  const beforeUs = q.before ?? Number.POSITIVE_INFINITY;
  if (Number.isNaN(afterUs) || Number.isNaN(beforeUs)) throw badRequest('after/before must be times');
  // An empty range (after at or past before) matches nothing: no error, nothing to send.
  const ips = (q.ip ?? []).map((s, i) => addr(s, `ip[${i}]`));
  if (ips.length > 2) throw badRequest('ip: give one address, or two for a pair');
  let cidr: PreparedQuery['cidr'] = null;
  if (q.cidr !== undefined) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(q.cidr);
    if (!m) throw badRequest(`cidr: '${q.cidr.slice(0, 64)}' is not a network such as 10.0.0.0/8`);
    const a = addr(m[1]!, 'cidr');
    const bits = Number(m[2]);
    if (bits > (a.v === 4 ? 32 : 128)) throw badRequest(`cidr: prefix length ${bits} is too long`);
    const mask = new Uint32Array(4);
    for (let w = 0; w < 4; w++) {
      const b = Math.max(0, Math.min(32, bits - w * 32));
      mask[w] = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
      a.w[w] = (a.w[w]! & mask[w]!) >>> 0;
    }
    cidr = { v: a.v, w: a.w, mask };
  }
  let cid: [number, number] | null = null;
  if (q.communityId !== undefined) {
    if (!/^1:[A-Za-z0-9+/]{27}=$/.test(q.communityId)) {
      throw badRequest(`communityId: '${q.communityId.slice(0, 64)}' is not a Community ID v1 (1:<base64>)`);
    }
    cid = [fnv32(q.communityId), fnv32(q.communityId, CID_SEED2)];
  }
  let filter: PreparedQuery['filter'] = null;
  if (q.filter !== undefined && q.filter.trim() !== '') {
    try {
      filter = compileFilter(q.filter);
    } catch (e) {
      if (e instanceof FilterSyntaxError) {
        throw new UserError(400, e.message, { position: e.position, expected: e.expected });
      }
      throw e;
    }
  }
  const structured =
    ips.length > 0 ||
    cidr !== null ||
    cid !== null ||
    q.port !== undefined ||
    q.proto !== undefined ||
    q.vlan !== undefined ||
    q.vni !== undefined ||
    q.flowId !== undefined;
  return { q, afterUs, beforeUs, ips, cidr, cid, filter, structured };
}

function addrEq(a: Uint32Array, o: number, x: Addr): boolean {
  return a[o] === x.w[0] && a[o + 1] === x.w[1] && a[o + 2] === x.w[2] && a[o + 3] === x.w[3];
}

/** Does flow `f` of the index satisfy the query's decoded-field conditions? */
export function flowMatches(pq: PreparedQuery, idx: SegmentIndex, f: number): boolean {
  const d = idx.d;
  const q = pq.q;
  const ver = d.ipVer[f]!;
  const o = f * 8;
  if (pq.ips.length > 0) {
    const a = pq.ips[0]!;
    if (a.v !== ver) return false;
    if (pq.ips.length === 1) {
      if (!addrEq(d.addr, o, a) && !addrEq(d.addr, o + 4, a)) return false;
    } else {
      const b = pq.ips[1]!;
      if (
        !(
          (addrEq(d.addr, o, a) && addrEq(d.addr, o + 4, b)) ||
          (addrEq(d.addr, o, b) && addrEq(d.addr, o + 4, a))
        )
      )
        return false;
    }
  }
  if (pq.cidr) {
    const c = pq.cidr;
    if (c.v !== ver) return false;
    let hit = false;
    for (let side = 0; side < 2 && !hit; side++) {
      let ok = true;
      for (let w = 0; w < 4; w++) if ((d.addr[o + side * 4 + w]! & c.mask[w]!) >>> 0 !== c.w[w]) ok = false;
      hit = ok;
    }
    if (!hit) return false;
  }
  if (q.port !== undefined && d.sport[f] !== q.port && d.dport[f] !== q.port) return false;
  if (q.proto !== undefined && d.proto[f] !== q.proto) return false;
  if (q.vlan !== undefined && d.vlan[f] !== q.vlan) return false;
  if (q.vni !== undefined && d.vni[f] !== q.vni) return false;
  if (pq.cid && (d.cid[f * 2] !== pq.cid[0] || d.cid[f * 2 + 1] !== pq.cid[1])) return false;
  if (q.flowId !== undefined && d.flowId[f] !== q.flowId) return false;
  return true;
}

const pw = new Uint32Array(8);
/** The same conditions on one decoded packet (the "other" group and flows with mixed tags). */
export function packetMatches(pq: PreparedQuery, p: Packet): boolean {
  const q = pq.q;
  if (pq.cid !== null || q.flowId !== undefined) return false; // only flows carry these
  if (pq.ips.length > 0 || pq.cidr) {
    if (p.ipVer === 0 || p.srcOff < 0) return false;
    const n = p.ipVer === 4 ? 1 : 4;
    for (let i = 0; i < 4; i++) {
      pw[i] = i < n ? p.buf.readUInt32BE(p.srcOff + i * 4) : 0;
      pw[4 + i] = i < n ? p.buf.readUInt32BE(p.dstOff + i * 4) : 0;
    }
    const eq = (o: number, a: Addr): boolean => a.v === p.ipVer && addrEq(pw, o, a);
    if (pq.ips.length === 1 && !eq(0, pq.ips[0]!) && !eq(4, pq.ips[0]!)) return false;
    if (pq.ips.length === 2) {
      const [a, b] = [pq.ips[0]!, pq.ips[1]!];
      if (!((eq(0, a) && eq(4, b)) || (eq(0, b) && eq(4, a)))) return false;
    }
    if (pq.cidr) {
      const c = pq.cidr;
      if (c.v !== p.ipVer) return false;
      let hit = false;
      for (let side = 0; side < 2 && !hit; side++) {
        let ok = true;
        for (let w = 0; w < 4; w++) if ((pw[side * 4 + w]! & c.mask[w]!) >>> 0 !== c.w[w]) ok = false;
        hit = ok;
      }
      if (!hit) return false;
    }
  }
  if (q.port !== undefined && (p.l4Off < 0 || (p.srcPort !== q.port && p.dstPort !== q.port))) return false;
  if (q.proto !== undefined && p.proto !== q.proto) return false;
  if (q.vlan !== undefined && p.vlan0 !== q.vlan) return false;
  if (q.vni !== undefined && p.vni !== q.vni) return false;
  return true;
}

/** Flows whose postings may match the structured part; null = every flow must be checked. */
export function postingFlows(pq: PreparedQuery, idx: SegmentIndex): Uint32Array | null {
  const d = idx.d;
  const a = pq.ips[0];
  if (a) {
    const keys = a.v === 4 ? d.ip4Keys : d.ip6Keys;
    const k = a.v === 4 ? a.w[0]! : ip6Key(a.w[0]!, a.w[1]!, a.w[2]!, a.w[3]!);
    const i = lowerBound(keys, k);
    if (i >= keys.length || keys[i] !== k) return new Uint32Array(0);
    const start = a.v === 4 ? d.ip4Start : d.ip6Start;
    return (a.v === 4 ? d.ip4Flows : d.ip6Flows).subarray(start[i]!, start[i + 1]!);
  }
  if (pq.cidr && pq.cidr.v === 4) {
    const lo = pq.cidr.w[0]!;
    const hi = lo + (2 ** 32 - pq.cidr.mask[0]!); // exclusive
    return rangeFlows(d.ip4Keys, d.ip4Start, d.ip4Flows, lo, hi);
  }
  if (pq.q.port !== undefined)
    return rangeFlows(d.portKeys, d.portStart, d.portFlows, pq.q.port, pq.q.port + 1);
  return null;
}

/** Flows posted under keys in [lo, hi), sorted and unique. */
export function rangeFlows(
  keys: Uint32Array,
  start: Uint32Array,
  flows: Uint32Array,
  lo: number,
  hi: number,
): Uint32Array {
  const i = lowerBound(keys, lo);
  const j = hi > 0xffffffff ? keys.length : lowerBound(keys, hi);
  if (j - i === 1) return flows.subarray(start[i]!, start[i + 1]!);
  const all = flows.slice(start[i]!, start[j]!).sort();
  let u = 0;
  for (let k = 0; k < all.length; k++) if (k === 0 || all[k] !== all[k - 1]) all[u++] = all[k]!;
  return all.subarray(0, u);
}

/**
 * The flows a tcpdump filter can possibly match, from the index alone (a superset: the exact
 * filter runs on every packet of them). null = no restriction.
 */
export function planFlows(n: Node | null, idx: SegmentIndex): Uint8Array | null {
  if (n === null) return null;
  const F = idx.flowCount;
  const d = idx.d;
  const fromList = (list: Uint32Array): Uint8Array => {
    const m = new Uint8Array(F);
    for (let i = 0; i < list.length; i++) m[list[i]!] = 1;
    return m;
  };
  const where = (pred: (f: number) => boolean): Uint8Array => {
    const m = new Uint8Array(F);
    for (let f = 1; f < F; f++) if (pred(f)) m[f] = 1;
    return m;
  };
  switch (n.k) {
    case 'and': {
      const a = planFlows(n.a, idx);
      const b = planFlows(n.b, idx);
      if (!a) return b;
      if (!b) return a;
      for (let f = 0; f < F; f++) a[f]! &= b[f]!;
      return a;
    }
    case 'or': {
      const a = planFlows(n.a, idx);
      if (!a) return null;
      const b = planFlows(n.b, idx);
      if (!b) return null;
      for (let f = 0; f < F; f++) a[f]! |= b[f]!;
      return a;
    }
    case 'link':
      if (n.proto === 'ip') return where((f) => d.ipVer[f] === 4);
      if (n.proto === 'ip6') return where((f) => d.ipVer[f] === 6);
      return new Uint8Array(F);
    case 'ipproto':
      return where(
        (f) => d.proto[f] === n.proto && ((n.v4 && d.ipVer[f] === 4) || (n.v6 && d.ipVer[f] === 6)),
      );
    case 'host4':
      if (!n.via.includes('ip')) return new Uint8Array(F);
      return fromList(rangeFlows(d.ip4Keys, d.ip4Start, d.ip4Flows, n.addr, n.addr + (2 ** 32 - n.mask)));
    case 'host6':
      return where((f) => {
        if (d.ipVer[f] !== 6) return false;
        for (let side = 0; side < 2; side++) {
          let ok = true;
          for (let w = 0; w < 4; w++)
            if ((d.addr[f * 8 + side * 4 + w]! & n.mask[w]!) >>> 0 !== n.addr[w]) ok = false;
          if (ok) return true;
        }
        return false;
      });
    case 'port':
      return fromList(rangeFlows(d.portKeys, d.portStart, d.portFlows, n.lo, n.hi + 1));
    default:
      return null;
  }
}
