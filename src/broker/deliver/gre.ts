import {
  explainNativeError,
  loadPcapBinding,
  type NativeHandle,
  type PcapBinding,
} from '../../capture/live.js';
import type { Delivery, OutFrame } from '../out-frame.js';
import { countDrop, type TargetCounters } from '../types.js';

const GRE_TEB = 0x6558;
const GRE_ERSPAN_2 = 0x88be;

/**
 * GRE (transparent Ethernet bridging) or ERSPAN type II to an IPv4 host through a raw socket
 * of the vantage-pcap addon (the kernel writes the IP header). Sends are synchronous and
 * non-blocking: a full socket buffer drops the packet as `queue_full`.
 */
export class GreDelivery implements Delivery {
  readonly kind: string;
  private binding: PcapBinding | null = null;
  private h: NativeHandle | null = null;
  private readonly scratch = Buffer.allocUnsafeSlow(65536 + 64);
  private seq = 0;

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
  }

  /** Write the GRE (and ERSPAN) header; returns its length. */
  private header(b: Buffer): number {
    if ('erspanSession' in this.mode) {
      b.writeUInt16BE(0x1000, 0); // sequence number present
      b.writeUInt16BE(GRE_ERSPAN_2, 2);
      b.writeUInt32BE(this.seq++ >>> 0, 4);
      // ERSPAN II: Ver=1, VLAN 0, COS 0, En=0, T=0, session id; then reserved + index 0.
      b.writeUInt32BE(((1 << 28) | (this.mode.erspanSession & 0x3ff)) >>> 0, 8);
      b.writeUInt32BE(0, 12);
      return 16;
    }
    const key = this.mode.key;
    b.writeUInt16BE(key === undefined ? 0 : 0x2000, 0);
    b.writeUInt16BE(GRE_TEB, 2);
    if (key === undefined) return 4;
    b.writeUInt32BE(key >>> 0, 4);
    return 8;
  }

  send(f: OutFrame, caplen: number): void {
    const c = this.c;
    if (!this.binding || !this.h) {
      countDrop(c, 'not_started');
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
    if (this.binding && this.h) this.binding.close(this.h);
    this.h = null;
  }
}
