import { be32 } from '../../common/bytes.js';
import { type Packet, PROTO_SCTP, PROTO_TCP } from '../../decode/packet.js';

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function addrHash(buf: Buffer, off: number, ver: number): number {
  if (ver === 4) return fmix(be32(buf, off));
  let h = 0x9e3779b9;
  for (let i = 0; i < 16; i += 4) h = fmix(h ^ be32(buf, off + i));
  return h;
}

/**
 * Symmetric flow hash of a decoded packet: both directions of a flow give the same value.
 * TCP and SCTP hash the 5-tuple; every other protocol hashes only the address pair and the
 * protocol, so that IP fragments (which carry no ports after the first) and the unfragmented
 * packets of the same UDP flow stay together. VLAN ids and the tunnel VNI / GRE key are mixed
 * in so mirror sessions stay apart. Non-IP packets (ARP, LLDP...) all hash to 0.
 */
export function symmetricFlowHash(p: Packet): number {
  if (p.ipVer === 0 || p.srcOff < 0) return 0;
  let a = addrHash(p.buf, p.srcOff, p.ipVer);
  let b = addrHash(p.buf, p.dstOff, p.ipVer);
  if ((p.proto === PROTO_TCP || p.proto === PROTO_SCTP) && !p.isFragment && p.l4Off >= 0) {
    a = fmix(a ^ p.srcPort);
    b = fmix(b ^ p.dstPort);
  }
  // Sum and xor are both commutative; together they separate (a,b) pairs well.
  let h = fmix(((a + b) >>> 0) ^ Math.imul(a ^ b, 0x27d4eb2d));
  h = fmix(h ^ (p.proto << 24) ^ (p.vlan0 << 12) ^ p.vlan1);
  if (p.vni >= 0) h = fmix(h ^ p.vni);
  if (p.greKey >= 0) h = fmix(h ^ p.greKey);
  return h;
}
