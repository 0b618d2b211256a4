import { parseIpv4, parseIpv6 } from '../../common/addr.js';

/**
 * Parser for the tcpdump / libpcap filter language (the subset analysts use: host, net, port,
 * portrange, src/dst, ip/ip6/arp/rarp/tcp/udp/sctp/icmp/icmp6, proto, vlan, ether host, less,
 * greater, and/or/not and parentheses). Like libpcap, `and` and `or` have the same precedence
 * and associate to the left, and a bare address or number after an operator takes the
 * qualifiers of the primitive before it (`host a or b`, `port 80 or 443`).
 */

export class FilterSyntaxError extends Error {
  constructor(
    readonly position: number,
    readonly expected: string,
    found: string,
  ) {
    super(`filter: at position ${position}: expected ${expected}, found ${found}`);
    this.name = 'FilterSyntaxError';
  }
}

export const MAX_FILTER_LENGTH = 8192;
const MAX_DEPTH = 64;
const MAX_NODES = 4096;

export type Dir = 'src' | 'dst' | 'any' | 'both';
export type Via = 'ip' | 'ip6' | 'arp' | 'rarp';

export type Node =
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'link'; proto: Via }
  /** IP protocol; v4/v6 say which families; `chase` follows one IPv6 fragment header. */
  | { k: 'ipproto'; proto: number; v4: boolean; v6: boolean }
  | { k: 'host4'; addr: number; mask: number; dir: Dir; via: Via[] }
  | { k: 'host6'; addr: Uint32Array; mask: Uint32Array; dir: Dir }
  | { k: 'port'; lo: number; hi: number; dir: Dir; protos: number[]; v4: boolean; v6: boolean }
  | { k: 'vlan'; id: number }
  | { k: 'len'; op: 'le' | 'ge'; n: number }
  | { k: 'ether'; mac: Uint8Array; dir: Dir };

interface Tok {
  t: 'id' | 'op' | 'eof';
  v: string;
  pos: number;
}

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      out.push({ t: 'op', v: two, pos: i });
      i += 2;
      continue;
    }
    if (c === '!' || c === '(' || c === ')') {
      out.push({ t: 'op', v: c, pos: i });
      i++;
      continue;
    }
    const m = /^[A-Za-z0-9_.:/\-\\]+/.exec(s.slice(i, i + 256));
    if (!m && (c === '[' || c === '&' || c === '|' || c === '=' || c === '<' || c === '>')) {
      throw new FilterSyntaxError(
        i,
        'a primitive (packet-data expressions such as tcp[13] & 2 != 0 are not supported)',
        `'${c}'`,
      );
    }
    if (!m) {
      const shown = /[\x20-\x7e]/.test(c) ? `'${c}'` : `character code ${c.charCodeAt(0)}`;
      throw new FilterSyntaxError(i, 'a keyword, address, number, operator or parenthesis', shown);
    }
    out.push({ t: 'id', v: m[0], pos: i });
    i += m[0].length;
  }
  out.push({ t: 'eof', v: '', pos: s.length });
  return out;
}

const PROTO_QUAL = new Set(['ether', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp']);
const PROTO_ABBREV: Record<string, [number, boolean, boolean]> = {
  tcp: [6, true, true],
  udp: [17, true, true],
  sctp: [132, true, true],
  icmp: [1, true, false],
  icmp6: [58, false, true],
  igmp: [2, true, false],
  igrp: [9, true, false],
  pim: [103, true, true],
  vrrp: [112, true, false],
  ah: [51, true, true],
  esp: [50, true, true],
};
const PROTO_NAMES: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmp6: 58,
  sctp: 132,
  vrrp: 112,
  pim: 103,
};
const KEYWORDS = new Set([
  ...PROTO_QUAL,
  ...Object.keys(PROTO_ABBREV),
  'src',
  'dst',
  'host',
  'net',
  'port',
  'portrange',
  'proto',
  'and',
  'or',
  'not',
  'vlan',
  'less',
  'greater',
  'mask',
  'gateway',
  'broadcast',
  'multicast',
  'mpls',
  'pppoes',
  'len',
]);

interface Quals {
  proto: string | null;
  dir: Dir;
  type: 'host' | 'net' | 'port' | 'portrange' | null;
}

export function parseFilter(text: string): Node | null {
  if (text.length > MAX_FILTER_LENGTH) {
    throw new FilterSyntaxError(
      MAX_FILTER_LENGTH,
      `a filter of at most ${MAX_FILTER_LENGTH} characters`,
      `${text.length} characters`,
    );
  }
  const toks = lex(text);
  if (toks.length > MAX_NODES) {
    throw new FilterSyntaxError(toks[MAX_NODES]!.pos, `at most ${MAX_NODES} tokens`, 'more');
  }
  let i = 0;
  let depth = 0;
  let last: Quals | null = null;
  const peek = (k = 0): Tok => toks[Math.min(i + k, toks.length - 1)]!;
  const found = (t: Tok): string => (t.t === 'eof' ? 'end of filter' : `'${t.v.slice(0, 40)}'`);
  const fail = (expected: string, t: Tok = peek()): never => {
    throw new FilterSyntaxError(t.pos, expected, found(t));
  };
  const isAnd = (t: Tok): boolean => (t.t === 'op' && t.v === '&&') || (t.t === 'id' && t.v === 'and');
  const isOr = (t: Tok): boolean => (t.t === 'op' && t.v === '||') || (t.t === 'id' && t.v === 'or');
  const isNot = (t: Tok): boolean => (t.t === 'op' && t.v === '!') || (t.t === 'id' && t.v === 'not');

  if (peek().t === 'eof') return null;

  const expr = (): Node => {
    if (++depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
    let a = term();
    for (;;) {
      const t = peek();
      if (isAnd(t) || isOr(t)) {
        i++;
        const b = term();
        a = { k: isAnd(t) ? 'and' : 'or', a, b };
      } else break;
    }
    depth--;
    return a;
  };

  const term = (): Node => {
    const t = peek();
    if (isNot(t)) {
      i++;
      if (++depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
      const a = term();
      depth--;
      return { k: 'not', a };
    }
    if (t.t === 'op' && t.v === '(') {
      i++;
      const e = expr();
      if (peek().t !== 'op' || peek().v !== ')') fail("')' or 'and'/'or'");
      i++;
      return e;
    }
    if (t.t !== 'id') fail("a primitive such as 'host 10.0.0.1', 'port 443', 'tcp', 'not', or '('");
    return primitive();
  };

  const num = (t: Tok, what: string, max: number): number => {
    if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t.v)) fail(what, t);
    const n = Number(t.v);
    if (!(n >= 0 && n <= max)) fail(`${what} (0..${max})`, t);
    return n;
  };

  const primitive = (): Node => {
    const t = peek();
    const v = t.v;
    if (v === 'less' || v === 'greater') {
      i++;
      const nt = peek();
      i++;
      return { k: 'len', op: v === 'less' ? 'le' : 'ge', n: num(nt, 'a length in bytes', 0xffffffff) };
    }
    if (v === 'vlan') {
      i++;
      const n = peek();
      if (n.t === 'id' && /^\d/.test(n.v)) {
        i++;
        return { k: 'vlan', id: num(n, 'a VLAN id', 4095) };
      }
      return { k: 'vlan', id: -1 };
    }
    if (['mpls', 'pppoes', 'gateway', 'broadcast', 'multicast', 'len'].includes(v)) {
      fail(`a supported primitive ('${v}' is not supported by this filter compiler)`);
    }
    if (/\[/.test(peek(1).v)) fail('a supported primitive (packet-data expressions are not supported)');
    // Qualifiers: [proto] [dir] [type]
    const q: Quals = { proto: null, dir: 'any', type: null };
    let sawQual = false;
    if (PROTO_QUAL.has(v) || v in PROTO_ABBREV) {
      const nx = peek(1);
      const qualifies =
        nx.t === 'id' &&
        ['src', 'dst', 'host', 'net', 'port', 'portrange', 'proto'].includes(nx.v) &&
        PROTO_QUAL.has(v);
      if (!qualifies) {
        if (v === 'ether') fail("'host', 'src' or 'dst' after 'ether'", nx);
        i++;
        return protoAbbrev(v);
      }
      q.proto = v;
      sawQual = true;
      i++;
      if (peek().v === 'proto') {
        i++;
        return protoPrimitive(v);
      }
    } else if (v === 'proto') {
      i++;
      return protoPrimitive(null);
    }
    if (peek().t === 'id' && (peek().v === 'src' || peek().v === 'dst')) {
      const d = peek().v as 'src' | 'dst';
      i++;
      q.dir = d;
      sawQual = true;
      const nx = peek();
      if (nx.t === 'id' && (nx.v === 'or' || nx.v === 'and') && ['src', 'dst'].includes(peek(1).v)) {
        q.dir = nx.v === 'or' ? 'any' : 'both';
        i += 2;
      }
    }
    const ty = peek();
    if (ty.t === 'id' && ['host', 'net', 'port', 'portrange'].includes(ty.v)) {
      q.type = ty.v as Quals['type'];
      sawQual = true;
      i++;
    }
    const idTok = peek();
    if (idTok.t !== 'id' || (KEYWORDS.has(idTok.v) && !/^\d/.test(idTok.v))) {
      fail(
        sawQual ? 'an address, network or port' : "a primitive such as 'host 10.0.0.1', 'port 443' or 'tcp'",
        idTok,
      );
    }
    i++;
    if (!sawQual) {
      // A bare id: libpcap gives it the qualifiers of the previous primitive.
      if (last) Object.assign(q, last);
      else q.type = null;
    }
    return build(q, idTok);
  };

  const protoAbbrev = (v: string): Node => {
    if (v === 'ip' || v === 'ip6' || v === 'arp' || v === 'rarp') return { k: 'link', proto: v };
    const a = PROTO_ABBREV[v];
    if (!a) return fail('a protocol', toks[i - 1]);
    return { k: 'ipproto', proto: a[0], v4: a[1], v6: a[2] };
  };

  const protoPrimitive = (qual: string | null): Node => {
    const t = peek();
    if (t.t !== 'id') fail('a protocol number or name');
    i++;
    const name = t.v.startsWith('\\') ? t.v.slice(1) : t.v;
    let n: number;
    if (/^\d/.test(name)) n = num(t, 'a protocol number', 255);
    else if (name in PROTO_NAMES) n = PROTO_NAMES[name]!;
    else return fail('a protocol number or name (tcp, udp, icmp, ...)', t);
    if (qual === null) return { k: 'ipproto', proto: n, v4: true, v6: true };
    if (qual === 'ip') return { k: 'ipproto', proto: n, v4: true, v6: false };
    if (qual === 'ip6') return { k: 'ipproto', proto: n, v4: false, v6: true };
    return fail("'ip proto', 'ip6 proto' or 'proto'", toks[i - 2]);
  };

  const build = (q: Quals, t: Tok): Node => {
    last = { ...q };
    const id = t.v;
    let type = q.type;
    if (type === null)
      type = /^\d+$/.test(id) && q.proto && ['tcp', 'udp', 'sctp'].includes(q.proto) ? 'port' : 'host';
    if (type === 'port' || type === 'portrange') {
      if (q.proto !== null && !['tcp', 'udp', 'sctp', 'ip', 'ip6'].includes(q.proto)) {
        fail(`a port qualifier that fits ('${q.proto} port' is not valid)`, t);
      }
      const protos =
        q.proto === 'tcp' ? [6] : q.proto === 'udp' ? [17] : q.proto === 'sctp' ? [132] : [6, 17, 132];
      const v4 = q.proto !== 'ip6';
      const v6 = q.proto !== 'ip';
      let lo: number;
      let hi: number;
      if (type === 'portrange') {
        const m = /^(\d+)-(\d+)$/.exec(id);
        if (!m) return fail('a port range such as 1000-2000', t);
        lo = Number(m[1]);
        hi = Number(m[2]);
        if (lo > 65535 || hi > 65535) return fail('ports in 0..65535', t);
        if (lo > hi) [lo, hi] = [hi, lo];
      } else {
        if (!/^\d+$/.test(id)) return fail('a port number (service names are not supported)', t);
        lo = hi = num(t, 'a port number', 65535);
      }
      return { k: 'port', lo, hi, dir: q.dir, protos, v4, v6 };
    }
    if (q.proto === 'ether') {
      if (type !== 'host') fail("'ether host MAC'", t);
      const m =
        /^([0-9a-fA-F]{1,2})[:.-]([0-9a-fA-F]{1,2})[:.-]([0-9a-fA-F]{1,2})[:.-]([0-9a-fA-F]{1,2})[:.-]([0-9a-fA-F]{1,2})[:.-]([0-9a-fA-F]{1,2})$/.exec(
          id,
        );
      if (!m) return fail('a MAC address such as 00:11:22:33:44:55', t);
      return { k: 'ether', mac: Uint8Array.from(m.slice(1).map((x) => Number.parseInt(x, 16))), dir: q.dir };
    }
    if (q.proto !== null && ['tcp', 'udp', 'sctp'].includes(q.proto)) {
      fail(`a port ('${q.proto} ${type}' is not valid)`, t);
    }
    return address(q, type, t);
  };

  const address = (q: Quals, type: 'host' | 'net', t: Tok): Node => {
    let id = t.v;
    let bits = -1;
    const slash = id.indexOf('/');
    if (slash >= 0) {
      if (type !== 'net') fail("'net' before an address with a prefix length", t);
      bits = Number(id.slice(slash + 1));
      id = id.slice(0, slash);
      if (!/^\d+$/.test(t.v.slice(slash + 1))) fail('a prefix length after /', t);
    } else if (type === 'net' && peek().v === 'mask') {
      i++;
      const mt = peek();
      i++;
      const m = parseIpv4(mt.v);
      if (m === null) fail('a dotted netmask', mt);
      bits = 32 - Math.log2(2 ** 32 - m!);
      if (!Number.isInteger(bits)) fail('a contiguous netmask', mt);
    }
    if (id.includes(':')) {
      const a = parseIpv6(id);
      if (!a) return fail('an IPv6 address', t);
      if (q.proto !== null && q.proto !== 'ip6') fail(`an IPv4 address after '${q.proto}'`, t);
      if (bits < 0) bits = type === 'net' ? 128 : 128;
      if (bits > 128) fail('a prefix length of at most 128', t);
      const addr = new Uint32Array(4);
      const mask = new Uint32Array(4);
      for (let w = 0; w < 4; w++) {
        addr[w] = ((a[w * 4]! << 24) | (a[w * 4 + 1]! << 16) | (a[w * 4 + 2]! << 8) | a[w * 4 + 3]!) >>> 0;
        const b = Math.max(0, Math.min(32, bits - w * 32));
        mask[w] = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
      }
      for (let w = 0; w < 4; w++) {
        if ((addr[w]! & ~mask[w]!) >>> 0 !== 0) fail('a network address with no host bits set', t);
      }
      return { k: 'host6', addr, mask, dir: q.dir };
    }
    let addr = parseIpv4(id);
    if (addr === null && type === 'net' && /^\d{1,3}(\.\d{1,3}){0,2}$/.test(id)) {
      // libpcap's short networks: 'net 10' is 10/8, 'net 192.168' is 192.168/16.
      const parts = id.split('.').map(Number);
      if (parts.some((p) => p > 255)) fail('an IPv4 network', t);
      if (bits < 0) bits = parts.length * 8;
      addr = 0;
      for (let k = 0; k < 4; k++) addr = addr * 256 + (parts[k] ?? 0);
    }
    if (addr === null) {
      return fail(
        /^[A-Za-z]/.test(id) ? 'an IP address (host names are not resolved)' : 'an IPv4 or IPv6 address',
        t,
      );
    }
    if (bits < 0) bits = 32;
    if (bits > 32) fail('a prefix length of at most 32', t);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((addr & ~mask) >>> 0 !== 0) fail('a network address with no host bits set', t);
    let via: Via[];
    if (q.proto === null) via = ['ip', 'arp', 'rarp'];
    else if (q.proto === 'ip' || q.proto === 'arp' || q.proto === 'rarp') via = [q.proto];
    else return fail(`an IPv6 address after '${q.proto}'`, t);
    return { k: 'host4', addr: addr >>> 0, mask, dir: q.dir, via };
  };

  const node = expr();
  if (peek().t !== 'eof') fail("'and', 'or' or end of filter");
  return node;
}
