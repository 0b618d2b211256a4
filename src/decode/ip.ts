import { be16, be32 } from '../common/bytes.js';
import type { Packet } from './packet.js';
import { decodeTransport } from './transport.js';
import { W } from './weird.js';

const MAX_V6_EXT = 16;

/**
 * IPv4 with options and fragments. `end` is the end of the captured bytes; lengths declared
 * by the header are checked against the frame's original (wire) length.
 */
export function decodeIpv4(p: Packet, off: number, end: number): void {
  const buf = p.buf;
  if (end - off < 20) {
    p.setWeird(W.truncated_ipv4_header, off);
    return;
  }
  const vihl = buf[off]!;
  if (vihl >> 4 !== 4) {
    p.setWeird(W.bad_ip_version, off);
    return;
  }
  const hl = (vihl & 0x0f) << 2;
  if (hl < 20) {
    p.setWeird(W.ipv4_bad_header_length, off);
    return;
  }
  if (end - off < hl) {
    p.setWeird(W.truncated_ipv4_header, off);
    return;
  }
  const wireLeft = p.frameOff + p.wirelen - off;
  let total = be16(buf, off + 2);
  if (total === 0) {
    total = wireLeft; // segmentation offload: the capture saw the packet before the NIC split it
  } else if (total < hl) {
    p.setWeird(W.ipv4_total_length_too_small, off);
    return;
  } else if (total > wireLeft) {
    p.setWeird(W.ipv4_total_length_exceeds_frame, off);
    total = wireLeft;
  }
  p.ipVer = 4;
  p.l3Off = off;
  p.ipHdrLen = hl;
  p.ipLen = total;
  p.tos = buf[off + 1]!;
  p.ipId = be16(buf, off + 4);
  const ff = be16(buf, off + 6);
  p.moreFrags = (ff & 0x2000) !== 0;
  p.fragOffset = (ff & 0x1fff) << 3;
  p.ttl = buf[off + 8]!;
  p.proto = buf[off + 9]!;
  p.srcOff = off + 12;
  p.dstOff = off + 16;
  const l4 = off + hl;
  const declEnd = off + total;
  if (p.fragOffset > 0) {
    // A later fragment: no transport header, its bytes are payload of the datagram.
    p.payloadOff = l4;
    p.payloadLen = declEnd - l4;
    p.payloadCapLen = Math.max(0, Math.min(declEnd, end) - l4);
    return;
  }
  decodeTransport(p, l4, declEnd, declEnd < end ? declEnd : end);
}

/** IPv6 with its extension-header chain (hop-by-hop, routing, fragment, destination, AH). */
export function decodeIpv6(p: Packet, off: number, end: number): void {
  const buf = p.buf;
  if (end - off < 40) {
    p.setWeird(W.truncated_ipv6_header, off);
    return;
  }
  if (buf[off]! >> 4 !== 6) {
    p.setWeird(W.bad_ip_version, off);
    return;
  }
  const wireLeft = p.frameOff + p.wirelen - off;
  let total = 40 + be16(buf, off + 4);
  if (total === 40 && buf[off + 6] === 0) {
    total = wireLeft; // jumbogram or offload: take what the frame holds
  } else if (total > wireLeft) {
    p.setWeird(W.ipv6_payload_length_exceeds_frame, off);
    total = wireLeft;
  }
  p.ipVer = 6;
  p.l3Off = off;
  p.ipLen = total;
  p.tos = (be16(buf, off) >> 4) & 0xff;
  p.ttl = buf[off + 7]!;
  p.srcOff = off + 8;
  p.dstOff = off + 24;
  const declEnd = off + total;
  const capEnd = declEnd < end ? declEnd : end;
  let nh = buf[off + 6]!;
  let o = off + 40;
  for (let i = 0; ; i++) {
    if (
      nh !== 0 &&
      nh !== 43 &&
      nh !== 44 &&
      nh !== 60 &&
      nh !== 51 &&
      nh !== 135 &&
      nh !== 139 &&
      nh !== 140
    )
      break;
    if (i >= MAX_V6_EXT) {
      p.setWeird(W.ipv6_too_many_extension_headers, o);
      p.proto = nh;
      p.ipHdrLen = o - off;
      return;
    }
    if (capEnd - o < 8) {
      p.setWeird(W.truncated_ipv6_extension_header, o);
      p.proto = nh;
      p.ipHdrLen = o - off;
      return;
    }
    const next = buf[o]!;
    let len: number;
    if (nh === 44) {
      const fo = be16(buf, o + 2);
      p.fragOffset = fo & 0xfff8;
      p.moreFrags = (fo & 1) !== 0;
      p.ipId = be32(buf, o + 4);
      len = 8;
    } else if (nh === 51) {
      len = (buf[o + 1]! + 2) << 2;
    } else {
      len = (buf[o + 1]! + 1) << 3;
    }
    nh = next;
    o += len;
    if (o > capEnd) {
      p.setWeird(W.truncated_ipv6_extension_header, o);
      p.proto = nh;
      p.ipHdrLen = capEnd - off;
      return;
    }
    if (p.fragOffset > 0) break;
  }
  p.proto = nh;
  p.ipHdrLen = o - off;
  if (p.fragOffset > 0 || nh === 59) {
    p.payloadOff = o;
    p.payloadLen = declEnd - o;
    p.payloadCapLen = Math.max(0, capEnd - o);
    return;
  }
  decodeTransport(p, o, declEnd, capEnd);
}
