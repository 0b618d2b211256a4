import { be16, be32, le32 } from '../common/bytes.js';
import { decodeIpv4, decodeIpv6 } from './ip.js';
import type { Packet } from './packet.js';
import { W } from './weird.js';

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;
export const ETH_QINQ_OLD = 0x9100;
export const ETH_IPV6 = 0x86dd;
export const ETH_MPLS = 0x8847;
export const ETH_MPLS_MC = 0x8848;
export const ETH_PPPOE_SESSION = 0x8864;

const MAX_VLANS = 8;
const MAX_MPLS = 16;

/** Ethernet II (and 802.3/LLC frames, which carry no IP here). */
export function decodeEthernet(p: Packet, off: number, end: number): void {
  if (end - off < 14) {
    p.setWeird(W.truncated_link_header, off);
    return;
  }
  p.ethOff = off;
  p.srcMacOff = off + 6;
  const type = be16(p.buf, off + 12);
  if (type < 0x0600) {
    // 802.3 length field: LLC/SNAP payload (STP, CDP...), no IP to decode.
    p.etherType = 0;
    return;
  }
  decodeEtherType(p, type, off + 14, end);
}

/** Dispatch on an EtherType, walking VLAN tags, MPLS and PPPoE on the way. */
export function decodeEtherType(p: Packet, type: number, off: number, end: number): void {
  const buf = p.buf;
  for (let guard = 0; guard < MAX_VLANS; guard++) {
    if (type !== ETH_VLAN && type !== ETH_QINQ && type !== ETH_QINQ_OLD) break;
    if (end - off < 4) {
      p.setWeird(W.truncated_vlan_header, off);
      return;
    }
    const vid = be16(buf, off) & 0x0fff;
    if (p.vlanCount === 0) p.vlan0 = vid;
    else if (p.vlanCount === 1) p.vlan1 = vid;
    p.vlanCount++;
    type = be16(buf, off + 2);
    off += 4;
  }
  p.etherType = type;
  switch (type) {
    case ETH_IPV4:
      decodeIpv4(p, off, end);
      return;
    case ETH_IPV6:
      decodeIpv6(p, off, end);
      return;
    case ETH_MPLS:
    case ETH_MPLS_MC:
      decodeMpls(p, off, end);
      return;
    case ETH_PPPOE_SESSION:
      decodePppoe(p, off, end);
      return;
    default:
      // ARP and other non-IP EtherTypes: the analyzers read them from l3Off.
      p.l3Off = off;
  }
}

function decodeMpls(p: Packet, off: number, end: number): void {
  const buf = p.buf;
  for (let i = 0; ; i++) {
    if (i >= MAX_MPLS) {
      p.setWeird(W.mpls_label_stack_too_deep, off);
      return;
    }
    if (end - off < 4) {
      p.setWeird(W.truncated_mpls_header, off);
      return;
    }
    const e = be32(buf, off);
    if (p.mplsCount === 0) p.mplsLabel = e >>> 12;
    p.mplsCount++;
    off += 4;
    if (e & 0x100) break; // bottom of stack
  }
  if (off >= end) return;
  // MPLS does not say what it carries: guess from the first nibble, as every analyzer does.
  const nib = buf[off]! >> 4;
  if (nib === 4) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off, end);
  } else if (nib === 6) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off, end);
  } else if (nib === 0 && end - off >= 4 + 14) {
    // Ethernet pseudowire with a control word.
    decodeEthernet(p, off + 4, end);
  }
}

function decodePppoe(p: Packet, off: number, end: number): void {
  if (end - off < 8) {
    p.setWeird(W.truncated_pppoe_header, off);
    return;
  }
  p.pppoeSession = be16(p.buf, off + 2);
  decodePpp(p, be16(p.buf, off + 6), off + 8, end);
}

/** PPP protocol field dispatch (PPPoE sessions, PPTP's enhanced GRE). */
export function decodePpp(p: Packet, proto: number, off: number, end: number): void {
  if (proto === 0x0021) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off, end);
  } else if (proto === 0x0057) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off, end);
  }
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL). */
export function decodeSll(p: Packet, off: number, end: number): void {
  if (end - off < 16) {
    p.setWeird(W.truncated_link_header, off);
    return;
  }
  const buf = p.buf;
  const haType = be16(buf, off + 2);
  const addrLen = be16(buf, off + 4);
  if (haType === 1 && addrLen === 6) p.srcMacOff = off + 6;
  decodeSllProtocol(p, be16(buf, off + 14), off + 16, end);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2). */
export function decodeSll2(p: Packet, off: number, end: number): void {
  if (end - off < 20) {
    p.setWeird(W.truncated_link_header, off);
    return;
  }
  const buf = p.buf;
  const haType = be16(buf, off + 8);
  const addrLen = buf[off + 11]!;
  if (haType === 1 && addrLen === 6) p.srcMacOff = off + 12;
  decodeSllProtocol(p, be16(buf, off), off + 20, end);
}

function decodeSllProtocol(p: Packet, proto: number, off: number, end: number): void {
  if (proto >= 0x0600) decodeEtherType(p, proto, off, end);
  // Below 0x0600 the field names a Linux pseudo-protocol (802.2 LLC, CAN...): no IP.
}

/** BSD loopback: a 4-byte address family in host (NULL) or network (LOOP) byte order. */
export function decodeNull(p: Packet, off: number, end: number, networkOrder: boolean): void {
  if (end - off < 4) {
    p.setWeird(W.truncated_link_header, off);
    return;
  }
  let fam = networkOrder ? be32(p.buf, off) : le32(p.buf, off);
  // A capture written on the other byte order shows the family in the high bytes.
  if (fam > 0xffff) fam = ((fam >>> 24) | ((fam >>> 8) & 0xff00)) >>> 0;
  if (fam === 2) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off + 4, end);
  } else if (fam === 24 || fam === 28 || fam === 30 || fam === 10) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off + 4, end);
  }
}

/** Raw IP: the version nibble says v4 or v6. */
export function decodeRawIp(p: Packet, off: number, end: number): void {
  if (end - off < 1) {
    p.setWeird(W.truncated_ipv4_header, off);
    return;
  }
  const v = p.buf[off]! >> 4;
  if (v === 4) {
    p.etherType = ETH_IPV4;
    decodeIpv4(p, off, end);
  } else if (v === 6) {
    p.etherType = ETH_IPV6;
    decodeIpv6(p, off, end);
  } else p.setWeird(W.bad_ip_version, off);
}
