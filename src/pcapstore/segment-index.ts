import { closeSync, openSync, readFileSync, renameSync, writevSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import type { FlowLookup } from '../analyze/types.js';
import { be32 } from '../common/bytes.js';
import type { Packet } from '../decode/packet.js';
import type { FlowIds } from '../flow/flow-table.js';

/**
 * The index of one pcap segment. Packets are grouped into the flows the sensor metered (a
 * segment-local ordinal per flow); postings map IPv4 addresses, IPv6 address hashes and ports to
 * flow ordinals, and each flow lists the file offsets of its packets. Per packet the index
 * costs 4 bytes (its offset); everything else is per flow or per 4096 packets.
 *
 * Ordinal 0 is the "other" group: non-IP packets, unattributed fragments and packets that do
 * not match the key their flow slot had when the segment first saw it (ICMP errors). It is
 * always a candidate and its packets are checked one by one.
 */

export const FLOW_TUNNEL = 1;
export const FLOW_OTHER = 2;
/** Packets of the flow disagree on VLAN / VNI: check them one by one. */
export const FLOW_MIXED = 4;

const MARK_EVERY = 4096;
const MAGIC = 0x31585056; // 'VPX1'
const ZEROS = new Uint8Array(8);

type Arr = Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float64Array;
type ArrCtor = { new (n: number): Arr; BYTES_PER_ELEMENT: number };
const CTORS: Record<string, ArrCtor> = {
  u8: Uint8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f64: Float64Array,
};
function typeOf(a: Arr): string {
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Uint16Array) return 'u16';
  if (a instanceof Int16Array) return 'i16';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Int32Array) return 'i32';
  return 'f64';
}

export interface SegmentMeta {
  linkType: number;
  packets: number;
  /** Packet bytes as stored (record headers included): the file size the index covers. */
  fileBytes: number;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  flows: number;
  /** True when the index was rebuilt from the segment (flow ids are the rebuild's, not the sensor's). */
  rebuilt: boolean;
}

/** Flow key fields, struct of arrays, one entry per ordinal. */
export interface FlowArrays {
  flowId: Float64Array;
  ipVer: Uint8Array;
  flags: Uint8Array;
  proto: Int16Array;
  vlan: Uint16Array;
  vni: Int32Array;
  sport: Uint16Array;
  dport: Uint16Array;
  /** 8 words per flow: the first packet's source address (4 words, v4 in word 0) then destination. */
  addr: Uint32Array;
  firstSec: Uint32Array;
  firstNs: Uint32Array;
  lastSec: Uint32Array;
  lastNs: Uint32Array;
  /** Two 32-bit hashes of the flow's Community ID string (0, 0 when none). */
  cid: Uint32Array;
}

export interface SegmentIndexData extends FlowArrays {
  /** CSR: packets of flow f are pktOff[pktStart[f] .. pktStart[f+1]), ascending. */
  pktStart: Uint32Array;
  pktOff: Uint32Array;
  ip4Keys: Uint32Array;
  ip4Start: Uint32Array;
  ip4Flows: Uint32Array;
  ip6Keys: Uint32Array;
  ip6Start: Uint32Array;
  ip6Flows: Uint32Array;
  portKeys: Uint32Array;
  portStart: Uint32Array;
  portFlows: Uint32Array;
  /** Per block of 4096 packets (in file order): the first record's offset, min and max second. */
  markOff: Uint32Array;
  markMin: Uint32Array;
  markMax: Uint32Array;
}

export class SegmentIndex {
  constructor(
    readonly meta: SegmentMeta,
    readonly d: SegmentIndexData,
  ) {}

  get flowCount(): number {
    return this.meta.flows;
  }

  /** Bytes the index takes on disk (about). */
  byteSize(): number {
    let n = 0;
    for (const a of Object.values(this.d)) n += (a as Arr).byteLength;
    return n;
  }

  /**
   * Write atomically (temp file + rename), the arrays as they are in memory, each padded to 8
   * bytes so a reader maps them without a copy. Not compressed: deflate (even its fast level)
   * cost 0.2-0.3 CPU-s per GB of packets for a factor of 1.7 on an index that is about 1.6% of
   * the packet bytes (0.9% deflated) on realistic traffic. Deflated indexes written before
   * (no `z` in the header) are still read.
   */
  write(path: string): void {
    const names = Object.keys(this.d).sort();
    const arrays = names.map((k) => (this.d as unknown as Record<string, Arr>)[k]!);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const a of arrays) {
      if (a.byteLength === 0) continue;
      parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      const pad = ((a.byteLength + 7) & ~7) - a.byteLength;
      if (pad > 0) parts.push(ZEROS.subarray(0, pad));
      total += a.byteLength + pad;
    }
    let json = JSON.stringify({
      meta: this.meta,
      raw: total,
      z: 'none',
      arrays: names.map((k, i) => [k, typeOf(arrays[i]!), arrays[i]!.length]),
    });
    // The arrays start 8-aligned in the file: JSON allows the trailing spaces.
    json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) & 7)) & 7);
    const meta = Buffer.from(json);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(MAGIC, 0);
    head.writeUInt32LE(meta.length, 4);
    parts.unshift(head, meta);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      // writev takes at most IOV_MAX (1024) buffers; an index has about 60.
      let off = 0;
      let i = 0;
      while (i < parts.length) {
        const n = writevSync(fd, parts.slice(i, i + 1024), off);
        off += n;
        let left = n;
        while (left > 0) {
          const b = parts[i]!;
          if (left >= b.byteLength) {
            left -= b.byteLength;
            i++;
          } else {
            parts[i] = b.subarray(left); // a short write: resume inside this buffer
            left = 0;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  /** Load an index file; null when it is missing, damaged or of another version. */
  static read(path: string): SegmentIndex | null {
    let raw: Buffer;
    try {
      raw = readFileSync(path);
    } catch {
      return null;
    }
    try {
      if (raw.length < 8 || raw.readUInt32LE(0) !== MAGIC) return null;
      const ml = raw.readUInt32LE(4);
      const parsed = JSON.parse(raw.subarray(8, 8 + ml).toString()) as {
        meta: SegmentMeta;
        raw: number;
        /** 'none' (stored as is); absent: deflated (indexes written before 2026-12-06). */
        z?: string;
        arrays: [string, string, number][];
      };
      const stored = raw.subarray(8 + ml);
      const plain = parsed.z === 'none' ? stored : inflateRawSync(stored);
      if (plain.length !== parsed.raw) return null;
      // Typed views need aligned memory: copy into a fresh ArrayBuffer when the Buffer is not.
      const body = plain.byteOffset % 8 === 0 ? plain : Buffer.from(plain);
      let pos = 0;
      const d: Record<string, Arr> = {};
      for (const [name, t, len] of parsed.arrays) {
        const C = CTORS[t];
        if (!C) return null;
        const bytes = len * C.BYTES_PER_ELEMENT;
        if (pos + bytes > body.length) return null;
        d[name] = new (C as unknown as new (b: ArrayBufferLike, o: number, n: number) => Arr)(
          body.buffer,
          body.byteOffset + pos,
          len,
        );
        pos += (bytes + 7) & ~7;
      }
      return new SegmentIndex(parsed.meta, d as unknown as SegmentIndexData);
    } catch {
      return null;
    }
  }
}

/** 32-bit FNV-1a over a string (Community ID lookup keys). */
export function fnv32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
export const CID_SEED2 = 0x9747b28c;

/** Hash of an IPv6 address given as four words (postings key). */
export function ip6Key(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ w2, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w3, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function grow<T extends Arr>(a: T, need: number): T {
  if (need <= a.length) return a;
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = new (a.constructor as ArrCtor)(n) as T;
  b.set(a as never);
  return b;
}

// The builder's working flow table: one 64-byte row (a cache line) per flow ordinal, so a
// packet's check and update touch one line instead of one in each of a dozen arrays (a flow's
// row is rarely in cache when its next packet comes). Columns of the index are cut from it at
// `build`.
const FW = 16;
/** ipVer | flags << 8 | vlan << 16 */
const W_META = 0;
const W_PROTO = 1;
const W_VNI = 2;
/** sport | dport << 16 */
const W_PORTS = 3;
/** 8 words: the first packet's source address (4 words, v4 in the first), then destination. */
const W_ADDR = 4;
const W_FIRST_SEC = 12;
const W_FIRST_NS = 13;
const W_LAST_SEC = 14;
const W_LAST_NS = 15;

/**
 * Builds a segment's index while the segment is written. `add` is on the packet path: it
 * writes numbers into growable typed arrays and allocates only when a flow is first seen in
 * the segment (its flow id and Community ID come from the flow table's cached context).
 */
export class IndexBuilder {
  packets = 0;
  fileBytes = 0;
  firstSec = 0;
  firstNs = 0;
  lastSec = 0;
  lastNs = 0;
  private pktFlow = new Uint32Array(1 << 16);
  private pktOff = new Uint32Array(1 << 16);
  private nFlows = 1;
  /** Flow rows (FW words per ordinal), signed and unsigned views of one buffer. */
  private fi = new Int32Array(1024 * FW);
  private fu = new Uint32Array(this.fi.buffer);
  private flowId = new Float64Array(1024);
  private cid = new Uint32Array(1024 * 2);
  /** Per flow-table slot: [ordinal + 1 (0: none), slot generation] side by side. */
  private slotMap = new Uint32Array(1 << 15);
  private markOff = new Uint32Array(64);
  private markMin = new Uint32Array(64);
  private markMax = new Uint32Array(64);

  constructor(
    public linkType: number,
    private readonly rebuilt = false,
  ) {
    this.otherRow();
  }

  /** Ordinal 0, the "other" group, as a segment starts it. */
  private otherRow(): void {
    this.fu.fill(0, 0, FW);
    this.fu[W_META] = FLOW_OTHER << 8;
    this.fi[W_PROTO] = -1;
    this.fi[W_VNI] = -1;
    this.fu[W_FIRST_SEC] = 0xffffffff;
    this.flowId[0] = 0;
    this.cid[0] = 0;
    this.cid[1] = 0;
  }

  /**
   * Start the next segment in the arrays this one grew (the built index holds copies): a new
   * builder per segment grew its packet arrays from 64k entries to the segment's count again,
   * each step a copy into freshly faulted pages.
   */
  restart(linkType: number): void {
    this.linkType = linkType;
    this.packets = 0;
    this.fileBytes = 0;
    this.firstSec = 0;
    this.firstNs = 0;
    this.lastSec = 0;
    this.lastNs = 0;
    this.nFlows = 1;
    this.slotMap.fill(0);
    this.otherRow();
  }

  /** Account one packet written at file offset `off`. */
  add(p: Packet, off: number, recLen: number, flows: FlowLookup | null, slot: number): void {
    const n = this.packets;
    if (n >= this.pktOff.length) {
      this.pktOff = grow(this.pktOff, n + 1);
      this.pktFlow = grow(this.pktFlow, n + 1);
    }
    const sec = p.tsSec;
    const ns = p.tsNs;
    if (n === 0) {
      this.firstSec = sec;
      this.firstNs = ns;
      this.lastSec = sec;
      this.lastNs = ns;
    } else {
      if (sec < this.firstSec || (sec === this.firstSec && ns < this.firstNs)) {
        this.firstSec = sec;
        this.firstNs = ns;
      }
      if (sec > this.lastSec || (sec === this.lastSec && ns > this.lastNs)) {
        this.lastSec = sec;
        this.lastNs = ns;
      }
    }
    const m = n >>> 12;
    if ((n & (MARK_EVERY - 1)) === 0) {
      if (m >= this.markOff.length) {
        this.markOff = grow(this.markOff, m + 1);
        this.markMin = grow(this.markMin, m + 1);
        this.markMax = grow(this.markMax, m + 1);
      }
      this.markOff[m] = off;
      this.markMin[m] = sec;
      this.markMax[m] = sec;
    } else {
      if (sec < this.markMin[m]!) this.markMin[m] = sec;
      if (sec > this.markMax[m]!) this.markMax[m] = sec;
    }
    const ord = slot >= 0 && flows !== null ? this.ordinal(p, flows, slot) : 0;
    const u = this.fu;
    const o = ord * FW;
    if (ord === 0) {
      if (sec < u[W_FIRST_SEC]!) u[W_FIRST_SEC] = sec;
      if (sec > u[W_LAST_SEC]!) u[W_LAST_SEC] = sec;
    } else if (sec > u[o + W_LAST_SEC]! || (sec === u[o + W_LAST_SEC]! && ns > u[o + W_LAST_NS]!)) {
      u[o + W_LAST_SEC] = sec;
      u[o + W_LAST_NS] = ns;
    } else if (sec < u[o + W_FIRST_SEC]! || (sec === u[o + W_FIRST_SEC]! && ns < u[o + W_FIRST_NS]!)) {
      u[o + W_FIRST_SEC] = sec;
      u[o + W_FIRST_NS] = ns;
    }
    this.pktFlow[n] = ord;
    this.pktOff[n] = off;
    this.packets = n + 1;
    this.fileBytes = off + recLen;
  }

  private ordinal(p: Packet, flows: FlowLookup, slot: number): number {
    if (slot * 2 >= this.slotMap.length) this.slotMap = grow(this.slotMap, slot * 2 + 2);
    const sm = this.slotMap;
    const gen = flows.generation(slot);
    const k = slot * 2;
    const e = sm[k]!;
    if (e === 0 || sm[k + 1] !== gen) {
      const ord = this.newFlow(p, flows, slot);
      sm[k] = ord + 1;
      sm[k + 1] = gen;
      return ord;
    }
    const ord = e - 1;
    return this.sameKey(p, ord) ? ord : 0;
  }

  /**
   * Does the packet carry the flow entry's key (either direction)? The flow table has already
   * matched its addresses, protocol and ports to this slot and generation, so only the ports
   * are left to compare: they differ where the table attributes a packet without its own key (a
   * later IP fragment carries none and counts for its train's flow) or where the entry's first
   * packet was such a fragment. Vlan, VNI and tunnel differences (flows the table keeps
   * together when told not to key on them) mark the entry mixed.
   */
  private sameKey(p: Packet, ord: number): boolean {
    const u = this.fu;
    const o = ord * FW;
    const meta = u[o + W_META]!;
    if (
      p.vlan0 !== meta >>> 16 ||
      p.vni !== this.fi[o + W_VNI] ||
      p.tunnelDepth > 0 !== (((meta >>> 8) & FLOW_TUNNEL) !== 0)
    ) {
      u[o + W_META] = meta | (FLOW_MIXED << 8);
    }
    const ports = u[o + W_PORTS]!;
    const sp = ports & 0xffff;
    const dp = ports >>> 16;
    return (p.srcPort === sp && p.dstPort === dp) || (p.srcPort === dp && p.dstPort === sp);
  }

  private newFlow(p: Packet, flows: FlowLookup | null, slot: number): number {
    const ord = this.nFlows++;
    if ((ord + 1) * FW > this.fi.length) {
      this.fi = grow(this.fi, (ord + 1) * FW);
      this.fu = new Uint32Array(this.fi.buffer);
      this.flowId = grow(this.flowId, ord + 1);
      this.cid = grow(this.cid, (ord + 1) * 2);
    }
    const u = this.fu;
    const o = ord * FW;
    // The row may hold a value from a rebuilt table's growth: every word is written.
    u[o + W_META] = p.ipVer | ((p.tunnelDepth > 0 ? FLOW_TUNNEL : 0) << 8) | ((p.vlan0 & 0xffff) << 16);
    this.fi[o + W_PROTO] = (p.proto << 16) >> 16;
    this.fi[o + W_VNI] = p.vni;
    u[o + W_PORTS] = (p.srcPort & 0xffff) | ((p.dstPort & 0xffff) << 16);
    const words = p.ipVer === 6 ? 4 : 1;
    const a = o + W_ADDR;
    for (let i = 0; i < 4; i++) {
      u[a + i] = i < words ? be32(p.buf, p.srcOff + i * 4) : 0;
      u[a + 4 + i] = i < words ? be32(p.buf, p.dstOff + i * 4) : 0;
    }
    u[o + W_FIRST_SEC] = p.tsSec;
    u[o + W_FIRST_NS] = p.tsNs;
    u[o + W_LAST_SEC] = p.tsSec;
    u[o + W_LAST_NS] = p.tsNs;
    if (flows !== null && slot >= 0) {
      // A flow table that answers for the id and Community ID alone spares the address strings
      // of a whole context on a flow's first packet in the segment.
      const ids = flows as FlowLookup & Partial<FlowIds>;
      let id: number;
      let cid: string;
      if (ids.communityId !== undefined && ids.flowId !== undefined) {
        id = ids.flowId(slot);
        cid = ids.communityId(slot);
      } else {
        const ctx = flows.context(slot);
        id = ctx.flow_id;
        cid = ctx.community_id;
      }
      this.flowId[ord] = id;
      this.cid[ord * 2] = fnv32(cid);
      this.cid[ord * 2 + 1] = fnv32(cid, CID_SEED2);
    }
    return ord;
  }

  /** The flow columns of the first `F` ordinals, cut from the rows. */
  private columns(F: number): FlowArrays {
    const u = this.fu;
    const fi = this.fi;
    const f: FlowArrays = {
      flowId: this.flowId.slice(0, F),
      ipVer: new Uint8Array(F),
      flags: new Uint8Array(F),
      proto: new Int16Array(F),
      vlan: new Uint16Array(F),
      vni: new Int32Array(F),
      sport: new Uint16Array(F),
      dport: new Uint16Array(F),
      addr: new Uint32Array(F * 8),
      firstSec: new Uint32Array(F),
      firstNs: new Uint32Array(F),
      lastSec: new Uint32Array(F),
      lastNs: new Uint32Array(F),
      cid: this.cid.slice(0, F * 2),
    };
    for (let ord = 0; ord < F; ord++) {
      const o = ord * FW;
      const meta = u[o + W_META]!;
      f.ipVer[ord] = meta & 0xff;
      f.flags[ord] = (meta >>> 8) & 0xff;
      f.vlan[ord] = meta >>> 16;
      f.proto[ord] = fi[o + W_PROTO]!;
      f.vni[ord] = fi[o + W_VNI]!;
      const ports = u[o + W_PORTS]!;
      f.sport[ord] = ports & 0xffff;
      f.dport[ord] = ports >>> 16;
      f.addr.set(u.subarray(o + W_ADDR, o + W_ADDR + 8), ord * 8);
      f.firstSec[ord] = u[o + W_FIRST_SEC]!;
      f.firstNs[ord] = u[o + W_FIRST_NS]!;
      f.lastSec[ord] = u[o + W_LAST_SEC]!;
      f.lastNs[ord] = u[o + W_LAST_NS]!;
    }
    return f;
  }

  /** The index of the first `n` packets (all by default); the builder stays usable. */
  build(n = this.packets, fileBytes = this.fileBytes): SegmentIndex {
    const F = this.nFlows;
    const pktStart = packetStarts(this.pktFlow, n, F);
    const pktOff = packetsByFlow(this.pktFlow, this.pktOff, n, pktStart, F);
    const f = this.columns(F);
    const k = flowKeys(f, pktStart, F);
    const [ip4Keys, ip4Start, ip4Flows] = postings(k.keys4, k.flows4, k.n4);
    const [ip6Keys, ip6Start, ip6Flows] = postings(k.keys6, k.flows6, k.n6);
    const [portKeys, portStart, portFlows] = postings(k.keysP, k.flowsP, k.nP);
    const marks = Math.ceil(n / MARK_EVERY);
    const cut = <T extends Arr>(a: T, k: number): T => a.slice(0, k) as T;
    const d: SegmentIndexData = {
      ...f,
      pktStart,
      pktOff,
      ip4Keys,
      ip4Start,
      ip4Flows,
      ip6Keys,
      ip6Start,
      ip6Flows,
      portKeys,
      portStart,
      portFlows,
      markOff: cut(this.markOff, marks),
      markMin: cut(this.markMin, marks),
      markMax: cut(this.markMax, marks),
    };
    if (pktStart[1] === 0) d.firstSec[0] = 0;
    return new SegmentIndex(
      {
        linkType: this.linkType,
        packets: n,
        fileBytes,
        firstSec: this.firstSec,
        firstNs: this.firstNs,
        lastSec: this.lastSec,
        lastNs: this.lastNs,
        flows: F,
        rebuilt: this.rebuilt,
      },
      d,
    );
  }
}

/*
 * `build` runs once per segment over a few hundred thousand packets: its loops tier up by
 * on-stack replacement, not by calls. As one function, each OSR compiled the whole of it with no
 * feedback yet for the loops after the running one, which deoptimized on reaching them (8-12
 * Turbofan compiles of `build` per ingest of the realistic capture). Each loop is a function
 * of its own, compiled once with its own feedback and reused by the next segment.
 */

/** Per flow ordinal, where its packets start in the packet list (CSR starts, `F + 1` entries). */
function packetStarts(pf: Uint32Array, n: number, F: number): Uint32Array {
  const counts = new Uint32Array(F + 1);
  for (let i = 0; i < n; i++) counts[pf[i]! + 1]!++;
  for (let i = 1; i <= F; i++) counts[i]! += counts[i - 1]!;
  return counts;
}

/** The packets' file offsets grouped by flow ordinal, in file order within a flow. */
function packetsByFlow(
  pf: Uint32Array,
  po: Uint32Array,
  n: number,
  pktStart: Uint32Array,
  F: number,
): Uint32Array {
  const fill = pktStart.slice(0, F);
  const pktOff = new Uint32Array(n);
  for (let i = 0; i < n; i++) pktOff[fill[pf[i]!]!++] = po[i]!;
  return pktOff;
}

/**
 * The (key, flow) pairs of the flows with packets: both addresses (IPv4, or IPv6 hashed) and
 * both ports. In typed arrays of one kind each, so that `postings` sees one element kind (number
 * lists held small integers for ports and doubles for addresses past 2^31).
 */
function flowKeys(f: FlowArrays, pktStart: Uint32Array, F: number) {
  const keys4 = new Float64Array(2 * F);
  const flows4 = new Float64Array(2 * F);
  const keys6 = new Float64Array(2 * F);
  const flows6 = new Float64Array(2 * F);
  const keysP = new Float64Array(2 * F);
  const flowsP = new Float64Array(2 * F);
  let n4 = 0;
  let n6 = 0;
  let nP = 0;
  for (let o = 1; o < F; o++) {
    if (pktStart[o + 1] === pktStart[o]) continue;
    const a = o * 8;
    if (f.ipVer[o] === 4) {
      keys4[n4] = f.addr[a]!;
      keys4[n4 + 1] = f.addr[a + 4]!;
      flows4[n4] = o;
      flows4[n4 + 1] = o;
      n4 += 2;
    } else if (f.ipVer[o] === 6) {
      keys6[n6] = ip6Key(f.addr[a]!, f.addr[a + 1]!, f.addr[a + 2]!, f.addr[a + 3]!);
      keys6[n6 + 1] = ip6Key(f.addr[a + 4]!, f.addr[a + 5]!, f.addr[a + 6]!, f.addr[a + 7]!);
      flows6[n6] = o;
      flows6[n6 + 1] = o;
      n6 += 2;
    }
    keysP[nP] = f.sport[o]!;
    keysP[nP + 1] = f.dport[o]!;
    flowsP[nP] = o;
    flowsP[nP + 1] = o;
    nP += 2;
  }
  return { keys4, flows4, n4, keys6, flows6, n6, keysP, flowsP, nP };
}

/** A (key, flow ordinal) pair as one exact double: a 32-bit key times this, plus the ordinal. */
const PAIR = 2 ** 21;

/**
 * Sorted unique keys with CSR lists of flow ordinals (ascending, duplicates removed). The pairs
 * are sorted as one typed array of doubles (a native sort), then read off in one pass; a
 * segment with more flows than a pair can hold takes the search per key below.
 */
export function postings(
  keys: ArrayLike<number>,
  flows: ArrayLike<number>,
  n = keys.length,
): [Uint32Array, Uint32Array, Uint32Array] {
  let maxFlow = 0;
  for (let i = 0; i < n; i++) if (flows[i]! > maxFlow) maxFlow = flows[i]!;
  if (maxFlow >= PAIR) return postingsBySearch(keys, flows, n);
  const pairs = new Float64Array(n);
  for (let i = 0; i < n; i++) pairs[i] = keys[i]! * PAIR + flows[i]!;
  pairs.sort();
  const uniq = new Uint32Array(n);
  const pstart = new Uint32Array(n + 1);
  const out = new Uint32Array(n);
  let u = 0;
  let w = 0;
  let prevKey = -1;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const x = pairs[i]!;
    if (x === prev) continue; // both ends of a flow on one key
    prev = x;
    const k = Math.floor(x / PAIR);
    if (k !== prevKey) {
      uniq[u] = k;
      pstart[u] = w;
      u++;
      prevKey = k;
    }
    out[w++] = x - k * PAIR;
  }
  pstart[u] = w;
  return [uniq.slice(0, u), pstart.slice(0, u + 1), out.slice(0, w)];
}

export function postingsBySearch(
  keys: ArrayLike<number>,
  flows: ArrayLike<number>,
  n = keys.length,
): [Uint32Array, Uint32Array, Uint32Array] {
  const sorted = new Uint32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = keys[i]!;
  sorted.sort();
  let u = 0;
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[u++] = sorted[i]!;
  const uniq = sorted.slice(0, u);
  const start = new Uint32Array(u + 1);
  const where = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const k = lowerBound(uniq, keys[i]!);
    where[i] = k;
    start[k + 1]!++;
  }
  for (let i = 1; i <= u; i++) start[i]! += start[i - 1]!;
  const fill = start.slice(0, u);
  const out = new Uint32Array(n);
  const last = new Int32Array(u).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = where[i]!;
    const fl = flows[i]!;
    if (last[k] === fl) continue; // both ends of a flow on one key
    last[k] = fl;
    out[fill[k]!++] = fl;
  }
  // Compact away the slots skipped for duplicates.
  const packed = new Uint32Array(n);
  const pstart = new Uint32Array(u + 1);
  let w = 0;
  for (let k = 0; k < u; k++) {
    pstart[k] = w;
    for (let i = start[k]!; i < fill[k]!; i++) packed[w++] = out[i]!;
  }
  pstart[u] = w;
  return [uniq, pstart, packed.slice(0, w)];
}

export function lowerBound(a: Uint32Array, k: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
