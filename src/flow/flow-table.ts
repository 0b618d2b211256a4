import type { FlowContext, FlowLookup } from '../analyze/types.js';
import { ipv4ToString, ipv6WordsToString, macToString } from '../common/addr.js';
import { be32 } from '../common/bytes.js';
import { isoNs } from '../common/time.js';
import {
  type Packet,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TUNNEL_NAMES,
} from '../decode/packet.js';
import { isIcmpQuery } from '../decode/transport.js';
import type { FlowRecord } from '../schema/records.js';
import { communityIdWords } from './community-id.js';
import { type FlowColumnBuilder, FN, FS } from './flow-columns.js';
import { tcpFlagsString } from './tcp-flags.js';

/**
 * What the flow-end hooks see of a flow record written in column form: the fields analyzers
 * read (and `app`, which they may set). One object, refilled for every record.
 */
export interface FlowEndPatch {
  type: 'flow';
  app: string | null;
  interim: boolean;
  flow_id: number;
  proto: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  [k: string]: unknown;
}

/**
 * What the packet store's index and the worker's flow tap ask of a flow table beyond
 * `FlowLookup`: a flow's id and Community ID without the address strings of its context.
 */
export interface FlowIds {
  flowId(slot: number): number;
  communityId(slot: number): string;
}

export interface FlowConfig {
  /** Seconds without a packet after which a flow ends. */
  idleTimeout: number;
  /** Idle timeout for TCP flows (connections sit quiet longer than datagram flows). */
  tcpIdleTimeout: number;
  /** Seconds after which a long flow emits an interim record and starts a new interval. */
  activeTimeout: number;
  /** Seconds a TCP flow lingers after FIN in both directions or RST, to absorb the last ACKs. */
  tcpEndTimeout: number;
  /** Keep flows with the same 5-tuple apart when their VLAN ids differ. */
  keyVlan: boolean;
  /** Keep flows apart by tunnel id (VXLAN/Geneve VNI, ERSPAN session, GRE key). */
  keyTunnel: boolean;
}

export const DEFAULT_FLOW_CONFIG: FlowConfig = {
  idleTimeout: 60,
  tcpIdleTimeout: 300,
  activeTimeout: 1800,
  tcpEndTimeout: 5,
  keyVlan: true,
  keyTunnel: true,
};

export interface FlowTableStats {
  packets: number;
  flowsCreated: number;
  flowsEmitted: number;
  active: number;
  fragmentsAttributed: number;
  fragmentsOrphaned: number;
  /** Fragment trains dropped from the table at its cap (their fragments count as orphaned). */
  fragmentTrainsEvicted: number;
}

/** Fragment trains tracked at once; a flood of fragments that never complete evicts the oldest. */
export const MAX_FRAGMENT_TRAINS = 65_536;

const KW = 12; // key words per flow

// One block of 448 bytes (7 cache lines) per flow, read as words (U, and I as a signed view of
// the same memory) and as doubles (F), laid out by when a packet touches it: every packet reads
// line 0 (key, hash, generation, meta, state) and writes lines 1-3 (counters, inter-packet
// statistics, last time); a TCP packet adds line 4; lines 5-6 are written when a flow starts,
// in its handshake and when it ends. Blocks start on a cache line (see `grow`). Two-element
// fields are [client, server].
const SLOT_BYTES = 448;
const SU = SLOT_BYTES / 4;
const SF = SLOT_BYTES / 8;
// line 0 (words 0-15): key words 0-11, then
const U_HASH = 12;
const U_GEN = 13;
const U_META = 14; // ipVer | proto<<4 | clientIsA<<12 | list<<13 | outerVer<<16
const U_ST = 15;
// line 1 (doubles 8-15): what every packet adds
const F_PK = 8;
const F_IPB = 10;
const F_WIRE = 12;
const F_PAY = 14;
// line 2 (doubles 16-23): inter-packet delay per direction
const F_LASTT = 16;
const F_IPDN = 18;
const F_IPDMEAN = 20;
const F_IPDM2 = 22;
// line 3 (doubles 24-31): times; times are ns relative to the table's base second
const F_LAST = 24;
const F_IV = 25;
const F_NSEQT = 26;
const F_LACKT = 28;
const F_SYN = 30;
const F_SYNACK = 31;
// line 4 (words 64-79): TCP per direction
const U_FLAGS = 64; // client flags | server flags << 8
const U_NEXTSEQ = 66;
const U_LASTACK = 68;
const U_DUPACK = 70;
const U_WIN = 72;
const U_RETRANS = 74;
const U_OOO = 76;
const U_ZWIN = 78;
// line 5 (doubles 40-47): handshake and response times, first time, id
const F_REQ = 40;
const F_RSP = 41;
const F_RTTS = 42;
const F_RTTC = 43;
const F_FIRST = 44;
const F_ID = 45;
// line 6 (words 96-111): set when the flow starts or on rare packets
const U_RESETS = 96;
const U_FRAGS = 97;
const U_VLANS = 98;
const U_TUNNEL = 99; // tunnelType | depth<<4
const U_ERSPAN = 100; // signed: -1 none
const U_ICMP = 101; // signed: type<<8 | code of the first packet, -1 when not ICMP
const U_PORTS = 102; // client port | server port << 16
const U_VNI = 104; // signed: -1 none
const U_GREKEY = 105; // valid when ST_GREKEY is set
const U_MAC = 106; // 3 words: client MAC then server MAC (bytes)
/**
 * Byte offset of the first block inside the table's ArrayBuffer. Large buffers come from mmap
 * with glibc's 16-byte chunk header in front (the capture reader's READ_ALIGN meets the same), so
 * 48 bytes in puts every block on a 64-byte line; elsewhere blocks straddle lines, still correct.
 */
const SLOT_ALIGN = 48;
const NS = 1e9;
const LIST_NONE = 0;
const LIST_ACTIVE = 1;
const LIST_ENDED = 2;

const END_IDLE = 0;
const END_ACTIVE = 1;
const END_FIN = 2;
const END_RST = 3;
const END_EOF = 4;
const END_REUSE = 5;
const END_NAMES = ['idle', 'active_timeout', 'fin', 'rst', 'end_of_capture', 'port_reuse'] as const;

const ST_FIN0 = 1;
const ST_FIN1 = 2;
const ST_RST = 4;
const ST_SYNACK = 8;
const ST_ACKED = 16;
const ST_HAS_SEQ0 = 32;
const ST_HAS_SEQ1 = 64;
const ST_HAS_ACK0 = 128;
const ST_HAS_ACK1 = 256;
const ST_HAS_SYN = 512;
const ST_HAS_REQ = 1024;
const ST_HAS_RSP = 2048;
const ST_HAS_WIN0 = 4096;
const ST_HAS_WIN1 = 8192;
const ST_GREKEY = 16384;

/** `a < b` in 32-bit sequence space. */
function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

interface FragEntry {
  flow: number;
  gen: number;
  dir: number;
  t: number;
  // counts of fragments that arrived before their first fragment
  pk: number;
  ip: number;
  wire: number;
  pay: number;
}

/**
 * Bidirectional flow table with TCP performance metering. Each flow's state is one fixed-stride
 * block of words and one of doubles in typed arrays, so updating a flow touches a few cache lines
 * and allocates nothing; an open-addressing index maps key hashes to slots. Records (and their
 * strings) are built only when a flow is emitted.
 */
export class FlowTable implements FlowLookup, FlowIds {
  readonly stats: FlowTableStats = {
    packets: 0,
    flowsCreated: 0,
    flowsEmitted: 0,
    active: 0,
    fragmentsAttributed: 0,
    fragmentsOrphaned: 0,
    fragmentTrainsEvicted: 0,
  };
  /** Seconds of the first packet: times inside are nanoseconds relative to it (exact in a double). */
  /**
   * Not yet set while negative; -0.5, not -1, so that the field is a double from the start: a
   * small integer gave `rel`'s arithmetic integer feedback in the capture's first second, and
   * the optimized code deoptimized (int32 overflow) once packet times passed 2^31 ns.
   */
  private baseSec = -0.5;
  private idGen = 0;
  private readonly idPrefix = Math.floor(Math.random() * 0x3fffff) * 2 ** 31;

  private cap = 0;
  private idxMask = 0;
  private index: Int32Array = new Int32Array(0); // pairs [slot + 1 (0 = empty), hash]
  private freeTop = 0;
  private free: Int32Array = new Int32Array(0);
  private nextFresh = 0;

  // Flow state, one fixed-stride block per slot so a packet touches few cache lines:
  // words (U, and I as a signed view of the same memory) and doubles (F).
  private U: Uint32Array = new Uint32Array(0);
  private I: Int32Array = new Int32Array(0);
  private B: Uint8Array = new Uint8Array(0);
  private F: Float64Array = new Float64Array(0);
  /**
   * Per slot, a time at or before which the flow cannot expire (last packet + its timeout, less
   * 1 ns): dense, so the once-a-second sweep reads 8 bytes per slot instead of two cache lines of
   * flow state, and looks at a flow's state only when it may be due.
   */
  private due: Float64Array = new Float64Array(0);
  private outer: Uint8Array = new Uint8Array(0); // 32 bytes: outer src + dst (v4 in first 4 of each)

  private readonly scratch = new Uint32Array(KW);
  private readonly fragMap = new Map<string, FragEntry>();
  /**
   * -0, not 0: a double from the start. A small integer here made the field's first map hold a
   * Smi, and the first sweep time past 2^31 ns moved the table to another map, deoptimizing
   * every optimized method that had checked the old one (update, find, account, generation...).
   */
  private nextSweep = -0;
  /** Time of the packet being accounted; a field, not an argument, so it is never boxed. */
  private now = 0.5;
  private readonly activeNs: number;
  private readonly idleNs: number;
  private readonly tcpIdleNs: number;
  private readonly endNs: number;

  constructor(
    private readonly cfg: FlowConfig,
    private readonly onFlow: (rec: FlowRecord) => void,
    initialCapacity = 1 << 16,
  ) {
    this.activeNs = cfg.activeTimeout * NS;
    this.idleNs = cfg.idleTimeout * NS;
    this.tcpIdleNs = cfg.tcpIdleTimeout * NS;
    this.endNs = cfg.tcpEndTimeout * NS;
    this.grow(initialCapacity);
  }

  get activeFlows(): number {
    return this.stats.active;
  }

  /** Relative time (ns since the first packet's second) of a packet. */
  private rel(p: Packet): number {
    if (this.baseSec < 0) this.baseSec = p.tsSec;
    return (p.tsSec - this.baseSec) * NS + p.tsNs;
  }

  /**
   * Account one decoded IP packet. Returns the flow slot and sets `lastDir` (0 client → server),
   * or -1 when the packet cannot be keyed.
   */
  lastDir = 0;
  update(p: Packet): number {
    if (p.ipVer === 0) return -1;
    const t = this.rel(p);
    this.now = t;
    this.stats.packets++;
    if (t >= this.nextSweep) this.sweep(t);
    if (p.fragOffset > 0) return this.laterFragment(p);
    const k = this.scratch;
    const buf = p.buf;
    const proto = p.proto;
    // Ports: ICMP queries key on their identifier, other ICMP on type/code.
    let sp = p.srcPort;
    let dp = p.dstPort;
    if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      if (p.icmpType < 0) {
        sp = 0;
        dp = 0;
      } else if (isIcmpQuery(proto, p.icmpType)) {
        sp = p.icmpId;
        dp = p.icmpId;
      } else {
        sp = (p.icmpType << 8) | p.icmpCode;
        dp = sp;
      }
    }
    // Canonical order: endpoint A is the smaller (address, port).
    let swap = false;
    let h: number;
    if (p.ipVer === 4) {
      const s = be32(buf, p.srcOff);
      const d = be32(buf, p.dstOff);
      swap = s > d || (s === d && sp > dp);
      k[4] = swap ? d : s;
      k[8] = swap ? s : d;
      k[5] = k[6] = k[7] = k[9] = k[10] = k[11] = 0;
    } else {
      const so = p.srcOff;
      const dO = p.dstOff;
      let c = 0;
      for (let i = 0; i < 16 && c === 0; i += 4) {
        const a = be32(buf, so + i);
        const b = be32(buf, dO + i);
        c = a < b ? -1 : a > b ? 1 : 0;
      }
      swap = c > 0 || (c === 0 && sp > dp);
      const ao = swap ? dO : so;
      const bo = swap ? so : dO;
      k[4] = be32(buf, ao);
      k[5] = be32(buf, ao + 4);
      k[6] = be32(buf, ao + 8);
      k[7] = be32(buf, ao + 12);
      k[8] = be32(buf, bo);
      k[9] = be32(buf, bo + 4);
      k[10] = be32(buf, bo + 8);
      k[11] = be32(buf, bo + 12);
    }
    k[0] = p.ipVer | (proto << 4);
    k[1] = swap ? ((dp << 16) | sp) >>> 0 : ((sp << 16) | dp) >>> 0;
    k[2] = this.cfg.keyVlan ? (p.vlan0 << 12) | p.vlan1 : 0;
    k[3] = this.cfg.keyTunnel ? tunnelContext(p) : 0;
    if (p.ipVer === 4) h = hashKey4(k);
    else h = hashKey(k);
    let slot = this.find(k, h);
    const dirA = swap ? 1 : 0; // 0: packet sent by endpoint A
    if (slot >= 0 && proto === PROTO_TCP) {
      // A new SYN on a finished connection is a new connection on reused ports.
      const st = this.U[slot * SU + U_ST]!;
      if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN && st & (ST_RST | ST_FIN0 | ST_FIN1)) {
        this.emit(slot, END_REUSE);
        this.remove(slot);
        slot = -1;
      }
    }
    if (slot < 0) slot = this.create(k, h, p, dirA);
    const clientIsA = (this.U[slot * SU + U_META]! >>> 12) & 1;
    const dir = dirA === 0 ? (clientIsA ? 0 : 1) : clientIsA ? 1 : 0;
    this.account(slot, dir, p);
    if (p.moreFrags) this.firstFragment(p, slot, dir);
    this.lastDir = dir;
    return slot;
  }

  private find(k: Uint32Array, h: number): number {
    const idx = this.index;
    const mask = this.idxMask;
    const U = this.U;
    for (let i = (h & mask) << 1; ; i = (i + 2) & ((mask << 1) | 1)) {
      const e = idx[i]!;
      if (e === 0) return -1;
      if (idx[i + 1] !== (h | 0)) continue;
      const o = (e - 1) * SU;
      if (
        U[o] === k[0] &&
        U[o + 1] === k[1] &&
        U[o + 4] === k[4] &&
        U[o + 8] === k[8] &&
        U[o + 2] === k[2] &&
        U[o + 3] === k[3] &&
        U[o + 5] === k[5] &&
        U[o + 6] === k[6] &&
        U[o + 7] === k[7] &&
        U[o + 9] === k[9] &&
        U[o + 10] === k[10] &&
        U[o + 11] === k[11]
      ) {
        return e - 1;
      }
    }
  }

  private create(k: Uint32Array, h: number, p: Packet, dirA: number): number {
    const t = this.now;
    if (this.stats.active * 2 >= this.cap) this.grow(this.cap * 2);
    const s = this.freeTop > 0 ? this.free[--this.freeTop]! : this.nextFresh++;
    const U = this.U;
    const I = this.I;
    const F = this.F;
    const u = s * SU;
    const f = s * SF;
    const gen = (U[u + U_GEN]! + 1) >>> 0;
    U.fill(0, u, u + SU); // the doubles too: one block
    U.set(k, u);
    U[u + U_HASH] = h;
    U[u + U_GEN] = gen;
    // Client: the SYN sender; a SYN/ACK's receiver; otherwise the first packet's sender.
    let clientIsA = dirA === 0 ? 1 : 0;
    if (p.proto === PROTO_TCP && (p.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) clientIsA ^= 1;
    U[u + U_META] = p.ipVer | (p.proto << 4) | (clientIsA << 12) | (p.outerIpVer << 16);
    F[f + F_FIRST] = t;
    F[f + F_LAST] = t;
    F[f + F_IV] = t;
    F[f + F_ID] = this.idPrefix + (this.idGen++ % 2 ** 31);
    // No packet yet in either direction. Not -1: relative times are negative when a later
    // input holds older packets (several capture files in one run).
    F[f + F_LASTT] = Number.NaN;
    F[f + F_LASTT + 1] = Number.NaN;
    F[f + F_SYN] = -1;
    F[f + F_SYNACK] = -1;
    U[u + U_VLANS] = (p.vlan0 << 12) | p.vlan1 | ((p.vlanCount > 2 ? 2 : p.vlanCount) << 24);
    U[u + U_TUNNEL] = p.tunnelType | (p.tunnelDepth << 4);
    I[u + U_VNI] = p.vni;
    I[u + U_ERSPAN] = p.erspanSession;
    if (p.greKey >= 0) {
      U[u + U_GREKEY] = p.greKey;
      U[u + U_ST] = ST_GREKEY;
    }
    if (p.outerIpVer !== 0) {
      const n = p.outerIpVer === 4 ? 4 : 16;
      this.outer.set(p.buf.subarray(p.outerSrcOff, p.outerSrcOff + n), s * 32);
      this.outer.set(p.buf.subarray(p.outerDstOff, p.outerDstOff + n), s * 32 + 16);
    }
    const client = (dirA === 0) === (clientIsA === 1);
    I[u + U_ICMP] = p.icmpType >= 0 ? (p.icmpType << 8) | p.icmpCode : -1;
    U[u + U_PORTS] = client ? p.srcPort | (p.dstPort << 16) : p.dstPort | (p.srcPort << 16);
    // index insert
    const idx = this.index;
    const mask = this.idxMask;
    let i = (h & mask) << 1;
    while (idx[i] !== 0) i = (i + 2) & ((mask << 1) | 1);
    idx[i] = s + 1;
    idx[i + 1] = h | 0;
    this.setList(s, LIST_ACTIVE);
    this.setDue(s);
    this.stats.active++;
    this.stats.flowsCreated++;
    return s;
  }

  private account(s: number, dir: number, p: Packet): void {
    const t = this.now;
    const F = this.F;
    const fd = s * SF + dir;
    const pk = ++F[fd + F_PK]!;
    F[fd + F_IPB]! += p.ipLen;
    F[fd + F_WIRE]! += p.wirelen;
    F[fd + F_PAY]! += p.payloadLen;
    if (pk === 1 && p.srcMacOff >= 0) {
      const mo = p.srcMacOff;
      const o = (s * SU + U_MAC) * 4 + dir * 6;
      const b = p.buf;
      const m = this.B;
      m[o] = b[mo]!;
      m[o + 1] = b[mo + 1]!;
      m[o + 2] = b[mo + 2]!;
      m[o + 3] = b[mo + 3]!;
      m[o + 4] = b[mo + 4]!;
      m[o + 5] = b[mo + 5]!;
    }
    const lt = F[fd + F_LASTT]!;
    if (!Number.isNaN(lt)) {
      // Welford's running mean and variance of inter-packet delay.
      const x = t - lt;
      const n = ++F[fd + F_IPDN]!;
      const mean = F[fd + F_IPDMEAN]!;
      const delta = x - mean;
      const mean2 = mean + delta / n;
      F[fd + F_IPDMEAN] = mean2;
      F[fd + F_IPDM2]! += delta * (x - mean2);
    }
    F[fd + F_LASTT] = t;
    const f = s * SF;
    if (t > F[f + F_LAST]!) F[f + F_LAST] = t;
    if (p.proto === PROTO_TCP && p.l4Off >= 0) this.tcp(s, dir, p);
    if (t - F[f + F_IV]! >= this.activeNs) {
      this.emit(s, END_ACTIVE);
      this.startInterval(s, t);
    }
  }

  /**
   * `due[s]` is a bound at or before which the flow cannot expire. It is set when the flow starts
   * and when its timeout shortens (TCP end), not on every packet: the last-packet time only moves
   * forward, so an old bound stays a bound, and the sweep renews it when it finds the flow alive.
   * A packet thereby writes no cache line outside its flow's block.
   */
  private setDue(s: number): void {
    const meta = this.U[s * SU + U_META]!;
    const list = (meta >>> 13) & 3;
    const timeout =
      list === LIST_ENDED ? this.endNs : ((meta >>> 4) & 0xff) === PROTO_TCP ? this.tcpIdleNs : this.idleNs;
    this.due[s] = list === LIST_NONE ? Number.POSITIVE_INFINITY : this.F[s * SF + F_LAST]! + timeout - 1;
  }

  /** TCP state and performance: handshake RTT, SRT, retransmission analysis (as Wireshark). */
  private tcp(s: number, dir: number, p: Packet): void {
    const t = this.now;
    const U = this.U;
    const F = this.F;
    const u = s * SU;
    const f = s * SF;
    const ud = u + dir; // this direction's words
    const ur = u + (dir ^ 1); // the other direction's words
    const fd = f + dir;
    const fr = f + (dir ^ 1);
    const fl = p.tcpFlags;
    U[u + U_FLAGS] = U[u + U_FLAGS]! | (fl << (dir << 3));
    let st = U[u + U_ST]!;
    const seq = p.seq;
    const seglen = p.payloadLen;
    const hasSeqD = dir === 0 ? ST_HAS_SEQ0 : ST_HAS_SEQ1;
    const hasAckD = dir === 0 ? ST_HAS_ACK0 : ST_HAS_ACK1;
    const hasAckR = dir === 0 ? ST_HAS_ACK1 : ST_HAS_ACK0;
    const hasWinD = dir === 0 ? ST_HAS_WIN0 : ST_HAS_WIN1;
    const hasWinR = dir === 0 ? ST_HAS_WIN1 : ST_HAS_WIN0;

    // Handshake timing, as Wireshark's initial RTT: from the client's most recent SYN to the first
    // packet that acknowledges without SYN. Server side: SYN to SYN/ACK (or to the server's RST/ACK
    // refusing it); client side: SYN/ACK to the client's ACK. When the SYN/ACK was not captured
    // (a sensor at the client seeing one direction only) the whole handshake is server side.
    if (!(st & ST_ACKED)) {
      if (fl & TCP_SYN) {
        if (fl & TCP_ACK) {
          if (dir === 1 && !(st & ST_SYNACK)) {
            F[f + F_SYNACK] = t;
            st |= ST_SYNACK;
          }
        } else if (dir === 0) {
          F[f + F_SYN] = t;
          st |= ST_HAS_SYN;
        }
      } else if (fl & TCP_ACK && st & ST_HAS_SYN) {
        const syn = F[f + F_SYN]!;
        const synAck = F[f + F_SYNACK]!;
        if (dir === 0 && st & ST_SYNACK && synAck >= syn) {
          F[f + F_RTTS] = synAck - syn;
          F[f + F_RTTC] = t - synAck;
        } else {
          F[f + F_RTTS] = t - syn;
          F[f + F_RTTC] = 0;
        }
        st |= ST_ACKED;
      }
    }
    if (fl & TCP_RST) {
      U[u + U_RESETS]!++;
      st |= ST_RST;
    }
    if (fl & TCP_FIN) st |= dir === 0 ? ST_FIN0 : ST_FIN1;
    // Server response time: first request payload to the first response payload after it.
    if (seglen > 0) {
      if (dir === 0) {
        if (!(st & ST_HAS_REQ)) {
          F[f + F_REQ] = t;
          st |= ST_HAS_REQ;
        }
      } else if (st & ST_HAS_REQ && !(st & ST_HAS_RSP)) {
        F[f + F_RSP] = t;
        st |= ST_HAS_RSP;
      }
    }

    const nextSeqD = U[ud + U_NEXTSEQ]!;
    const haveNext = (st & hasSeqD) !== 0 && nextSeqD !== 0;
    let dupAck = false;
    let zwp = false;
    let keepAlive = false;
    // zero window
    if (p.window === 0 && !(fl & (TCP_SYN | TCP_FIN | TCP_RST))) U[ud + U_ZWIN]!++;
    // zero-window probe: one byte at the next sequence number into a closed window
    if (seglen === 1 && haveNext && seq === nextSeqD && st & hasWinR && U[ur + U_WIN] === 0) zwp = true;
    if (!zwp) {
      if (seglen <= 1 && haveNext && seq === (nextSeqD - 1) >>> 0 && !(fl & (TCP_SYN | TCP_FIN | TCP_RST))) {
        keepAlive = true;
      }
      if (
        seglen === 0 &&
        p.window !== 0 &&
        st & hasWinD &&
        p.window === U[ud + U_WIN] &&
        haveNext &&
        seq === nextSeqD &&
        st & hasAckD &&
        p.ack === U[ud + U_LASTACK] &&
        !(fl & (TCP_SYN | TCP_FIN | TCP_RST))
      ) {
        dupAck = true;
        U[ud + U_DUPACK]!++;
      }
      if ((seglen > 0 || fl & (TCP_SYN | TCP_FIN)) && !keepAlive) {
        const notAdvanced = haveNext && seqLt(seq, nextSeqD);
        let classified = false;
        if (
          notAdvanced &&
          U[ur + U_DUPACK]! >= 2 &&
          U[ur + U_LASTACK] === seq &&
          t - F[fr + F_LACKT]! < 20e6
        ) {
          U[ud + U_RETRANS]!++; // fast retransmission
          classified = true;
        }
        if (!classified && notAdvanced) {
          const rtt = st & ST_ACKED ? F[f + F_RTTS]! + F[f + F_RTTC]! : 0;
          const thres = rtt > 0 ? rtt : 3e6;
          const segEnd = (seq + seglen + (fl & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
          if (t - F[fd + F_NSEQT]! < thres && nextSeqD !== segEnd) {
            U[ud + U_OOO]!++;
            classified = true;
          }
        }
        if (!classified && seglen > 0 && st & hasAckR && U[ur + U_LASTACK] !== 0) {
          if (!seqLt(U[ur + U_LASTACK]!, (seq + seglen) >>> 0)) {
            U[ud + U_RETRANS]!++; // spurious retransmission: data already acknowledged
            classified = true;
          }
        }
        if (!classified && notAdvanced) U[ud + U_RETRANS]!++;
      }
      let nxt = (seq + seglen) >>> 0;
      if (fl & (TCP_SYN | TCP_FIN)) nxt = (nxt + 1) >>> 0;
      if (!haveNext || seqLt(nextSeqD, nxt)) {
        U[ud + U_NEXTSEQ] = nxt;
        F[fd + F_NSEQT] = t;
        st |= hasSeqD;
      }
    }
    if (!dupAck) U[ud + U_DUPACK] = 0;
    if (fl & TCP_ACK) {
      U[ud + U_LASTACK] = p.ack;
      F[fd + F_LACKT] = t;
      st |= hasAckD;
    }
    U[ud + U_WIN] = p.window;
    st |= hasWinD;
    U[u + U_ST] = st;
    if (st & ST_RST || (st & ST_FIN0 && st & ST_FIN1)) {
      this.setList(s, LIST_ENDED);
      this.setDue(s); // the shorter end timeout: `due` must stay at or before the real moment
    }
  }

  private startInterval(s: number, t: number): void {
    const F = this.F;
    const U = this.U;
    const f = s * SF;
    const u = s * SU;
    F[f + F_IV] = t;
    for (let dir = 0; dir < 2; dir++) {
      F[f + F_PK + dir] = 0;
      F[f + F_IPB + dir] = 0;
      F[f + F_WIRE + dir] = 0;
      F[f + F_PAY + dir] = 0;
      F[f + F_IPDN + dir] = 0;
      F[f + F_IPDMEAN + dir] = 0;
      F[f + F_IPDM2 + dir] = 0;
      U[u + U_RETRANS + dir] = 0;
      U[u + U_OOO + dir] = 0;
      U[u + U_ZWIN + dir] = 0;
    }
    U[u + U_RESETS] = 0;
    U[u + U_FRAGS] = 0;
  }

  // ---- IP fragments: later fragments carry no ports; they follow their first fragment ----

  /** Make room for one more train: the Map keeps insertion order, so the first is the oldest. */
  private fragRoom(): void {
    if (this.fragMap.size < MAX_FRAGMENT_TRAINS) return;
    for (const [k, e] of this.fragMap) {
      if (e.flow < 0) this.stats.fragmentsOrphaned += e.pk;
      this.stats.fragmentTrainsEvicted++;
      this.fragMap.delete(k);
      return;
    }
  }

  private fragKey(p: Packet): string {
    const b = p.buf;
    const n = p.ipVer === 4 ? 4 : 16;
    return `${p.ipVer}|${p.proto}|${p.ipId}|${b.toString('hex', p.srcOff, p.srcOff + n)}|${b.toString('hex', p.dstOff, p.dstOff + n)}|${p.vlan0}|${p.vni}`;
  }

  private addCounts(s: number, dir: number, pk: number, ip: number, wire: number, pay: number): void {
    const fd = s * SF + dir;
    const F = this.F;
    F[fd + F_PK]! += pk;
    F[fd + F_IPB]! += ip;
    F[fd + F_WIRE]! += wire;
    F[fd + F_PAY]! += pay;
    this.U[s * SU + U_FRAGS]! += pk;
  }

  private firstFragment(p: Packet, s: number, dir: number): void {
    const t = this.now;
    const key = this.fragKey(p);
    const e = this.fragMap.get(key);
    this.U[s * SU + U_FRAGS]!++;
    if (e && e.flow < 0) {
      // later fragments that came first are credited now
      this.addCounts(s, dir, e.pk, e.ip, e.wire, e.pay);
      this.stats.fragmentsAttributed += e.pk;
    }
    if (!e) this.fragRoom();
    this.fragMap.set(key, { flow: s, gen: this.U[s * SU + U_GEN]!, dir, t, pk: 0, ip: 0, wire: 0, pay: 0 });
  }

  private laterFragment(p: Packet): number {
    const t = this.now;
    const key = this.fragKey(p);
    let e = this.fragMap.get(key);
    if (e && e.flow >= 0) {
      const u = e.flow * SU;
      if (this.U[u + U_GEN] === e.gen && ((this.U[u + U_META]! >>> 13) & 3) !== LIST_NONE) {
        const s = e.flow;
        this.addCounts(s, e.dir, 1, p.ipLen, p.wirelen, p.payloadLen);
        if (t > this.F[s * SF + F_LAST]!) this.F[s * SF + F_LAST] = t;
        this.setDue(s);
        e.t = t;
        this.stats.fragmentsAttributed++;
        this.lastDir = e.dir;
        return s;
      }
    }
    if (!e) {
      this.fragRoom();
      e = { flow: -1, gen: 0, dir: 0, t, pk: 0, ip: 0, wire: 0, pay: 0 };
      this.fragMap.set(key, e);
    }
    e.pk++;
    e.ip += p.ipLen;
    e.wire += p.wirelen;
    e.pay += p.payloadLen;
    e.t = t;
    return -1;
  }

  // ---- expiry ----

  /**
   * Expire flows: a sequential scan of the table once per second of packet time. Scanning is
   * cheap and cache-friendly; keeping flows in time order instead would cost cache misses on
   * every packet.
   */
  private sweep(t: number): void {
    this.nextSweep = t + NS;
    const idle = this.cfg.idleTimeout * NS;
    const tcpIdle = this.cfg.tcpIdleTimeout * NS;
    const endT = this.cfg.tcpEndTimeout * NS;
    const U = this.U;
    const F = this.F;
    const n = this.nextFresh;
    const due = this.due;
    for (let s = 0; s < n; s++) {
      if (due[s]! > t) continue;
      const meta = U[s * SU + U_META]!;
      const list = (meta >>> 13) & 3;
      if (list === LIST_NONE) continue;
      const age = t - F[s * SF + F_LAST]!;
      if (list === LIST_ENDED) {
        if (age >= endT) {
          this.emit(s, U[s * SU + U_ST]! & ST_RST ? END_RST : END_FIN);
          this.remove(s);
        }
      } else if (age >= (((meta >>> 4) & 0xff) === PROTO_TCP ? tcpIdle : idle)) {
        this.emit(s, END_IDLE);
        this.remove(s);
        continue;
      }
      if (((U[s * SU + U_META]! >>> 13) & 3) !== LIST_NONE) this.setDue(s);
    }
    if (this.fragMap.size > 0) {
      for (const [k, e] of this.fragMap) {
        if (t - e.t > 30 * NS) {
          if (e.flow < 0) this.stats.fragmentsOrphaned += e.pk;
          this.fragMap.delete(k);
        }
      }
    }
  }

  /** Emit every flow still in the table (end of a capture file, or shutdown). */
  flush(): void {
    const U = this.U;
    for (let s = 0; s < this.nextFresh; s++) {
      const list = (U[s * SU + U_META]! >>> 13) & 3;
      if (list === LIST_NONE) continue;
      const st = U[s * SU + U_ST]!;
      this.emit(s, list === LIST_ENDED ? (st & ST_RST ? END_RST : END_FIN) : END_EOF);
      this.remove(s);
    }
    for (const e of this.fragMap.values()) if (e.flow < 0) this.stats.fragmentsOrphaned += e.pk;
    this.fragMap.clear();
  }

  /** Advance the clock without a packet (live sources call this on a timer). */
  tick(tsSec: number, tsNs: number): void {
    if (this.baseSec < 0) return;
    const t = (tsSec - this.baseSec) * NS + tsNs;
    if (t >= this.nextSweep) this.sweep(t);
  }

  private remove(s: number): void {
    const U = this.U;
    const u = s * SU;
    U[u + U_META] = U[u + U_META]! & ~(3 << 13);
    this.due[s] = Number.POSITIVE_INFINITY;
    if (this.cidGen[s] !== 0) {
      // An ended flow's Community ID is not kept until its slot is reused.
      this.cidGen[s] = 0;
      this.cidStr[s] = '';
    }
    // backward-shift deletion from the open-addressing index (entries are [slot + 1, hash])
    const mask = this.idxMask;
    const idx = this.index;
    let i = U[u + U_HASH]! & mask;
    while (idx[i << 1] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      idx[i << 1] = 0;
      for (;;) {
        j = (j + 1) & mask;
        const e = idx[j << 1]!;
        if (e === 0) {
          this.free[this.freeTop++] = s;
          this.stats.active--;
          return;
        }
        const home = idx[(j << 1) + 1]! & mask;
        // move e back to i if its home is not cyclically in (i, j]
        if (i <= j ? home <= i || home > j : home <= i && home > j) break;
      }
      idx[i << 1] = idx[j << 1]!;
      idx[(i << 1) + 1] = idx[(j << 1) + 1]!;
      i = j;
    }
  }

  private setList(s: number, list: number): void {
    const u = s * SU + U_META;
    this.U[u] = (this.U[u]! & ~(3 << 13)) | (list << 13);
  }

  private grow(cap: number): void {
    this.cap = cap;
    const block = new ArrayBuffer(SLOT_ALIGN + cap * SLOT_BYTES);
    const U = new Uint32Array(block, SLOT_ALIGN, cap * SU);
    U.set(this.U); // words and doubles: the same memory
    this.U = U;
    this.I = new Int32Array(block, SLOT_ALIGN, cap * SU);
    this.B = new Uint8Array(block, SLOT_ALIGN, cap * SLOT_BYTES);
    this.F = new Float64Array(block, SLOT_ALIGN, cap * SF);
    const due = new Float64Array(cap).fill(Number.POSITIVE_INFINITY);
    due.set(this.due);
    this.due = due;
    const cidGen = new Float64Array(cap);
    cidGen.set(this.cidGen);
    this.cidGen = cidGen;
    const outer = new Uint8Array(cap * 32);
    outer.set(this.outer);
    this.outer = outer;
    const free = new Int32Array(cap);
    free.set(this.free);
    this.free = free;
    // index: one entry per flow slot (at most half of them live, so a probe ends within a few
    // entries), [slot + 1, hash], rebuilt from live slots. Twice that left the live entries spread
    // over 1 MiB, the size of the core's L2 cache, for no shorter probes worth the misses.
    const isize = cap;
    const idx = new Int32Array(isize * 2);
    const mask = isize - 1;
    for (let s = 0; s < this.nextFresh; s++) {
      const u = s * SU;
      if (((U[u + U_META]! >>> 13) & 3) === LIST_NONE) continue;
      const h = U[u + U_HASH]!;
      let i = h & mask;
      while (idx[i << 1] !== 0) i = (i + 1) & mask;
      idx[i << 1] = s + 1;
      idx[(i << 1) + 1] = h | 0;
    }
    this.index = idx;
    this.idxMask = mask;
  }

  // ---- records ----

  private tsString(t: number): string {
    const sec = this.baseSec + Math.floor(t / NS);
    const ns = t - Math.floor(t / NS) * NS;
    return isoNs(sec, ns);
  }

  /** Generation of a slot: changes each time the slot is reused for a new flow. */
  generation(slot: number): number {
    return this.U[slot * SU + U_GEN]!;
  }

  private addrString(s: number, side: number): string {
    const U = this.U;
    const o = s * SU + 4 + side * 4;
    if ((U[s * SU + U_META]! & 15) !== 4) return this.v6String(U[o]!, U[o + 1]!, U[o + 2]!, U[o + 3]!);
    // One string per IPv4 host (direct-mapped, bounded): L7 records of a host's flows share it.
    const v = U[o]!;
    const at = Math.imul(v, 0x9e3779b1) >>> 20;
    if (this.v4Key[at] === v && this.v4Str[at] !== undefined) return this.v4Str[at]!;
    const t = ipv4ToString(v);
    this.v4Key[at] = v;
    this.v4Str[at] = t;
    return t;
  }
  private readonly v4Key = new Uint32Array(4096);
  private readonly v4Str: (string | undefined)[] = new Array<string | undefined>(4096).fill(undefined);

  /**
   * One string per IPv6 host likewise: the RFC 5952 form was a string per L7 flow context and
   * the largest share of the contexts' garbage on a capture with IPv6 clients.
   */
  private v6String(w0: number, w1: number, w2: number, w3: number): string {
    const at = Math.imul(Math.imul(w0 ^ w3, 0x9e3779b1) ^ w1 ^ Math.imul(w2, 0x85ebca6b), 0x9e3779b1) >>> 22;
    const k = this.v6Key;
    const i = at << 2;
    const t = this.v6Str[at];
    if (
      t !== undefined &&
      k[i] === w0 >>> 0 &&
      k[i + 1] === w1 >>> 0 &&
      k[i + 2] === w2 >>> 0 &&
      k[i + 3] === w3 >>> 0
    )
      return t;
    const v = ipv6WordsToString(w0, w1, w2, w3);
    k[i] = w0;
    k[i + 1] = w1;
    k[i + 2] = w2;
    k[i + 3] = w3;
    this.v6Str[at] = v;
    return v;
  }
  private readonly v6Key = new Uint32Array(1024 * 4);
  private readonly v6Str: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);

  /**
   * The identity of a flow for records derived from it (L7 records). Built on first use and
   * cached until the slot is reused, so analyzers pay for strings only when they emit.
   */
  context(slot: number): FlowContext {
    const u = slot * SU;
    const U = this.U;
    const gen = U[u + U_GEN]!;
    const cached = this.ctxCache[slot];
    if (cached !== undefined && cached.gen === gen) return cached;
    const meta = U[u + U_META]!;
    const cSide = (meta >>> 12) & 1 ? 0 : 1;
    const ports = U[u + U_PORTS]!;
    const vl = U[u + U_VLANS]!;
    const vni = this.I[u + U_VNI]!;
    const ctx: FlowContext = {
      gen,
      flow_id: this.F[slot * SF + F_ID]!,
      community_id: this.communityId(slot),
      proto: (meta >>> 4) & 0xff,
      client_ip: this.addrString(slot, cSide),
      client_port: ports & 0xffff,
      server_ip: this.addrString(slot, cSide ^ 1),
      server_port: ports >>> 16,
      vlan: vl >>> 24 >= 1 ? (vl >>> 12) & 0xfff : null,
      vni: vni >= 0 ? vni : null,
    };
    this.ctxCache[slot] = ctx;
    return ctx;
  }

  /** Id of the flow in a slot (the packet store's index reads it per flow, no context needed). */
  flowId(slot: number): number {
    return this.F[slot * SF + F_ID]!;
  }

  /**
   * Community ID of the flow in a slot, made once per flow and kept until the slot is reused:
   * the packet store's index, the L7 context and the flow record share it, and none of them
   * needs the address strings a `context` builds.
   */
  communityId(slot: number): string {
    const gen = this.U[slot * SU + U_GEN]!;
    if (this.cidGen[slot] === gen + 1) return this.cidStr[slot]!;
    const cid = this.computeCommunityId(slot);
    this.cidStr[slot] = cid;
    this.cidGen[slot] = gen + 1;
    return cid;
  }

  private readonly cidStr: string[] = [];
  /** Per slot, generation + 1 of the flow whose Community ID `cidStr` holds (0: none). */
  private cidGen: Float64Array = new Float64Array(0);

  /** The Community ID for a record: made here unless a reader asked for it before (not kept). */
  private communityIdOf(s: number): string {
    if (this.cidGen[s] === this.U[s * SU + U_GEN]! + 1) return this.cidStr[s]!;
    return this.computeCommunityId(s);
  }

  private computeCommunityId(s: number): string {
    const U = this.U;
    const u = s * SU;
    const meta = U[u + U_META]!;
    const ver = meta & 15;
    const proto = (meta >>> 4) & 0xff;
    const cSide = (meta >>> 12) & 1 ? 0 : 1;
    const isIcmp = proto === PROTO_ICMP || proto === PROTO_ICMPV6;
    const icmp = this.I[u + U_ICMP]!;
    const ports = U[u + U_PORTS]!;
    const cPort = isIcmp ? (icmp >= 0 ? icmp >>> 8 : 0) : ports & 0xffff;
    const sPort = isIcmp ? (icmp >= 0 ? icmp & 0xff : 0) : ports >>> 16;
    return communityIdWords(
      proto,
      U,
      u + 4 + cSide * 4,
      u + 4 + (cSide ^ 1) * 4,
      ver === 4 ? 1 : 4,
      cPort,
      sPort,
    );
  }

  private readonly ctxCache: (FlowContext | undefined)[] = [];

  /** Slot of the flow whose record is being emitted (valid during the onFlow callback). */
  emittingSlot = -1;

  private cols: FlowColumnBuilder | null = null;
  private onFlowColumns: ((patch: FlowEndPatch) => void) | null = null;
  private readonly patch: FlowEndPatch = {
    type: 'flow',
    app: null,
    interim: false,
    flow_id: 0,
    proto: 0,
    client_ip: '',
    client_port: 0,
    server_ip: '',
    server_port: 0,
  };

  /**
   * Write records as rows of `cols` instead of objects. `onEnd` is called with the open row
   * and a patch of it (the flow-end hooks' view); it sets the row's `app` and commits it.
   */
  writeColumns(cols: FlowColumnBuilder, onEnd: (patch: FlowEndPatch) => void): void {
    this.cols = cols;
    this.onFlowColumns = onEnd;
  }

  /** µs since the epoch of a relative time, as a ms number (exact to the µs the store keeps). */
  private tsMs(t: number): number {
    return (this.baseSec * 1e6 + Math.floor(t / 1e3)) / 1e3;
  }

  /** Build the record of a slot (only here are strings made). */
  /** The slot's key, as both emit forms (record and columns) begin with it; one reused object. */
  private readonly head = {
    ver: 0,
    proto: 0,
    cSide: 0,
    ov: 0,
    cPort: 0,
    sPort: 0,
    icmpType: -1,
    icmpCode: -1,
  };
  private slotHead(s: number): FlowTable['head'] {
    const u = s * SU;
    const meta = this.U[u + U_META]!;
    const ports = this.U[u + U_PORTS]!;
    const icmp = this.I[u + U_ICMP]!;
    const h = this.head;
    h.ver = meta & 15;
    h.proto = (meta >>> 4) & 0xff;
    h.cSide = (meta >>> 12) & 1 ? 0 : 1;
    h.ov = (meta >>> 16) & 15;
    const isIcmp = h.proto === PROTO_ICMP || h.proto === PROTO_ICMPV6;
    h.icmpType = isIcmp && icmp >= 0 ? icmp >>> 8 : -1;
    h.icmpCode = isIcmp && icmp >= 0 ? icmp & 0xff : -1;
    h.cPort = isIcmp ? (icmp >= 0 ? icmp >>> 8 : 0) : ports & 0xffff;
    h.sPort = isIcmp ? (icmp >= 0 ? icmp & 0xff : 0) : ports >>> 16;
    return h;
  }

  private emit(s: number, reason: number): void {
    this.emittingSlot = s;
    if (this.cols !== null) {
      this.emitColumns(s, reason, this.cols);
      return;
    }
    const U = this.U;
    const I = this.I;
    const F = this.F;
    const u = s * SU;
    const f = s * SF;
    const { proto, cSide, ov, cPort, sPort, icmpType, icmpCode } = this.slotHead(s);
    const st = U[u + U_ST]!;
    const handshake = (st & ST_ACKED) !== 0;
    const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
    const sd = (dir: number): number | null => {
      const n = F[f + F_IPDN + dir]!;
      return n > 0 ? ms(n > 1 ? Math.sqrt(F[f + F_IPDM2 + dir]! / (n - 1)) : 0) : null;
    };
    const mean = (dir: number): number | null =>
      F[f + F_IPDN + dir]! > 0 ? ms(F[f + F_IPDMEAN + dir]!) : null;
    const vl = U[u + U_VLANS]!;
    const tun = U[u + U_TUNNEL]!;
    const outerStr = (side: number): string | null => {
      if (ov === 0) return null;
      const b = this.outer;
      const off = s * 32 + side * 16;
      if (ov === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
      const w = (x: number): number =>
        ((b[off + x]! << 24) | (b[off + x + 1]! << 16) | (b[off + x + 2]! << 8) | b[off + x + 3]!) >>> 0;
      return ipv6WordsToString(w(0), w(4), w(8), w(12));
    };
    const m = this.B;
    const macOf = (dir: number): string | null => {
      const mo = (u + U_MAC) * 4 + dir * 6;
      if ((m[mo]! | m[mo + 1]! | m[mo + 2]! | m[mo + 3]! | m[mo + 4]! | m[mo + 5]!) === 0) return null;
      return macToString(m, mo);
    };
    const firstT = F[f + F_IV]!;
    const lastT = F[f + F_LAST]!;
    const flags = U[u + U_FLAGS]!;
    const vni = I[u + U_VNI]!;
    const erspan = I[u + U_ERSPAN]!;
    const rec: FlowRecord = {
      type: 'flow',
      flow_id: F[f + F_ID]!,
      community_id: this.communityIdOf(s),
      proto,
      client_ip: this.addrString(s, cSide),
      client_port: cPort,
      server_ip: this.addrString(s, cSide ^ 1),
      server_port: sPort,
      first_ts: this.tsString(firstT),
      last_ts: this.tsString(lastT),
      duration_ms: ms(lastT - firstT),
      client_packets: F[f + F_PK]!,
      server_packets: F[f + F_PK + 1]!,
      client_ip_bytes: F[f + F_IPB]!,
      server_ip_bytes: F[f + F_IPB + 1]!,
      client_wire_bytes: F[f + F_WIRE]!,
      server_wire_bytes: F[f + F_WIRE + 1]!,
      client_payload_bytes: F[f + F_PAY]!,
      server_payload_bytes: F[f + F_PAY + 1]!,
      client_tcp_flags: proto === PROTO_TCP ? tcpFlagsString(flags & 0xff) : null,
      server_tcp_flags: proto === PROTO_TCP ? tcpFlagsString((flags >>> 8) & 0xff) : null,
      rtt_client_ms: handshake ? ms(F[f + F_RTTC]!) : null,
      rtt_server_ms: handshake ? ms(F[f + F_RTTS]!) : null,
      rtt_ms: handshake ? ms(F[f + F_RTTS]! + F[f + F_RTTC]!) : null,
      srt_ms: st & ST_HAS_RSP ? ms(F[f + F_RSP]! - F[f + F_REQ]!) : null,
      client_retransmissions: U[u + U_RETRANS]!,
      server_retransmissions: U[u + U_RETRANS + 1]!,
      client_out_of_order: U[u + U_OOO]!,
      server_out_of_order: U[u + U_OOO + 1]!,
      client_zero_windows: U[u + U_ZWIN]!,
      server_zero_windows: U[u + U_ZWIN + 1]!,
      resets: U[u + U_RESETS]!,
      client_ipd_mean_ms: mean(0),
      server_ipd_mean_ms: mean(1),
      client_jitter_ms: sd(0),
      server_jitter_ms: sd(1),
      icmp_type: icmpType >= 0 ? icmpType : null,
      icmp_code: icmpType >= 0 ? icmpCode : null,
      client_mac: macOf(0),
      server_mac: macOf(1),
      vlan: vl >>> 24 >= 1 ? (vl >>> 12) & 0xfff : null,
      vlan_inner: vl >>> 24 >= 2 ? vl & 0xfff : null,
      tunnel: (tun & 15) !== 0 ? (TUNNEL_NAMES[tun & 15] ?? null) : null,
      tunnel_outer_src: outerStr(0),
      tunnel_outer_dst: outerStr(1),
      vni: vni >= 0 ? vni : null,
      gre_key: st & ST_GREKEY ? U[u + U_GREKEY]! : null,
      erspan_session: erspan >= 0 ? erspan : null,
      fragments: U[u + U_FRAGS]!,
      end_reason: END_NAMES[reason]!,
      interim: reason === END_ACTIVE,
      app: null,
    };
    this.stats.flowsEmitted++;
    this.onFlow(rec);
  }

  /** `emit` in column form: the same values as numbers and dictionary indexes, no object. */
  private emitColumns(s: number, reason: number, b: FlowColumnBuilder): void {
    const U = this.U;
    const I = this.I;
    const F = this.F;
    const u = s * SU;
    const f = s * SF;
    const { ver, proto, cSide, ov, cPort, sPort, icmpType, icmpCode } = this.slotHead(s);
    const st = U[u + U_ST]!;
    b.begin();
    const x = b.f;
    const fb = b.fb;
    const sx = b.s;
    const sb = b.sb;
    const flowId = F[f + F_ID]!;
    x[fb + FN.flow_id] = flowId;
    x[fb + FN.proto] = proto;
    x[fb + FN.client_port] = cPort;
    x[fb + FN.server_port] = sPort;
    const firstT = F[f + F_IV]!;
    const lastT = F[f + F_LAST]!;
    x[fb + FN.first_ts] = this.tsMs(firstT);
    x[fb + FN.last_ts] = this.tsMs(lastT);
    x[fb + FN.duration_ms] = msOf(lastT - firstT);
    x[fb + FN.client_packets] = F[f + F_PK]!;
    x[fb + FN.server_packets] = F[f + F_PK + 1]!;
    x[fb + FN.client_ip_bytes] = F[f + F_IPB]!;
    x[fb + FN.server_ip_bytes] = F[f + F_IPB + 1]!;
    x[fb + FN.client_wire_bytes] = F[f + F_WIRE]!;
    x[fb + FN.server_wire_bytes] = F[f + F_WIRE + 1]!;
    x[fb + FN.client_payload_bytes] = F[f + F_PAY]!;
    x[fb + FN.server_payload_bytes] = F[f + F_PAY + 1]!;
    if (st & ST_ACKED) {
      x[fb + FN.rtt_client_ms] = msOf(F[f + F_RTTC]!);
      x[fb + FN.rtt_server_ms] = msOf(F[f + F_RTTS]!);
      x[fb + FN.rtt_ms] = msOf(F[f + F_RTTS]! + F[f + F_RTTC]!);
    }
    if (st & ST_HAS_RSP) x[fb + FN.srt_ms] = msOf(F[f + F_RSP]! - F[f + F_REQ]!);
    x[fb + FN.client_retransmissions] = U[u + U_RETRANS]!;
    x[fb + FN.server_retransmissions] = U[u + U_RETRANS + 1]!;
    x[fb + FN.client_out_of_order] = U[u + U_OOO]!;
    x[fb + FN.server_out_of_order] = U[u + U_OOO + 1]!;
    x[fb + FN.client_zero_windows] = U[u + U_ZWIN]!;
    x[fb + FN.server_zero_windows] = U[u + U_ZWIN + 1]!;
    x[fb + FN.resets] = U[u + U_RESETS]!;
    for (let dir = 0; dir < 2; dir++) {
      const n = F[f + F_IPDN + dir]!;
      if (n > 0) {
        x[fb + FN.client_ipd_mean_ms + dir] = msOf(F[f + F_IPDMEAN + dir]!);
        x[fb + FN.client_jitter_ms + dir] = msOf(n > 1 ? Math.sqrt(F[f + F_IPDM2 + dir]! / (n - 1)) : 0);
      }
    }
    if (icmpType >= 0) {
      x[fb + FN.icmp_type] = icmpType;
      x[fb + FN.icmp_code] = icmpCode;
    }
    const vl = U[u + U_VLANS]!;
    if (vl >>> 24 >= 1) x[fb + FN.vlan] = (vl >>> 12) & 0xfff;
    if (vl >>> 24 >= 2) x[fb + FN.vlan_inner] = vl & 0xfff;
    const vni = I[u + U_VNI]!;
    if (vni >= 0) x[fb + FN.vni] = vni;
    if (st & ST_GREKEY) x[fb + FN.gre_key] = U[u + U_GREKEY]!;
    const erspan = I[u + U_ERSPAN]!;
    if (erspan >= 0) x[fb + FN.erspan_session] = erspan;
    x[fb + FN.fragments] = U[u + U_FRAGS]!;
    const interim = reason === END_ACTIVE;
    x[fb + FN.interim] = interim ? 1 : 0;

    sx[sb + FS.community_id] = b.unique(this.communityIdOf(s));
    const oc = u + 4 + cSide * 4;
    const os = u + 4 + (cSide ^ 1) * 4;
    const ci = ver === 4 ? b.addr(4, U[oc]!, 0, 0, 0) : b.addr(6, U[oc]!, U[oc + 1]!, U[oc + 2]!, U[oc + 3]!);
    const si = ver === 4 ? b.addr(4, U[os]!, 0, 0, 0) : b.addr(6, U[os]!, U[os + 1]!, U[os + 2]!, U[os + 3]!);
    sx[sb + FS.client_ip] = ci;
    sx[sb + FS.server_ip] = si;
    if (proto === PROTO_TCP) {
      const flags = U[u + U_FLAGS]!;
      sx[sb + FS.client_tcp_flags] = b.flags(flags & 0xff);
      sx[sb + FS.server_tcp_flags] = b.flags((flags >>> 8) & 0xff);
    }
    const m = this.B;
    for (let dir = 0; dir < 2; dir++) {
      const mo = (u + U_MAC) * 4 + dir * 6;
      if ((m[mo]! | m[mo + 1]! | m[mo + 2]! | m[mo + 3]! | m[mo + 4]! | m[mo + 5]!) !== 0)
        sx[sb + FS.client_mac + dir] = b.mac(m, mo);
    }
    const tun = U[u + U_TUNNEL]!;
    if ((tun & 15) !== 0) {
      const name = TUNNEL_NAMES[tun & 15];
      if (name !== undefined) sx[sb + FS.tunnel] = b.text(name);
    }
    if (ov !== 0) {
      const o = this.outer;
      for (let side = 0; side < 2; side++) {
        const off = s * 32 + side * 16;
        const w = (k: number): number =>
          ((o[off + k]! << 24) | (o[off + k + 1]! << 16) | (o[off + k + 2]! << 8) | o[off + k + 3]!) >>> 0;
        sx[sb + FS.tunnel_outer_src + side] =
          ov === 4 ? b.addr(4, w(0), 0, 0, 0) : b.addr(6, w(0), w(4), w(8), w(12));
      }
    }
    sx[sb + FS.end_reason] = b.listed(reason, END_NAMES[reason]!);
    const p = this.patch;
    p.app = null;
    p.interim = interim;
    p.flow_id = flowId;
    p.proto = proto;
    p.client_ip = b.addrText(ci);
    p.client_port = cPort;
    p.server_ip = b.addrText(si);
    p.server_port = sPort;
    this.stats.flowsEmitted++;
    this.onFlowColumns!(p);
  }
}

/** ns → ms rounded to the µs, as flow records carry durations. */
function msOf(ns: number): number {
  return Math.round(ns / 1e3) / 1e3;
}

/** Tunnel context of a packet for the flow key: the VNI, else the ERSPAN session, else the GRE key. */
function tunnelContext(p: Packet): number {
  if (p.vni >= 0) return (p.vni | 0x1000000) >>> 0;
  if (p.erspanSession >= 0) return (p.erspanSession | 0x2000000) >>> 0;
  if (p.greKey >= 0) return (p.greKey ^ 0x3000000) >>> 0;
  return 0;
}

/** Hash of an IPv4 key: the address words 5-7 and 9-11 are zero and skipped. */
function hashKey4(k: Uint32Array): number {
  let h = Math.imul(k[0]! ^ 0x811c9dc5, 0x01000193);
  h = Math.imul(h ^ k[1]!, 0x01000193);
  h = Math.imul(h ^ k[2]!, 0x01000193);
  h = Math.imul(h ^ k[3]!, 0x01000193);
  h = Math.imul(h ^ k[4]!, 0x01000193);
  h = Math.imul(h ^ k[8]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16); // signed: stays a small integer when passed around
}

function hashKey(k: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < KW; i++) {
    h = Math.imul(h ^ k[i]!, 0x01000193);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16); // signed: stays a small integer when passed around
}

export { isoNs };
