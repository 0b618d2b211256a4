import { ipv4ToString, ipv6WordsToString, macToString } from '../common/addr.js';
import { type Columnar, filledBatch } from '../store/columnar.js';
import { tcpFlagsString } from './tcp-flags.js';

/**
 * Flow records in column form, as the flow table fills them at record end: numbers (times as
 * ms since the epoch with a µs fraction, counters, ports; NaN = null) row-major in a
 * Float64Array, strings as indexes into the batch's dictionary. An address, MAC or flag set
 * becomes a dictionary entry once per batch (its text once while it stays in a small cache),
 * so no object or string is made per record on the way to the store and the detectors.
 */
export const FLOW_NUM = [
  'flow_id',
  'proto',
  'client_port',
  'server_port',
  'first_ts',
  'last_ts',
  'duration_ms',
  'client_packets',
  'server_packets',
  'client_ip_bytes',
  'server_ip_bytes',
  'client_wire_bytes',
  'server_wire_bytes',
  'client_payload_bytes',
  'server_payload_bytes',
  'rtt_client_ms',
  'rtt_server_ms',
  'rtt_ms',
  'srt_ms',
  'client_retransmissions',
  'server_retransmissions',
  'client_out_of_order',
  'server_out_of_order',
  'client_zero_windows',
  'server_zero_windows',
  'resets',
  'client_ipd_mean_ms',
  'server_ipd_mean_ms',
  'client_jitter_ms',
  'server_jitter_ms',
  'icmp_type',
  'icmp_code',
  'vlan',
  'vlan_inner',
  'vni',
  'gre_key',
  'erspan_session',
  'fragments',
  'interim',
] as const;

export const FLOW_STR = [
  'community_id',
  'client_ip',
  'server_ip',
  'client_tcp_flags',
  'server_tcp_flags',
  'client_mac',
  'server_mac',
  'tunnel',
  'tunnel_outer_src',
  'tunnel_outer_dst',
  'end_reason',
  'app',
] as const;

const numIx = Object.fromEntries(FLOW_NUM.map((k, i) => [k, i])) as Record<(typeof FLOW_NUM)[number], number>;
const strIx = Object.fromEntries(FLOW_STR.map((k, i) => [k, i])) as Record<(typeof FLOW_STR)[number], number>;
/** Offsets of each field within a row (numbers / string indexes). */
export const FN = numIx;
export const FS = strIx;
export const FLOW_NN = FLOW_NUM.length;
export const FLOW_NS = FLOW_STR.length;

/** Entries of the address and MAC caches (direct-mapped: a miss costs one string, never memory). */
const ADDR_SLOTS = 4096;

/**
 * Builds one batch at a time. `begin` opens a row (its values start as null), the caller
 * writes numbers into `f` at `fb + FN.x` and string indexes into `s` at `sb + FS.x` through
 * the helpers, then `commit`; a full batch is handed to `out`.
 */
export class FlowColumnBuilder {
  f: Float64Array;
  s: Int32Array;
  dict: string[] = [];
  rows = 0;
  /** Offsets of the open row. */
  fb = 0;
  sb = 0;
  /** Batches handed out; cache entries of an older batch are not valid dictionary indexes. */
  private epoch = 1;

  private readonly aKey = new Uint32Array(ADDR_SLOTS * 5);
  private readonly aStr: string[] = new Array<string>(ADDR_SLOTS).fill('');
  private readonly aEpoch = new Int32Array(ADDR_SLOTS);
  private readonly aIdx = new Int32Array(ADDR_SLOTS);
  private readonly mKey = new Float64Array(ADDR_SLOTS).fill(-1);
  private readonly mStr: string[] = new Array<string>(ADDR_SLOTS).fill('');
  private readonly mEpoch = new Int32Array(ADDR_SLOTS);
  private readonly mIdx = new Int32Array(ADDR_SLOTS);
  private readonly flagEpoch = new Int32Array(256);
  private readonly flagIdx = new Int32Array(256);
  private readonly flagStr: string[] = Array.from({ length: 256 }, (_, i) => tcpFlagsString(i));
  private readonly texts = new Map<string, number>();

  constructor(
    readonly capacity: number,
    private readonly out: (c: Columnar) => void,
  ) {
    this.f = new Float64Array(capacity * FLOW_NN);
    this.s = new Int32Array(capacity * FLOW_NS);
  }

  /** Open a row with every value null. */
  begin(): void {
    this.fb = this.rows * FLOW_NN;
    this.sb = this.rows * FLOW_NS;
    this.f.fill(Number.NaN, this.fb, this.fb + FLOW_NN);
    this.s.fill(-1, this.sb, this.sb + FLOW_NS);
  }

  /** Close the open row; a full batch goes out. */
  commit(): void {
    this.rows++;
    if (this.rows >= this.capacity) this.flush();
  }

  /** Hand out the rows so far (if any) and start a new batch. */
  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    const c = filledBatch(FLOW_NUM, FLOW_STR, this.f, this.s, this.dict, n, this.capacity);
    // The batch is the consumer's now (the store holds it while it appends): fresh arrays.
    this.f = new Float64Array(this.capacity * FLOW_NN);
    this.s = new Int32Array(this.capacity * FLOW_NS);
    this.dict = [];
    this.rows = 0;
    this.epoch++;
    this.texts.clear();
    this.out(c);
  }

  /** Dictionary index of an address given as its version and words (IPv4 in w0). */
  addr(ver: number, w0: number, w1: number, w2: number, w3: number): number {
    let h = Math.imul(w0 ^ (ver << 28), 0x9e3779b1);
    if (ver !== 4) {
      h = Math.imul(h ^ w1, 0x85ebca6b);
      h = Math.imul(h ^ w2, 0xc2b2ae35);
      h = Math.imul(h ^ w3, 0x9e3779b1);
    }
    const slot = (h >>> 20) & (ADDR_SLOTS - 1);
    const k = this.aKey;
    const o = slot * 5;
    let text: string;
    if (k[o] === ver && k[o + 1] === w0 && k[o + 2] === w1 && k[o + 3] === w2 && k[o + 4] === w3) {
      if (this.aEpoch[slot] === this.epoch) return this.aIdx[slot]!;
      text = this.aStr[slot]!;
    } else {
      text = ver === 4 ? ipv4ToString(w0) : ipv6WordsToString(w0, w1, w2, w3);
      k[o] = ver;
      k[o + 1] = w0;
      k[o + 2] = w1;
      k[o + 3] = w2;
      k[o + 4] = w3;
      this.aStr[slot] = text;
    }
    const d = this.dict.length;
    this.dict.push(text);
    this.aEpoch[slot] = this.epoch;
    this.aIdx[slot] = d;
    return d;
  }

  /** The text of the address `addr` last returned for these words (for the flow-end hooks). */
  addrText(d: number): string {
    return this.dict[d]!;
  }

  /** Dictionary index of a MAC address at `b[off..off+6]`. */
  mac(b: Uint8Array, off: number): number {
    const hi = (b[off]! << 8) | b[off + 1]!;
    const lo = ((b[off + 2]! << 24) | (b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!) >>> 0;
    const key = hi * 4294967296 + lo;
    const slot = (Math.imul(lo ^ (hi << 16), 0x9e3779b1) >>> 20) & (ADDR_SLOTS - 1);
    let text: string;
    if (this.mKey[slot] === key) {
      if (this.mEpoch[slot] === this.epoch) return this.mIdx[slot]!;
      text = this.mStr[slot]!;
    } else {
      text = macToString(b, off);
      this.mKey[slot] = key;
      this.mStr[slot] = text;
    }
    const d = this.dict.length;
    this.dict.push(text);
    this.mEpoch[slot] = this.epoch;
    this.mIdx[slot] = d;
    return d;
  }

  /** Dictionary index of a TCP flag set (letters). */
  flags(bits: number): number {
    if (this.flagEpoch[bits] === this.epoch) return this.flagIdx[bits]!;
    const d = this.dict.length;
    this.dict.push(this.flagStr[bits]!);
    this.flagEpoch[bits] = this.epoch;
    this.flagIdx[bits] = d;
    return d;
  }

  /** Dictionary index of the `i`th of a fixed list of texts (end reasons). */
  listed(i: number, t: string): number {
    if (this.listEpoch[i] === this.epoch) return this.listIdx[i]!;
    const d = this.dict.length;
    this.dict.push(t);
    this.listEpoch[i] = this.epoch;
    this.listIdx[i] = d;
    return d;
  }
  private readonly listEpoch = new Int32Array(16);
  private readonly listIdx = new Int32Array(16);

  /** Dictionary index of a low-cardinality text (end reason, tunnel, application). */
  text(t: string): number {
    let d = this.texts.get(t);
    if (d === undefined) {
      d = this.dict.length;
      this.dict.push(t);
      // Applications come from names: bounded like the rest, an entry is merely repeated.
      if (this.texts.size < 4096) this.texts.set(t, d);
    }
    return d;
  }

  /** Dictionary index of a text that is new for every row (Community ID). */
  unique(t: string): number {
    const d = this.dict.length;
    this.dict.push(t);
    return d;
  }
}
