import type { Analyzer } from '../analyze/types.js';
import type { Frame, FrameHandler } from '../capture/frame.js';
import { LinkType } from '../capture/frame.js';
import { Decoder } from '../decode/decoder.js';
import type { Packet } from '../decode/packet.js';
import { type CompiledFilter, compileFilter, FrameView } from '../pcapstore/bpf/compile.js';
import { DedupWindow, packetKey } from './dedup.js';
import { GreDelivery } from './deliver/gre.js';
import { InterfaceDelivery } from './deliver/iface.js';
import { PcapTcpDelivery } from './deliver/pcap-stream.js';
import { VxlanDelivery } from './deliver/vxlan.js';
import type { Delivery, OutFrame } from './out-frame.js';
import { compileRules, type PacketPredicate } from './rules.js';
import { type BrokerConfig, newTargetCounters, type TargetConfig, type TargetCounters } from './types.js';

/**
 * The packet broker: replicates packets to any number of targets, each with its own filter,
 * slicing, de-duplication and delivery.
 *
 * What a target receives (and what its tcpdump filter is evaluated on) is the "delivered
 * frame", always Ethernet:
 *  - a packet that came through a mirror tunnel (VXLAN, Geneve, ERSPAN, GRE) is decapsulated
 *    when `decapsulate` is on (default): the tool sees the mirrored frame itself. An L2 tunnel
 *    yields its inner Ethernet frame; an L3 tunnel (GRE/IP-in-IP carrying IP) yields the inner
 *    IP packet behind a synthetic Ethernet header;
 *  - frames of other link types (raw IP, Linux SLL) get a synthetic Ethernet header (zero MAC
 *    addresses, the EtherType of the network layer);
 *  - Ethernet frames are delivered as captured.
 * So a filter behaves exactly as `tcpdump -r` of the original traffic. Structured rules (VNI,
 * VLAN, CIDR, port, protocol) read the decoded packet instead, so they can also select by
 * tunnel facts (the VNI) that the delivered frame no longer carries.
 */

export interface TargetStats extends TargetCounters {
  name: string;
  delivery: string;
  filter: string | null;
  snaplen: number;
  dedupWindowMs: number;
}

export interface BrokerStats {
  packets: number;
  /** Packets dropped by a response block (see `block`). */
  blocked?: number;
  /** Packets no target could take (no link layer to rebuild). */
  undeliverable: number;
  targets: TargetStats[];
}

export interface Broker {
  /** Feed a raw frame (the broker decodes it itself). */
  readonly onFrame: FrameHandler;
  /** Feed an already decoded packet (e.g. from a Sensor hook). */
  onPacket(p: Packet): void;
  /** A Sensor packet hook that feeds the broker without decoding twice. */
  hook(): Analyzer;
  /** Add a target; `delivery` overrides `cfg.deliver` (e.g. a pcap stream to an HTTP response). */
  addTarget(cfg: TargetConfig, delivery?: (c: TargetCounters) => Delivery): Promise<TargetStats>;
  /** Remove a target after its pending packets are confirmed; returns its last counters. */
  removeTarget(name: string): Promise<TargetStats | null>;
  stats(): BrokerStats;
  /**
   * Stop forwarding a host's traffic to every target (a response action): packets from or to
   * `cidr` are dropped before any target sees them. Keyed, so a retry does not add twice.
   */
  block(key: string, cidr: string): void;
  unblock(key: string): boolean;
  blocks(): { key: string; cidr: string }[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Target {
  cfg: TargetConfig;
  filter: CompiledFilter | null;
  rules: PacketPredicate | null;
  snaplen: number;
  dedup: DedupWindow | null;
  delivery: Delivery;
  c: TargetCounters;
}

export const DEFAULT_QUEUE = 4096;

export function createDelivery(cfg: TargetConfig, c: TargetCounters): Delivery {
  const d = cfg.deliver;
  if (!d) throw new Error(`target '${cfg.name}' has no delivery`);
  switch (d.type) {
    case 'vxlan':
      return new VxlanDelivery(d.host, d.port, d.vni, cfg.queue ?? DEFAULT_QUEUE, c);
    case 'gre':
      return new GreDelivery(d.host, { key: d.key }, c);
    case 'erspan':
      return new GreDelivery(d.host, { erspanSession: d.session }, c);
    case 'pcap-tcp':
      return new PcapTcpDelivery(d.host, d.port, c);
    case 'interface':
      return new InterfaceDelivery(d.iface, c);
  }
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

export function createBroker(cfg: Partial<BrokerConfig> = {}): Broker {
  const decapsulate = cfg.decapsulate ?? true;
  const targets: Target[] = [];
  const decoder = new Decoder();
  const view = new FrameView();
  const out: OutFrame = { buf: Buffer.alloc(0), off: 0, caplen: 0, wirelen: 0, tsSec: 0, tsNs: 0 };
  const synth = Buffer.allocUnsafeSlow(262_144 + 64);
  let packets = 0;
  let undeliverable = 0;
  let blocked = 0;
  const blockList = new Map<string, string>();
  let blockRule: PacketPredicate | null = null;
  let started = false;

  const statsOf = (t: Target): TargetStats => ({
    name: t.cfg.name,
    delivery: t.delivery.kind,
    filter: t.cfg.filter ?? null,
    snaplen: t.snaplen,
    dedupWindowMs: t.dedup?.windowMs ?? 0,
    ...t.c,
    dropReasons: { ...t.c.dropReasons },
  });

  /** Point `out` at the delivered frame of `p`; false when it has no link layer to rebuild. */
  const deliveredFrame = (p: Packet): boolean => {
    const end = p.frameOff + p.caplen;
    let start = p.frameOff;
    let etherType = -1; // -1: the frame already starts with an Ethernet header at `start`
    if (decapsulate && p.tunnelDepth > 0) {
      if (p.ethOff >= 0 && p.ethOff > p.outerSrcOff) start = p.ethOff;
      else if (p.l3Off >= 0) {
        start = p.l3Off;
        etherType = p.ipVer === 6 ? ETH_IPV6 : p.ipVer === 4 ? ETH_IPV4 : p.etherType;
      } else return false;
    } else if (p.linkType !== LinkType.ETHERNET) {
      // Outer packet of a raw/SLL frame: the network layer starts where the link header ends.
      if (p.tunnelDepth > 0) {
        if (p.outerSrcOff < 0) return false;
        start = p.outerSrcOff - (p.outerIpVer === 6 ? 8 : 12);
        etherType = p.outerIpVer === 6 ? ETH_IPV6 : ETH_IPV4;
      } else if (p.l3Off >= 0) {
        start = p.l3Off;
        etherType = p.ipVer === 6 ? ETH_IPV6 : p.ipVer === 4 ? ETH_IPV4 : p.etherType;
      } else return false;
      if (etherType <= 0) return false;
    }
    out.tsSec = p.tsSec;
    out.tsNs = p.tsNs;
    const cut = start - p.frameOff;
    if (etherType < 0) {
      out.buf = p.buf;
      out.off = start;
      out.caplen = end - start;
      out.wirelen = p.wirelen - cut;
      return true;
    }
    const n = end - start;
    synth.fill(0, 0, 12);
    synth.writeUInt16BE(etherType, 12);
    p.buf.copy(synth, 14, start, end);
    out.buf = synth;
    out.off = 0;
    out.caplen = 14 + n;
    out.wirelen = 14 + p.wirelen - cut;
    return true;
  };

  const onPacket = (p: Packet): void => {
    packets++;
    const n = targets.length;
    if (n === 0) return;
    if (blockRule?.(p)) {
      blocked++;
      return;
    }
    if (!deliveredFrame(p)) {
      undeliverable++;
      return;
    }
    let viewSet = false;
    let key = -1;
    let tMs = 0;
    for (let i = 0; i < n; i++) {
      const t = targets[i]!;
      if (t.rules && !t.rules(p)) continue;
      if (t.filter) {
        if (!viewSet) {
          view.set(out.buf, out.off, out.caplen, out.wirelen);
          viewSet = true;
        }
        view.oob = false;
        if (!t.filter.match(view)) continue;
      }
      const c = t.c;
      c.matched++;
      const caplen = t.snaplen > 0 && out.caplen > t.snaplen ? t.snaplen : out.caplen;
      if (t.dedup) {
        if (key < 0) {
          key =
            p.ipVer !== 0 && p.l3Off >= 0
              ? packetKey(p.buf, p.l3Off, p.ipVer, p.l3Off, p.frameOff + p.caplen)
              : packetKey(out.buf, -1, 0, out.off, out.off + out.caplen);
          tMs = p.tsSec * 1000 + p.tsNs / 1e6;
        }
        if (t.dedup.seen(key, tMs)) {
          c.deduplicated++;
          continue;
        }
      }
      t.delivery.send(out, caplen);
    }
  };

  const onFrame: FrameHandler = (f: Frame) => onPacket(decoder.decode(f));

  const findIndex = (name: string): number => targets.findIndex((t) => t.cfg.name === name);

  const rebuildBlocks = (): void => {
    blockRule = blockList.size > 0 ? compileRules({ cidr: [...new Set(blockList.values())] }) : null;
  };

  return {
    onFrame,
    onPacket,
    block(key, cidr) {
      compileRules({ cidr: [cidr] });
      blockList.set(key, cidr);
      rebuildBlocks();
    },
    unblock(key) {
      const had = blockList.delete(key);
      rebuildBlocks();
      return had;
    },
    blocks: () => [...blockList].map(([key, cidr]) => ({ key, cidr })),
    hook: () => ({
      name: 'broker',
      onPacket(p: Packet) {
        onPacket(p);
        return true;
      },
      // Without a target there is nothing to replicate: a pipeline may skip decoding for it.
      idle: () => targets.length === 0,
      skipped(n: number) {
        packets += n;
      },
    }),
    async addTarget(tc, delivery) {
      if (!tc.name) throw new Error('a broker target needs a name');
      if (findIndex(tc.name) >= 0) throw new Error(`broker target '${tc.name}' exists already`);
      const c = newTargetCounters();
      const t: Target = {
        cfg: tc,
        filter: tc.filter ? compileFilter(tc.filter).bind(LinkType.ETHERNET) : null,
        rules: tc.rules ? compileRules(tc.rules) : null,
        snaplen: tc.snaplen ?? 0,
        dedup: tc.dedupWindowMs && tc.dedupWindowMs > 0 ? new DedupWindow(tc.dedupWindowMs) : null,
        delivery: delivery ? delivery(c) : createDelivery(tc, c),
        c,
      };
      if (started) await t.delivery.start();
      targets.push(t);
      return statsOf(t);
    },
    async removeTarget(name) {
      const i = findIndex(name);
      if (i < 0) return null;
      const [t] = targets.splice(i, 1);
      await t!.delivery.stop();
      return statsOf(t!);
    },
    stats: () => ({ packets, undeliverable, blocked, targets: targets.map(statsOf) }),
    async start() {
      if (started) return;
      await Promise.all(targets.map((t) => t.delivery.start()));
      started = true;
    },
    async stop() {
      await Promise.all(targets.map((t) => t.delivery.stop()));
      started = false;
    },
  };
}
