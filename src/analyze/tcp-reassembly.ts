import type { Packet } from '../decode/packet.js';
import { TCP_SYN } from '../decode/packet.js';

// A direction's state, side by side in one Float64Array row (one or two cache lines where an
// object per direction was an allocation per TCP flow with payload, and a pointer chase).
const F_GEN = 0;
const F_NEXT = 1;
const F_PENDING_LEN = 2;
/** How many bytes were lost after what was last delivered, when known. */
const F_LOST_NEXT = 3;
/** Sequence number of the SYN seen, -1 when none. */
const F_ISN = 4;
const F_FLAGS = 5;
const STRIDE = 6;

/** The row holds a stream (dropped rows and never-used ones do not). */
const VALID = 1;
/** Bytes were lost after what was last delivered (sliced capture or overflow). */
const GAP = 2;
const STARTED = 4;

/** Spare pending buffers kept for the next streams that need one. */
const POOL = 64;

/**
 * In-order TCP payload for L7 parsers, per (flow slot, direction). Retransmitted bytes are
 * skipped, a gap resets the stream (flagged so parsers resynchronise or skip `lost` bytes),
 * and at most `limit` unconsumed bytes are kept per direction. When nothing is pending the
 * parser reads the packet's own bytes: a copy is made only of what it leaves unconsumed.
 * Segments are taken in arrival order: one that arrives ahead of a missing one is a gap.
 *
 * Usage per packet: `if (s.push(key, gen, p)) { parse s.buf[s.start, s.end); s.keep(consumedUpTo) }`.
 */
export class TcpStreams {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  /** The bytes in [start, end) follow a gap in the stream. */
  gap = false;
  /** With `gap`: bytes missing before `start` (0 when unknown, e.g. picked up mid-stream). */
  lost = 0;
  overflows = 0;
  private st = new Float64Array(256 * STRIDE);
  /** Per key, the buffer of its unconsumed bytes (null until one is needed). */
  private pending: (Buffer | null)[] = [];
  /** Buffers of dropped streams, handed to the next stream that keeps bytes. */
  private readonly spare: Buffer[] = [];
  private count = 0;
  /** Key of the stream the last push was for, -1 when none. */
  private current = -1;

  constructor(private readonly limit = 16 * 1024) {}

  static key(slot: number, dir: number): number {
    return slot * 2 + dir;
  }

  private row(key: number): number {
    const at = key * STRIDE;
    if (at >= this.st.length) {
      let n = this.st.length;
      while (n <= at) n *= 2;
      const x = new Float64Array(n);
      x.set(this.st);
      this.st = x;
    }
    const pending = this.pending;
    while (pending.length <= key) pending.push(null);
    return at;
  }

  /** A buffer for at least `need` pending bytes, from the spares when one is large enough. */
  private take(need: number): Buffer {
    const b = this.spare.pop();
    if (b !== undefined && b.length >= need) return b;
    return Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, 2048)));
  }

  /** Returns true when there are new in-order bytes to parse. */
  push(key: number, gen: number, p: Packet): boolean {
    const at = this.row(key);
    const st = this.st;
    if ((st[at + F_FLAGS]! & VALID) === 0 || st[at + F_GEN] !== gen) {
      if ((st[at + F_FLAGS]! & VALID) === 0) this.count++;
      st[at + F_GEN] = gen;
      st[at + F_NEXT] = 0;
      st[at + F_PENDING_LEN] = 0;
      st[at + F_LOST_NEXT] = 0;
      st[at + F_ISN] = -1;
      st[at + F_FLAGS] = VALID;
    }
    this.current = key;
    let flags = st[at + F_FLAGS]!;
    let seq = p.seq;
    if (p.tcpFlags & TCP_SYN) {
      // A retransmitted SYN of this connection (its sequence number is at or before what was
      // delivered) leaves the stream alone; another one starts a new stream.
      const isn = st[at + F_ISN]!;
      if (isn === seq) return false;
      if (flags & STARTED && isn === -1) {
        const behind = (st[at + F_NEXT]! - ((seq + 1) >>> 0)) | 0;
        if (behind >= 0 && behind < 0x40000000) {
          st[at + F_ISN] = seq;
          return false;
        }
      }
      st[at + F_ISN] = seq;
      st[at + F_NEXT] = (seq + 1) >>> 0;
      st[at + F_PENDING_LEN] = 0;
      st[at + F_LOST_NEXT] = 0;
      st[at + F_FLAGS] = (flags | STARTED) & ~GAP;
      return false;
    }
    const cap = p.payloadCapLen;
    if (cap <= 0) return false;
    let off = p.payloadOff;
    let len = cap;
    let gap = (flags & GAP) !== 0;
    let lost = st[at + F_LOST_NEXT]!;
    if ((flags & STARTED) === 0) {
      flags |= STARTED;
      st[at + F_NEXT] = seq;
      gap = true; // picked up mid-stream
      lost = 0;
    }
    const delta = (seq - st[at + F_NEXT]!) | 0;
    if (delta < 0) {
      // retransmission or overlap: keep only bytes beyond what we already have
      if (-delta >= len) {
        st[at + F_FLAGS] = flags;
        return false;
      }
      off -= delta;
      len += delta;
      seq = st[at + F_NEXT]!;
    } else if (delta > 0) {
      gap = true;
      lost += delta;
    }
    let pendingLen = st[at + F_PENDING_LEN]!;
    if (gap && pendingLen > 0) {
      // what was pending cannot be continued: it counts as lost
      lost += pendingLen;
      pendingLen = 0;
    }
    st[at + F_NEXT] = (seq + len) >>> 0;
    if (cap < p.payloadLen) {
      // sliced capture: the rest of this segment was not captured
      st[at + F_NEXT] = (p.seq + p.payloadLen) >>> 0;
      flags |= GAP;
      st[at + F_LOST_NEXT] = p.payloadLen - cap;
    } else {
      flags &= ~GAP;
      st[at + F_LOST_NEXT] = 0;
    }
    st[at + F_FLAGS] = flags;
    this.gap = gap;
    this.lost = gap ? lost : 0;
    if (pendingLen === 0) {
      st[at + F_PENDING_LEN] = 0;
      this.buf = p.buf;
      this.start = off;
      this.end = off + len;
      return true;
    }
    const need = pendingLen + len;
    if (need > this.limit) {
      // Too much unconsumed data: parsers treat it as lost and resynchronise.
      this.overflows++;
      this.gap = true;
      this.lost = pendingLen;
      st[at + F_PENDING_LEN] = 0;
      this.buf = p.buf;
      this.start = off;
      this.end = off + len;
      return true;
    }
    let pb = this.pending[key]!;
    if (pb === null || pb.length < need) {
      const nb = this.take(need);
      if (pb !== null) pb.copy(nb, 0, 0, pendingLen);
      pb = nb;
      this.pending[key] = nb;
    }
    p.buf.copy(pb, pendingLen, off, off + len);
    st[at + F_PENDING_LEN] = need;
    this.buf = pb;
    this.start = 0;
    this.end = need;
    return true;
  }

  /** After parsing: the bytes from `from` to `end` were not consumed and must be kept. */
  keep(from: number): void {
    const key = this.current;
    if (key < 0) return;
    const at = key * STRIDE;
    const st = this.st;
    // A stream dropped while its bytes were parsed keeps nothing.
    if ((st[at + F_FLAGS]! & VALID) === 0) return;
    const n = this.end - from;
    if (n <= 0) {
      st[at + F_PENDING_LEN] = 0;
      return;
    }
    if (n > this.limit) {
      this.overflows++;
      st[at + F_PENDING_LEN] = 0;
      st[at + F_FLAGS] = st[at + F_FLAGS]! | GAP;
      st[at + F_LOST_NEXT] = st[at + F_LOST_NEXT]! + n;
      return;
    }
    let pb = this.pending[key]!;
    if (this.buf === pb) {
      if (from > 0) pb.copy(pb, 0, from, this.end);
    } else {
      if (pb === null || pb.length < n) {
        pb = this.take(n);
        this.pending[key] = pb;
      }
      this.buf.copy(pb, 0, from, this.end);
    }
    st[at + F_PENDING_LEN] = n;
  }

  /** Bytes kept for a direction (for tests and memory accounting). */
  pendingBytes(key: number): number {
    const at = key * STRIDE;
    return at < this.st.length && (this.st[at + F_FLAGS]! & VALID) !== 0 ? this.st[at + F_PENDING_LEN]! : 0;
  }

  drop(key: number): void {
    const at = key * STRIDE;
    if (at >= this.st.length || (this.st[at + F_FLAGS]! & VALID) === 0) return;
    this.st[at + F_FLAGS] = 0;
    this.count--;
    const pb = this.pending[key];
    if (pb != null) {
      this.pending[key] = null;
      if (this.spare.length < POOL) this.spare.push(pb);
    }
  }

  get size(): number {
    return this.count;
  }
}
