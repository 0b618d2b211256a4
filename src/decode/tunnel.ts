import { be16, be32 } from '../common/bytes.js';
import { decodeIpv4, decodeIpv6 } from './ip.js';
import { decodeEthernet, decodeEtherType, decodePpp, ETH_IPV4, ETH_IPV6 } from './link.js';
import {
  type Packet,
  TUNNEL_ERSPAN,
  TUNNEL_GENEVE,
  TUNNEL_GRE,
  TUNNEL_IPIP,
  TUNNEL_VXLAN,
} from './packet.js';
import { W } from './weird.js';

const MAX_TUNNEL_DEPTH = 4;
const GRE_ERSPAN_2 = 0x88be;
const GRE_ERSPAN_3 = 0x22eb;
const GRE_TEB = 0x6558;
const GRE_PPP = 0x880b;

/**
 * Step into a tunnel: remember the carrier's facts (outermost tunnel only) and clear the L3/L4
 * view so the inner packet replaces it. Returns false when tunnels nest too deep.
 */
function enter(p: Packet, type: number, off: number, innerL2: boolean): boolean {
  if (p.tunnelDepth >= MAX_TUNNEL_DEPTH) {
    p.setWeird(W.tunnel_too_deep, off);
    return false;
  }
  if (p.tunnelDepth === 0) {
    p.tunnelType = type;
    p.outerIpVer = p.ipVer;
    p.outerSrcOff = p.srcOff;
    p.outerDstOff = p.dstOff;
    p.outerVlan = p.vlan0;
  }
  p.tunnelDepth++;
  p.resetL3();
  if (innerL2) {
    p.vlanCount = 0;
    p.vlan0 = 0;
    p.vlan1 = 0;
  }
  return true;
}

export function decodeGre(p: Packet, off: number, end: number): void {
  const buf = p.buf;
  if (end - off < 4) {
    p.setWeird(W.truncated_gre_header, off);
    return;
  }
  const fl = be16(buf, off);
  const ver = fl & 7;
  const proto = be16(buf, off + 2);
  let o = off + 4;
  let key = -1;
  let hasSeq = false;
  if (ver === 0) {
    if (fl & 0x8000 || fl & 0x4000) o += 4; // checksum (+ reserved), or legacy routing offset
    if (fl & 0x2000) {
      if (end - o < 4) {
        p.setWeird(W.truncated_gre_header, off);
        return;
      }
      key = be32(buf, o);
      o += 4;
    }
    if (fl & 0x1000) {
      hasSeq = true;
      o += 4;
    }
  } else if (ver === 1) {
    // Enhanced GRE (PPTP): key carries payload length and call id; optional sequence/ack.
    if (end - o < 4) {
      p.setWeird(W.truncated_gre_header, off);
      return;
    }
    key = be16(buf, o + 2);
    o += 4;
    if (fl & 0x1000) o += 4;
    if (fl & 0x0080) o += 4;
  } else {
    p.setWeird(W.gre_unsupported_version, off);
    return;
  }
  if (o > end) {
    p.setWeird(W.truncated_gre_header, off);
    return;
  }
  if (proto === GRE_ERSPAN_2 || proto === GRE_ERSPAN_3) {
    decodeErspan(p, proto, hasSeq, key, o, end);
    return;
  }
  const isL2 = proto === GRE_TEB;
  if (!enter(p, TUNNEL_GRE, off, isL2)) return;
  p.greKey = key;
  p.greProto = proto;
  if (proto === ETH_IPV4) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, o, end);
  } else if (proto === ETH_IPV6) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, o, end);
  } else if (isL2) decodeEthernet(p, o, end);
  else if (proto === GRE_PPP) {
    if (end - o < 4) {
      p.setWeird(W.truncated_ppp_header, o);
      return;
    }
    // Address/control (ff 03) may be compressed away.
    let q = o;
    if (buf[q] === 0xff && buf[q + 1] === 0x03) q += 2;
    let pp = buf[q]!;
    if (pp & 1) q += 1;
    else {
      pp = be16(buf, q);
      q += 2;
    }
    decodePpp(p, pp, q, end);
  } else decodeEtherType(p, proto, o, end);
}

/**
 * ERSPAN over GRE. Type I has no header (GRE without sequence numbers), type II an 8-byte
 * header, type III a 12-byte header plus an optional 8-byte platform sub-header.
 */
function decodeErspan(
  p: Packet,
  proto: number,
  hasSeq: boolean,
  key: number,
  off: number,
  end: number,
): void {
  const buf = p.buf;
  let version = 0;
  let session = -1;
  let o = off;
  if (proto === GRE_ERSPAN_2 && !hasSeq) {
    version = 1;
  } else {
    const need = proto === GRE_ERSPAN_3 ? 12 : 8;
    if (end - o < need) {
      p.setWeird(W.truncated_erspan_header, o);
      return;
    }
    const w0 = be32(buf, o);
    version = (w0 >>> 28) + 1; // ERSPAN's "Ver" field is 1 for type II, 2 for type III
    session = be16(buf, o + 2) & 0x3ff;
    if (proto === GRE_ERSPAN_3) {
      const hasSub = (buf[o + 11]! & 1) !== 0;
      o += 12;
      if (hasSub) {
        if (end - o < 8) {
          p.setWeird(W.truncated_erspan_header, o);
          return;
        }
        o += 8;
      }
    } else o += 8;
  }
  if (!enter(p, TUNNEL_ERSPAN, off, true)) return;
  p.greKey = key;
  p.greProto = proto;
  p.erspanVersion = version;
  p.erspanSession = session;
  decodeEthernet(p, o, end);
}

export function decodeVxlan(p: Packet, off: number, end: number): void {
  if (end - off < 8) return; // too short to be VXLAN: leave it as plain UDP
  const buf = p.buf;
  if ((buf[off]! & 0x08) === 0) return;
  if (end - off < 8 + 14) {
    p.setWeird(W.truncated_vxlan_header, off);
    return;
  }
  const vni = be32(buf, off + 4) >>> 8;
  if (!enter(p, TUNNEL_VXLAN, off, true)) return;
  p.vni = vni;
  decodeEthernet(p, off + 8, end);
}

export function decodeVxlanGpe(p: Packet, off: number, end: number): void {
  if (end - off < 8) return;
  const buf = p.buf;
  if ((buf[off]! & 0x08) === 0) return;
  const next = buf[off]! & 0x04 ? buf[off + 3]! : 3;
  const vni = be32(buf, off + 4) >>> 8;
  if (next < 1 || next > 3) return;
  if (!enter(p, TUNNEL_VXLAN, off, next === 3)) return;
  p.vni = vni;
  if (next === 1) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off + 8, end);
  } else if (next === 2) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off + 8, end);
  } else decodeEthernet(p, off + 8, end);
}

export function decodeGeneve(p: Packet, off: number, end: number): void {
  if (end - off < 8) return;
  const buf = p.buf;
  if (buf[off]! >> 6 !== 0) return; // only version 0 exists
  const optLen = (buf[off]! & 0x3f) << 2;
  const proto = be16(buf, off + 2);
  const o = off + 8 + optLen;
  if (o > end) {
    p.setWeird(W.truncated_geneve_header, off);
    return;
  }
  const vni = be32(buf, off + 4) >>> 8;
  const isL2 = proto === GRE_TEB;
  if (!enter(p, TUNNEL_GENEVE, off, isL2)) return;
  p.vni = vni;
  if (isL2) decodeEthernet(p, o, end);
  else decodeEtherType(p, proto, o, end);
}

/** IPv4/IPv6 carried directly in IP (protocols 4 and 41). */
export function decodeIpInIp(p: Packet, off: number, end: number): void {
  const proto = p.proto;
  if (!enter(p, TUNNEL_IPIP, off, false)) return;
  if (proto === 4) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off, end);
  } else {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off, end);
  }
}
