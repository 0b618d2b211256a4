/**
 * Broker configuration: every target replicates the packets its filter selects to one
 * downstream tool, sliced and de-duplicated as configured.
 */

/** Structured match rules; lists are OR'ed inside a rule, rules are AND'ed together. */
export interface MatchRules {
  /** VXLAN/Geneve network identifiers (mirror session, VPC). */
  vni?: number[];
  /** VLAN ids (outer or inner tag of the packet, or the tunnel carrier's tag). */
  vlan?: number[];
  /** Networks: the packet's (innermost) source or destination address is inside one. */
  cidr?: string[];
  /** TCP/UDP/SCTP ports: source or destination. */
  port?: number[];
  /** IP protocol numbers (6 TCP, 17 UDP, 1 ICMP...). */
  proto?: number[];
}

export type DeliveryConfig =
  /** VXLAN to HOST:PORT (UDP), with our outer headers and the target's VNI. */
  | { type: 'vxlan'; host: string; port: number; vni: number }
  /** GRE (transparent Ethernet bridging, optional key) to an IPv4 host; needs the addon and root. */
  | { type: 'gre'; host: string; key?: number }
  /** ERSPAN type II over GRE to an IPv4 host; needs the addon and root. */
  | { type: 'erspan'; host: string; session: number }
  /** A pcap stream over a TCP connection to HOST:PORT (a tool reading pcap from a socket). */
  | { type: 'pcap-tcp'; host: string; port: number }
  /** Frames sent out of a local interface (pcap_inject); needs the addon and root. */
  | { type: 'interface'; iface: string };

export interface TargetConfig {
  name: string;
  /** tcpdump filter over the delivered frame (see broker.ts for what that frame is). */
  filter?: string;
  rules?: MatchRules;
  /** Slice each packet to this many bytes (0: whole packet). */
  snaplen?: number;
  /** Drop a packet identical to one sent within this many milliseconds (0: off). */
  dedupWindowMs?: number;
  /** Most packets waiting in the delivery's queue before new ones are dropped (counted). */
  queue?: number;
  deliver?: DeliveryConfig;
}

export interface BrokerConfig {
  /**
   * Deliver the inner frame of packets that came through a mirror tunnel (VXLAN, Geneve,
   * ERSPAN, GRE): tools see the original traffic, not our mirror transport. Default true.
   */
  decapsulate: boolean;
  targets: TargetConfig[];
}

export interface TargetCounters {
  /** Packets the target's filter and rules selected. */
  matched: number;
  /** Matched packets not sent because an identical one was sent within the window. */
  deduplicated: number;
  /** Packets handed to the network or stream (confirmed by the socket/stream). */
  sent: number;
  /** Packets that could not be delivered, total and by reason. */
  dropped: number;
  dropReasons: Record<string, number>;
  /** Bytes of the delivered frames (after slicing, before our encapsulation). */
  bytes: number;
  /** Packets handed to the delivery and not yet confirmed or dropped. */
  pending: number;
}

export function newTargetCounters(): TargetCounters {
  return { matched: 0, deduplicated: 0, sent: 0, dropped: 0, dropReasons: {}, bytes: 0, pending: 0 };
}

export function countDrop(c: TargetCounters, reason: string, n = 1): void {
  c.dropped += n;
  c.dropReasons[reason] = (c.dropReasons[reason] ?? 0) + n;
}
