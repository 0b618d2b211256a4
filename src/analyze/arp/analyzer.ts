import { ipBytesToString, macToString } from '../../common/addr.js';
import { type Packet, PROTO_ICMPV6 } from '../../decode/packet.js';
import type { DeviceInventory } from '../devices/inventory.js';
import type { Analyzer, FlowLookup } from '../types.js';

const ETH_ARP = 0x0806;
const ND_RS = 133;
const ND_RA = 134;
const ND_NA = 136;
const OPT_SOURCE_LL = 1;
const OPT_TARGET_LL = 2;

export interface ArpCounters {
  arp: number;
  nd: number;
  /** Messages too short or with a hardware/protocol other than Ethernet/IPv4. */
  ignored: number;
}

export interface ArpDeps {
  inventory: DeviceInventory;
}

export function createArpAnalyzer(deps: ArpDeps): ArpAnalyzer {
  return new ArpAnalyzer(deps.inventory);
}

/**
 * IP ↔ MAC observations from ARP (the sender's pair) and IPv6 neighbour discovery (source
 * link-layer option of RS/RA/NS, target link-layer option of NA), fed to the device inventory.
 * Probes (ARP sender 0.0.0.0, NS from ::) prove nothing about a binding and are skipped.
 */
export class ArpAnalyzer implements Analyzer {
  readonly name = 'arp';
  readonly counters: ArpCounters = { arp: 0, nd: 0, ignored: 0 };

  constructor(private readonly inventory: DeviceInventory) {}

  onPacket(p: Packet, _flows: FlowLookup, _slot: number): boolean {
    if (p.ipVer === 0) {
      if (p.etherType === ETH_ARP && p.l3Off >= 0) this.arp(p);
      return true;
    }
    if (p.proto !== PROTO_ICMPV6) return false;
    if (p.icmpType >= ND_RS && p.icmpType <= ND_NA && p.icmpCode === 0) this.nd(p);
    return true;
  }

  private arp(p: Packet): void {
    const b = p.buf;
    const o = p.l3Off;
    const end = p.frameOff + p.caplen;
    // Ethernet (1) / IPv4 (0x0800), 6-byte MACs and 4-byte addresses: 28 bytes.
    if (
      end - o < 28 ||
      b.readUInt16BE(o) !== 1 ||
      b.readUInt16BE(o + 2) !== 0x0800 ||
      b[o + 4] !== 6 ||
      b[o + 5] !== 4
    ) {
      this.counters.ignored++;
      return;
    }
    this.counters.arp++;
    const sha = o + 8;
    const spa = o + 14;
    if (b.readUInt32BE(spa) === 0 || isNullOrBroadcastMac(b, sha)) return;
    this.inventory.observe(
      ipBytesToString(b, spa, 4),
      macToString(b, sha),
      p.vlanCount > 0 ? p.vlan0 : null,
      p.tsSec,
      p.tsNs,
      'arp',
    );
  }

  private nd(p: Packet): void {
    const b = p.buf;
    const t = p.icmpType;
    const end = p.payloadOff + p.payloadCapLen;
    // p.payloadOff is 8 bytes into the ICMPv6 message; options follow the fixed part.
    let opts: number;
    if (t === ND_RS) opts = p.payloadOff;
    else if (t === ND_RA) opts = p.payloadOff + 8;
    else opts = p.payloadOff + 16;
    if (p.payloadOff < 0 || opts > end) {
      this.counters.ignored++;
      return;
    }
    this.counters.nd++;
    const want = t === ND_NA ? OPT_TARGET_LL : OPT_SOURCE_LL;
    let mac = -1;
    for (let o = opts; o + 2 <= end; ) {
      const len = b[o + 1]! * 8;
      if (len === 0 || o + len > end) break;
      if (b[o] === want && len >= 8) {
        mac = o + 2;
        break;
      }
      o += len;
    }
    if (mac < 0 || isNullOrBroadcastMac(b, mac)) return;
    // NA: the target address is the one bound; otherwise the sender's address (not :: in DAD).
    const ipOff = t === ND_NA ? p.payloadOff : p.srcOff;
    if (isUnspecified6(b, ipOff)) return;
    this.inventory.observe(
      ipBytesToString(b, ipOff, 6),
      macToString(b, mac),
      p.vlanCount > 0 ? p.vlan0 : null,
      p.tsSec,
      p.tsNs,
      'nd',
    );
  }
}

function isNullOrBroadcastMac(b: Buffer, o: number): boolean {
  let or = 0;
  let and = 0xff;
  for (let i = 0; i < 6; i++) {
    or |= b[o + i]!;
    and &= b[o + i]!;
  }
  return or === 0 || and === 0xff;
}

function isUnspecified6(b: Buffer, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}
