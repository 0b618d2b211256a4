/**
 * The decoded view of one packet: numbers and offsets into the frame buffer, filled in place
 * by the layer decoders and reused for every packet (nothing is allocated per packet).
 * Tunnels are decapsulated: the L3/L4 fields describe the innermost packet, the `outer*` /
 * tunnel fields keep what the carrier said.
 */
export class Packet {
  buf: Buffer = Buffer.alloc(0);
  frameOff = 0;
  caplen = 0;
  wirelen = 0;
  tsSec = 0;
  tsNs = 0;
  ifIndex = 0;
  linkType = 0;

  // L2 of the innermost frame
  /** Offset of the Ethernet header (innermost), -1 when the link has no MAC addresses. */
  ethOff = -1;
  /** Offset of the source MAC (SLL has only the source), -1 when absent. */
  srcMacOff = -1;
  etherType = 0;
  vlanCount = 0;
  /** Outer (first) and inner (second) VLAN ids of the innermost frame; 0 when absent. */
  vlan0 = 0;
  vlan1 = 0;
  mplsCount = 0;
  mplsLabel = 0;
  pppoeSession = -1;

  // tunnel facts (outermost tunnel)
  tunnelDepth = 0;
  /** 0 none, else a TUNNEL_* value of the outermost tunnel. */
  tunnelType = 0;
  outerIpVer = 0;
  outerSrcOff = -1;
  outerDstOff = -1;
  outerVlan = 0;
  /** VXLAN / Geneve VNI, -1 when absent. */
  vni = -1;
  greKey = -1;
  greProto = 0;
  erspanVersion = 0;
  erspanSession = -1;

  // L3 (innermost IP)
  ipVer = 0;
  l3Off = -1;
  ipHdrLen = 0;
  /** IP-layer length of the packet as its header declares (IPv4 total length; IPv6 40 + payload). */
  ipLen = 0;
  srcOff = -1;
  dstOff = -1;
  ttl = 0;
  tos = 0;
  proto = -1;
  /** Fragment facts: offset in bytes, more-fragments flag, identification. */
  fragOffset = 0;
  moreFrags = false;
  ipId = 0;

  // L4
  l4Off = -1;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  tcpHdrLen = 0;
  mss = -1;
  wscale = -1;
  sackPerm = false;
  sackBlocks = 0;
  tsVal = -1;
  tsEcr = -1;
  icmpType = -1;
  icmpCode = -1;
  icmpId = -1;
  payloadOff = -1;
  /** Payload length as the headers declare it. */
  payloadLen = 0;
  /** Payload bytes actually present in the buffer (≤ payloadLen when the capture was sliced). */
  payloadCapLen = 0;

  weird = 0;
  weirdOff = 0;

  reset(): void {
    this.ethOff = -1;
    this.srcMacOff = -1;
    this.etherType = 0;
    this.vlanCount = 0;
    this.vlan0 = 0;
    this.vlan1 = 0;
    this.mplsCount = 0;
    this.mplsLabel = 0;
    this.pppoeSession = -1;
    this.tunnelDepth = 0;
    this.tunnelType = 0;
    this.outerIpVer = 0;
    this.outerSrcOff = -1;
    this.outerDstOff = -1;
    this.outerVlan = 0;
    this.vni = -1;
    this.greKey = -1;
    this.greProto = 0;
    this.erspanVersion = 0;
    this.erspanSession = -1;
    this.resetL3();
    this.weird = 0;
    this.weirdOff = 0;
  }

  /** Forget the L3/L4 fields (on entering a tunnel, the inner packet replaces them). */
  resetL3(): void {
    this.ipVer = 0;
    this.l3Off = -1;
    this.ipHdrLen = 0;
    this.ipLen = 0;
    this.srcOff = -1;
    this.dstOff = -1;
    this.ttl = 0;
    this.tos = 0;
    this.proto = -1;
    this.fragOffset = 0;
    this.moreFrags = false;
    this.ipId = 0;
    this.l4Off = -1;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.tcpHdrLen = 0;
    this.mss = -1;
    this.wscale = -1;
    this.sackPerm = false;
    this.sackBlocks = 0;
    this.tsVal = -1;
    this.tsEcr = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpId = -1;
    this.payloadOff = -1;
    this.payloadLen = 0;
    this.payloadCapLen = 0;
  }

  /** True for an IPv4 or IPv6 fragment other than the first one (it carries no L4 header). */
  get isLaterFragment(): boolean {
    return this.fragOffset > 0;
  }

  get isFragment(): boolean {
    return this.fragOffset > 0 || this.moreFrags;
  }

  setWeird(code: number, off: number): void {
    if (this.weird === 0) {
      this.weird = code;
      this.weirdOff = off;
    }
  }
}

export const TUNNEL_GRE = 1;
export const TUNNEL_ERSPAN = 2;
export const TUNNEL_VXLAN = 3;
export const TUNNEL_GENEVE = 4;
export const TUNNEL_IPIP = 5;
export const TUNNEL_NAMES = ['', 'gre', 'erspan', 'vxlan', 'geneve', 'ipip'] as const;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_GRE = 47;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
