import { connect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { LinkType } from '../../capture/frame.js';
import { pcapFileHeader, writeRecordHeader } from '../../pcapstore/pcap-format.js';
import type { Delivery, OutFrame } from '../out-frame.js';
import { countDrop, type TargetCounters } from '../types.js';

const CHUNK = 64 << 10;

/**
 * A pcap stream (nanosecond pcap, Ethernet) written to any Node Writable: an HTTP response, a
 * TCP socket, a file. Records are gathered into 64 KiB chunks written once per event-loop turn.
 * When the writable has more than `maxBuffered` bytes queued (a slow reader), new packets are
 * dropped and counted as `stream_full` instead of buffering without bound. A packet counts as
 * `sent` once its chunk was handed to the writable.
 */
export class PcapStreamDelivery implements Delivery {
  readonly kind = 'pcap-stream';
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private chunkPackets = 0;
  private chunkBytes = 0;
  private scheduled = false;
  private closed = false;
  private readonly onGone = (): void => {
    this.closed = true;
    if (this.chunkPackets > 0) {
      this.c.pending -= this.chunkPackets;
      countDrop(this.c, 'stream_closed', this.chunkPackets);
      this.used = this.chunkPackets = this.chunkBytes = 0;
    }
  };

  constructor(
    private readonly w: Writable,
    private readonly c: TargetCounters,
    private readonly opts: { maxBuffered: number; snaplen: number; endOnStop: boolean } = {
      maxBuffered: 8 << 20,
      snaplen: 262_144,
      endOnStop: false,
    },
  ) {}

  async start(): Promise<void> {
    this.w.on('close', this.onGone);
    this.w.on('error', this.onGone);
    this.w.write(pcapFileHeader(LinkType.ETHERNET, true, this.opts.snaplen));
  }

  send(f: OutFrame, caplen: number): void {
    const c = this.c;
    if (this.closed || this.w.destroyed) {
      countDrop(c, 'stream_closed');
      return;
    }
    const need = 16 + caplen;
    if (this.w.writableLength + this.used + need > this.opts.maxBuffered) {
      countDrop(c, 'stream_full');
      return;
    }
    if (this.used + need > this.chunk.length) {
      this.flush();
      if (need > this.chunk.length) this.chunk = Buffer.allocUnsafe(need);
    }
    writeRecordHeader(this.chunk, this.used, f.tsSec, f.tsNs, caplen, Math.max(caplen, f.wirelen));
    f.buf.copy(this.chunk, this.used + 16, f.off, f.off + caplen);
    this.used += need;
    this.chunkPackets++;
    this.chunkBytes += caplen;
    c.pending++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.used === 0 || this.closed) return;
    const b = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.allocUnsafe(CHUNK);
    const c = this.c;
    c.pending -= this.chunkPackets;
    c.sent += this.chunkPackets;
    c.bytes += this.chunkBytes;
    this.used = this.chunkPackets = this.chunkBytes = 0;
    this.w.write(b);
  };

  async stop(): Promise<void> {
    this.flush();
    this.w.removeListener('close', this.onGone);
    this.w.removeListener('error', this.onGone);
    if (this.opts.endOnStop && !this.w.destroyed) {
      await new Promise<void>((r) => {
        this.w.once('close', r);
        this.w.end();
      });
    }
    this.closed = true;
  }
}

/**
 * A pcap stream over a TCP connection to HOST:PORT. Until the connection is up, and while it
 * is being re-established (every second), packets are dropped as `not_connected`.
 */
export class PcapTcpDelivery implements Delivery {
  readonly kind = 'pcap-tcp';
  private sock: Socket | null = null;
  private stream: PcapStreamDelivery | null = null;
  private stopping = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly c: TargetCounters,
  ) {}

  private connect(): Promise<void> {
    return new Promise<void>((resolve) => {
      const sock = connect({ host: this.host, port: this.port, noDelay: true });
      sock.once('connect', () => {
        this.sock = sock;
        this.stream = new PcapStreamDelivery(sock, this.c, {
          maxBuffered: 8 << 20,
          snaplen: 262_144,
          endOnStop: true,
        });
        void this.stream.start();
        resolve();
      });
      sock.once('close', () => {
        if (this.sock === sock) {
          this.sock = null;
          this.stream = null;
        }
        resolve();
        if (!this.stopping) this.retry = setTimeout(() => void this.connect(), 1000);
      });
      sock.on('error', () => {
        // 'close' follows and schedules the retry
      });
    });
  }

  async start(): Promise<void> {
    await this.connect();
  }

  send(f: OutFrame, caplen: number): void {
    if (this.stream) this.stream.send(f, caplen);
    else countDrop(this.c, 'not_connected');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    await this.stream?.stop();
    this.sock?.destroy();
  }
}
