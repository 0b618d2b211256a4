import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { loadUdpBatchBinding } from '../../capture/mirror.js';
import type { Delivery, OutFrame } from '../out-frame.js';
import { countDrop, type TargetCounters } from '../types.js';
import { BatchSender } from './batch-send.js';

/**
 * VXLAN to a remote tool: our 8-byte VXLAN header (I flag, the target's VNI) in front of the
 * frame, in a UDP datagram to HOST:PORT; the kernel adds UDP/IP. A packet is `sent` when the
 * socket confirms it; when more than `queue` datagrams wait in the socket's send queue, new
 * ones are dropped and counted as `queue_full`.
 *
 * With the vantage-pcap addon, datagrams are batched into one buffer and sent with sendmmsg
 * (see BatchSender); without it, one node:dgram send per packet.
 */
export class VxlanDelivery implements Delivery {
  readonly kind = 'vxlan';
  private sock: Socket | null = null;
  private drained: (() => void) | null = null;
  private batch: BatchSender | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly vni: number,
    private readonly queue: number,
    private readonly c: TargetCounters,
  ) {}

  /** How datagrams leave: 'sendmmsg' (addon) or 'dgram'. Valid after start(). */
  get io(): 'sendmmsg' | 'dgram' {
    return this.batch ? 'sendmmsg' : 'dgram';
  }

  async start(): Promise<void> {
    const native = loadUdpBatchBinding();
    if (native) {
      const ip = isIP(this.host) ? this.host : (await lookup(this.host)).address;
      const h = native.udpOpen(isIPv6(ip) ? 6 : 4, '', -1, 0, 4 << 20);
      try {
        native.connect(h, ip, this.port);
      } catch (e) {
        native.close(h);
        throw new Error(`vxlan delivery to ${this.host}:${this.port}: ${(e as Error).message}`);
      }
      this.batch = new BatchSender(native, h, this.c, this.queue);
      return;
    }
    const sock = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(this.port, this.host, () => {
        sock.removeListener('error', reject);
        resolve();
      });
    });
    try {
      sock.setSendBufferSize(4 << 20);
    } catch {
      // capped by the kernel
    }
    sock.on('error', () => {
      // per-datagram errors arrive in the send callback; nothing else to do here
    });
    this.sock = sock;
  }

  private readonly onSent = (err: Error | null, bytes?: number): void => {
    const c = this.c;
    c.pending--;
    if (err) countDrop(c, 'send_error');
    else {
      c.sent++;
      c.bytes += (bytes ?? 8) - 8;
    }
    if (c.pending === 0 && this.drained) this.drained();
  };

  send(f: OutFrame, caplen: number): void {
    const c = this.c;
    const batch = this.batch;
    if (batch) {
      const o = batch.reserve(8 + caplen);
      if (o < 0) {
        countDrop(c, 'queue_full');
        return;
      }
      const b = batch.buf;
      b.writeUInt32BE(0x08000000, o);
      b.writeUInt32BE((this.vni << 8) >>> 0, o + 4);
      f.buf.copy(b, o + 8, f.off, f.off + caplen);
      batch.commit(8 + caplen, caplen);
      return;
    }
    const sock = this.sock;
    if (!sock) {
      countDrop(c, 'not_started');
      return;
    }
    if (c.pending >= this.queue) {
      countDrop(c, 'queue_full');
      return;
    }
    const b = Buffer.allocUnsafe(8 + caplen);
    b.writeUInt32BE(0x08000000, 0);
    b.writeUInt32BE((this.vni << 8) >>> 0, 4);
    f.buf.copy(b, 8, f.off, f.off + caplen);
    c.pending++;
    sock.send(b, this.onSent);
  }

  async stop(): Promise<void> {
    if (this.batch) {
      const b = this.batch;
      this.batch = null;
      await b.close();
      return;
    }
    if (this.c.pending > 0) {
      await new Promise<void>((r) => {
        this.drained = r;
      });
    }
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
