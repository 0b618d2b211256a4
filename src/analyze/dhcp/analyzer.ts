import { ipBytesToString, macToString } from '../../common/addr.js';
import { isoNs } from '../../common/time.js';
import { type Packet, PROTO_UDP } from '../../decode/packet.js';
import type { dhcpRecord } from '../../schema/dhcp.js';
import type { RecordOf } from '../../schema/registry.js';
import type { DeviceInventory } from '../devices/inventory.js';
import type { FlowNotes } from '../flow-notes.js';
import type { Analyzer, FlowLookup, RecordSink } from '../types.js';

export type DhcpRecord = RecordOf<typeof dhcpRecord>;

const MAGIC = 0x63825363;
const FIXED = 236;
const MSG_TYPES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];
const MSG_ACK = 5;
const MSG_REQUEST = 3;
const MSG_INFORM = 8;

export interface DhcpCounters {
  messages: number;
  malformed: number;
}

export interface DhcpDeps {
  inventory?: DeviceInventory;
  notes?: FlowNotes;
}

export function createDhcpAnalyzer(sink: RecordSink, deps: DhcpDeps = {}): DhcpAnalyzer {
  return new DhcpAnalyzer(sink, deps);
}

/**
 * DHCPv4 (BOOTP on UDP 67/68): one `dhcp` record per message. It feeds the device inventory
 * with the address an ACK assigns (yiaddr ↔ chaddr), a bound client's ciaddr, and the host
 * name and vendor class the client gives.
 */
export class DhcpAnalyzer implements Analyzer {
  readonly name = 'dhcp';
  readonly counters: DhcpCounters = { messages: 0, malformed: 0 };

  constructor(
    private readonly sink: RecordSink,
    private readonly deps: DhcpDeps,
  ) {}

  onPacket(p: Packet, flows: FlowLookup, slot: number): boolean {
    if (p.proto !== PROTO_UDP) return false;
    if (slot < 0 || p.isFragment) return true;
    const sp = p.srcPort;
    const dp = p.dstPort;
    if (!((sp === 67 || sp === 68) && (dp === 67 || dp === 68))) return false;
    const rec = parseDhcp(p.buf, p.payloadOff, p.payloadOff + p.payloadCapLen);
    if (rec === null) {
      this.counters.malformed++;
      this.sink({
        type: 'weird',
        name: 'dhcp_malformed',
        ts: isoNs(p.tsSec, p.tsNs),
        offset: null,
        src_ip: ipBytesToString(p.buf, p.srcOff, p.ipVer),
        dst_ip: ipBytesToString(p.buf, p.dstOff, p.ipVer),
        proto: p.proto,
        src_port: sp,
        dst_port: dp,
        community_id: flows.context(slot).community_id,
        frame_len: p.wirelen,
        detail: null,
      });
      return true;
    }
    this.counters.messages++;
    const ctx = flows.context(slot);
    if (this.deps.notes) {
      const note = this.deps.notes.get(slot, ctx.gen);
      note.proto ??= 'dhcp';
    }
    const full: DhcpRecord = {
      type: 'dhcp',
      ts: isoNs(p.tsSec, p.tsNs),
      flow_id: ctx.flow_id,
      community_id: ctx.community_id,
      proto: ctx.proto,
      client_ip: ctx.client_ip,
      client_port: ctx.client_port,
      server_ip: ctx.server_ip,
      server_port: ctx.server_port,
      vlan: ctx.vlan,
      ...rec,
    };
    this.learn(full, p);
    this.sink(full);
    return true;
  }

  private learn(r: DhcpRecord, p: Packet): void {
    const inv = this.deps.inventory;
    if (inv === undefined || r.client_mac === null) return;
    const fromClient = p.dstPort === 67;
    if (fromClient && (r.hostname !== null || r.vendor_class !== null))
      inv.describe(r.client_mac, r.hostname, r.vendor_class);
    const vlan = p.vlanCount > 0 ? p.vlan0 : null;
    if (r.msg_type === MSG_ACK && r.yiaddr !== '0.0.0.0')
      inv.observe(r.yiaddr, r.client_mac, vlan, p.tsSec, p.tsNs, 'dhcp');
    else if (
      fromClient &&
      (r.msg_type === MSG_REQUEST || r.msg_type === MSG_INFORM) &&
      r.ciaddr !== '0.0.0.0'
    ) {
      inv.observe(r.ciaddr, r.client_mac, vlan, p.tsSec, p.tsNs, 'dhcp');
    }
  }
}

type DhcpFields = Omit<
  DhcpRecord,
  | 'type'
  | 'ts'
  | 'flow_id'
  | 'community_id'
  | 'proto'
  | 'client_ip'
  | 'client_port'
  | 'server_ip'
  | 'server_port'
  | 'vlan'
>;

/** Decode a BOOTP/DHCP message at [off, end); null when it is not one. */
export function parseDhcp(b: Buffer, off: number, end: number): DhcpFields | null {
  if (off < 0 || end - off < FIXED) return null;
  const op = b[off]!;
  if (op !== 1 && op !== 2) return null;
  const htype = b[off + 1]!;
  const hlen = b[off + 2]!;
  const ip = (o: number): string => ipBytesToString(b, o, 4);
  const r: DhcpFields = {
    msg_type: null,
    msg_type_name: null,
    xid: b.readUInt32BE(off + 4),
    client_mac: htype === 1 && hlen === 6 ? macToString(b, off + 28) : null,
    ciaddr: ip(off + 12),
    yiaddr: ip(off + 16),
    siaddr: ip(off + 20),
    giaddr: ip(off + 24),
    requested_ip: null,
    hostname: null,
    client_fqdn: null,
    vendor_class: null,
    client_id: null,
    server_id: null,
    lease_time: null,
    subnet_mask: null,
    routers: [],
    dns_servers: [],
    domain: null,
    param_list: [],
    message: null,
  };
  if (end - off < FIXED + 4 || b.readUInt32BE(off + FIXED) !== MAGIC) return r; // plain BOOTP
  const text = (s: number, e: number): string => b.toString('latin1', s, e).replace(/\0+$/, '');
  const addrs = (s: number, e: number): string[] => {
    const out: string[] = [];
    for (let i = s; i + 4 <= e; i += 4) out.push(ip(i));
    return out;
  };
  for (let o = off + FIXED + 4; o < end; ) {
    const code = b[o]!;
    if (code === 255) break;
    if (code === 0) {
      o++;
      continue;
    }
    if (o + 2 > end) break;
    const len = b[o + 1]!;
    const s = o + 2;
    const e = s + len;
    if (e > end) break;
    switch (code) {
      case 53:
        if (len >= 1) {
          r.msg_type = b[s]!;
          r.msg_type_name = MSG_TYPES[b[s]!] || `TYPE${b[s]}`;
        }
        break;
      case 50:
        if (len === 4) r.requested_ip = ip(s);
        break;
      case 12:
        r.hostname = text(s, e);
        break;
      case 81:
        // flags, rcode1, rcode2, then the name (ASCII, or DNS wire form when the E flag is set)
        if (len > 3) r.client_fqdn = b[s]! & 0x04 ? wireName(b, s + 3, e) : text(s + 3, e);
        break;
      case 60:
        r.vendor_class = text(s, e);
        break;
      case 61:
        r.client_id = b.toString('hex', s, e);
        break;
      case 54:
        if (len === 4) r.server_id = ip(s);
        break;
      case 51:
        if (len === 4) r.lease_time = b.readUInt32BE(s);
        break;
      case 1:
        if (len === 4) r.subnet_mask = ip(s);
        break;
      case 3:
        r.routers = addrs(s, e);
        break;
      case 6:
        r.dns_servers = addrs(s, e);
        break;
      case 15:
        r.domain = text(s, e);
        break;
      case 55:
        r.param_list = Array.from(b.subarray(s, e));
        break;
      case 56:
        r.message = text(s, e);
        break;
    }
    o = e;
  }
  return r;
}

function wireName(b: Buffer, s: number, e: number): string {
  const labels: string[] = [];
  let o = s;
  while (o < e) {
    const l = b[o]!;
    if (l === 0 || l > 63 || o + 1 + l > e) break;
    labels.push(b.toString('latin1', o + 1, o + 1 + l));
    o += 1 + l;
  }
  return labels.join('.');
}
