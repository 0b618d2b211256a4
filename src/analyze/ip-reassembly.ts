import type { Packet } from '../decode/packet.js';

export interface ReassemblyConfig {
  /** Datagrams being reassembled at once; the oldest is dropped beyond this. */
  maxDatagrams: number;
  /** Largest datagram payload accepted (bytes after the IP header). */
  maxBytes: number;
  /** A datagram whose fragments do not all arrive within this many seconds (packet time) is dropped. */
  timeoutSec: number;
}

export const DEFAULT_REASSEMBLY_CONFIG: ReassemblyConfig = {
  maxDatagrams: 64,
  maxBytes: 65535,
  timeoutSec: 30,
};

export interface ReassemblyCounters {
  fragments: number;
  completed: number;
  timedOut: number;
  evicted: number;
  tooBig: number;
  /** Fragments whose bytes the capture did not hold in full (snap length). */
  sliced: number;
  ignored: number;
}

interface Entry {
  firstSec: number;
  data: Buffer | null;
  /** Received byte ranges [s, e), kept merged and sorted. */
  ranges: number[];
  total: number;
  slot: number;
  gen: number;
  dir: number;
  /** The first fragment was seen and the caller does not want this datagram. */
  ignore: boolean;
}

/**
 * Reassembles fragmented IPv4/IPv6 datagrams for analyzers that need whole messages (DNS over
 * UDP with large DNSSEC answers). Bounded in datagrams, bytes and time; only datagrams whose
 * first fragment passes `want` (e.g. a DNS port) keep their bytes. The result of a completed
 * push is the IP payload (transport header first) in `buf[0, length)`, with the flow slot,
 * generation and direction of the fragment that carried the transport header.
 */
export class IpReassembler {
  buf: Buffer = Buffer.alloc(0);
  length = 0;
  slot = -1;
  gen = 0;
  dir = 0;
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    completed: 0,
    timedOut: 0,
    evicted: 0,
    tooBig: 0,
    sliced: 0,
    ignored: 0,
  };
  private readonly cfg: ReassemblyConfig;
  private readonly entries = new Map<string, Entry>();

  constructor(
    cfg: Partial<ReassemblyConfig> = {},
    private readonly want: (p: Packet) => boolean = () => true,
  ) {
    this.cfg = { ...DEFAULT_REASSEMBLY_CONFIG, ...cfg };
  }

  get inFlight(): number {
    return this.entries.size;
  }

  /** Feed one fragment (`p.isFragment`). Returns true when it completed a datagram. */
  push(p: Packet, slot: number, gen: number, dir: number): boolean {
    this.counters.fragments++;
    this.expire(p.tsSec);
    const key = fragKey(p);
    let e = this.entries.get(key);
    const first = p.fragOffset === 0;
    if (e === undefined) {
      if (first && !this.want(p)) {
        this.counters.ignored++;
        return false;
      }
      if (this.entries.size >= this.cfg.maxDatagrams) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
        this.counters.evicted++;
      }
      e = { firstSec: p.tsSec, data: null, ranges: [], total: -1, slot: -1, gen: 0, dir: 0, ignore: false };
      this.entries.set(key, e);
    }
    if (e.ignore) return false;
    if (first) {
      if (!this.want(p)) {
        e.ignore = true;
        e.data = null;
        this.counters.ignored++;
        return false;
      }
    }
    if (slot >= 0 && (first || e.slot < 0)) {
      e.slot = slot;
      e.gen = gen;
      e.dir = dir;
    }
    // The first fragment's bytes start at its transport header; later ones at their payload.
    const from = first ? p.l4Off : p.payloadOff;
    if (from < 0 || p.payloadOff < 0) return false;
    if (p.payloadCapLen < p.payloadLen) {
      this.counters.sliced++;
      this.entries.delete(key);
      return false;
    }
    const to = p.payloadOff + p.payloadCapLen;
    const s = p.fragOffset;
    const n = to - from;
    const end = s + n;
    if (end > this.cfg.maxBytes) {
      this.counters.tooBig++;
      this.entries.delete(key);
      return false;
    }
    if (!p.moreFrags) e.total = end;
    if (e.data === null || e.data.length < end) {
      const nb = Buffer.allocUnsafe(
        Math.min(this.cfg.maxBytes, Math.max(end, e.data ? e.data.length * 2 : 2048)),
      );
      if (e.data) e.data.copy(nb, 0, 0, e.data.length);
      e.data = nb;
    }
    p.buf.copy(e.data, s, from, to);
    addRange(e.ranges, s, end);
    if (e.total >= 0 && e.ranges.length === 2 && e.ranges[0] === 0 && e.ranges[1]! >= e.total) {
      this.entries.delete(key);
      if (e.slot < 0) return false;
      this.buf = e.data;
      this.length = e.total;
      this.slot = e.slot;
      this.gen = e.gen;
      this.dir = e.dir;
      this.counters.completed++;
      return true;
    }
    return false;
  }

  private expire(nowSec: number): void {
    for (const [k, e] of this.entries) {
      if (nowSec - e.firstSec <= this.cfg.timeoutSec) break;
      this.entries.delete(k);
      this.counters.timedOut++;
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

function fragKey(p: Packet): string {
  const b = p.buf;
  const n = p.ipVer === 4 ? 4 : 16;
  return `${p.ipVer}|${p.proto}|${p.ipId}|${b.toString('latin1', p.srcOff, p.srcOff + n)}|${b.toString('latin1', p.dstOff, p.dstOff + n)}|${p.vlan0}|${p.vni}`;
}

/** Insert [s, e) into a sorted list of disjoint ranges, merging neighbours. */
function addRange(r: number[], s: number, e: number): void {
  let i = 0;
  while (i < r.length && r[i + 1]! < s) i += 2;
  let j = i;
  while (j < r.length && r[j]! <= e) {
    s = Math.min(s, r[j]!);
    e = Math.max(e, r[j + 1]!);
    j += 2;
  }
  r.splice(i, j - i, s, e);
}
