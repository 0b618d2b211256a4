import { ipBytesToString } from '../../common/addr.js';
import { elapsedMs, isoNs } from '../../common/time.js';
import { type Packet, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../../decode/packet.js';
import type { dnsRecord } from '../../schema/dns.js';
import type { RecordOf } from '../../schema/registry.js';
import type { FlowNotes } from '../flow-notes.js';
import { DEFAULT_REASSEMBLY_CONFIG, IpReassembler, type ReassemblyConfig } from '../ip-reassembly.js';
import type { RecordColumnBuilder } from '../record-columns.js';
import { TcpStreams } from '../tcp-reassembly.js';
import type { Analyzer, FlowContext, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import { DnsColumnWriter } from './columns.js';
import type { DnsNameCache } from './name-cache.js';
import { className, rcodeName, typeName } from './names.js';
import {
  DNS_HEADER_LEN,
  type DnsAnswer,
  DnsHeader,
  type DnsSections,
  type DnsWeird,
  type EdnsInfo,
  FLAG_AA,
  FLAG_AD,
  FLAG_CD,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  lastNameError,
  parseHeader,
  parseSections,
  readName,
} from './wire.js';

/** The record as built here: `answers` and `authority` are typed beyond the schema's `json`. */
export type DnsRecord = Omit<RecordOf<typeof dnsRecord>, 'answers' | 'authority'> & {
  answers: DnsAnswer[];
  authority: DnsAnswer[];
};

export interface DnsConfig {
  /** UDP ports carrying DNS (53), mDNS (5353) and LLMNR (5355). */
  udpPorts: number[];
  tcpPorts: number[];
  /** A query without a response for this long (packet time) is recorded as unanswered. */
  timeoutSec: number;
  /** Queries awaiting a response; beyond this the oldest is recorded as unanswered. */
  maxPending: number;
  /** Resource records kept per section of one message. */
  maxRrs: number;
  /** Unconsumed DNS-over-TCP bytes kept per direction (a message is at most 65,537 bytes). */
  tcpBufferBytes: number;
  reassembly: ReassemblyConfig;
}

export const DEFAULT_DNS_CONFIG: DnsConfig = {
  udpPorts: [53, 5353, 5355],
  tcpPorts: [53, 5355],
  timeoutSec: 10,
  maxPending: 50_000,
  maxRrs: 64,
  tcpBufferBytes: 65_600,
  reassembly: DEFAULT_REASSEMBLY_CONFIG,
};

export interface DnsDeps {
  /** Learns address → name from A/AAAA answers, for application identification. */
  names?: DnsNameCache;
  /** Marks flows that carried DNS. */
  notes?: FlowNotes;
  /**
   * Records as rows of these columns instead of objects to the sink (the store path): one
   * record object is refilled for every transaction and the time never becomes text.
   */
  columns?: RecordColumnBuilder;
  /** In column mode, sees each record that has PTR answers (the host profiler's names). */
  observe?: (rec: { type: string; [k: string]: unknown }) => void;
}

export interface DnsCounters {
  messages: number;
  queries: number;
  responses: number;
  answered: number;
  unanswered: number;
  unsolicited: number;
  icmpQuoted: number;
  malformed: number;
  evicted: number;
  tcpResyncs: number;
}

interface Pending {
  slot: number;
  gen: number;
  id: number;
  tsSec: number;
  tsNs: number;
  query: string | null;
  qlower: string | null;
  qtype: number;
  qclass: number;
  flags: number;
  edns: EdnsInfo | null;
  ctx: FlowContext;
  /** The query was sent by the flow's server side: swap the flow's ends in the record. */
  flip: boolean;
  service: string;
  done: boolean;
  /** The next query awaiting a response with the same flow slot and id. */
  sameKey: Pending | null;
  /** Neighbours in the order the queries came (unanswered ones only). */
  older: Pending | null;
  newer: Pending | null;
}

/** Where a message came from, filled per message without allocating. */
interface Origin {
  slot: number;
  gen: number;
  dir: number;
  proto: number;
  sport: number;
  dport: number;
  mcastDst: boolean;
}

/** The empty section of a refilled record (never mutated: sections are replaced whole). */
const NONE: DnsAnswer[] = [];

const ICMP4_ERRORS = new Set([3, 4, 5, 11, 12]);
const ICMP6_ERRORS = new Set([1, 2, 3, 4]);

export function createDnsAnalyzer(
  sink: RecordSink,
  deps: DnsDeps = {},
  cfg: Partial<DnsConfig> = {},
): DnsAnalyzer {
  return new DnsAnalyzer(sink, deps, { ...DEFAULT_DNS_CONFIG, ...cfg });
}

/**
 * DNS over UDP (reassembling IP fragments) and TCP (length-prefixed, several messages per
 * segment or one across several), plus messages quoted in ICMP errors. A query is held until
 * its response (same flow, id and question) and both become one `dns` record, Zeek-style.
 */
export class DnsAnalyzer implements Analyzer {
  readonly name = 'dns';
  readonly counters: DnsCounters = {
    messages: 0,
    queries: 0,
    responses: 0,
    answered: 0,
    unanswered: 0,
    unsolicited: 0,
    icmpQuoted: 0,
    malformed: 0,
    evicted: 0,
    tcpResyncs: 0,
  };
  private readonly h = new DnsHeader();
  private readonly udp: Uint8Array;
  private readonly tcp: Uint8Array;
  private readonly streams: TcpStreams;
  private readonly frags: IpReassembler;
  /**
   * Queries awaiting a response: by flow slot and id (the first of a chain of `sameKey`), and
   * in arrival order (`oldest` to `newest`, linked), which the timeout walks. An answered query
   * leaves both at once, so it dies young instead of staying queued behind an unanswered one for
   * the timeout (and being promoted), and no list is made per key.
   */
  private readonly pending = new Map<number, Pending>();
  private oldest: Pending | null = null;
  private newest: Pending | null = null;
  private pendingCount = 0;
  private nextSweepSec = 0;
  private readonly origin: Origin = {
    slot: -1,
    gen: 0,
    dir: 0,
    proto: 0,
    sport: 0,
    dport: 0,
    mcastDst: false,
  };
  private p: Packet | null = null;

  constructor(
    private readonly sink: RecordSink,
    private readonly deps: DnsDeps,
    private readonly cfg: DnsConfig,
  ) {
    this.scratch = deps.columns ? this.baseRecordObject() : null;
    this.writer = deps.columns ? new DnsColumnWriter(deps.columns) : null;
    this.udp = portSet(cfg.udpPorts);
    this.tcp = portSet(cfg.tcpPorts);
    this.streams = new TcpStreams(cfg.tcpBufferBytes);
    this.frags = new IpReassembler(
      cfg.reassembly,
      (p) => p.proto === PROTO_UDP && this.isDnsPort(p, this.udp),
    );
  }

  onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean {
    if (p.ipVer === 0) return true;
    if (p.tsSec >= this.nextSweepSec) this.sweep(p.tsSec);
    const proto = p.proto;
    if (proto === PROTO_UDP) {
      if (p.isFragment) {
        this.fragment(p, flows, slot, dir);
        return true;
      }
      if (slot < 0 || p.l4Off < 0) return true;
      if (!this.isDnsPort(p, this.udp)) return false;
      this.setOrigin(p, flows, slot, dir, PROTO_UDP, p.srcPort, p.dstPort);
      this.message(p.buf, p.payloadOff, p.payloadOff + p.payloadCapLen, flows);
      return true;
    }
    if (proto === PROTO_TCP) {
      if (slot < 0 || p.l4Off < 0) return true;
      if (!this.isDnsPort(p, this.tcp)) return false;
      this.tcpSegment(p, flows, slot, dir);
      return true;
    }
    if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      // An ICMP flow is keyed by its type: one that is not an error never carries a quoted DNS message.
      if (p.icmpType >= 0 && !(proto === PROTO_ICMP ? ICMP4_ERRORS : ICMP6_ERRORS).has(p.icmpType))
        return false;
      if (slot >= 0 && p.payloadOff >= 0) this.icmpQuoted(p, flows, slot);
      return true;
    }
    return false;
  }

  onFlowEnd(_rec: FlowRecordPatch, slot: number): void {
    if (slot < 0) return;
    this.streams.drop(TcpStreams.key(slot, 0));
    this.streams.drop(TcpStreams.key(slot, 1));
  }

  finish(): void {
    for (let q = this.oldest; q !== null; q = q.newer) this.unanswered(q);
    this.oldest = null;
    this.newest = null;
    this.pending.clear();
    this.pendingCount = 0;
    this.frags.clear();
  }

  get pendingQueries(): number {
    return this.pendingCount;
  }

  private isDnsPort(p: Packet, set: Uint8Array): boolean {
    return set[p.srcPort] === 1 || set[p.dstPort] === 1;
  }

  private setOrigin(
    p: Packet,
    flows: FlowLookup,
    slot: number,
    dir: number,
    proto: number,
    sp: number,
    dp: number,
  ): void {
    const o = this.origin;
    o.slot = slot;
    o.gen = flows.generation(slot);
    o.dir = dir;
    o.proto = proto;
    o.sport = sp;
    o.dport = dp;
    const b0 = p.buf[p.dstOff]!;
    o.mcastDst = p.ipVer === 4 ? b0 >= 224 && b0 <= 239 : b0 === 0xff;
    this.p = p;
  }

  // ---- transports ----

  private fragment(p: Packet, flows: FlowLookup, slot: number, dir: number): void {
    const gen = slot >= 0 ? flows.generation(slot) : 0;
    const r = this.frags;
    if (!r.push(p, slot, gen, dir)) return;
    if (flows.generation(r.slot) !== r.gen || r.length < 8) return;
    const sp = r.buf.readUInt16BE(0);
    const dp = r.buf.readUInt16BE(2);
    const ulen = r.buf.readUInt16BE(4);
    const end = ulen >= 8 && ulen <= r.length ? ulen : r.length;
    this.setOrigin(p, flows, r.slot, r.dir, PROTO_UDP, sp, dp);
    this.message(r.buf, 8, end, flows);
  }

  private tcpSegment(p: Packet, flows: FlowLookup, slot: number, dir: number): void {
    const s = this.streams;
    const gen = flows.generation(slot);
    if (!s.push(TcpStreams.key(slot, dir), gen, p)) return;
    this.setOrigin(p, flows, slot, dir, PROTO_TCP, p.srcPort, p.dstPort);
    const buf = s.buf;
    let pos = s.start;
    const end = s.end;
    if (s.gap && end - pos >= 2 + DNS_HEADER_LEN && !plausible(buf, pos, end)) {
      // Picked up mid-message: nothing here can be framed.
      this.counters.tcpResyncs++;
      s.keep(end);
      return;
    }
    while (end - pos >= 2) {
      const len = buf.readUInt16BE(pos);
      if (len < DNS_HEADER_LEN) {
        this.weird('dns_tcp_bad_length', flows);
        pos = end;
        break;
      }
      if (end - pos - 2 < len) break;
      this.message(buf, pos + 2, pos + 2 + len, flows);
      pos += 2 + len;
    }
    s.keep(pos);
  }

  private icmpQuoted(p: Packet, flows: FlowLookup, slot: number): void {
    const buf = p.buf;
    const q = p.payloadOff;
    const cap = q + p.payloadCapLen;
    if (cap - q < 28) return;
    const ver = buf[q]! >> 4;
    let udp: number;
    let ipEnd: number;
    let src: number;
    let dst: number;
    if (ver === 4 && p.proto === PROTO_ICMP) {
      const ihl = (buf[q]! & 15) << 2;
      if (ihl < 20 || buf[q + 9] !== PROTO_UDP || (buf.readUInt16BE(q + 6) & 0x1fff) !== 0) return;
      udp = q + ihl;
      ipEnd = q + buf.readUInt16BE(q + 2);
      src = q + 12;
      dst = q + 16;
    } else if (ver === 6 && p.proto === PROTO_ICMPV6) {
      if (cap - q < 48 || buf[q + 6] !== PROTO_UDP) return;
      udp = q + 40;
      ipEnd = q + 40 + buf.readUInt16BE(q + 4);
      src = q + 8;
      dst = q + 24;
    } else return;
    if (udp + 8 > cap) return;
    const sp = buf.readUInt16BE(udp);
    const dp = buf.readUInt16BE(udp + 2);
    if (this.udp[sp] !== 1 && this.udp[dp] !== 1) return;
    const h = this.h;
    if (!parseHeader(buf, udp + 8, Math.min(cap, ipEnd), h)) return;
    this.counters.messages++;
    this.counters.icmpQuoted++;
    const ctx = flows.context(slot);
    const n = ver === 4 ? 4 : 6;
    const isResp = h.isResponse;
    const query = h.qnameOff >= 0 ? readName(buf, h.msg, h.end, h.qnameOff) : null;
    const sec = isResp ? parseSections(h, this.cfg.maxRrs) : null;
    const rec = this.baseRecord(
      ctx,
      false,
      p.tsSec,
      p.tsNs,
      serviceOf(sp, dp),
      'icmp_quoted',
      h.id,
      h.opcode,
      query,
    );
    // The quoted datagram's own ends; the flow identity is the ICMP flow that carried it.
    rec.proto = PROTO_UDP;
    const aIp = ipBytesToString(buf, src, n);
    const bIp = ipBytesToString(buf, dst, n);
    rec.client_ip = isResp ? bIp : aIp;
    rec.client_port = isResp ? dp : sp;
    rec.server_ip = isResp ? aIp : bIp;
    rec.server_port = isResp ? sp : dp;
    rec.qtype = h.qtype >= 0 ? h.qtype : null;
    rec.qtype_name = h.qtype >= 0 ? typeName(h.qtype) : null;
    rec.qclass = h.qclass >= 0 ? h.qclass & 0x7fff : null;
    rec.qclass_name = h.qclass >= 0 ? className(h.qclass) : null;
    rec.rd = (h.flags & FLAG_RD) !== 0;
    rec.cd = (h.flags & FLAG_CD) !== 0;
    if (sec !== null) this.fillResponse(rec, h.flags, h.arCount, sec);
    this.emit(rec);
  }

  // ---- messages ----

  private message(buf: Buffer, off: number, end: number, flows: FlowLookup): void {
    const h = this.h;
    this.counters.messages++;
    if (!parseHeader(buf, off, end, h)) {
      this.weird(h.weird ?? 'dns_truncated_header', flows);
      return;
    }
    const o = this.origin;
    const ctx = flows.context(o.slot);
    if (this.deps.notes) {
      const note = this.deps.notes.get(o.slot, o.gen);
      if (note.proto === null) note.proto = serviceOf(o.sport, o.dport);
    }
    const query = h.qnameOff >= 0 ? readName(buf, h.msg, h.end, h.qnameOff) : null;
    if (h.qnameOff >= 0 && query === null) this.weird(lastNameError() ?? 'dns_truncated_question', flows);
    if (!h.isResponse) this.query(h, ctx, query);
    else this.response(h, ctx, query, flows);
  }

  private query(h: DnsHeader, ctx: FlowContext, query: string | null): void {
    this.counters.queries++;
    const o = this.origin;
    const p = this.p!;
    const q: Pending = {
      slot: o.slot,
      gen: o.gen,
      id: h.id,
      tsSec: p.tsSec,
      tsNs: p.tsNs,
      query,
      qlower: query === null ? null : query.toLowerCase(),
      qtype: h.qtype,
      qclass: h.qclass,
      flags: h.flags,
      edns: h.arCount > 0 ? parseSections(h, 0).edns : null,
      ctx,
      flip: o.dir === 1,
      service: serviceOf(o.sport, o.dport),
      done: false,
      sameKey: null,
      older: null,
      newer: null,
    };
    if (o.mcastDst) {
      // Multicast queries (mDNS, LLMNR) are answered from other flows: record them at once.
      this.unanswered(q);
      return;
    }
    const key = o.slot * 65536 + h.id;
    let last = this.pending.get(key);
    if (last === undefined) this.pending.set(key, q);
    else {
      while (last.sameKey !== null) last = last.sameKey;
      last.sameKey = q;
    }
    q.older = this.newest;
    if (this.newest === null) this.oldest = q;
    else this.newest.newer = q;
    this.newest = q;
    this.pendingCount++;
    if (this.pendingCount > this.cfg.maxPending) {
      this.counters.evicted++;
      this.expireOldest();
    }
  }

  private response(h: DnsHeader, ctx: FlowContext, query: string | null, flows: FlowLookup): void {
    this.counters.responses++;
    const o = this.origin;
    const p = this.p!;
    const key = o.slot * 65536 + h.id;
    const first = this.pending.get(key);
    let q: Pending | null = null;
    if (first !== undefined) {
      const ql = query === null ? null : query.toLowerCase();
      for (let c: Pending | null = first; c !== null; c = c.sameKey) {
        if (c.gen !== o.gen) continue;
        if (ql !== null && c.qlower !== null && ql !== c.qlower) continue;
        if (h.qtype >= 0 && c.qtype >= 0 && h.qtype !== c.qtype) continue;
        q = c;
        this.unlink(key, first, c);
        break;
      }
    }
    const sec = parseSections(h, this.cfg.maxRrs);
    if (sec.weird !== null) this.weird(sec.weird, flows);
    let rec: DnsRecord;
    if (q !== null) {
      q.done = true;
      this.pendingCount--;
      this.counters.answered++;
      rec = this.fromQuery(q, 'answered');
      rec.rtt_ms = elapsedMs(q.tsSec, q.tsNs, p.tsSec, p.tsNs);
    } else {
      this.counters.unsolicited++;
      rec = this.baseRecord(
        ctx,
        o.dir === 0,
        p.tsSec,
        p.tsNs,
        serviceOf(o.sport, o.dport),
        'unsolicited',
        h.id,
        h.opcode,
        query,
      );
      rec.qtype = h.qtype >= 0 ? h.qtype : null;
      rec.qtype_name = h.qtype >= 0 ? typeName(h.qtype) : null;
      rec.qclass = h.qclass >= 0 ? h.qclass & 0x7fff : null;
      rec.qclass_name = h.qclass >= 0 ? className(h.qclass) : null;
      rec.rd = (h.flags & FLAG_RD) !== 0;
      rec.cd = (h.flags & FLAG_CD) !== 0;
    }
    this.fillResponse(rec, h.flags, h.arCount, sec);
    const names = this.deps.names;
    if (names !== undefined) {
      const asked = rec.query;
      for (const a of sec.answers) {
        if (a.type === 1 || a.type === 28)
          names.learn(a.data, asked !== null && asked !== '<Root>' ? asked : a.name);
      }
    }
    this.emit(rec);
  }

  private fillResponse(rec: DnsRecord, flags: number, arCount: number, sec: DnsSections): void {
    const rcode = flags & 15;
    rec.rcode = rcode;
    rec.rcode_name = rcodeName(rcode);
    rec.aa = (flags & FLAG_AA) !== 0;
    rec.tc = (flags & FLAG_TC) !== 0;
    rec.ra = (flags & FLAG_RA) !== 0;
    rec.ad = (flags & FLAG_AD) !== 0;
    rec.answers = sec.answers;
    rec.authority = sec.authority;
    rec.additional_count = arCount;
    const e = sec.edns;
    if (e !== null) {
      rec.edns_udp_size ??= e.udpSize;
      if (e.subnetScope !== null) rec.edns_client_subnet_scope = e.subnetScope;
      rec.edns_client_subnet ??= e.clientSubnet;
    }
  }

  private fromQuery(q: Pending, status: string): DnsRecord {
    const rec = this.baseRecord(
      q.ctx,
      q.flip,
      q.tsSec,
      q.tsNs,
      q.service,
      status,
      q.id,
      (q.flags >> 11) & 15,
      q.query,
    );
    rec.qtype = q.qtype >= 0 ? q.qtype : null;
    rec.qtype_name = q.qtype >= 0 ? typeName(q.qtype) : null;
    rec.qclass = q.qclass >= 0 ? q.qclass & 0x7fff : null;
    rec.qclass_name = q.qclass >= 0 ? className(q.qclass) : null;
    rec.rd = (q.flags & FLAG_RD) !== 0;
    rec.cd = (q.flags & FLAG_CD) !== 0;
    if (q.edns !== null) {
      rec.edns_udp_size = q.edns.udpSize;
      rec.edns_do = q.edns.dnssecOk;
      rec.edns_client_subnet = q.edns.clientSubnet;
    }
    return rec;
  }

  private baseRecord(
    ctx: FlowContext,
    flip: boolean,
    tsSec: number,
    tsNs: number,
    service: string,
    status: string,
    id: number,
    opcode: number,
    query: string | null,
  ): DnsRecord {
    this.recSec = tsSec;
    this.recNs = tsNs;
    // Column mode refills one scratch object; object mode (NDJSON, tests) makes a record each time.
    const r = this.scratch ?? this.baseRecordObject();
    r.flow_id = ctx.flow_id;
    r.community_id = ctx.community_id;
    r.proto = ctx.proto;
    r.client_ip = flip ? ctx.server_ip : ctx.client_ip;
    r.client_port = flip ? ctx.server_port : ctx.client_port;
    r.server_ip = flip ? ctx.client_ip : ctx.server_ip;
    r.server_port = flip ? ctx.client_port : ctx.server_port;
    r.vlan = ctx.vlan;
    r.service = service;
    r.status = status;
    r.trans_id = id;
    r.opcode = opcode;
    r.query = query;
    r.qclass = null;
    r.qclass_name = null;
    r.qtype = null;
    r.qtype_name = null;
    r.rcode = null;
    r.rcode_name = null;
    r.aa = null;
    r.tc = null;
    r.rd = false;
    r.ra = null;
    r.ad = null;
    r.cd = false;
    r.answers = NONE;
    r.authority = NONE;
    r.additional_count = null;
    r.rtt_ms = null;
    r.edns_udp_size = null;
    r.edns_do = null;
    r.edns_client_subnet = null;
    r.edns_client_subnet_scope = null;
    if (r !== this.scratch) {
      r.ts = isoNs(tsSec, tsNs);
      r.answers = [];
      r.authority = [];
    }
    return r;
  }

  /** Time of the record `baseRecord` last began (column mode writes it as a number). */
  private recSec = 0;
  private recNs = 0;
  private readonly scratch: DnsRecord | null;
  private readonly writer: DnsColumnWriter | null;

  private baseRecordObject(): DnsRecord {
    return {
      type: 'dns',
      ts: '',
      flow_id: 0,
      community_id: '',
      proto: 0,
      client_ip: '',
      client_port: 0,
      server_ip: '',
      server_port: 0,
      vlan: null,
      service: '',
      status: '',
      trans_id: 0,
      opcode: 0,
      query: null,
      qclass: null,
      qclass_name: null,
      qtype: null,
      qtype_name: null,
      rcode: null,
      rcode_name: null,
      aa: null,
      tc: null,
      rd: false,
      ra: null,
      ad: null,
      cd: false,
      answers: NONE,
      authority: NONE,
      additional_count: null,
      rtt_ms: null,
      edns_udp_size: null,
      edns_do: null,
      edns_client_subnet: null,
      edns_client_subnet_scope: null,
    };
  }

  private emit(rec: DnsRecord): void {
    const cols = this.writer;
    if (cols === null) {
      this.sink(rec);
      return;
    }
    const observe = this.deps.observe;
    if (observe !== undefined && rec.answers.some((a) => a.type === 12)) {
      rec.ts = isoNs(this.recSec, this.recNs);
      observe(rec);
    }
    cols.write(rec, this.recSec, this.recNs);
  }

  // ---- unanswered queries ----

  private unanswered(q: Pending): void {
    q.done = true;
    this.counters.unanswered++;
    this.emit(this.fromQuery(q, 'unanswered'));
  }

  private sweep(nowSec: number): void {
    this.nextSweepSec = nowSec + 1;
    const limit = nowSec - this.cfg.timeoutSec;
    for (let q = this.oldest; q !== null && q.tsSec <= limit; q = this.oldest) this.expire(q);
  }

  private expireOldest(): void {
    if (this.oldest !== null) this.expire(this.oldest);
  }

  private expire(q: Pending): void {
    const key = q.slot * 65536 + q.id;
    const first = this.pending.get(key);
    if (first !== undefined) this.unlink(key, first, q);
    this.pendingCount--;
    this.unanswered(q);
  }

  /** Take `q` (in the chain that starts at `first`) out of the key's chain and the arrival order. */
  private unlink(key: number, first: Pending, q: Pending): void {
    if (first === q) {
      if (q.sameKey === null) this.pending.delete(key);
      else this.pending.set(key, q.sameKey);
    } else {
      let c = first;
      while (c.sameKey !== null && c.sameKey !== q) c = c.sameKey;
      if (c.sameKey === q) c.sameKey = q.sameKey;
    }
    q.sameKey = null;
    if (q.older === null) this.oldest = q.newer;
    else q.older.newer = q.newer;
    if (q.newer === null) this.newest = q.older;
    else q.newer.older = q.older;
    q.older = null;
    q.newer = null;
  }

  // ---- malformed input ----

  private weird(name: DnsWeird, flows: FlowLookup): void {
    this.counters.malformed++;
    const p = this.p;
    const o = this.origin;
    if (p === null || p.srcOff < 0) return;
    const ctx = o.slot >= 0 ? flows.context(o.slot) : null;
    this.sink({
      type: 'weird',
      name,
      ts: isoNs(p.tsSec, p.tsNs),
      offset: null,
      src_ip: ipBytesToString(p.buf, p.srcOff, p.ipVer),
      dst_ip: ipBytesToString(p.buf, p.dstOff, p.ipVer),
      proto: o.proto,
      src_port: o.sport,
      dst_port: o.dport,
      community_id: ctx?.community_id ?? null,
      frame_len: p.wirelen,
      detail: null,
    });
  }
}

function portSet(ports: number[]): Uint8Array {
  const s = new Uint8Array(65536);
  for (const p of ports) if (p >= 0 && p < 65536) s[p] = 1;
  return s;
}

function serviceOf(sp: number, dp: number): string {
  if (sp === 5353 || dp === 5353) return 'mdns';
  if (sp === 5355 || dp === 5355) return 'llmnr';
  return 'dns';
}

/** Does [pos, end) start with a length prefix and a DNS header that look real? */
function plausible(buf: Buffer, pos: number, end: number): boolean {
  const len = buf.readUInt16BE(pos);
  if (len < DNS_HEADER_LEN) return false;
  const m = pos + 2;
  const flags = buf.readUInt16BE(m + 2);
  const opcode = (flags >> 11) & 15;
  const qd = buf.readUInt16BE(m + 4);
  if (opcode > 6 || qd > 16) return false;
  return end - m >= DNS_HEADER_LEN;
}
