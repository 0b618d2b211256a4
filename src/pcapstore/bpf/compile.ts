import { LinkType } from '../../capture/frame.js';
import { type Arith, type Dir, type Node, parseFilter } from './parse.js';

/**
 * Binds a parsed filter to a link type, giving a closure tree over raw frame bytes with the
 * semantics of the BPF program libpcap's gencode.c generates: it reads the outermost headers
 * (no tunnel decapsulation); `vlan`, `mpls`, `pppoes` and `geneve` move every later test past
 * their header, in source order, whatever the and/or/not around them; a packet-data accessor is
 * true only on its protocol (tcp[...] on IPv4 TCP first fragments, as libpcap); and a read
 * past the captured bytes rejects the whole packet, as a BPF load out of bounds does.
 * Evaluation allocates nothing.
 */

export class FilterLinkError extends Error {
  constructor(
    message: string,
    readonly position = -1,
  ) {
    super(`filter: ${position >= 0 ? `at position ${position}: ` : ''}${message}`);
    this.name = 'FilterLinkError';
  }
}

/** Evaluation state for one frame; reused. */
export class FrameView {
  b: Uint8Array = new Uint8Array(0);
  o = 0;
  len = 0;
  wire = 0;
  oob = false;
  /**
   * libpcap's scratch registers for offsets only known per packet: [1] the link header, [2] the
   * link-type field, [3] the link payload, set by a matching `geneve`; [0] stays 0 so that a
   * fixed offset reads through the same code.
   */
  readonly reg = new Int32Array(4);

  set(b: Uint8Array, off: number, caplen: number, wirelen: number): this {
    this.b = b;
    this.o = off;
    this.len = caplen;
    this.wire = wirelen;
    this.oob = false;
    this.reg[1] = 0;
    this.reg[2] = 0;
    this.reg[3] = 0;
    return this;
  }
  u8(k: number): number {
    if (k < 0 || k + 1 > this.len) {
      this.oob = true;
      return -1;
    }
    return this.b[this.o + k]!;
  }
  u16(k: number): number {
    if (k < 0 || k + 2 > this.len) {
      this.oob = true;
      return -1;
    }
    const i = this.o + k;
    return (this.b[i]! << 8) | this.b[i + 1]!;
  }
  u32(k: number): number {
    if (k < 0 || k + 4 > this.len) {
      this.oob = true;
      return -1;
    }
    const i = this.o + k;
    return ((this.b[i]! << 24) | (this.b[i + 1]! << 16) | (this.b[i + 2]! << 8) | this.b[i + 3]!) >>> 0;
  }
}

type Pred = (v: FrameView) => boolean;
type Num = (v: FrameView) => number;

export interface CompiledFilter {
  readonly text: string;
  readonly ast: Node | null;
  /** True when the frame passes; `view` must have been set to the frame. */
  match(view: FrameView): boolean;
}

type Kind = 'ether' | 'sll' | 'sll2' | 'raw' | 'ipv4' | 'ipv6' | 'null' | 'loop' | 'ppp';

/**
 * libpcap's offsets (off_linkhdr, off_linktype, off_linkpl, off_nl); shifted as primitives bind.
 * Each of the first three is its constant part plus the FrameView register hR/lR/pR (0 until a
 * `geneve` makes them variable).
 */
interface Ctx {
  kind: Kind;
  hdr: number;
  lt: number;
  pl: number;
  nl: number;
  hR: number;
  lR: number;
  pR: number;
  /** MPLS labels seen so far (label_stack_depth). */
  mpls: number;
  /** A `geneve` has bound: the offsets are variable. */
  geneve: boolean;
}

function linkOf(linkType: number): Ctx {
  const c = (kind: Kind, lt: number, pl: number): Ctx => ({
    kind,
    hdr: 0,
    lt,
    pl,
    nl: 0,
    hR: 0,
    lR: 0,
    pR: 0,
    mpls: 0,
    geneve: false,
  });
  switch (linkType) {
    case LinkType.ETHERNET:
      return c('ether', 12, 14);
    case LinkType.LINUX_SLL:
      return c('sll', 14, 16);
    case LinkType.LINUX_SLL2:
      return c('sll2', 0, 20);
    case LinkType.RAW:
    case LinkType.RAW_BSD:
    case LinkType.RAW_BSD14:
      return c('raw', -1, 0);
    case LinkType.IPV4:
      return c('ipv4', -1, 0);
    case LinkType.IPV6:
      return c('ipv6', -1, 0);
    case LinkType.NULL:
      return c('null', 0, 4);
    case LinkType.LOOP:
      return c('loop', 0, 4);
    default:
      throw new FilterLinkError(`link type ${linkType} is not supported by the filter compiler`);
  }
}

const ET_IP = 0x0800;
const ET_IP6 = 0x86dd;
const ET_ARP = 0x0806;
const ET_RARP = 0x8035;
const ET_MPLS = 0x8847;
const ET_PPPOED = 0x8863;
const ET_PPPOES = 0x8864;
/** Protocol chains longer than this are refused; libpcap's program would loop forever on a cycle. */
const MAX_CHAIN = 64;

/** Parse a filter once; bind it per link type with `bind`. */
export function compileFilter(text: string): { ast: Node | null; bind(linkType: number): CompiledFilter } {
  const ast = parseFilter(text);
  const cache = new Map<number, CompiledFilter>();
  return {
    ast,
    bind(linkType: number): CompiledFilter {
      let c = cache.get(linkType);
      if (!c) {
        const pred = ast === null ? () => true : bindNode(ast, linkOf(linkType));
        c = { text, ast, match: (v) => pred(v) && !v.oob };
        cache.set(linkType, c);
      }
      return c;
    },
  };
}

const FALSE: Pred = () => false;
const TRUE: Pred = () => true;

function bindNode(n: Node, C: Ctx): Pred {
  switch (n.k) {
    case 'and': {
      const a = bindNode(n.a, C);
      const b = bindNode(n.b, C);
      return (v) => a(v) && b(v);
    }
    case 'or': {
      const a = bindNode(n.a, C);
      const b = bindNode(n.b, C);
      return (v) => a(v) || b(v);
    }
    case 'not': {
      const a = bindNode(n.a, C);
      return (v) => !a(v);
    }
    case 'rel':
      return bindRel(n.op, n.a, n.b, C);
    case 'vlan': {
      if (C.kind !== 'ether') throw new FilterLinkError("'vlan' needs an Ethernet link type", n.pos);
      const lt = C.lt;
      const pl = C.pl;
      const { lR, pR } = C;
      C.lt += 4;
      C.pl += 4;
      const id = n.id;
      return (v) => {
        const t = v.u16(v.reg[lR]! + lt);
        if (t !== 0x8100 && t !== 0x88a8 && t !== 0x9100) return false;
        return id < 0 || (v.u16(v.reg[pR]! + pl) & 0xfff) === id;
      };
    }
    case 'mpls': {
      const L = C.pl + C.nl;
      const R = C.pR;
      let first: Pred;
      if (C.mpls > 0)
        first = (v) => (v.u8(v.reg[R]! + L - 2) & 1) === 0; // the label before is not the last
      else if (C.kind === 'ether') first = etherIs(C, ET_MPLS, n.pos);
      else throw new FilterLinkError("'mpls' needs an Ethernet link type", n.pos);
      C.nl += 4;
      C.mpls++;
      if (n.label < 0) return first;
      const want = (n.label << 12) >>> 0;
      return (v) => first(v) && (v.u32(v.reg[R]! + L) & 0xfffff000) >>> 0 === want;
    }
    case 'pppoed':
      return etherIs(C, ET_PPPOED, n.pos);
    case 'pppoes': {
      if (C.geneve) throw new FilterLinkError("'pppoes' after 'geneve' is not supported", n.pos);
      const is = etherIs(C, ET_PPPOES, n.pos);
      const L = C.pl + C.nl;
      // From here on the link layer is the PPP header inside the session.
      C.kind = 'ppp';
      C.hdr = L + 6;
      C.lt = L + 6;
      C.pl = L + 8;
      C.nl = 0;
      C.mpls = 0;
      if (n.id < 0) return is;
      const id = n.id;
      return (v) => is(v) && (v.u32(L) & 0xffff) === id;
    }
    case 'ether': {
      if (C.kind !== 'ether')
        throw new FilterLinkError("'ether' primitives need an Ethernet link type", n.pos);
      const h = C.hdr;
      const hR = C.hR;
      // libpcap's gen_bcmp: the last four bytes first, then the first two.
      const lo = ((n.mac[2]! << 24) | (n.mac[3]! << 16) | (n.mac[4]! << 8) | n.mac[5]!) >>> 0;
      const hi = (n.mac[0]! << 8) | n.mac[1]!;
      const at = (v: FrameView, o: number): boolean => {
        const r = v.reg[hR]! + o;
        return v.u32(r + 2) === lo && v.u16(r) === hi;
      };
      return withInnerEther(
        C,
        dirPred(
          n.dir,
          (v) => at(v, h + 6),
          (v) => at(v, h),
        ),
      );
    }
    case 'bcast': {
      if (C.kind !== 'ether') throw new FilterLinkError("'broadcast' needs an Ethernet link type", n.pos);
      const h = C.hdr;
      const hR = C.hR;
      return withInnerEther(
        C,
        (v) => v.u32(v.reg[hR]! + h + 2) === 0xffffffff && v.u16(v.reg[hR]! + h) === 0xffff,
      );
    }
    case 'mcast': {
      const L = C.pl + C.nl;
      const { hR, pR } = C;
      if (n.layer === 'ip') {
        const isIp = etherIs(C, ET_IP, n.pos);
        return (v) => isIp(v) && v.u8(v.reg[pR]! + L + 16) >= 224;
      }
      if (n.layer === 'ip6') {
        const isIp6 = etherIs(C, ET_IP6, n.pos);
        return (v) => isIp6(v) && v.u8(v.reg[pR]! + L + 24) === 0xff;
      }
      if (C.kind !== 'ether') throw new FilterLinkError("'multicast' needs an Ethernet link type", n.pos);
      const h = C.hdr;
      return withInnerEther(C, (v) => (v.u8(v.reg[hR]! + h) & 1) !== 0);
    }
    case 'ethertype':
      return etherIs(C, n.et, n.pos);
    case 'inout': {
      const out = n.outbound;
      // The packet type field of the cooked header (4 = sent by this host).
      if (C.kind === 'sll') return (v) => (v.u16(0) === 4) === out;
      if (C.kind === 'sll2') return (v) => (v.u8(10) === 4) === out;
      throw new FilterLinkError("'inbound'/'outbound' need a Linux cooked (SLL/SLL2) link type", n.pos);
    }
    case 'protochain':
      // As libpcap: "'protochain' not supported with variable length headers".
      if (C.geneve) throw new FilterLinkError("'protochain' after 'geneve' is not supported", n.pos);
      return bindProtochain(n.proto, n.v4, n.v6, C);
    case 'geneve':
      return bindGeneve(n.vni, n.pos, C);
    default:
      return bindL3(n, C);
  }
}

/**
 * libpcap's gen_prevlinkhdr_check for Ethernet address tests after `geneve`: true only when the
 * Geneve payload is an Ethernet frame (the link header and payload offsets differ).
 */
function withInnerEther(C: Ctx, p: Pred): Pred {
  if (!C.geneve) return p;
  return (v) => v.reg[1] !== v.reg[3] && p(v);
}

function dirPred(dir: Dir, src: Pred, dst: Pred): Pred {
  if (dir === 'src') return src;
  if (dir === 'dst') return dst;
  if (dir === 'both') return (v) => src(v) && dst(v);
  return (v) => src(v) || dst(v);
}

/** libpcap's gen_linktype: a test of the link's protocol field for EtherType `et`. */
function etherIs(C: Ctx, et: number, pos = -1): Pred {
  if (C.mpls > 0) {
    // Over MPLS: the last label has the bottom-of-stack bit, then the IP version says which.
    if (et !== ET_IP && et !== ET_IP6)
      throw new FilterLinkError('only IPv4 and IPv6 are supported over MPLS', pos);
    const L = C.pl + C.nl;
    const R = C.pR;
    const ver = et === ET_IP ? 0x40 : 0x60;
    return (v) => (v.u8(v.reg[R]! + L - 2) & 1) === 1 && (v.u8(v.reg[R]! + L) & 0xf0) === ver;
  }
  switch (C.kind) {
    case 'raw':
      if (et === ET_IP) return (v) => (v.u8(0) & 0xf0) === 0x40;
      if (et === ET_IP6) return (v) => (v.u8(0) & 0xf0) === 0x60;
      return FALSE;
    case 'ipv4':
      return et === ET_IP ? TRUE : FALSE;
    case 'ipv6':
      return et === ET_IP6 ? TRUE : FALSE;
    case 'null':
    case 'loop': {
      // The address family, in the byte order of the writer (NULL) or network order (LOOP).
      const le = C.kind === 'null';
      const fam = (v: FrameView): number => {
        const w = v.u32(0);
        return le ? ((w >>> 24) | ((w >>> 8) & 0xff00) | ((w << 8) & 0xff0000) | (w << 24)) >>> 0 : w;
      };
      if (et === ET_IP) return (v) => fam(v) === 2;
      if (et === ET_IP6) {
        return (v) => {
          const f = fam(v);
          return f === 24 || f === 28 || f === 30;
        };
      }
      return FALSE;
    }
    case 'ppp': {
      const pt = et === ET_IP ? 0x21 : et === ET_IP6 ? 0x57 : et;
      const o = C.lt;
      return (v) => v.u16(o) === pt;
    }
    default: {
      const o = C.lt;
      const R = C.lR;
      return (v) => v.u16(v.reg[R]! + o) === et;
    }
  }
}

/** A comparison of two arithmetic expressions; false unless every accessor's protocol is there. */
function bindRel(op: string, ea: Arith, eb: Arith, C: Ctx): Pred {
  const guards: Pred[] = [];
  const a = bindArith(ea, C, guards);
  const b = bindArith(eb, C, guards);
  let cmp: Pred;
  switch (op) {
    case '>':
      cmp = (v) => a(v) > b(v);
      break;
    case '>=':
      cmp = (v) => a(v) >= b(v);
      break;
    case '<':
      cmp = (v) => a(v) < b(v);
      break;
    case '<=':
      cmp = (v) => a(v) <= b(v);
      break;
    case '=':
      cmp = (v) => a(v) === b(v);
      break;
    default:
      cmp = (v) => a(v) !== b(v);
  }
  if (guards.length === 0) return cmp;
  if (guards.length === 1) {
    const g = guards[0]!;
    return (v) => g(v) && cmp(v);
  }
  return (v) => {
    for (let k = 0; k < guards.length; k++) if (!guards[k]!(v)) return false;
    return cmp(v);
  };
}

/** Unsigned 32-bit arithmetic, as the BPF machine does it. */
function bindArith(e: Arith, C: Ctx, guards: Pred[]): Num {
  switch (e.k) {
    case 'num': {
      const n = e.n >>> 0;
      return () => n;
    }
    case 'len':
      return (v) => v.wire;
    case 'neg': {
      const a = bindArith(e.a, C, guards);
      return (v) => (0 - a(v)) >>> 0;
    }
    case 'bin': {
      const a = bindArith(e.a, C, guards);
      const b = bindArith(e.b, C, guards);
      switch (e.op) {
        case '+':
          return (v) => (a(v) + b(v)) >>> 0;
        case '-':
          return (v) => (a(v) - b(v)) >>> 0;
        case '*':
          return (v) => Math.imul(a(v), b(v)) >>> 0;
        case '/':
          return (v) => {
            const x = a(v);
            const y = b(v);
            if (y === 0) {
              v.oob = true; // BPF rejects the packet on a division by zero
              return 0;
            }
            return Math.floor(x / y);
          };
        case '%':
          return (v) => {
            const x = a(v);
            const y = b(v);
            if (y === 0) {
              v.oob = true;
              return 0;
            }
            return x % y;
          };
        case '&':
          return (v) => (a(v) & b(v)) >>> 0;
        case '|':
          return (v) => (a(v) | b(v)) >>> 0;
        case '^':
          return (v) => (a(v) ^ b(v)) >>> 0;
        case '<<':
          return (v) => {
            const y = b(v);
            return y >= 32 ? 0 : (a(v) << y) >>> 0;
          };
        default:
          return (v) => {
            const y = b(v);
            return y >= 32 ? 0 : a(v) >>> y;
          };
      }
    }
    case 'load': {
      const off = bindArith(e.off, C, guards);
      const L = C.pl + C.nl;
      const { hR, pR } = C;
      let base: Num;
      switch (e.proto) {
        case 'link': {
          const h = C.hdr;
          base = (v) => v.reg[hR]! + h;
          break;
        }
        case 'ip':
        case 'ip6':
        case 'arp':
        case 'rarp': {
          const et =
            e.proto === 'ip' ? ET_IP : e.proto === 'ip6' ? ET_IP6 : e.proto === 'arp' ? ET_ARP : ET_RARP;
          guards.push(etherIs(C, et));
          base = (v) => v.reg[pR]! + L;
          break;
        }
        case 'icmp6': {
          const isIp6 = etherIs(C, ET_IP6);
          guards.push((v) => isIp6(v) && v.u8(v.reg[pR]! + L + 6) === 58);
          base = (v) => v.reg[pR]! + L + 40;
          break;
        }
        default: {
          // libpcap addresses transport headers through the IPv4 header length only.
          const isIp = etherIs(C, ET_IP);
          const p = e.guard;
          guards.push((v) => {
            const l = v.reg[pR]! + L;
            return isIp(v) && v.u8(l + 9) === p && (v.u16(l + 6) & 0x1fff) === 0;
          });
          base = (v) => {
            const l = v.reg[pR]! + L;
            return l + (v.u8(l) & 0xf) * 4;
          };
        }
      }
      if (e.size === 1) return (v) => v.u8(base(v) + off(v));
      if (e.size === 2) return (v) => v.u16(base(v) + off(v));
      return (v) => v.u32(base(v) + off(v));
    }
  }
}

/**
 * libpcap's gen_protochain: follow IPv6 extension headers (and AH) to `proto`. It reproduces
 * libpcap's program exactly, including that an AH header sets the offset to its own length
 * rather than adding to it.
 */
function bindProtochain(proto: number, v4: boolean, v6: boolean, C: Ctx): Pred {
  const L = C.pl + C.nl;
  const isIp = v4 ? etherIs(C, ET_IP) : FALSE;
  const isIp6 = v6 ? etherIs(C, ET_IP6) : FALSE;
  const walk = (v: FrameView, nh0: number, x0: number): boolean => {
    let nh = nh0;
    let x = x0;
    for (let hops = 0; hops < MAX_CHAIN && !v.oob; hops++) {
      if (nh === proto) return true;
      if (nh === 0 || nh === 60 || nh === 43 || nh === 44) {
        const next = v.u8(L + x);
        x = x + (v.u8(L + x + 1) + 1) * 8;
        nh = next;
      } else if (nh === 51) {
        const next = v.u8(L + x);
        x = (v.u8(L + x + 1) + 2) * 4;
        nh = next;
      } else return false;
    }
    return false;
  };
  return (v) => {
    if (isIp6(v)) return walk(v, v.u8(L + 6), 40);
    if (isIp(v)) return walk(v, v.u8(L + 9), (v.u8(L) & 0xf) * 4);
    return false;
  };
}

const GENEVE_PORT = 6081;
const ET_TEB = 0x6558;

/**
 * libpcap's gen_geneve: IPv4 or IPv6 UDP to port 6081 with a version-0 Geneve header (and the
 * VNI when given), then every later test reads the encapsulated packet: the link header after
 * the Geneve options, the link type from the inner Ethernet header when the Geneve protocol is
 * Transparent Ethernet Bridging and from the Geneve protocol field otherwise. The offsets are
 * per packet, so they live in the view's registers, as in libpcap's program.
 */
function bindGeneve(vni: number, pos: number, C: Ctx): Pred {
  if (C.geneve) throw new FilterLinkError("only one 'geneve' per filter is supported", pos);
  const L = C.pl + C.nl;
  const R = C.pR;
  const isIp = etherIs(C, ET_IP);
  const isIp6 = etherIs(C, ET_IP6);
  const want = vni >= 0 ? (vni << 8) >>> 0 : -1;
  const header = (v: FrameView, g: number): boolean =>
    (v.u8(g) & 0xc0) === 0 && (want < 0 || (v.u32(g + 4) & 0xffffff00) >>> 0 === want);
  /** Offset of the Geneve header, or -1. */
  const start = (v: FrameView): number => {
    const l = v.reg[R]! + L;
    if (isIp(v)) {
      if (v.u8(l + 9) === 17 && (v.u16(l + 6) & 0x1fff) === 0) {
        const t = l + (v.u8(l) & 0xf) * 4;
        if (v.u16(t + 2) === GENEVE_PORT && header(v, t + 8)) return t + 8;
      }
    }
    if (isIp6(v) && v.u8(l + 6) === 17 && v.u16(l + 42) === GENEVE_PORT && header(v, l + 48)) return l + 48;
    return -1;
  };
  C.geneve = true;
  C.kind = 'ether';
  C.hdr = 0;
  C.lt = 0;
  C.pl = 0;
  C.nl = 0;
  C.hR = 1;
  C.lR = 2;
  C.pR = 3;
  return (v) => {
    const g = start(v);
    if (g < 0) return false;
    const end = g + 8 + (v.u8(g) & 0x3f) * 4;
    v.reg[1] = end;
    if (v.u16(g + 2) === ET_TEB) {
      v.reg[2] = end + 12;
      v.reg[3] = end + 14;
    } else {
      v.reg[2] = g + 2;
      v.reg[3] = end;
    }
    return true;
  };
}

function bindL3(n: Node, C: Ctx): Pred {
  const pl = C.pl + C.nl;
  const R = C.pR;
  switch (n.k) {
    case 'link': {
      const et = n.proto === 'ip' ? ET_IP : n.proto === 'ip6' ? ET_IP6 : n.proto === 'arp' ? ET_ARP : ET_RARP;
      return etherIs(C, et);
    }
    case 'ipproto': {
      const p = n.proto;
      const isIp = n.v4 ? etherIs(C, ET_IP) : FALSE;
      const isIp6 = n.v6 ? etherIs(C, ET_IP6) : FALSE;
      const v4: Pred = n.v4 ? (v) => isIp(v) && v.u8(v.reg[R]! + pl + 9) === p : FALSE;
      const v6: Pred = n.v6
        ? (v) => {
            if (!isIp6(v)) return false;
            const l = v.reg[R]! + pl;
            const nh = v.u8(l + 6);
            return nh === p || (nh === 44 && v.u8(l + 40) === p);
          }
        : FALSE;
      return (v) => v4(v) || v6(v);
    }
    case 'host4': {
      const { addr, mask } = n;
      const eq =
        (o: number): Pred =>
        (v) =>
          (v.u32(v.reg[R]! + o) & mask) >>> 0 === addr;
      const parts: Pred[] = [];
      // Over MPLS libpcap's plain 'host' tests only IPv4, not ARP/RARP.
      const vias = C.mpls > 0 && n.via.length > 1 ? (['ip'] as const) : n.via;
      for (const via of vias) {
        if (via === 'ip') {
          const isIp = etherIs(C, ET_IP);
          const t = dirPred(n.dir, eq(pl + 12), eq(pl + 16));
          parts.push((v) => isIp(v) && t(v));
        } else {
          const isArp = etherIs(C, via === 'arp' ? ET_ARP : ET_RARP);
          const t = dirPred(n.dir, eq(pl + 14), eq(pl + 24));
          parts.push((v) => isArp(v) && t(v));
        }
      }
      return (v) => {
        for (let k = 0; k < parts.length; k++) if (parts[k]!(v)) return true;
        return false;
      };
    }
    case 'host6': {
      const { addr, mask } = n;
      const isIp6 = etherIs(C, ET_IP6);
      const eq =
        (o: number): Pred =>
        (v) => {
          const l = v.reg[R]! + o;
          for (let w = 0; w < 4; w++) if ((v.u32(l + w * 4) & mask[w]!) >>> 0 !== addr[w]) return false;
          return true;
        };
      const t = dirPred(n.dir, eq(pl + 8), eq(pl + 24));
      return (v) => isIp6(v) && t(v);
    }
    case 'port': {
      const { lo, hi, protos, dir } = n;
      const isIp = n.v4 ? etherIs(C, ET_IP) : FALSE;
      const isIp6 = n.v6 ? etherIs(C, ET_IP6) : FALSE;
      const inRange = (x: number): boolean => x >= lo && x <= hi;
      const hasProto = (x: number): boolean => protos.includes(x);
      const ports = (v: FrameView, o: number): boolean => {
        if (dir === 'src') return inRange(v.u16(o));
        if (dir === 'dst') return inRange(v.u16(o + 2));
        if (dir === 'both') return inRange(v.u16(o)) && inRange(v.u16(o + 2));
        return inRange(v.u16(o)) || inRange(v.u16(o + 2));
      };
      const v6: Pred = n.v6
        ? (v) => isIp6(v) && hasProto(v.u8(v.reg[R]! + pl + 6)) && ports(v, v.reg[R]! + pl + 40)
        : FALSE;
      const v4: Pred = n.v4
        ? (v) => {
            const l = v.reg[R]! + pl;
            if (!isIp(v) || !hasProto(v.u8(l + 9))) return false;
            if ((v.u16(l + 6) & 0x1fff) !== 0) return false;
            const x = l + (v.u8(l) & 0xf) * 4;
            return !v.oob && ports(v, x);
          }
        : FALSE;
      return (v) => v6(v) || v4(v);
    }
    default:
      throw new FilterLinkError(`no evaluation for '${n.k}'`);
  }
}
