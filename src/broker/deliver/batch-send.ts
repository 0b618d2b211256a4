import type { NativeHandle } from '../../capture/live.js';
import type { UdpBatchBinding } from '../../capture/mirror.js';
import { countDrop, type TargetCounters } from '../types.js';

/** Most datagrams one sendmmsg call takes (the addon's limit). */
export const MAX_BATCH = 1024;

/**
 * Datagrams of one target, written back to back into one buffer and handed to the kernel by
 * the addon's sendmmsg to the socket's connected destination: one native call per batch, no
 * allocation per packet. A batch goes out when it is full and at the end of the current turn
 * of the event loop (setImmediate), so a burst read by one recvmmsg leaves in a few sendmmsg.
 *
 * Accounting: a datagram is `pending` from commit() until the kernel takes it (`sent`, its
 * payload bytes added to `bytes`) or it fails (`send_error`); when the buffer or `limit` is
 * full, the caller drops the new datagram as `queue_full`. When the kernel's send buffer is full
 * (EAGAIN), the rest waits for the next turn.
 */
export class BatchSender {
  readonly buf: Buffer;
  private readonly table = new Uint32Array(2 * MAX_BATCH);
  /** Payload bytes (delivered frame bytes, without our encapsulation) of each datagram. */
  private readonly payload = new Uint32Array(MAX_BATCH);
  private head = 0;
  private count = 0;
  private used = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly native: UdpBatchBinding,
    private readonly h: NativeHandle,
    private readonly c: TargetCounters,
    private readonly limit: number,
    bytes = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafeSlow(bytes);
  }

  /** Offset at which to write a datagram of `len` bytes, or -1 when the queue is full. */
  reserve(len: number): number {
    if (this.closed) return -1;
    if (
      this.count >= MAX_BATCH ||
      this.count - this.head >= this.limit ||
      this.used + len > this.buf.length
    ) {
      this.flush();
      this.compact();
      if (
        this.count >= MAX_BATCH ||
        this.count - this.head >= this.limit ||
        this.used + len > this.buf.length
      )
        return -1;
    }
    return this.used;
  }

  /** The datagram written at reserve()'s offset is `len` bytes, `payload` of them the frame. */
  commit(len: number, payload: number): void {
    const i = this.count++;
    this.table[2 * i] = this.used;
    this.table[2 * i + 1] = len;
    this.payload[i] = payload;
    this.used += len;
    this.c.pending++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurn);
    }
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    this.flush();
    this.compact();
    if (this.count > 0 && !this.closed) {
      // The kernel's send buffer was full: try again on the next turn.
      this.scheduled = true;
      setTimeout(this.onTurn, 1);
    }
  };

  /** Hand every waiting datagram to the kernel; stops early when its send buffer is full. */
  flush(): void {
    const c = this.c;
    while (this.head < this.count) {
      let n: number;
      try {
        n = this.native.sendBatch(this.h, this.buf, this.table, this.head, this.count - this.head);
      } catch {
        // The datagram at `head` failed (no listener, no route...): count it, go on after it.
        countDrop(c, 'send_error');
        c.pending--;
        this.head++;
        continue;
      }
      if (n === 0) break;
      let bytes = 0;
      for (let i = this.head; i < this.head + n; i++) bytes += this.payload[i]!;
      c.sent += n;
      c.bytes += bytes;
      c.pending -= n;
      this.head += n;
    }
    if (this.head === this.count) {
      this.head = 0;
      this.count = 0;
      this.used = 0;
    }
  }

  /** Move datagrams still waiting to the front. */
  private compact(): void {
    if (this.head === 0) return;
    const from = this.table[2 * this.head]!;
    const n = this.count - this.head;
    this.buf.copyWithin(0, from, this.used);
    for (let i = 0; i < n; i++) {
      this.table[2 * i] = this.table[2 * (this.head + i)]! - from;
      this.table[2 * i + 1] = this.table[2 * (this.head + i) + 1]!;
      this.payload[i] = this.payload[this.head + i]!;
    }
    this.used -= from;
    this.head = 0;
    this.count = n;
  }

  /** Send what waits (for at most `ms`; what still cannot go is counted `send_error`), close. */
  async close(ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    this.flush();
    while (this.count > this.head && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      this.flush();
    }
    const left = this.count - this.head;
    if (left > 0) {
      countDrop(this.c, 'send_error', left);
      this.c.pending -= left;
    }
    this.closed = true;
    this.head = 0;
    this.count = 0;
    this.used = 0;
    this.native.close(this.h);
  }
}
