import {
  explainNativeError,
  loadPcapBinding,
  type NativeHandle,
  type PcapBinding,
} from '../../capture/live.js';
import { loadUdpBatchBinding } from '../../capture/mirror.js';
import type { Delivery, OutFrame } from '../out-frame.js';
import { countDrop, type TargetCounters } from '../types.js';
import { BatchSender } from './batch-send.js';

const GRE_TEB = 0x6558;
const GRE_ERSPAN_2 = 0x88be;

/**
 * GRE (transparent Ethernet bridging) or ERSPAN type II to an IPv4 host through a raw socket
 * of the vantage-pcap addon (the kernel writes the IP header). Sends are synchronous and
 * non-blocking: a full socket buffer drops the packet as `queue_full`. When the addon has batched
 * sends, packets go out through sendmmsg on the connected raw socket (see BatchSender).
 */
export class GreDelivery implements Delivery {
  readonly kind: string;
  private binding: PcapBinding | null = null;
  private h: NativeHandle | null = null;
  private readonly scratch = Buffer.allocUnsafeSlow(65536 + 64);
  private seq = 0;
  private batch: BatchSender | null = null;

  constructor(
    private readonly host: string,
    private readonly mode: { erspanSession: number } | { key: number | undefined },
    private readonly c: TargetCounters,
  ) {
    this.kind = 'erspanSession' in mode ? 'erspan' : 'gre';
  }

  async start(): Promise<void> {
    this.binding = loadPcapBinding();
    try {
      this.h = this.binding.rawOpen(47, '', 4096);
    } catch (e) {
      throw explainNativeError(e, `sending ${this.kind} to ${this.host}`);
    }
    const native = loadUdpBatchBinding();
    if (native) {
      try {
        native.connect(this.h, this.host, 0);
      } catch (e) {
        this.binding.close(this.h);
        this.h = null;
        throw new Error(`${this.kind} delivery to ${this.host}: ${(e as Error).message}`);
      }
      this.batch = new BatchSender(native, this.h, this.c, 4096);
    }
  }

  /** How packets leave: 'sendmmsg' (batched) or 'send'. Valid after start(). */
  get io(): 'sendmmsg' | 'send' {
    return this.batch ? 'sendmmsg' : 'send';
  }

  /** Write the GRE (and ERSPAN) header at b[o]; returns its length. */
  private header(b: Buffer, o = 0): number {
    if ('erspanSession' in this.mode) {
      b.writeUInt16BE(0x1000, o); // sequence number present
      b.writeUInt16BE(GRE_ERSPAN_2, o + 2);
      b.writeUInt32BE(this.seq++ >>> 0, o + 4);
      // ERSPAN II: Ver=1, VLAN 0, COS 0, En=0, T=0, session id; then reserved + index 0.
      b.writeUInt32BE(((1 << 28) | (this.mode.erspanSession & 0x3ff)) >>> 0, o + 8);
      b.writeUInt32BE(0, o + 12);
      return 16;
    }
    const key = this.mode.key;
    b.writeUInt16BE(key === undefined ? 0 : 0x2000, o);
    b.writeUInt16BE(GRE_TEB, o + 2);
    if (key === undefined) return 4;
    b.writeUInt32BE(key >>> 0, o + 4);
    return 8;
  }

  send(f: OutFrame, caplen: number): void {
    const c = this.c;
    if (!this.binding || !this.h) {
      countDrop(c, 'not_started');
      return;
    }
    const batch = this.batch;
    if (batch) {
      const o = batch.reserve(16 + caplen);
      if (o < 0) {
        countDrop(c, 'queue_full');
        return;
      }
      const hl = this.header(batch.buf, o);
      f.buf.copy(batch.buf, o + hl, f.off, f.off + caplen);
      batch.commit(hl + caplen, caplen);
      return;
    }
    const b = this.scratch;
    const hl = this.header(b);
    f.buf.copy(b, hl, f.off, f.off + caplen);
    try {
      this.binding.rawSend(this.h, b.subarray(0, hl + caplen), this.host);
      c.sent++;
      c.bytes += caplen;
    } catch (e) {
      const code = (e as { code?: string }).code;
      countDrop(c, code === 'EAGAIN' || code === 'ENOBUFS' ? 'queue_full' : 'send_error');
    }
  }

  async stop(): Promise<void> {
    if (this.batch) {
      const b = this.batch;
      this.batch = null;
      this.h = null;
      await b.close();
      return;
    }
    if (this.binding && this.h) this.binding.close(this.h);
    this.h = null;
  }
}
