import { parseIpv4, parseIpv6 } from '../../common/addr.js';

/**
 * Parser for the tcpdump / libpcap filter language, pcap-filter(7): primitives, packet-data
 * relations (`tcp[tcpflags] & tcp-syn != 0`, `len > 1000`) and the named constants. Like
 * libpcap, `and` and `or` have the same precedence and associate to the left, arithmetic has
 * C's precedence, and a bare address or number after an operator takes the qualifiers of the
 * primitive before it (`host a or b`, `port 80 or 443`). What needs a name service, a netmask
 * or a link type we never read is refused here or at bind time, never approximated.
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
  | { k: 'vlan'; id: number; pos: number }
  | { k: 'mpls'; label: number; pos: number }
  | { k: 'pppoed'; pos: number }
  | { k: 'pppoes'; id: number; pos: number }
  | { k: 'ether'; mac: Uint8Array; dir: Dir; pos: number }
  /** Link-layer protocol field (`ether proto`); `pos` for a link type that has none. */
  | { k: 'ethertype'; et: number; pos: number }
  | { k: 'bcast'; pos: number }
  | { k: 'mcast'; layer: 'link' | 'ip' | 'ip6'; pos: number }
  | { k: 'protochain'; proto: number; v4: boolean; v6: boolean; pos: number }
  /** `geneve [vni]`; vni -1 when absent. */
  | { k: 'geneve'; vni: number; pos: number }
  | { k: 'inout'; outbound: boolean; pos: number }
  | { k: 'rel'; op: RelOp; a: Arith; b: Arith };

export type RelOp = '>' | '>=' | '<' | '<=' | '=' | '!=';
export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';
/** The protocols a packet-data accessor `proto[off:size]` can name. */
export type LoadProto = 'link' | 'ip' | 'ip6' | 'arp' | 'rarp' | 'transport' | 'icmp6';

export type Arith =
  | { k: 'num'; n: number }
  | { k: 'len' }
  /** `guard` is the IP protocol a transport accessor requires (tcp[...] is IPv4 TCP). */
  | { k: 'load'; proto: LoadProto; guard: number; off: Arith; size: 1 | 2 | 4 }
  | { k: 'bin'; op: ArithOp; a: Arith; b: Arith }
  | { k: 'neg'; a: Arith };

/** pcap-filter(7)'s named constants; libpcap's scanner turns them into numbers anywhere. */
const CONSTANTS: Record<string, number> = {
  icmptype: 0,
  icmpcode: 1,
  'icmp-echoreply': 0,
  'icmp-unreach': 3,
  'icmp-sourcequench': 4,
  'icmp-redirect': 5,
  'icmp-echo': 8,
  'icmp-routeradvert': 9,
  'icmp-routersolicit': 10,
  'icmp-timxceed': 11,
  'icmp-paramprob': 12,
  'icmp-tstamp': 13,
  'icmp-tstampreply': 14,
  'icmp-ireq': 15,
  'icmp-ireqreply': 16,
  'icmp-maskreq': 17,
  'icmp-maskreply': 18,
  icmp6type: 0,
  icmp6code: 1,
  'icmp6-destinationunreach': 1,
  'icmp6-packettoobig': 2,
  'icmp6-timeexceeded': 3,
  'icmp6-parameterproblem': 4,
  'icmp6-echo': 128,
  'icmp6-echoreply': 129,
  'icmp6-multicastlistenerquery': 130,
  'icmp6-multicastlistenerreportv1': 131,
  'icmp6-multicastlistenerdone': 132,
  'icmp6-routersolicit': 133,
  'icmp6-routeradvert': 134,
  'icmp6-neighborsolicit': 135,
  'icmp6-neighboradvert': 136,
  'icmp6-redirect': 137,
  'icmp6-routerrenum': 138,
  'icmp6-nodeinformationquery': 139,
  'icmp6-nodeinformationresponse': 140,
  'icmp6-ineighbordiscoverysolicit': 141,
  'icmp6-ineighbordiscoveryadvert': 142,
  'icmp6-multicastlistenerreportv2': 143,
  'icmp6-homeagentdiscoveryrequest': 144,
  'icmp6-homeagentdiscoveryreply': 145,
  'icmp6-mobileprefixsolicit': 146,
  'icmp6-mobileprefixadvert': 147,
  'icmp6-certpathsolicit': 148,
  'icmp6-certpathadvert': 149,
  'icmp6-multicastrouteradvert': 151,
  'icmp6-multicastroutersolicit': 152,
  'icmp6-multicastrouterterm': 153,
  tcpflags: 13,
  'tcp-fin': 0x01,
  'tcp-syn': 0x02,
  'tcp-rst': 0x04,
  'tcp-push': 0x08,
  'tcp-ack': 0x10,
  'tcp-urg': 0x20,
  'tcp-ece': 0x40,
  'tcp-cwr': 0x80,
};

/** Accessor names: what the offset is relative to, and the IP protocol a transport one needs. */
const LOADS: Record<string, [LoadProto, number]> = {
  ether: ['link', 0],
  link: ['link', 0],
  fddi: ['link', 0],
  tr: ['link', 0],
  wlan: ['link', 0],
  ppp: ['link', 0],
  slip: ['link', 0],
  ip: ['ip', 0],
  ip6: ['ip6', 0],
  arp: ['arp', 0],
  rarp: ['rarp', 0],
  tcp: ['transport', 6],
  udp: ['transport', 17],
  icmp: ['transport', 1],
  igmp: ['transport', 2],
  igrp: ['transport', 9],
  pim: ['transport', 103],
  vrrp: ['transport', 112],
  carp: ['transport', 112],
  sctp: ['transport', 132],
  icmp6: ['icmp6', 58],
};

/** Keywords libpcap knows that need what a capture file cannot give, or link types we never read. */
const REFUSED: Record<string, string> = {
  gateway: "'gateway' needs host name resolution, which the filter compiler does not do",
  ifname: "'ifname' applies only to pflog captures",
  on: "'on' applies only to pflog captures",
  rnr: "'rnr' applies only to pflog captures",
  rulenum: "'rulenum' applies only to pflog captures",
  srnr: "'srnr' applies only to pflog captures",
  subrulenum: "'subrulenum' applies only to pflog captures",
  reason: "'reason' applies only to pflog captures",
  rset: "'rset' applies only to pflog captures",
  ruleset: "'ruleset' applies only to pflog captures",
  action: "'action' applies only to pflog captures",
  vxlan: "'vxlan' is not in the filter language of libpcap 1.10 (it arrived in libpcap 1.11)",
  llc: "'llc' (802.2 LLC) is not supported by this filter compiler",
  type: "802.11 'type'/'subtype' apply only to 802.11 captures",
  subtype: "802.11 'type'/'subtype' apply only to 802.11 captures",
  dir: "802.11 'dir' applies only to 802.11 captures",
  decnet: "'decnet' is not supported by this filter compiler",
  atalk: "'atalk' is not supported by this filter compiler",
  aarp: "'aarp' is not supported by this filter compiler",
  iso: "OSI protocols ('iso') are not supported by this filter compiler",
  esis: "OSI protocols ('esis') are not supported by this filter compiler",
  isis: "OSI protocols ('isis') are not supported by this filter compiler",
  clnp: "OSI protocols ('clnp') are not supported by this filter compiler",
  stp: "'stp' is not supported by this filter compiler",
  ipx: "'ipx' is not supported by this filter compiler",
  netbeui: "'netbeui' is not supported by this filter compiler",
  lat: "'lat' is not supported by this filter compiler",
  sca: "'sca' is not supported by this filter compiler",
  moprc: "'moprc' is not supported by this filter compiler",
  mopdl: "'mopdl' is not supported by this filter compiler",
  radio: "'radio' applies only to radiotap captures",
  atm: 'ATM primitives apply only to SunATM captures',
  lane: 'ATM primitives apply only to SunATM captures',
  oamf4: 'ATM primitives apply only to SunATM captures',
  metac: 'ATM primitives apply only to SunATM captures',
  vpi: 'ATM primitives apply only to SunATM captures',
  vci: 'ATM primitives apply only to SunATM captures',
  fisu: 'SS7 primitives apply only to MTP2 captures',
  lssu: 'SS7 primitives apply only to MTP2 captures',
  msu: 'SS7 primitives apply only to MTP2 captures',
  sio: 'SS7 primitives apply only to MTP2 captures',
  opc: 'SS7 primitives apply only to MTP2 captures',
  dpc: 'SS7 primitives apply only to MTP2 captures',
  sls: 'SS7 primitives apply only to MTP2 captures',
  hfisu: 'SS7 primitives apply only to MTP2 captures',
  hlssu: 'SS7 primitives apply only to MTP2 captures',
  hmsu: 'SS7 primitives apply only to MTP2 captures',
  hsio: 'SS7 primitives apply only to MTP2 captures',
  hopc: 'SS7 primitives apply only to MTP2 captures',
  hdpc: 'SS7 primitives apply only to MTP2 captures',
  hsls: 'SS7 primitives apply only to MTP2 captures',
};

interface Tok {
  t: 'id' | 'op' | 'eof';
  v: string;
  pos: number;
}

const OPS3 = ['<<', '>>', '>=', '<=', '==', '!=', '&&', '||'];

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  // Inside brackets ':' separates offset and size; outside it belongs to IPv6 addresses.
  let brackets = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (OPS3.includes(two)) {
      out.push({ t: 'op', v: two, pos: i });
      i += 2;
      continue;
    }
    if ('!()[]&|^+-*/%=<>'.includes(c) || (c === ':' && brackets > 0)) {
      if (c === '[') brackets++;
      if (c === ']' && brackets > 0) brackets--;
      out.push({ t: 'op', v: c, pos: i });
      i++;
      continue;
    }
    const re = brackets > 0 ? /^[A-Za-z0-9_.\\][A-Za-z0-9_.\-\\]*/ : /^[A-Za-z0-9_.:\\][A-Za-z0-9_.:/\-\\]*/;
    const m = re.exec(s.slice(i, i + 256));
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

/** libpcap's numbers: decimal, 0x hex, and octal with a leading 0. */
function parseNum(v: string): number | null {
  if (v in CONSTANTS) return CONSTANTS[v]!;
  if (/^0[xX][0-9a-fA-F]+$/.test(v)) return Number.parseInt(v.slice(2), 16);
  if (/^0[0-7]+$/.test(v)) return Number.parseInt(v.slice(1), 8);
  if (/^\d+$/.test(v)) return Number(v);
  return null;
}

const PROTO_QUAL = new Set(['ether', 'link', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp']);
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
  carp: [112, true, false],
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
const ETHER_NAMES: Record<string, number> = { ip: 0x0800, ip6: 0x86dd, arp: 0x0806, rarp: 0x8035 };
const REL: Record<string, RelOp> = {
  '>': '>',
  '>=': '>=',
  '<': '<',
  '<=': '<=',
  '=': '=',
  '==': '=',
  '!=': '!=',
};
/**
 * Binary operators from the loosest to the tightest, as libpcap's grammar has them: C's order,
 * except that '%' binds tighter than '*' and '/' (libpcap compiles a / b % c as a / (b % c)).
 */
const ARITH_LEVELS: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/'], ['%']];
/** Words that make a protocol name a qualifier of what follows rather than a primitive. */
const QUALIFIED = new Set([
  'src',
  'dst',
  'host',
  'net',
  'port',
  'portrange',
  'proto',
  'protochain',
  'broadcast',
  'multicast',
]);
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
  'pppoed',
  'len',
  'protochain',
  'inbound',
  'outbound',
  'geneve',
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
    // '(' and numbers open either a relation or a primitive: try the relation, and when it is
    // not one, read the rest as a primitive; the error reported is the one that got further.
    let relErr: FilterSyntaxError | null = null;
    if (startsArith(t)) {
      const save = i;
      const saveDepth = depth;
      try {
        return relation();
      } catch (e) {
        if (!(e instanceof FilterSyntaxError)) throw e;
        // Only '(' and a number can also open a primitive.
        if (!(t.t === 'op' && t.v === '(') && parseNum(t.v) === null) throw e;
        relErr = e;
        i = save;
        depth = saveDepth;
      }
    }
    try {
      if (t.t === 'op' && t.v === '(') {
        i++;
        const e = expr();
        if (peek().t !== 'op' || peek().v !== ')') fail("')' or 'and'/'or'");
        i++;
        return e;
      }
      if (t.t !== 'id') fail("a primitive such as 'host 10.0.0.1', 'port 443', 'tcp', 'not', or '('");
      return primitive();
    } catch (e) {
      if (relErr && e instanceof FilterSyntaxError && relErr.position > e.position) throw relErr;
      throw e;
    }
  };

  const startsArith = (t: Tok): boolean => {
    if (t.t === 'op') return t.v === '(' || t.v === '-';
    if (t.t !== 'id') return false;
    if (t.v === 'len') return true;
    if (t.v in LOADS) return peek(1).t === 'op' && peek(1).v === '[';
    return parseNum(t.v) !== null;
  };

  const relation = (): Node => {
    const a = arith(0);
    const r = peek();
    const op = r.t === 'op' ? REL[r.v] : undefined;
    if (!op) return fail("a comparison ('=', '!=', '<', '<=', '>', '>=')", r);
    i++;
    const b = arith(0);
    return { k: 'rel', op, a, b };
  };

  const arith = (lvl: number): Arith => {
    const ops = ARITH_LEVELS[lvl];
    if (!ops) return unary();
    let a = arith(lvl + 1);
    for (;;) {
      const t = peek();
      if (t.t !== 'op' || !ops.includes(t.v)) return a;
      i++;
      const b = arith(lvl + 1);
      if ((t.v === '/' || t.v === '%') && b.k === 'num' && b.n === 0) fail('a divisor other than 0', t);
      a = { k: 'bin', op: t.v as ArithOp, a, b };
    }
  };

  const unary = (): Arith => {
    const t = peek();
    if (++depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
    try {
      if (t.t === 'op' && t.v === '-') {
        // libpcap 1.10 compiles a relation holding '-x' into a program that accepts every packet.
        fail("an operand (unary minus is refused: libpcap turns '-x' into accept-all; write '0 - x')", t);
      }
      if (t.t === 'op' && t.v === '(') {
        i++;
        const a = arith(0);
        if (peek().t !== 'op' || peek().v !== ')') fail("')' or an arithmetic operator");
        i++;
        return a;
      }
      if (t.t === 'id') {
        if (t.v === 'len') {
          i++;
          return { k: 'len' };
        }
        const ld = LOADS[t.v];
        if (ld && peek(1).t === 'op' && peek(1).v === '[') {
          i += 2;
          const off = arith(0);
          let size: 1 | 2 | 4 = 1;
          if (peek().t === 'op' && peek().v === ':') {
            i++;
            const st = peek();
            const n = parseNum(st.v);
            if (n !== 1 && n !== 2 && n !== 4) fail('a size of 1, 2 or 4', st);
            size = n as 1 | 2 | 4;
            i++;
          }
          if (peek().t !== 'op' || peek().v !== ']') fail("']' or ':size'");
          i++;
          return { k: 'load', proto: ld[0], guard: ld[1], off, size };
        }
        const n = parseNum(t.v);
        if (n !== null) {
          if (n > 0xffffffff) fail('a number below 2^32', t);
          i++;
          return { k: 'num', n };
        }
      }
      return fail('a number, len, or a packet-data accessor such as tcp[13]', t);
    } finally {
      depth--;
    }
  };

  const num = (t: Tok, what: string, max: number): number => {
    const n = parseNum(t.v);
    if (n === null) fail(what, t);
    if (!(n! >= 0 && n! <= max)) fail(`${what} (0..${max})`, t);
    return n!;
  };

  /** An optional number after vlan/mpls/pppoes; -1 when absent. */
  const optNum = (what: string, max: number): number => {
    const n = peek();
    if (n.t === 'id' && parseNum(n.v) !== null) {
      i++;
      return num(n, what, max);
    }
    return -1;
  };

  const primitive = (): Node => {
    const t = peek();
    const v = t.v;
    const pos = t.pos;
    if (v in REFUSED) fail(`a supported primitive (${REFUSED[v]})`);
    if (v === 'less' || v === 'greater') {
      i++;
      const nt = peek();
      i++;
      const n = num(nt, 'a length in bytes', 0xffffffff);
      return { k: 'rel', op: v === 'less' ? '<=' : '>=', a: { k: 'len' }, b: { k: 'num', n } };
    }
    if (v === 'vlan') {
      i++;
      return { k: 'vlan', id: optNum('a VLAN id', 4095), pos };
    }
    if (v === 'mpls') {
      i++;
      return { k: 'mpls', label: optNum('an MPLS label', 0xfffff), pos };
    }
    if (v === 'pppoes') {
      i++;
      return { k: 'pppoes', id: optNum('a PPPoE session id', 0xffff), pos };
    }
    if (v === 'pppoed') {
      i++;
      return { k: 'pppoed', pos };
    }
    if (v === 'geneve') {
      i++;
      return { k: 'geneve', vni: optNum('a Geneve VNI', 0xffffff), pos };
    }
    if (v === 'inbound' || v === 'outbound') {
      i++;
      return { k: 'inout', outbound: v === 'outbound', pos };
    }
    if (v === 'broadcast') {
      i++;
      return { k: 'bcast', pos };
    }
    if (v === 'multicast') {
      i++;
      return { k: 'mcast', layer: 'link', pos };
    }
    if (v === 'protochain') {
      i++;
      return protochain(null, pos);
    }
    // Qualifiers: [proto] [dir] [type]
    const q: Quals = { proto: null, dir: 'any', type: null };
    let sawQual = false;
    if (PROTO_QUAL.has(v) || v in PROTO_ABBREV) {
      const nx = peek(1);
      const qualifies = nx.t === 'id' && QUALIFIED.has(nx.v) && PROTO_QUAL.has(v);
      if (!qualifies) {
        if (v === 'ether' || v === 'link')
          fail(`'host', 'src', 'dst', 'proto', 'broadcast' or 'multicast' after '${v}'`, nx);
        i++;
        return protoAbbrev(v);
      }
      q.proto = v === 'link' ? 'ether' : v;
      sawQual = true;
      i++;
      const w = peek().v;
      if (w === 'proto') {
        i++;
        return protoPrimitive(q.proto, pos);
      }
      if (w === 'protochain') {
        i++;
        if (q.proto !== 'ip' && q.proto !== 'ip6')
          fail("'ip protochain', 'ip6 protochain' or 'protochain'", t);
        return protochain(q.proto, pos);
      }
      if (w === 'broadcast' || w === 'multicast') {
        const wt = peek();
        i++;
        if (q.proto === 'ether')
          return w === 'broadcast' ? { k: 'bcast', pos } : { k: 'mcast', layer: 'link', pos };
        if (w === 'broadcast') {
          return fail(
            q.proto === 'ip'
              ? "a supported primitive ('ip broadcast' needs the capture's netmask, which a file does not record)"
              : `a supported primitive ('${q.proto} broadcast' does not exist)`,
            wt,
          );
        }
        if (q.proto === 'ip' || q.proto === 'ip6') return { k: 'mcast', layer: q.proto, pos };
        return fail(`a supported primitive ('${q.proto} multicast' does not exist)`, wt);
      }
    } else if (v === 'proto') {
      i++;
      return protoPrimitive(null, pos);
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

  const protoName = (t: Tok, names: Record<string, number>, what: string, max: number): number => {
    if (t.t !== 'id') fail(what);
    i++;
    const name = t.v.startsWith('\\') ? t.v.slice(1) : t.v;
    if (parseNum(name) !== null && !(name in CONSTANTS)) return num({ ...t, v: name }, what, max);
    const n = names[name];
    if (n === undefined) return fail(`${what} (names: ${Object.keys(names).join(', ')})`, t);
    return n;
  };

  const protoPrimitive = (qual: string | null, pos: number): Node => {
    if (qual === 'ether') {
      const et = protoName(peek(), ETHER_NAMES, 'an EtherType number or name', 0xffff);
      if (et <= 1500)
        fail('an EtherType above 1500 (802.3 length/LLC protocols are not supported)', toks[i - 1]);
      return { k: 'ethertype', et, pos };
    }
    const n = protoName(peek(), PROTO_NAMES, 'a protocol number or name', 255);
    if (qual === null) return { k: 'ipproto', proto: n, v4: true, v6: true };
    if (qual === 'ip') return { k: 'ipproto', proto: n, v4: true, v6: false };
    if (qual === 'ip6') return { k: 'ipproto', proto: n, v4: false, v6: true };
    return fail("'ether proto', 'ip proto', 'ip6 proto' or 'proto'", toks[i - 2]);
  };

  const protochain = (qual: string | null, pos: number): Node => {
    const n = protoName(peek(), PROTO_NAMES, 'a protocol number or name', 255);
    return { k: 'protochain', proto: n, v4: qual !== 'ip6', v6: qual !== 'ip', pos };
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
      return {
        k: 'ether',
        mac: Uint8Array.from(m.slice(1).map((x) => Number.parseInt(x, 16))),
        dir: q.dir,
        pos: t.pos,
      };
    }
    if (q.proto !== null && ['tcp', 'udp', 'sctp'].includes(q.proto)) {
      fail(`a port ('${q.proto} ${type}' is not valid)`, t);
    }
    return address(q, type, t);
  };

  const address = (q: Quals, type: 'host' | 'net', t: Tok): Node => {
    let id = t.v;
    let bits = -1;
    // libpcap takes any mask after 'mask', contiguous or not.
    let maskWord: number | null = null;
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
      maskWord = m;
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
    const mask = maskWord ?? (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
    if ((addr & ~mask) >>> 0 !== 0) fail('a network address with no host bits set', t);
    let via: Via[];
    if (q.proto === null) via = ['ip', 'arp', 'rarp'];
    else if (q.proto === 'ip' || q.proto === 'arp' || q.proto === 'rarp') via = [q.proto];
    else return fail(`an IPv6 address after '${q.proto}'`, t);
    return { k: 'host4', addr: addr >>> 0, mask, dir: q.dir, via };
  };

  const node = expr();
  if (peek().t !== 'eof') fail("'and', 'or' or end of filter");
  checkGeneve(node);
  return node;
}

/**
 * libpcap keeps the offsets a `geneve` computes in scratch registers that only a matching
 * `geneve` writes; a test after it that runs when it did not match reads whatever the previous
 * packet left there. So a filter is accepted only when every test after `geneve` runs on packets
 * it matched: `geneve` sits on the `and` spine, not under `or` or `not` with tests after it.
 */
function checkGeneve(root: Node): void {
  const path: Node[] = [];
  const find = (n: Node): Node | null => {
    if (n.k === 'geneve') return n;
    if (n.k === 'and' || n.k === 'or' || n.k === 'not') {
      path.push(n);
      const hit = find(n.a) ?? (n.k === 'not' ? null : find(n.b));
      if (hit) return hit;
      path.pop();
    }
    return null;
  };
  const g = find(root);
  if (g?.k !== 'geneve') return;
  const count = (n: Node): number =>
    n.k === 'geneve'
      ? 1
      : n.k === 'and' || n.k === 'or'
        ? count(n.a) + count(n.b)
        : n.k === 'not'
          ? count(n.a)
          : 0;
  if (count(root) > 1) {
    throw new FilterSyntaxError(g.pos, "one 'geneve' per filter", "more than one 'geneve'");
  }
  /** True when `n` can only be true if the `geneve` in it matched. */
  const implies = (n: Node): boolean =>
    n.k === 'geneve' ? true : n.k === 'and' ? implies(n.a) || implies(n.b) : false;
  let child: Node = g;
  for (let k = path.length - 1; k >= 0; k--) {
    const p = path[k]!;
    if ((p.k === 'and' || p.k === 'or') && p.a === child) {
      if (p.k === 'or' || !implies(child)) {
        throw new FilterSyntaxError(
          g.pos,
          "'geneve' where the tests after it run only on the Geneve packets it matched (on the 'and' chain, not under 'or' or 'not')",
          "tests after 'geneve' that also run when it does not match",
        );
      }
    }
    child = p;
  }
}

/**
 * True when the filter has an `mpls`, `pppoes` or `geneve` primitive: the host and port tests after it
 * read headers inside that encapsulation, which the segment index does not key flows by, so a
 * search must not prune segments with them.
 */
export function movesPastLink(n: Node | null): boolean {
  if (n === null) return false;
  if (n.k === 'mpls' || n.k === 'pppoes' || n.k === 'geneve') return true;
  if (n.k === 'and' || n.k === 'or') return movesPastLink(n.a) || movesPastLink(n.b);
  if (n.k === 'not') return movesPastLink(n.a);
  return false;
}
