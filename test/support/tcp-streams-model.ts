// The in-order stream rule of src/analyze/tcp-reassembly.ts as it was written with an object per
// direction (before 2026-12-07): the plain model its typed-array rows are checked against.

import { SlotMap } from '../../src/analyze/slot-map.js';
import type { Packet } from '../../src/decode/packet.js';
import { TCP_SYN } from '../../src/decode/packet.js';

interface DirState {
  gen: number;
  next: number;
  pending: Buffer | null;
  pendingLen: number;
  /** Bytes were lost after what was last delivered (sliced capture or overflow). */
  gap: boolean;
  /** How many bytes that loss was, when known. */
  lostNext: number;
  started: boolean;
  /** Sequence number of the SYN seen, -1 when none. */
  isn: number;
}

/**
 * In-order TCP payload for L7 parsers, per (flow slot, direction). Retransmitted bytes are
 * skipped, a gap resets the stream (flagged so parsers resynchronise or skip `lost` bytes),
 * and at most `limit` unconsumed bytes are kept per direction. When nothing is pending the
 * parser reads the packet's own bytes: a copy is made only of what it leaves unconsumed.
 * Segments are taken in arrival order: one that arrives ahead of a missing one is a gap.
 *
 * Usage per packet: `if (s.push(key, gen, p)) { parse s.buf[s.start, s.end); s.keep(consumedUpTo) }`.
 */
export class TcpStreamsModel {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  /** The bytes in [start, end) follow a gap in the stream. */
  gap = false;
  /** With `gap`: bytes missing before `start` (0 when unknown, e.g. picked up mid-stream). */
  lost = 0;
  overflows = 0;
  private readonly states = new SlotMap<DirState>();
  private current: DirState | null = null;

  constructor(private readonly limit = 16 * 1024) {}

  static key(slot: number, dir: number): number {
    return slot * 2 + dir;
  }

  /** Returns true when there are new in-order bytes to parse. */
  push(key: number, gen: number, p: Packet): boolean {
    let st = this.states.get(key);
    if (st === undefined || st.gen !== gen) {
      st = { gen, next: 0, pending: null, pendingLen: 0, gap: false, lostNext: 0, started: false, isn: -1 };
      this.states.set(key, st);
    }
    this.current = st;
    let seq = p.seq;
    if (p.tcpFlags & TCP_SYN) {
      // A retransmitted SYN of this connection (its sequence number is at or before what was
      // delivered) leaves the stream alone; another one starts a new stream.
      if (st.isn === seq) return false;
      if (st.started && st.isn === -1) {
        const behind = (st.next - ((seq + 1) >>> 0)) | 0;
        if (behind >= 0 && behind < 0x40000000) {
          st.isn = seq;
          return false;
        }
      }
      st.isn = seq;
      st.next = (seq + 1) >>> 0;
      st.started = true;
      st.pendingLen = 0;
      st.gap = false;
      st.lostNext = 0;
      return false;
    }
    const cap = p.payloadCapLen;
    if (cap <= 0) return false;
    let off = p.payloadOff;
    let len = cap;
    let gap = st.gap;
    let lost = st.lostNext;
    if (!st.started) {
      st.started = true;
      st.next = seq;
      gap = true; // picked up mid-stream
      lost = 0;
    }
    const delta = (seq - st.next) | 0;
    if (delta < 0) {
      // retransmission or overlap: keep only bytes beyond what we already have
      if (-delta >= len) return false;
      off -= delta;
      len += delta;
      seq = st.next;
    } else if (delta > 0) {
      gap = true;
      lost += delta;
    }
    if (gap && st.pendingLen > 0) {
      // what was pending cannot be continued: it counts as lost
      lost += st.pendingLen;
      st.pendingLen = 0;
    }
    st.next = (seq + len) >>> 0;
    if (cap < p.payloadLen) {
      // sliced capture: the rest of this segment was not captured
      st.next = (p.seq + p.payloadLen) >>> 0;
      st.gap = true;
      st.lostNext = p.payloadLen - cap;
    } else {
      st.gap = false;
      st.lostNext = 0;
    }
    this.gap = gap;
    this.lost = gap ? lost : 0;
    if (st.pendingLen === 0) {
      this.buf = p.buf;
      this.start = off;
      this.end = off + len;
      return true;
    }
    const need = st.pendingLen + len;
    if (need > this.limit) {
      // Too much unconsumed data: parsers treat it as lost and resynchronise.
      this.overflows++;
      this.gap = true;
      this.lost = st.pendingLen;
      st.pendingLen = 0;
      this.buf = p.buf;
      this.start = off;
      this.end = off + len;
      return true;
    }
    if (st.pending === null || st.pending.length < need) {
      const nb = Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, 2048)));
      if (st.pending) st.pending.copy(nb, 0, 0, st.pendingLen);
      st.pending = nb;
    }
    p.buf.copy(st.pending, st.pendingLen, off, off + len);
    st.pendingLen = need;
    this.buf = st.pending;
    this.start = 0;
    this.end = need;
    return true;
  }

  /** After parsing: the bytes from `from` to `end` were not consumed and must be kept. */
  keep(from: number): void {
    const st = this.current;
    if (st === null) return;
    const n = this.end - from;
    if (n <= 0) {
      st.pendingLen = 0;
      return;
    }
    if (n > this.limit) {
      this.overflows++;
      st.pendingLen = 0;
      st.gap = true;
      st.lostNext += n;
      return;
    }
    if (this.buf === st.pending) {
      if (from > 0) st.pending.copy(st.pending, 0, from, this.end);
    } else {
      if (st.pending === null || st.pending.length < n)
        st.pending = Buffer.allocUnsafe(Math.min(this.limit, Math.max(n, 2048)));
      this.buf.copy(st.pending, 0, from, this.end);
    }
    st.pendingLen = n;
  }

  /** Bytes kept for a direction (for tests and memory accounting). */
  pendingBytes(key: number): number {
    return this.states.get(key)?.pendingLen ?? 0;
  }

  drop(key: number): void {
    this.states.delete(key);
  }

  get size(): number {
    return this.states.size;
  }
}
