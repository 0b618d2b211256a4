import { be16, be32 } from '../common/bytes.js';
import {
  type Packet,
  PROTO_GRE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  TCP_SYN,
} from './packet.js';
import { decodeGeneve, decodeGre, decodeIpInIp, decodeVxlan, decodeVxlanGpe } from './tunnel.js';
import { W } from './weird.js';

export const PORT_VXLAN = 4789;
export const PORT_VXLAN_LINUX = 8472;
export const PORT_VXLAN_GPE = 4790;
export const PORT_GENEVE = 6081;

/**
 * Transport layer. `declEnd` is where the IP packet ends by its header, `capEnd` where the
 * captured bytes end (≤ declEnd).
 */
export function decodeTransport(p: Packet, off: number, declEnd: number, capEnd: number): void {
  switch (p.proto) {
    case PROTO_TCP:
      decodeTcp(p, off, declEnd, capEnd);
      return;
    case PROTO_UDP:
      decodeUdp(p, off, declEnd, capEnd);
      return;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      decodeIcmp(p, off, declEnd, capEnd);
      return;
    case PROTO_SCTP:
      if (capEnd - off < 12) {
        p.setWeird(W.truncated_sctp_header, off);
        return;
      }
      p.l4Off = off;
      p.srcPort = be16(p.buf, off);
      p.dstPort = be16(p.buf, off + 2);
      setPayload(p, off + 12, declEnd, capEnd);
      return;
    case PROTO_GRE:
      decodeGre(p, off, capEnd);
      return;
    case 4:
    case 41:
      decodeIpInIp(p, off, capEnd);
      return;
    default:
      setPayload(p, off, declEnd, capEnd);
  }
}

function setPayload(p: Packet, off: number, declEnd: number, capEnd: number): void {
  p.payloadOff = off;
  p.payloadLen = declEnd > off ? declEnd - off : 0;
  p.payloadCapLen = capEnd > off ? capEnd - off : 0;
}

function decodeTcp(p: Packet, off: number, declEnd: number, capEnd: number): void {
  const buf = p.buf;
  if (capEnd - off < 20) {
    p.setWeird(W.truncated_tcp_header, off);
    return;
  }
  const hl = (buf[off + 12]! >> 4) << 2;
  if (hl < 20 || off + hl > declEnd) {
    p.setWeird(W.tcp_bad_data_offset, off);
    return;
  }
  p.l4Off = off;
  p.srcPort = be16(buf, off);
  p.dstPort = be16(buf, off + 2);
  p.seq = be32(buf, off + 4);
  p.ack = be32(buf, off + 8);
  p.tcpFlags = buf[off + 13]!;
  p.window = be16(buf, off + 14);
  p.tcpHdrLen = hl;
  setPayload(p, off + hl, declEnd, capEnd);
  if (hl > 20) decodeTcpOptions(p, off + 20, Math.min(off + hl, capEnd));
}

function decodeTcpOptions(p: Packet, o: number, end: number): void {
  const buf = p.buf;
  while (o < end) {
    const kind = buf[o]!;
    if (kind === 0) return;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= end) {
      p.setWeird(W.tcp_bad_option_length, o);
      return;
    }
    const len = buf[o + 1]!;
    if (len < 2 || o + len > end) {
      p.setWeird(W.tcp_bad_option_length, o);
      return;
    }
    switch (kind) {
      case 2:
        if (len === 4) p.mss = be16(buf, o + 2);
        break;
      case 3:
        if (len === 3 && p.tcpFlags & TCP_SYN) p.wscale = buf[o + 2]!;
        break;
      case 4:
        p.sackPerm = true;
        break;
      case 5:
        p.sackBlocks = (len - 2) >> 3;
        break;
      case 8:
        if (len === 10) {
          p.tsVal = be32(buf, o + 2);
          p.tsEcr = be32(buf, o + 6);
        }
        break;
    }
    o += len;
  }
}

function decodeUdp(p: Packet, off: number, declEnd: number, capEnd: number): void {
  const buf = p.buf;
  if (capEnd - off < 8) {
    p.setWeird(W.truncated_udp_header, off);
    return;
  }
  p.l4Off = off;
  p.srcPort = be16(buf, off);
  p.dstPort = be16(buf, off + 2);
  const ulen = be16(buf, off + 4);
  let payEnd = declEnd;
  if (ulen >= 8 && off + ulen <= declEnd) payEnd = off + ulen;
  else if (ulen !== 0 || p.ipVer === 4) p.setWeird(W.udp_bad_length, off);
  setPayload(p, off + 8, payEnd, payEnd < capEnd ? payEnd : capEnd);
  if (p.fragOffset === 0 && !p.moreFrags) {
    const dp = p.dstPort;
    if (dp === PORT_VXLAN || dp === PORT_VXLAN_LINUX) decodeVxlan(p, off + 8, capEnd);
    else if (dp === PORT_GENEVE) decodeGeneve(p, off + 8, capEnd);
    else if (dp === PORT_VXLAN_GPE) decodeVxlanGpe(p, off + 8, capEnd);
  }
}

function decodeIcmp(p: Packet, off: number, declEnd: number, capEnd: number): void {
  const buf = p.buf;
  if (capEnd - off < 4) {
    p.setWeird(W.truncated_icmp_header, off);
    return;
  }
  p.l4Off = off;
  const t = buf[off]!;
  p.icmpType = t;
  p.icmpCode = buf[off + 1]!;
  if (capEnd - off >= 8 && isIcmpQuery(p.proto, t)) p.icmpId = be16(buf, off + 4);
  setPayload(p, off + 8, declEnd, capEnd);
}

/** ICMP message types that carry an identifier and come in request/reply pairs. */
export function isIcmpQuery(proto: number, t: number): boolean {
  if (proto === PROTO_ICMP) return t === 0 || t === 8 || (t >= 13 && t <= 18);
  return t === 128 || t === 129;
}
