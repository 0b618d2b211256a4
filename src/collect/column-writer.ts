/**
 * The decode thread's way to a `ColumnBatch` without a record object per flow: each decoded
 * flow (the reused FlowAcc and its datagram's context) is written straight into row-major
 * number and string-index columns, with the same values `toRecord` would give and
 * `encodeColumns` would encode (a test holds the two paths equal).
 *
 * Strings are interned into the batch's dictionary: an address or MAC through a table of the
 * batch keyed by its bytes (made once per batch, not once per flow), a TCP flag string through
 * a cache kept across batches (few distinct values), so a repeated value costs a table probe,
 * not a string; times are numbers (ms). A decode thread that made ~40 values and an object per flow filled its
 * young generation with them at 400k records/s. What is still made per flow is the Community
 * ID (a hash of the 5-tuple, different for nearly every flow) and the `extra` object of fields
 * without a column (only for templates that have them).
 */
import { ipv6BytesToString, macToString } from '../common/addr.js';
import { tcpFlagsString } from '../flow/tcp-flags.js';
import { type ColumnBatch, NUM_KEYS, STR_KEYS } from './columns.js';
import { type ExportContext, type FlowAcc, flowCommunityId, flowIcmp, flowTimes, times } from './flow-acc.js';
import type { CollectedRecord } from './types.js';

const NN = NUM_KEYS.length;
const NS = STR_KEYS.length;
const ROW = NN * 8 + NS * 4;

// Every column is written for every flow row: the positions are looked up once, and a column
// of the schema that this file does not write fails at import (not as a silent zero).
const numSeen = new Set<string>();
const strSeen = new Set<string>();
function ni(k: string): number {
  const i = (NUM_KEYS as string[]).indexOf(k);
  if (i < 0) throw new Error(`column-writer: no number column ${k}`);
  numSeen.add(k);
  return i;
}
function si(k: string): number {
  const i = (STR_KEYS as string[]).indexOf(k);
  if (i < 0) throw new Error(`column-writer: no string column ${k}`);
  strSeen.add(k);
  return i;
}
const N_EXPORTER_PORT = ni('exporter_port');
const N_DOMAIN = ni('observation_domain');
const N_TEMPLATE = ni('template_id');
const N_DURATION = ni('duration_ms');
const N_IP_VERSION = ni('ip_version');
const N_SRC_PORT = ni('src_port');
const N_DST_PORT = ni('dst_port');
const N_PROTO = ni('proto');
const N_PACKETS = ni('packets');
const N_BYTES = ni('bytes');
const N_PACKETS_RAW = ni('packets_raw');
const N_BYTES_RAW = ni('bytes_raw');
const N_RATE = ni('sampling_rate');
const N_TOS = ni('tos');
const N_ICMP_TYPE = ni('icmp_type');
const N_ICMP_CODE = ni('icmp_code');
const N_IN_IF = ni('input_if');
const N_OUT_IF = ni('output_if');
const N_IN_SPEED = ni('input_if_speed');
const N_OUT_SPEED = ni('output_if_speed');
const N_DIRECTION = ni('direction');
const N_SRC_AS = ni('src_as');
const N_DST_AS = ni('dst_as');
const N_SRC_MASK = ni('src_mask');
const N_DST_MASK = ni('dst_mask');
const N_VLAN = ni('vlan');
const N_END_REASON = ni('end_reason');
const N_EXPORT_TS = ni('export_ts');
const N_FIRST_TS = ni('first_ts');
const N_LAST_TS = ni('last_ts');
const S_SOURCE = si('source');
const S_EXPORTER = si('exporter');
const S_SRC_IP = si('src_ip');
const S_DST_IP = si('dst_ip');
const S_CID = si('community_id');
const S_FLAGS = si('tcp_flags');
const S_IN_NAME = si('input_if_name');
const S_IN_ALIAS = si('input_if_alias');
const S_OUT_NAME = si('output_if_name');
const S_OUT_ALIAS = si('output_if_alias');
const S_NEXT_HOP = si('next_hop');
const S_BGP = si('bgp_next_hop');
const S_SRC_MAC = si('src_mac');
const S_DST_MAC = si('dst_mac');
if (numSeen.size !== NN || strSeen.size !== NS)
  throw new Error(
    `column-writer: exported_flow columns not written: ${[...NUM_KEYS, ...STR_KEYS].filter((k) => !numSeen.has(k) && !strSeen.has(k)).join(', ')}`,
  );

/** Absent number (a record's null). */
const NUL = Number.NaN;
const nn = (v: number): number => (v < 0 ? NUL : v);

// Direct-mapped tables, per batch: a collision only costs the string being made again. A
// table sized for the distinct values of a full batch (source and destination of 8192 flows).
const V4_BITS = 15;
const V6_BITS = 12;
const MAC_BITS = 10;

/** A string made once from its key and kept across batches (TCP flags: few distinct). */
class Interned {
  readonly strs: string[];
  readonly idx: Int32Array;
  readonly epoch: Uint32Array;
  constructor(slots: number) {
    this.strs = new Array<string>(slots).fill('');
    this.idx = new Int32Array(slots);
    this.epoch = new Uint32Array(slots);
  }
}

/**
 * Dictionary indexes of the current batch by a numeric key (addresses, MACs), the strings not
 * kept past the batch. Keeping them across batches (a cache of 2^17 address strings) cost
 * more than it saved in the decode thread at 400k records/s of uniformly spread addresses:
 * every miss stored a young string in an old array (a write barrier, then a survivor copied
 * and promoted), where a string made for one batch dies young.
 */
class BatchKeys {
  readonly key: Float64Array;
  readonly idx: Int32Array;
  readonly epoch: Uint32Array;
  constructor(slots: number, words = 1) {
    this.key = new Float64Array(slots * words);
    this.idx = new Int32Array(slots);
    this.epoch = new Uint32Array(slots);
  }
}

export class ColumnWriter {
  /** Rows written (flows and other records) since the last `finish`. */
  n = 0;
  private cap = 0;
  private buf!: ArrayBuffer;
  private f!: Float64Array;
  private s!: Int32Array;
  /** Capacity a new buffer gets: the thread's batch size plus a datagram's records. */
  private readonly capacity: number;
  /**
   * The batch's strings: the first `nd` of an array kept from batch to batch, copied out at its
   * size when the batch is handed on (grown by doubling from empty per batch, its copies were
   * most of what a batch allocated).
   */
  private readonly dict: string[] = [];
  private nd = 0;
  private others: [number, CollectedRecord][] = [];
  private extras: [number, unknown][] = [];
  /** Batch number: a cached dictionary index is valid only in the batch that set it. */
  private epoch = 1;

  private readonly v4 = new BatchKeys(1 << V4_BITS);
  private readonly v6 = new BatchKeys(1 << V6_BITS, 4);
  private readonly mac = new BatchKeys(1 << MAC_BITS);
  private readonly flags = new Interned(256);
  /** Few distinct values per batch (protocol names, exporter addresses): a Map per batch. */
  private readonly text = new Map<string, number>();
  private lastExporter = '';
  private lastExporterIdx = -1;

  constructor(capacity = 8192 + 64) {
    this.capacity = Math.max(16, capacity);
    this.alloc(this.capacity);
    for (let i = 0; i < 256; i++) this.flags.strs[i] = tcpFlagsString(i);
  }

  /** Row-major numbers for `cap` rows, then their string indexes, in one transferable buffer. */
  private alloc(cap: number): void {
    // Uninitialised: every row's every column is written before the batch is handed on.
    this.buf = Buffer.allocUnsafeSlow(cap * ROW).buffer as ArrayBuffer;
    this.cap = cap;
    this.f = new Float64Array(this.buf, 0, cap * NN);
    this.s = new Int32Array(this.buf, cap * NN * 8, cap * NS);
  }

  private row(): number {
    if (this.n === this.cap) {
      // Amortised: a batch larger than any before (the main thread's batches of datagrams).
      const f = this.f;
      const s = this.s;
      this.alloc(this.cap * 2);
      this.f.set(f);
      this.s.set(s);
    }
    return this.n++;
  }

  /** A record that is not a flow (sFlow counters): kept as the object, by its row. */
  other(rec: CollectedRecord): void {
    const i = this.row();
    this.f.fill(0, i * NN, i * NN + NN);
    this.s.fill(0, i * NS, i * NS + NS);
    this.others.push([i, rec]);
  }

  /** One flow: what `toRecord(a, c)` would hold, into the columns. */
  flow(a: FlowAcc, c: ExportContext): void {
    const i = this.row();
    const f = this.f;
    const s = this.s;
    const fb = i * NN;
    const sb = i * NS;
    flowTimes(a, c);
    const start = times.start;
    const end = times.end;
    const hasIp = a.srcOff >= 0 && a.dstOff >= 0;
    const proto = a.proto;
    const icmp = flowIcmp(a);
    const rate = c.samplingRate > 0 ? c.samplingRate : 1;
    const packets = a.packets < 0 ? 0 : a.packets;
    const bytes = a.bytes < 0 ? 0 : a.bytes;
    f[fb + N_EXPORTER_PORT] = c.exporterPort;
    f[fb + N_DOMAIN] = c.domain;
    f[fb + N_TEMPLATE] = c.templateId === null ? NUL : c.templateId;
    f[fb + N_DURATION] = Math.max(0, end - start);
    f[fb + N_IP_VERSION] = hasIp ? a.ipVer : nn(a.ipVersionField);
    f[fb + N_SRC_PORT] = icmp ? NUL : nn(a.srcPort);
    f[fb + N_DST_PORT] = icmp ? NUL : nn(a.dstPort);
    f[fb + N_PROTO] = nn(proto);
    f[fb + N_PACKETS] = packets * rate;
    f[fb + N_BYTES] = bytes * rate;
    f[fb + N_PACKETS_RAW] = packets;
    f[fb + N_BYTES_RAW] = bytes;
    f[fb + N_RATE] = rate;
    f[fb + N_TOS] = nn(a.tos);
    f[fb + N_ICMP_TYPE] = icmp ? nn(a.icmpType) : NUL;
    f[fb + N_ICMP_CODE] = icmp ? nn(a.icmpCode) : NUL;
    f[fb + N_IN_IF] = nn(a.inIf);
    f[fb + N_OUT_IF] = nn(a.outIf);
    f[fb + N_IN_SPEED] = NUL;
    f[fb + N_OUT_SPEED] = NUL;
    f[fb + N_DIRECTION] = nn(a.direction);
    f[fb + N_SRC_AS] = nn(a.srcAs);
    f[fb + N_DST_AS] = nn(a.dstAs);
    f[fb + N_SRC_MASK] = nn(a.srcMask);
    f[fb + N_DST_MASK] = nn(a.dstMask);
    f[fb + N_VLAN] = nn(a.vlan);
    f[fb + N_END_REASON] = nn(a.endReason);
    f[fb + N_EXPORT_TS] = c.exportMs;
    f[fb + N_FIRST_TS] = start;
    f[fb + N_LAST_TS] = end;

    const b = a.buf;
    s[sb + S_SOURCE] = this.textIdx(c.source);
    s[sb + S_EXPORTER] = this.exporterIdx(c.exporter);
    s[sb + S_SRC_IP] = a.srcOff >= 0 ? this.ipIdx(b, a.srcOff, a.ipVer) : -1;
    s[sb + S_DST_IP] = a.dstOff >= 0 ? this.ipIdx(b, a.dstOff, a.ipVer) : -1;
    const cid = flowCommunityId(a, c, icmp);
    if (cid === null) s[sb + S_CID] = -1;
    else {
      s[sb + S_CID] = this.add(cid);
    }
    s[sb + S_FLAGS] = proto === 6 && a.tcpFlags >= 0 ? this.flagsIdx(a.tcpFlags & 0xff) : -1;
    s[sb + S_IN_NAME] = -1;
    s[sb + S_IN_ALIAS] = -1;
    s[sb + S_OUT_NAME] = -1;
    s[sb + S_OUT_ALIAS] = -1;
    s[sb + S_NEXT_HOP] = a.nhOff >= 0 ? this.ipIdx(b, a.nhOff, a.nhVer) : -1;
    s[sb + S_BGP] = a.bgpOff >= 0 ? this.ipIdx(b, a.bgpOff, a.bgpVer) : -1;
    s[sb + S_SRC_MAC] = a.srcMacOff >= 0 ? this.macIdx(b, a.srcMacOff) : -1;
    s[sb + S_DST_MAC] = a.dstMacOff >= 0 ? this.macIdx(b, a.dstMacOff) : -1;
    if (a.extra !== null) this.extras.push([i, a.extra]);
  }

  /**
   * The batch written so far, in the form `encodeColumns` gives (its `buf` is meant to be
   * transferred), and a new batch begun.
   */
  finish(): ColumnBatch {
    const n = this.n;
    const dict = this.dict.slice(0, this.nd);
    let out: ColumnBatch;
    if (n >= (this.cap * 7) / 8) {
      // Nearly full (every batch under load): the buffer itself is handed on, no copy; what
      // travels unused is at most an eighth.
      out = {
        n,
        buf: this.buf,
        sOff: this.cap * NN * 8,
        dict,
        others: this.others,
        extras: this.extras,
      };
      this.alloc(this.capacity);
    } else {
      // A small batch (a quiet exporter's linger) is copied out to its size, so a queue of them
      // does not hold a large buffer each.
      // Uninitialised, as `alloc`: both regions are copied over whole.
      const buf = Buffer.allocUnsafeSlow(n * ROW).buffer as ArrayBuffer;
      new Float64Array(buf, 0, NN * n).set(this.f.subarray(0, NN * n));
      new Int32Array(buf, NN * n * 8, NS * n).set(this.s.subarray(0, NS * n));
      out = { n, buf, dict, others: this.others, extras: this.extras };
    }
    this.n = 0;
    // The kept array lets go of the batch's strings: held over a scavenge they would be copied
    // and promoted, and die old.
    this.dict.fill('', 0, this.nd);
    this.nd = 0;
    this.others = [];
    this.extras = [];
    this.text.clear();
    this.lastExporterIdx = -1;
    this.epoch = (this.epoch + 1) >>> 0 || 1;
    return out;
  }

  private add(v: string): number {
    const k = this.nd++;
    if (k < this.dict.length) this.dict[k] = v;
    else this.dict.push(v);
    return k;
  }

  private intern(t: Interned, slot: number): number {
    if (t.epoch[slot] === this.epoch) return t.idx[slot]!;
    const k = this.add(t.strs[slot]!);
    t.idx[slot] = k;
    t.epoch[slot] = this.epoch;
    return k;
  }

  private textIdx(v: string): number {
    let k = this.text.get(v);
    if (k === undefined) {
      k = this.add(v);
      this.text.set(v, k);
    }
    return k;
  }

  /** The exporter repeats for every flow of a datagram (and usually of a batch). */
  private exporterIdx(v: string): number {
    if (this.lastExporterIdx >= 0 && v === this.lastExporter) return this.lastExporterIdx;
    const k = this.textIdx(v);
    this.lastExporter = v;
    this.lastExporterIdx = k;
    return k;
  }

  private flagsIdx(v: number): number {
    return this.intern(this.flags, v);
  }

  private ipIdx(b: Uint8Array, o: number, ver: number): number {
    const ep = this.epoch;
    if (ver === 4) {
      const key = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      const slot = Math.imul(key, 0x9e3779b1) >>> (32 - V4_BITS);
      const t = this.v4;
      if (t.epoch[slot] === ep && t.key[slot] === key) return t.idx[slot]!;
      const k = this.add(`${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`);
      t.key[slot] = key;
      t.idx[slot] = k;
      t.epoch[slot] = ep;
      return k;
    }
    const w0 = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    const w1 = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    const w2 = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
    const w3 = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
    const h =
      Math.imul(Math.imul(Math.imul(w0 ^ 0x2545f491, 0x9e3779b1) ^ w1, 0x85ebca6b) ^ w2, 0xc2b2ae35) ^ w3;
    const slot = Math.imul(h, 0x9e3779b1) >>> (32 - V6_BITS);
    const k4 = slot * 4;
    const t = this.v6;
    const keys = t.key;
    if (
      t.epoch[slot] === ep &&
      keys[k4] === w0 &&
      keys[k4 + 1] === w1 &&
      keys[k4 + 2] === w2 &&
      keys[k4 + 3] === w3
    )
      return t.idx[slot]!;
    const k = this.add(ipv6BytesToString(b, o));
    keys[k4] = w0;
    keys[k4 + 1] = w1;
    keys[k4 + 2] = w2;
    keys[k4 + 3] = w3;
    t.idx[slot] = k;
    t.epoch[slot] = ep;
    return k;
  }

  private macIdx(b: Uint8Array, o: number): number {
    const hi = (b[o]! << 8) | b[o + 1]!;
    const lo = ((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0;
    const key = hi * 4294967296 + lo;
    const slot = (Math.imul(hi, 0x85ebca6b) ^ Math.imul(lo, 0x9e3779b1)) >>> (32 - MAC_BITS);
    const t = this.mac;
    if (t.epoch[slot] === this.epoch && t.key[slot] === key) return t.idx[slot]!;
    const k = this.add(macToString(b, o));
    t.key[slot] = key;
    t.idx[slot] = k;
    t.epoch[slot] = this.epoch;
    return k;
  }
}
