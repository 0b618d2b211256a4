import { LinkType } from '../../capture/frame.js';
import { type Dir, FilterSyntaxError, type Node, parseFilter } from './parse.js';

/**
 * Binds a parsed filter to a link type, giving a predicate over raw frame bytes with libpcap's
 * semantics: it reads the outermost headers as the BPF program tcpdump would run (no tunnel
 * decapsulation; a `vlan` primitive moves every later test 4 bytes on, in source order), and a
 * read past the captured bytes rejects the packet, as a BPF load out of bounds does.
 */

export class FilterLinkError extends Error {
  constructor(message: string) {
    super(`filter: ${message}`);
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

  set(b: Uint8Array, off: number, caplen: number, wirelen: number): this {
    this.b = b;
    this.o = off;
    this.len = caplen;
    this.wire = wirelen;
    this.oob = false;
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

export interface CompiledFilter {
  readonly text: string;
  readonly ast: Node | null;
  /** True when the frame passes; `view` must have been set to the frame. */
  match(view: FrameView): boolean;
}

interface Link {
  /** Offset of the EtherType-like field, -1 when the link has none (raw IP). */
  lt: number;
  /** Offset of the network-layer header. */
  pl: number;
  kind: 'ether' | 'sll' | 'raw' | 'ipv4' | 'ipv6';
}

function linkOf(linkType: number): Link {
  switch (linkType) {
    case LinkType.ETHERNET:
      return { lt: 12, pl: 14, kind: 'ether' };
    case LinkType.LINUX_SLL:
      return { lt: 14, pl: 16, kind: 'sll' };
    case LinkType.LINUX_SLL2:
      return { lt: 0, pl: 20, kind: 'sll' };
    case LinkType.RAW:
    case LinkType.RAW_BSD:
    case LinkType.RAW_BSD14:
      return { lt: -1, pl: 0, kind: 'raw' };
    case LinkType.IPV4:
      return { lt: -1, pl: 0, kind: 'ipv4' };
    case LinkType.IPV6:
      return { lt: -1, pl: 0, kind: 'ipv6' };
    default:
      throw new FilterLinkError(`link type ${linkType} is not supported by the filter compiler`);
  }
}

const ET_IP = 0x0800;
const ET_IP6 = 0x86dd;
const ET_ARP = 0x0806;
const ET_RARP = 0x8035;

/** Parse a filter once; bind it per link type with `bind`. */
export function compileFilter(text: string): { ast: Node | null; bind(linkType: number): CompiledFilter } {
  const ast = parseFilter(text);
  const cache = new Map<number, CompiledFilter>();
  return {
    ast,
    bind(linkType: number): CompiledFilter {
      let c = cache.get(linkType);
      if (!c) {
        const pred = ast === null ? () => true : bindNode(ast, linkOf(linkType), { shift: 0 });
        c = { text, ast, match: (v) => pred(v) && !v.oob };
        cache.set(linkType, c);
      }
      return c;
    },
  };
}

function bindNode(n: Node, L: Link, st: { shift: number }): Pred {
  switch (n.k) {
    case 'and': {
      const a = bindNode(n.a, L, st);
      const b = bindNode(n.b, L, st);
      return (v) => a(v) && b(v);
    }
    case 'or': {
      const a = bindNode(n.a, L, st);
      const b = bindNode(n.b, L, st);
      return (v) => a(v) || b(v);
    }
    case 'not': {
      const a = bindNode(n.a, L, st);
      return (v) => !a(v);
    }
    case 'len':
      return n.op === 'le' ? (v) => v.wire <= n.n : (v) => v.wire >= n.n;
    case 'vlan': {
      if (L.kind !== 'ether') throw new FilterLinkError('no VLAN support for this link type');
      const lt = L.lt + st.shift;
      const pl = L.pl + st.shift;
      st.shift += 4;
      const id = n.id;
      return (v) => {
        const t = v.u16(lt);
        if (t !== 0x8100 && t !== 0x88a8 && t !== 0x9100) return false;
        return id < 0 || (v.u16(pl) & 0xfff) === id;
      };
    }
    case 'ether': {
      if (L.kind !== 'ether') throw new FilterLinkError("'ether' primitives need an Ethernet link type");
      const mac = n.mac;
      const at = (v: FrameView, o: number): boolean => {
        for (let k = 0; k < 6; k++) if (v.u8(o + k) !== mac[k]) return false;
        return true;
      };
      return dirPred(
        n.dir,
        (v) => at(v, 6),
        (v) => at(v, 0),
      );
    }
    default:
      return bindL3(n, L, st.shift);
  }
}

function dirPred(dir: Dir, src: Pred, dst: Pred): Pred {
  if (dir === 'src') return src;
  if (dir === 'dst') return dst;
  if (dir === 'both') return (v) => src(v) && dst(v);
  return (v) => src(v) || dst(v);
}

/** A test of the link's protocol field (EtherType, or the IP version for raw links). */
function etherIs(L: Link, shift: number, et: number): Pred {
  if (L.kind === 'raw') {
    if (et === ET_IP) return (v) => (v.u8(0) & 0xf0) === 0x40;
    if (et === ET_IP6) return (v) => (v.u8(0) & 0xf0) === 0x60;
    return () => false;
  }
  if (L.kind === 'ipv4') return () => et === ET_IP;
  if (L.kind === 'ipv6') return () => et === ET_IP6;
  const o = L.lt + shift;
  return (v) => v.u16(o) === et;
}

function bindL3(n: Node, L: Link, shift: number): Pred {
  const pl = L.pl + shift;
  const isIp = etherIs(L, shift, ET_IP);
  const isIp6 = etherIs(L, shift, ET_IP6);
  switch (n.k) {
    case 'link': {
      const et = n.proto === 'ip' ? ET_IP : n.proto === 'ip6' ? ET_IP6 : n.proto === 'arp' ? ET_ARP : ET_RARP;
      return etherIs(L, shift, et);
    }
    case 'ipproto': {
      const p = n.proto;
      const v4: Pred = n.v4 ? (v) => isIp(v) && v.u8(pl + 9) === p : () => false;
      const v6: Pred = n.v6
        ? (v) => {
            if (!isIp6(v)) return false;
            const nh = v.u8(pl + 6);
            return nh === p || (nh === 44 && v.u8(pl + 40) === p);
          }
        : () => false;
      return (v) => v4(v) || v6(v);
    }
    case 'host4': {
      const { addr, mask } = n;
      const eq =
        (o: number): Pred =>
        (v) =>
          (v.u32(o) & mask) >>> 0 === addr;
      const parts: Pred[] = [];
      for (const via of n.via) {
        if (via === 'ip') {
          const t = dirPred(n.dir, eq(pl + 12), eq(pl + 16));
          parts.push((v) => isIp(v) && t(v));
        } else {
          const isArp = etherIs(L, shift, via === 'arp' ? ET_ARP : ET_RARP);
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
      const eq =
        (o: number): Pred =>
        (v) => {
          for (let w = 0; w < 4; w++) if ((v.u32(o + w * 4) & mask[w]!) >>> 0 !== addr[w]) return false;
          return true;
        };
      const t = dirPred(n.dir, eq(pl + 8), eq(pl + 24));
      return (v) => isIp6(v) && t(v);
    }
    case 'port': {
      const { lo, hi, protos, dir } = n;
      const inRange = (x: number): boolean => x >= lo && x <= hi;
      const hasProto = (x: number): boolean => protos.includes(x);
      const ports = (v: FrameView, o: number): boolean => {
        if (dir === 'src') return inRange(v.u16(o));
        if (dir === 'dst') return inRange(v.u16(o + 2));
        if (dir === 'both') return inRange(v.u16(o)) && inRange(v.u16(o + 2));
        return inRange(v.u16(o)) || inRange(v.u16(o + 2));
      };
      const v6: Pred = n.v6 ? (v) => isIp6(v) && hasProto(v.u8(pl + 6)) && ports(v, pl + 40) : () => false;
      const v4: Pred = n.v4
        ? (v) => {
            if (!isIp(v) || !hasProto(v.u8(pl + 9))) return false;
            if ((v.u16(pl + 6) & 0x1fff) !== 0) return false;
            const x = pl + (v.u8(pl) & 0xf) * 4;
            return !v.oob && ports(v, x);
          }
        : () => false;
      return (v) => v6(v) || v4(v);
    }
    default:
      throw new FilterSyntaxError(0, 'a known primitive', n.k);
  }
}
