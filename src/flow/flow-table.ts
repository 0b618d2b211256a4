import type { FlowContext, FlowLookup } from '../analyze/types.js';
import { ipv4ToString, ipv6WordsToString, macToString } from '../common/addr.js';
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
import { communityId } from './community-id.js';
import { tcpFlagsString } from './tcp-flags.js';

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
}

const KW = 12; // key words per flow
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
 * Bidirectional flow table with TCP performance metering. Flows live in typed arrays indexed
 * by a flow slot (structure of arrays); a separate open-addressing index maps key hashes to
 * slots. Updating a flow allocates nothing; records are built only when a flow is emitted.
 */
export class FlowTable implements FlowLookup {
  readonly stats: FlowTableStats = {
    packets: 0,
    flowsCreated: 0,
    flowsEmitted: 0,
    active: 0,
    fragmentsAttributed: 0,
    fragmentsOrphaned: 0,
  };
  /** Seconds of the first packet: times inside are nanoseconds relative to it (exact in a double). */
  private baseSec = -1;
  private idGen = 0;
  private readonly idPrefix = Math.floor(Math.random() * 0x3fffff) * 2 ** 31;

  private cap = 0;
  private idxMask = 0;
  private index: Int32Array = new Int32Array(0); // slot + 1, 0 = empty
  private freeTop = 0;
  private free: Int32Array = new Int32Array(0);
  private nextFresh = 0;

  // per-slot state
  private keys: Uint32Array = new Uint32Array(0);
  private hashes: Uint32Array = new Uint32Array(0);
  private gen: Uint32Array = new Uint32Array(0);
  private meta: Uint32Array = new Uint32Array(0); // ipVer | proto<<4 | clientIsA<<12 | list<<13
  private st: Uint32Array = new Uint32Array(0);
  private prev: Int32Array = new Int32Array(0);
  private next: Int32Array = new Int32Array(0);
  private first: Float64Array = new Float64Array(0);
  private last: Float64Array = new Float64Array(0);
  private ivStart: Float64Array = new Float64Array(0);
  private flowId: Float64Array = new Float64Array(0);
  // per direction (index slot*2 + dir, dir 0 = client)
  private pk: Float64Array = new Float64Array(0);
  private ipB: Float64Array = new Float64Array(0);
  private wireB: Float64Array = new Float64Array(0);
  private payB: Float64Array = new Float64Array(0);
  private flags: Uint8Array = new Uint8Array(0);
  private lastT: Float64Array = new Float64Array(0);
  private ipdN: Float64Array = new Float64Array(0);
  private ipdMean: Float64Array = new Float64Array(0);
  private ipdM2: Float64Array = new Float64Array(0);
  private nextSeq: Uint32Array = new Uint32Array(0);
  private nextSeqT: Float64Array = new Float64Array(0);
  private lastAck: Uint32Array = new Uint32Array(0);
  private lastAckT: Float64Array = new Float64Array(0);
  private dupAcks: Uint32Array = new Uint32Array(0);
  private win: Uint32Array = new Uint32Array(0);
  private retrans: Uint32Array = new Uint32Array(0);
  private ooo: Uint32Array = new Uint32Array(0);
  private zeroWin: Uint32Array = new Uint32Array(0);
  private mac: Uint8Array = new Uint8Array(0); // 6 bytes per direction
  // per-flow TCP timing
  private synT: Float64Array = new Float64Array(0);
  private synAckT: Float64Array = new Float64Array(0);
  private ackT: Float64Array = new Float64Array(0);
  private reqT: Float64Array = new Float64Array(0);
  private rspT: Float64Array = new Float64Array(0);
  private rttS: Float64Array = new Float64Array(0);
  private rttC: Float64Array = new Float64Array(0);
  private resets: Uint32Array = new Uint32Array(0);
  private frags: Uint32Array = new Uint32Array(0);
  // context for the record
  private vlans: Uint32Array = new Uint32Array(0);
  private tunnel: Int32Array = new Int32Array(0); // tunnelType | depth<<4
  private tunnelId: Float64Array = new Float64Array(0); // vni, or -1
  private greKey: Float64Array = new Float64Array(0);
  private erspan: Int32Array = new Int32Array(0);
  private outer: Uint8Array = new Uint8Array(0); // 32 bytes: outer src + dst (v4 in first 4 of each)
  private outerVer: Uint8Array = new Uint8Array(0);
  private icmp: Int32Array = new Int32Array(0); // type<<8 | code of the first packet, -1 when not ICMP
  private startPort: Uint32Array = new Uint32Array(0); // client port | server port << 16 as seen

  // LRU lists by last packet time: active flows and flows that ended (FIN/RST)
  private readonly head = new Int32Array([-1, -1, -1]);
  private readonly tail = new Int32Array([-1, -1, -1]);

  private readonly scratch = new Uint32Array(KW);
  private readonly fragMap = new Map<string, FragEntry>();
  private nextSweep = 0;

  constructor(
    private readonly cfg: FlowConfig,
    private readonly onFlow: (rec: FlowRecord) => void,
    initialCapacity = 1 << 14,
  ) {
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
    this.stats.packets++;
    if (t >= this.nextSweep) this.sweep(t);
    if (p.fragOffset > 0) return this.laterFragment(p, t);
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
    if (p.ipVer === 4) {
      const s = buf.readUInt32BE(p.srcOff);
      const d = buf.readUInt32BE(p.dstOff);
      swap = s > d || (s === d && sp > dp);
      k[4] = swap ? d : s;
      k[8] = swap ? s : d;
      k[5] = k[6] = k[7] = k[9] = k[10] = k[11] = 0;
    } else {
      const so = p.srcOff;
      const dO = p.dstOff;
      let c = 0;
      for (let i = 0; i < 16 && c === 0; i += 4) {
        const a = buf.readUInt32BE(so + i);
        const b = buf.readUInt32BE(dO + i);
        c = a < b ? -1 : a > b ? 1 : 0;
      }
      swap = c > 0 || (c === 0 && sp > dp);
      const ao = swap ? dO : so;
      const bo = swap ? so : dO;
      k[4] = buf.readUInt32BE(ao);
      k[5] = buf.readUInt32BE(ao + 4);
      k[6] = buf.readUInt32BE(ao + 8);
      k[7] = buf.readUInt32BE(ao + 12);
      k[8] = buf.readUInt32BE(bo);
      k[9] = buf.readUInt32BE(bo + 4);
      k[10] = buf.readUInt32BE(bo + 8);
      k[11] = buf.readUInt32BE(bo + 12);
    }
    k[0] = p.ipVer | (proto << 4);
    k[1] = swap ? ((dp << 16) | sp) >>> 0 : ((sp << 16) | dp) >>> 0;
    k[2] = this.cfg.keyVlan ? (p.vlan0 << 12) | p.vlan1 : 0;
    k[3] = this.cfg.keyTunnel ? tunnelContext(p) : 0;
    const h = hashKey(k);
    let slot = this.find(k, h);
    const dirA = swap ? 1 : 0; // 0: packet sent by endpoint A
    if (slot >= 0 && proto === PROTO_TCP) {
      // A new SYN on a finished connection is a new connection on reused ports.
      const st = this.st[slot]!;
      if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN && st & (ST_RST | ST_FIN0 | ST_FIN1)) {
        this.emit(slot, END_REUSE);
        this.remove(slot);
        slot = -1;
      }
    }
    if (slot < 0) slot = this.create(k, h, p, t, dirA);
    const meta = this.meta[slot]!;
    const clientIsA = (meta >>> 12) & 1;
    const dir = dirA === 0 ? (clientIsA ? 0 : 1) : clientIsA ? 1 : 0;
    this.account(slot, dir, p, t);
    if (p.moreFrags) this.firstFragment(p, slot, dir, t);
    this.lastDir = dir;
    return slot;
  }

  private find(k: Uint32Array, h: number): number {
    const idx = this.index;
    const mask = this.idxMask;
    const keys = this.keys;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = idx[i]!;
      if (e === 0) return -1;
      const s = e - 1;
      if (this.hashes[s] !== h) continue;
      const o = s * KW;
      if (
        keys[o] === k[0] &&
        keys[o + 1] === k[1] &&
        keys[o + 2] === k[2] &&
        keys[o + 3] === k[3] &&
        keys[o + 4] === k[4] &&
        keys[o + 8] === k[8] &&
        keys[o + 5] === k[5] &&
        keys[o + 6] === k[6] &&
        keys[o + 7] === k[7] &&
        keys[o + 9] === k[9] &&
        keys[o + 10] === k[10] &&
        keys[o + 11] === k[11]
      ) {
        return s;
      }
    }
  }

  private create(k: Uint32Array, h: number, p: Packet, t: number, dirA: number): number {
    if (this.stats.active * 2 >= this.cap) this.grow(this.cap * 2);
    const s = this.freeTop > 0 ? this.free[--this.freeTop]! : this.nextFresh++;
    this.keys.set(k, s * KW);
    this.hashes[s] = h;
    this.gen[s] = (this.gen[s]! + 1) >>> 0;
    // Client: the SYN sender; a SYN/ACK's receiver; otherwise the first packet's sender.
    let clientIsA = dirA === 0 ? 1 : 0;
    if (p.proto === PROTO_TCP && (p.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) clientIsA ^= 1;
    this.meta[s] = p.ipVer | (p.proto << 4) | (clientIsA << 12);
    this.st[s] = 0;
    this.first[s] = t;
    this.last[s] = t;
    this.ivStart[s] = t;
    this.flowId[s] = this.idPrefix + (this.idGen++ % 2 ** 31);
    for (let d = s * 2; d < s * 2 + 2; d++) {
      this.pk[d] = 0;
      this.ipB[d] = 0;
      this.wireB[d] = 0;
      this.payB[d] = 0;
      this.flags[d] = 0;
      this.lastT[d] = -1;
      this.ipdN[d] = 0;
      this.ipdMean[d] = 0;
      this.ipdM2[d] = 0;
      this.nextSeq[d] = 0;
      this.nextSeqT[d] = 0;
      this.lastAck[d] = 0;
      this.lastAckT[d] = 0;
      this.dupAcks[d] = 0;
      this.win[d] = 0;
      this.retrans[d] = 0;
      this.ooo[d] = 0;
      this.zeroWin[d] = 0;
    }
    this.mac.fill(0, s * 12, s * 12 + 12);
    this.synT[s] = -1;
    this.synAckT[s] = -1;
    this.ackT[s] = -1;
    this.reqT[s] = -1;
    this.rspT[s] = -1;
    this.resets[s] = 0;
    this.frags[s] = 0;
    this.vlans[s] = (p.vlan0 << 12) | p.vlan1 | ((p.vlanCount > 2 ? 2 : p.vlanCount) << 24);
    this.tunnel[s] = p.tunnelType | (p.tunnelDepth << 4);
    this.tunnelId[s] = p.vni;
    this.greKey[s] = p.greKey;
    this.erspan[s] = p.erspanSession;
    this.outerVer[s] = p.outerIpVer;
    if (p.outerIpVer !== 0) {
      const n = p.outerIpVer === 4 ? 4 : 16;
      this.outer.set(p.buf.subarray(p.outerSrcOff, p.outerSrcOff + n), s * 32);
      this.outer.set(p.buf.subarray(p.outerDstOff, p.outerDstOff + n), s * 32 + 16);
    }
    const client = (dirA === 0) === (clientIsA === 1);
    this.icmp[s] = p.icmpType >= 0 ? (p.icmpType << 8) | p.icmpCode : -1;
    this.startPort[s] = client ? p.srcPort | (p.dstPort << 16) : p.dstPort | (p.srcPort << 16);
    // index insert
    const mask = this.idxMask;
    let i = h & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = s + 1;
    this.listPush(s, LIST_ACTIVE);
    this.stats.active++;
    this.stats.flowsCreated++;
    return s;
  }

  private account(s: number, dir: number, p: Packet, t: number): void {
    const d = s * 2 + dir;
    this.pk[d]!++;
    this.ipB[d]! += p.ipLen;
    this.wireB[d]! += p.wirelen;
    this.payB[d]! += p.payloadLen;
    if (this.pk[d] === 1 && p.srcMacOff >= 0) {
      const mo = p.srcMacOff;
      const o = s * 12 + dir * 6;
      const b = p.buf;
      const m = this.mac;
      m[o] = b[mo]!;
      m[o + 1] = b[mo + 1]!;
      m[o + 2] = b[mo + 2]!;
      m[o + 3] = b[mo + 3]!;
      m[o + 4] = b[mo + 4]!;
      m[o + 5] = b[mo + 5]!;
    }
    const lt = this.lastT[d]!;
    if (lt >= 0) {
      // Welford's running mean and variance of inter-packet delay.
      const x = t - lt;
      const n = ++this.ipdN[d]!;
      const delta = x - this.ipdMean[d]!;
      this.ipdMean[d]! += delta / n;
      this.ipdM2[d]! += delta * (x - this.ipdMean[d]!);
    }
    this.lastT[d] = t;
    if (t > this.last[s]!) this.last[s] = t;
    if (p.proto === PROTO_TCP && p.l4Off >= 0) this.tcp(s, dir, p, t);
    // Move to the tail of its list (lists stay ordered by last packet time).
    const list = (this.meta[s]! >>> 13) & 3;
    if (this.tail[list] !== s) {
      this.listUnlink(s, list);
      this.listPush(s, list);
    }
    if (t - this.ivStart[s]! >= this.cfg.activeTimeout * NS) {
      this.emit(s, END_ACTIVE);
      this.startInterval(s, t);
    }
  }

  /** TCP state and performance: handshake RTT, SRT, retransmission analysis (as Wireshark). */
  private tcp(s: number, dir: number, p: Packet, t: number): void {
    const fl = p.tcpFlags;
    const d = s * 2 + dir;
    const r = s * 2 + (dir ^ 1);
    this.flags[d]! |= fl;
    let st = this.st[s]!;
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
            this.synAckT[s] = t;
            st |= ST_SYNACK;
          }
        } else if (dir === 0) {
          this.synT[s] = t;
          st |= ST_HAS_SYN;
        }
      } else if (fl & TCP_ACK && st & ST_HAS_SYN) {
        const syn = this.synT[s]!;
        if (dir === 0 && st & ST_SYNACK && this.synAckT[s]! >= syn) {
          this.rttS[s] = this.synAckT[s]! - syn;
          this.rttC[s] = t - this.synAckT[s]!;
        } else {
          this.rttS[s] = t - syn;
          this.rttC[s] = 0;
        }
        this.ackT[s] = t;
        st |= ST_ACKED;
      }
    }
    if (fl & TCP_RST) {
      this.resets[s]!++;
      st |= ST_RST;
    }
    if (fl & TCP_FIN) st |= dir === 0 ? ST_FIN0 : ST_FIN1;
    // Server response time: first request payload to the first response payload after it.
    if (seglen > 0) {
      if (dir === 0) {
        if (!(st & ST_HAS_REQ)) {
          this.reqT[s] = t;
          st |= ST_HAS_REQ;
        }
      } else if (st & ST_HAS_REQ && !(st & ST_HAS_RSP)) {
        this.rspT[s] = t;
        st |= ST_HAS_RSP;
      }
    }

    const nextSeqD = this.nextSeq[d]!;
    const haveNext = (st & hasSeqD) !== 0 && nextSeqD !== 0;
    let dupAck = false;
    let zwp = false;
    let keepAlive = false;
    // zero window
    if (p.window === 0 && !(fl & (TCP_SYN | TCP_FIN | TCP_RST))) this.zeroWin[d]!++;
    // zero-window probe: one byte at the next sequence number into a closed window
    if (seglen === 1 && haveNext && seq === nextSeqD && st & hasWinR && this.win[r] === 0) zwp = true;
    if (!zwp) {
      if (seglen <= 1 && haveNext && seq === (nextSeqD - 1) >>> 0 && !(fl & (TCP_SYN | TCP_FIN | TCP_RST))) {
        keepAlive = true;
      }
      if (
        seglen === 0 &&
        p.window !== 0 &&
        st & hasWinD &&
        p.window === this.win[d] &&
        haveNext &&
        seq === nextSeqD &&
        st & hasAckD &&
        p.ack === this.lastAck[d] &&
        !(fl & (TCP_SYN | TCP_FIN | TCP_RST))
      ) {
        dupAck = true;
        this.dupAcks[d]!++;
      }
      if ((seglen > 0 || fl & (TCP_SYN | TCP_FIN)) && !keepAlive) {
        const notAdvanced = haveNext && seqLt(seq, nextSeqD);
        let classified = false;
        if (notAdvanced && this.dupAcks[r]! >= 2 && this.lastAck[r] === seq && t - this.lastAckT[r]! < 20e6) {
          this.retrans[d]!++; // fast retransmission
          classified = true;
        }
        if (!classified && notAdvanced) {
          const rtt = st & ST_ACKED ? this.rttS[s]! + this.rttC[s]! : 0;
          const thres = rtt > 0 ? rtt : 3e6;
          const segEnd = (seq + seglen + (fl & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
          if (t - this.nextSeqT[d]! < thres && nextSeqD !== segEnd) {
            this.ooo[d]!++;
            classified = true;
          }
        }
        if (!classified && seglen > 0 && st & hasAckR && this.lastAck[r] !== 0) {
          if (!seqLt(this.lastAck[r]!, (seq + seglen) >>> 0)) {
            this.retrans[d]!++; // spurious retransmission: data already acknowledged
            classified = true;
          }
        }
        if (!classified && notAdvanced) this.retrans[d]!++;
      }
      let nxt = (seq + seglen) >>> 0;
      if (fl & (TCP_SYN | TCP_FIN)) nxt = (nxt + 1) >>> 0;
      if (!haveNext || seqLt(nextSeqD, nxt)) {
        this.nextSeq[d] = nxt;
        this.nextSeqT[d] = t;
        st |= hasSeqD;
      }
    }
    if (!dupAck) this.dupAcks[d] = 0;
    if (fl & TCP_ACK) {
      this.lastAck[d] = p.ack;
      this.lastAckT[d] = t;
      st |= hasAckD;
    }
    this.win[d] = p.window;
    st |= hasWinD;
    this.st[s] = st;
    if (st & ST_RST || (st & ST_FIN0 && st & ST_FIN1)) {
      const list = (this.meta[s]! >>> 13) & 3;
      if (list !== LIST_ENDED) {
        this.listUnlink(s, list);
        this.listPush(s, LIST_ENDED);
      }
    }
  }

  private startInterval(s: number, t: number): void {
    this.ivStart[s] = t;
    for (let d = s * 2; d < s * 2 + 2; d++) {
      this.pk[d] = 0;
      this.ipB[d] = 0;
      this.wireB[d] = 0;
      this.payB[d] = 0;
      this.retrans[d] = 0;
      this.ooo[d] = 0;
      this.zeroWin[d] = 0;
      this.ipdN[d] = 0;
      this.ipdMean[d] = 0;
      this.ipdM2[d] = 0;
    }
    this.resets[s] = 0;
    this.frags[s] = 0;
  }

  // ---- IP fragments: later fragments carry no ports; they follow their first fragment ----

  private fragKey(p: Packet): string {
    const b = p.buf;
    const n = p.ipVer === 4 ? 4 : 16;
    return `${p.ipVer}|${p.proto}|${p.ipId}|${b.toString('hex', p.srcOff, p.srcOff + n)}|${b.toString('hex', p.dstOff, p.dstOff + n)}|${p.vlan0}|${p.vni}`;
  }

  private firstFragment(p: Packet, s: number, dir: number, t: number): void {
    const key = this.fragKey(p);
    const e = this.fragMap.get(key);
    this.frags[s]!++;
    if (e && e.flow < 0) {
      // later fragments that came first are credited now
      const d = s * 2 + dir;
      this.pk[d]! += e.pk;
      this.ipB[d]! += e.ip;
      this.wireB[d]! += e.wire;
      this.payB[d]! += e.pay;
      this.frags[s]! += e.pk;
      this.stats.fragmentsAttributed += e.pk;
    }
    this.fragMap.set(key, { flow: s, gen: this.gen[s]!, dir, t, pk: 0, ip: 0, wire: 0, pay: 0 });
  }

  private laterFragment(p: Packet, t: number): number {
    const key = this.fragKey(p);
    let e = this.fragMap.get(key);
    if (e && e.flow >= 0 && this.gen[e.flow] === e.gen && ((this.meta[e.flow]! >>> 13) & 3) !== LIST_NONE) {
      const s = e.flow;
      const d = s * 2 + e.dir;
      this.pk[d]!++;
      this.ipB[d]! += p.ipLen;
      this.wireB[d]! += p.wirelen;
      this.payB[d]! += p.payloadLen;
      this.frags[s]!++;
      if (t > this.last[s]!) this.last[s] = t;
      e.t = t;
      this.stats.fragmentsAttributed++;
      this.lastDir = e.dir;
      return s;
    }
    if (!e) {
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

  private sweep(t: number): void {
    this.nextSweep = t + NS;
    const idle = this.cfg.idleTimeout * NS;
    const tcpIdle = this.cfg.tcpIdleTimeout * NS;
    const endT = this.cfg.tcpEndTimeout * NS;
    // Active list is ordered by last packet; a TCP flow may outlive the shorter idle timeout.
    const longest = Math.max(idle, tcpIdle);
    for (let s = this.head[LIST_ACTIVE]!; s >= 0; ) {
      const nx = this.next[s]!;
      const age = t - this.last[s]!;
      if (age < Math.min(idle, tcpIdle)) break;
      const isTcp = ((this.meta[s]! >>> 4) & 0xff) === PROTO_TCP;
      if (age >= (isTcp ? tcpIdle : idle) || age >= longest) {
        this.emit(s, END_IDLE);
        this.remove(s);
      }
      s = nx;
    }
    for (let s = this.head[LIST_ENDED]!; s >= 0; ) {
      const nx = this.next[s]!;
      if (t - this.last[s]! < endT) break;
      this.emit(s, this.st[s]! & ST_RST ? END_RST : END_FIN);
      this.remove(s);
      s = nx;
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
    for (const list of [LIST_ACTIVE, LIST_ENDED]) {
      for (let s = this.head[list]!; s >= 0; ) {
        const nx = this.next[s]!;
        const st = this.st[s]!;
        this.emit(s, list === LIST_ENDED ? (st & ST_RST ? END_RST : END_FIN) : END_EOF);
        this.remove(s);
        s = nx;
      }
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
    const list = (this.meta[s]! >>> 13) & 3;
    this.listUnlink(s, list);
    this.meta[s] = this.meta[s]! & ~(3 << 13);
    // backward-shift deletion from the open-addressing index
    const mask = this.idxMask;
    const idx = this.index;
    let i = this.hashes[s]! & mask;
    while (idx[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      idx[i] = 0;
      for (;;) {
        j = (j + 1) & mask;
        const e = idx[j]!;
        if (e === 0) {
          this.free[this.freeTop++] = s;
          this.stats.active--;
          return;
        }
        const home = this.hashes[e - 1]! & mask;
        // move e back to i if its home is not cyclically in (i, j]
        if (i <= j ? home <= i || home > j : home <= i && home > j) break;
      }
      idx[i] = idx[j]!;
      i = j;
    }
  }

  private listPush(s: number, list: number): void {
    this.meta[s] = (this.meta[s]! & ~(3 << 13)) | (list << 13);
    const tl = this.tail[list]!;
    this.prev[s] = tl;
    this.next[s] = -1;
    if (tl >= 0) this.next[tl] = s;
    else this.head[list] = s;
    this.tail[list] = s;
  }

  private listUnlink(s: number, list: number): void {
    const pv = this.prev[s]!;
    const nx = this.next[s]!;
    if (pv >= 0) this.next[pv] = nx;
    else this.head[list] = nx;
    if (nx >= 0) this.prev[nx] = pv;
    else this.tail[list] = pv;
  }

  private grow(cap: number): void {
    const old = this.cap;
    const f64 = (a: Float64Array, n: number): Float64Array => {
      const b = new Float64Array(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    const u32 = (a: Uint32Array, n: number): Uint32Array => {
      const b = new Uint32Array(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    const i32 = (a: Int32Array, n: number): Int32Array => {
      const b = new Int32Array(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    const u8 = (a: Uint8Array, n: number): Uint8Array => {
      const b = new Uint8Array(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    this.cap = cap;
    this.keys = u32(this.keys, cap * KW);
    this.hashes = u32(this.hashes, cap);
    this.gen = u32(this.gen, cap);
    this.meta = u32(this.meta, cap);
    this.st = u32(this.st, cap);
    this.prev = i32(this.prev, cap);
    this.next = i32(this.next, cap);
    this.first = f64(this.first, cap);
    this.last = f64(this.last, cap);
    this.ivStart = f64(this.ivStart, cap);
    this.flowId = f64(this.flowId, cap);
    this.pk = f64(this.pk, cap * 2);
    this.ipB = f64(this.ipB, cap * 2);
    this.wireB = f64(this.wireB, cap * 2);
    this.payB = f64(this.payB, cap * 2);
    this.flags = u8(this.flags, cap * 2);
    this.lastT = f64(this.lastT, cap * 2);
    this.ipdN = f64(this.ipdN, cap * 2);
    this.ipdMean = f64(this.ipdMean, cap * 2);
    this.ipdM2 = f64(this.ipdM2, cap * 2);
    this.nextSeq = u32(this.nextSeq, cap * 2);
    this.nextSeqT = f64(this.nextSeqT, cap * 2);
    this.lastAck = u32(this.lastAck, cap * 2);
    this.lastAckT = f64(this.lastAckT, cap * 2);
    this.dupAcks = u32(this.dupAcks, cap * 2);
    this.win = u32(this.win, cap * 2);
    this.retrans = u32(this.retrans, cap * 2);
    this.ooo = u32(this.ooo, cap * 2);
    this.zeroWin = u32(this.zeroWin, cap * 2);
    this.mac = u8(this.mac, cap * 12);
    this.synT = f64(this.synT, cap);
    this.synAckT = f64(this.synAckT, cap);
    this.ackT = f64(this.ackT, cap);
    this.reqT = f64(this.reqT, cap);
    this.rspT = f64(this.rspT, cap);
    this.rttS = f64(this.rttS, cap);
    this.rttC = f64(this.rttC, cap);
    this.resets = u32(this.resets, cap);
    this.frags = u32(this.frags, cap);
    this.vlans = u32(this.vlans, cap);
    this.tunnel = i32(this.tunnel, cap);
    this.tunnelId = f64(this.tunnelId, cap);
    this.greKey = f64(this.greKey, cap);
    this.erspan = i32(this.erspan, cap);
    this.outer = u8(this.outer, cap * 32);
    this.outerVer = u8(this.outerVer, cap);
    this.icmp = i32(this.icmp, cap);
    this.startPort = u32(this.startPort, cap);
    this.free = i32(this.free, cap);
    // index: twice the flow capacity, rebuilt from live slots
    const isize = cap * 2;
    this.index = new Int32Array(isize);
    this.idxMask = isize - 1;
    for (let s = 0; s < Math.min(old, this.nextFresh); s++) {
      if (((this.meta[s]! >>> 13) & 3) === LIST_NONE) continue;
      let i = this.hashes[s]! & this.idxMask;
      while (this.index[i] !== 0) i = (i + 1) & this.idxMask;
      this.index[i] = s + 1;
    }
  }

  // ---- records ----

  private tsString(t: number): string {
    const sec = this.baseSec + Math.floor(t / NS);
    const ns = t - Math.floor(t / NS) * NS;
    return isoNs(sec, ns);
  }

  /** Generation of a slot: changes each time the slot is reused for a new flow. */
  generation(slot: number): number {
    return this.gen[slot]!;
  }

  /**
   * The identity of a flow for records derived from it (L7 records). Built on first use and
   * cached until the slot is reused, so analyzers pay for strings only when they emit.
   */
  context(slot: number): FlowContext {
    const cached = this.ctxCache[slot];
    if (cached !== undefined && cached.gen === this.gen[slot]) return cached;
    const meta = this.meta[slot]!;
    const ver = meta & 15;
    const proto = (meta >>> 4) & 0xff;
    const cSide = (meta >>> 12) & 1 ? 0 : 1;
    const o = slot * KW;
    const k = this.keys;
    const addr = (side: number): string =>
      ver === 4
        ? ipv4ToString(k[o + 4 + side * 4]!)
        : ipv6WordsToString(
            k[o + 4 + side * 4]!,
            k[o + 5 + side * 4]!,
            k[o + 6 + side * 4]!,
            k[o + 7 + side * 4]!,
          );
    const ports = this.startPort[slot]!;
    const rec = this.recordIdentity(slot);
    const ctx: FlowContext = {
      gen: this.gen[slot]!,
      flow_id: this.flowId[slot]!,
      community_id: rec,
      proto,
      client_ip: addr(cSide),
      client_port: ports & 0xffff,
      server_ip: addr(cSide ^ 1),
      server_port: ports >>> 16,
      vlan: this.vlans[slot]! >>> 24 >= 1 ? (this.vlans[slot]! >>> 12) & 0xfff : null,
      vni: this.tunnelId[slot]! >= 0 ? this.tunnelId[slot]! : null,
    };
    this.ctxCache[slot] = ctx;
    return ctx;
  }

  private recordIdentity(s: number): string {
    const cached = this.ctxCache[s];
    if (cached !== undefined && cached.gen === this.gen[s]) return cached.community_id;
    const meta = this.meta[s]!;
    const ver = meta & 15;
    const proto = (meta >>> 4) & 0xff;
    const cSide = (meta >>> 12) & 1 ? 0 : 1;
    const o = s * KW;
    const k = this.keys;
    const addrBytes = (side: number): Uint8Array => {
      const n = ver === 4 ? 4 : 16;
      const b = new Uint8Array(n);
      for (let i = 0; i < n / 4; i++) {
        const w = k[o + 4 + side * 4 + i]!;
        b[i * 4] = w >>> 24;
        b[i * 4 + 1] = (w >>> 16) & 255;
        b[i * 4 + 2] = (w >>> 8) & 255;
        b[i * 4 + 3] = w & 255;
      }
      return b;
    };
    const isIcmp = proto === PROTO_ICMP || proto === PROTO_ICMPV6;
    const icmp = this.icmp[s]!;
    const ports = this.startPort[s]!;
    const cPort = isIcmp ? (icmp >= 0 ? icmp >>> 8 : 0) : ports & 0xffff;
    const sPort = isIcmp ? (icmp >= 0 ? icmp & 0xff : 0) : ports >>> 16;
    return communityId(proto, addrBytes(cSide), addrBytes(cSide ^ 1), cPort, sPort);
  }

  private readonly ctxCache: (FlowContext | undefined)[] = [];

  /** Slot of the flow whose record is being emitted (valid during the onFlow callback). */
  emittingSlot = -1;

  /** Build the record of a slot (only here are strings made). */
  private emit(s: number, reason: number): void {
    this.emittingSlot = s;
    const meta = this.meta[s]!;
    const ver = meta & 15;
    const proto = (meta >>> 4) & 0xff;
    const clientIsA = (meta >>> 12) & 1;
    const o = s * KW;
    const k = this.keys;
    const addr = (side: number): string =>
      ver === 4
        ? ipv4ToString(k[o + 4 + side * 4]!)
        : ipv6WordsToString(
            k[o + 4 + side * 4]!,
            k[o + 5 + side * 4]!,
            k[o + 6 + side * 4]!,
            k[o + 7 + side * 4]!,
          );
    const cSide = clientIsA ? 0 : 1;
    const ports = this.startPort[s]!;
    const icmp = this.icmp[s]!;
    const isIcmp = proto === PROTO_ICMP || proto === PROTO_ICMPV6;
    const cPort = isIcmp ? (icmp >= 0 ? icmp >>> 8 : 0) : ports & 0xffff;
    const sPort = isIcmp ? (icmp >= 0 ? icmp & 0xff : 0) : ports >>> 16;
    const c = s * 2;
    const st = this.st[s]!;
    const handshake = (st & ST_ACKED) !== 0;
    const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
    const sd = (i: number): number | null =>
      this.ipdN[i]! > 0 ? ms(this.ipdN[i]! > 1 ? Math.sqrt(this.ipdM2[i]! / (this.ipdN[i]! - 1)) : 0) : null;
    const mean = (i: number): number | null => (this.ipdN[i]! > 0 ? ms(this.ipdMean[i]!) : null);
    const vl = this.vlans[s]!;
    const tun = this.tunnel[s]!;
    const ov = this.outerVer[s]!;
    const outerStr = (side: number): string | null => {
      if (ov === 0) return null;
      const b = this.outer;
      const off = s * 32 + side * 16;
      if (ov === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
      const w = (x: number): number =>
        ((b[off + x]! << 24) | (b[off + x + 1]! << 16) | (b[off + x + 2]! << 8) | b[off + x + 3]!) >>> 0;
      return ipv6WordsToString(w(0), w(4), w(8), w(12));
    };
    const m = this.mac;
    const macOf = (dir: number): string | null => {
      const mo = s * 12 + dir * 6;
      if ((m[mo]! | m[mo + 1]! | m[mo + 2]! | m[mo + 3]! | m[mo + 4]! | m[mo + 5]!) === 0) return null;
      return macToString(m, mo);
    };
    const firstT = this.ivStart[s]!;
    const rec: FlowRecord = {
      type: 'flow',
      flow_id: this.flowId[s]!,
      community_id: this.recordIdentity(s),
      proto,
      client_ip: addr(cSide),
      client_port: cPort,
      server_ip: addr(cSide ^ 1),
      server_port: sPort,
      first_ts: this.tsString(firstT),
      last_ts: this.tsString(this.last[s]!),
      duration_ms: ms(this.last[s]! - firstT),
      client_packets: this.pk[c]!,
      server_packets: this.pk[c + 1]!,
      client_ip_bytes: this.ipB[c]!,
      server_ip_bytes: this.ipB[c + 1]!,
      client_wire_bytes: this.wireB[c]!,
      server_wire_bytes: this.wireB[c + 1]!,
      client_payload_bytes: this.payB[c]!,
      server_payload_bytes: this.payB[c + 1]!,
      client_tcp_flags: proto === PROTO_TCP ? tcpFlagsString(this.flags[c]!) : null,
      server_tcp_flags: proto === PROTO_TCP ? tcpFlagsString(this.flags[c + 1]!) : null,
      rtt_client_ms: handshake ? ms(this.rttC[s]!) : null,
      rtt_server_ms: handshake ? ms(this.rttS[s]!) : null,
      rtt_ms: handshake ? ms(this.rttS[s]! + this.rttC[s]!) : null,
      srt_ms: st & ST_HAS_RSP ? ms(this.rspT[s]! - this.reqT[s]!) : null,
      client_retransmissions: this.retrans[c]!,
      server_retransmissions: this.retrans[c + 1]!,
      client_out_of_order: this.ooo[c]!,
      server_out_of_order: this.ooo[c + 1]!,
      client_zero_windows: this.zeroWin[c]!,
      server_zero_windows: this.zeroWin[c + 1]!,
      resets: this.resets[s]!,
      client_ipd_mean_ms: mean(c),
      server_ipd_mean_ms: mean(c + 1),
      client_jitter_ms: sd(c),
      server_jitter_ms: sd(c + 1),
      icmp_type: isIcmp && icmp >= 0 ? icmp >>> 8 : null,
      icmp_code: isIcmp && icmp >= 0 ? icmp & 0xff : null,
      client_mac: macOf(0),
      server_mac: macOf(1),
      vlan: vl >>> 24 >= 1 ? (vl >>> 12) & 0xfff : null,
      vlan_inner: vl >>> 24 >= 2 ? vl & 0xfff : null,
      tunnel: (tun & 15) !== 0 ? (TUNNEL_NAMES[tun & 15] ?? null) : null,
      tunnel_outer_src: outerStr(0),
      tunnel_outer_dst: outerStr(1),
      vni: this.tunnelId[s]! >= 0 ? this.tunnelId[s]! : null,
      gre_key: this.greKey[s]! >= 0 ? this.greKey[s]! : null,
      erspan_session: this.erspan[s]! >= 0 ? this.erspan[s]! : null,
      fragments: this.frags[s]!,
      end_reason: END_NAMES[reason]!,
      interim: reason === END_ACTIVE,
      app: null,
    };
    this.stats.flowsEmitted++;
    this.onFlow(rec);
  }
}

/** Tunnel context of a packet for the flow key: the VNI, else the ERSPAN session, else the GRE key. */
function tunnelContext(p: Packet): number {
  if (p.vni >= 0) return (p.vni | 0x1000000) >>> 0;
  if (p.erspanSession >= 0) return (p.erspanSession | 0x2000000) >>> 0;
  if (p.greKey >= 0) return (p.greKey ^ 0x3000000) >>> 0;
  return 0;
}

function hashKey(k: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < KW; i++) {
    h = Math.imul(h ^ k[i]!, 0x01000193);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** ISO-8601 UTC with nanoseconds: 2024-05-01T12:00:00.123456789Z */
export function isoNs(sec: number, ns: number): string {
  const d = new Date(sec * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(
    d.getUTCMinutes(),
    2,
  )}:${pad(d.getUTCSeconds(), 2)}.${pad(ns, 9)}Z`;
}
