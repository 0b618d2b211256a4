import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { parseIpv4, parseIpv6 } from '../common/addr.js';
import type { FrameHandler } from './frame.js';
import { LinkType, newFrame } from './frame.js';
import {
  type BatchHooks,
  BatchLoop,
  explainNativeError,
  loadPcapBinding,
  type NativeHandle,
  type PcapBinding,
  wallClock,
} from './live.js';
import { DEFAULT_RING, hasRing, type RingConfig, RingReceiver, validateRingConfig } from './mirror-ring.js';

/**
 * Receivers for mirrored traffic: VXLAN over UDP (AWS VPC Traffic Mirroring, 4789), TZSP over
 * UDP (MikroTik and others, 37008) and GRE/ERSPAN over raw IP protocol 47 (TAP/SPAN fabrics;
 * needs the vantage-pcap addon and root). Each hands frames to a FrameHandler exactly like a
 * capture file or an interface.
 *
 * A UDP socket delivers only the UDP payload, so the VXLAN receiver rebuilds the outer IP and
 * UDP headers in front of it (source = the sender, destination = our bound address, UDP
 * destination port 4789 whatever port we listen on) and hands out a raw-IP frame. The decoder
 * then decapsulates it like any VXLAN packet: every flow and packet keeps the VNI and the outer
 * addresses, so traffic of different mirror sessions / VPCs stays apart.
 */

export interface MirrorCounters {
  /** Datagrams (or raw packets) received. */
  received: number;
  /** Bytes of them (UDP payload for UDP receivers, whole IP packet for GRE). */
  bytes: number;
  /** Frames handed to the pipeline. */
  delivered: number;
  /** Datagrams that were not of the receiver's encapsulation, by reason. */
  malformed: Record<string, number>;
  /** Datagrams the kernel dropped on this socket because we did not read fast enough. */
  socketDrops: number;
  /**
   * Datagrams longer than the batched receiver's slot (16 KiB; VXLAN over a ≤ 9216-byte MTU never
   * is): delivered cut to the slot, like a snaplen, with their real length as wire length.
   */
  truncated: number;
}

export interface MirrorReceiver {
  readonly kind: 'vxlan' | 'tzsp' | 'gre';
  readonly counters: MirrorCounters;
  /** Bound address; valid after start(). */
  address(): { address: string; port: number };
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Refresh `socketDrops` from the kernel. */
  refreshStats(): MirrorCounters;
}

export interface UdpReceiverConfig {
  host: string;
  port: number;
  /** Socket receive buffer in bytes (capped by net.core.rmem_max). */
  rcvbuf: number;
}

export const VXLAN_PORT = 4789;
export const TZSP_PORT = 37008;
const VXLAN_HEADER = 8;
const ETH_MIN = 14;

/** Batched UDP socket I/O of the vantage-pcap addon (recvmmsg / sendmmsg). */
export interface UdpBatchBinding extends PcapBinding {
  /** Non-blocking UDP socket; bound to ip ('' = any) and port unless port is -1. */
  udpOpen(family: 4 | 6, ip: string, port: number, rcvbuf: number, sndbuf: number): NativeHandle;
  /** Fix the destination of sendBatch (UDP, or a raw socket with port 0). */
  connect(h: NativeHandle, ip: string, port: number): void;
  address(h: NativeHandle): { address: string; port: number };
  /** Call fn whenever the socket is readable (level triggered) until close(h). */
  poll(h: NativeHandle, fn: () => void): void;
  /**
   * Receive up to min(buf.length / slot, meta.length / RECV_META_STRIDE, 1024) datagrams
   * without blocking; datagram i lands at buf[i*slot + headroom]. Returns how many (0: none).
   */
  recvBatch(h: NativeHandle, buf: Buffer, meta: Uint32Array, slot: number, headroom: number): number;
  /**
   * Send datagrams first..first+count-1 of `table` ([offset, length] pairs into buf) to the
   * connected destination without blocking; returns how many went (0: send buffer full).
   * Throws (with the errno code) when the datagram at `first` fails.
   */
  sendBatch(h: NativeHandle, buf: Buffer, table: Uint32Array, first: number, count: number): number;
}

/** Words of `meta` per received datagram; see the RECV_* indices. */
export const RECV_META_STRIDE = 12;
export const RECV_OFF = 0;
export const RECV_CAPLEN = 1;
export const RECV_LEN = 2;
export const RECV_FLAGS = 3;
export const RECV_FAMILY = 4;
export const RECV_PORT = 5;
/** Byte offset of the source address (4 or 16 network-order bytes) inside a meta record. */
export const RECV_ADDR_BYTE = 32;
export const RECV_TRUNCATED = 1;

/**
 * The addon's batched UDP I/O, or null when the addon is missing (or VANTAGE_NO_PCAP=1), is an
 * older build without it, or VANTAGE_DGRAM=1 asks for the node:dgram path (benchmarks).
 */
export function loadUdpBatchBinding(): UdpBatchBinding | null {
  if (process.env.VANTAGE_NO_PCAP === '1' || process.env.VANTAGE_DGRAM === '1') return null;
  try {
    const b = loadPcapBinding() as Partial<UdpBatchBinding>;
    return typeof b.recvBatch === 'function' && typeof b.sendBatch === 'function'
      ? (b as UdpBatchBinding)
      : null;
  } catch {
    return null;
  }
}

function newCounters(): MirrorCounters {
  return { received: 0, bytes: 0, delivered: 0, malformed: {}, socketDrops: 0, truncated: 0 };
}

/** Parse "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT". */
export function parseHostPort(s: string, dfltPort: number): { host: string; port: number } {
  let host = '0.0.0.0';
  let port = dfltPort;
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m6) {
    host = m6[1]!;
    if (m6[2]) port = Number(m6[2]);
  } else if (/^\d+$/.test(s)) port = Number(s);
  else {
    const i = s.lastIndexOf(':');
    if (i >= 0) {
      if (i > 0) host = s.slice(0, i);
      port = Number(s.slice(i + 1));
    } else host = s;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in '${s}'`);
  return { host, port };
}

/**
 * Datagrams the kernel dropped on UDP sockets bound to `port` (and `host` unless it is a
 * wildcard), from /proc/net/udp and /proc/net/udp6. 0 where /proc is not available.
 */
export function udpSocketDrops(port: number, host = '0.0.0.0'): number {
  return procSocketDrops(['/proc/net/udp', '/proc/net/udp6'], port, host);
}

/**
 * Packets the kernel dropped on raw IPv4 sockets of IP protocol `proto` (bound to `host` unless
 * it is a wildcard), from /proc/net/raw, where the protocol stands in the local port's column.
 */
export function rawSocketDrops(proto: number, host = '0.0.0.0'): number {
  return procSocketDrops(['/proc/net/raw'], proto, host || '0.0.0.0');
}

function procSocketDrops(files: string[], port: number, host: string): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let wantV4: string | null = null;
  const v4 = parseIpv4(host);
  if (v4 !== null && v4 !== 0) {
    // /proc prints the address as the host-order u32 of the network bytes (little-endian here).
    const b = [(v4 >>> 24) & 255, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255];
    wantV4 = b
      .reverse()
      .map((x) => x.toString(16).toUpperCase().padStart(2, '0'))
      .join('');
  }
  let drops = 0;
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local) continue;
      const [addr, p] = local.split(':');
      if (p !== hexPort) continue;
      if (wantV4 && !f.endsWith('6') && addr !== wantV4) continue;
      drops += Number(cols[cols.length - 1]) || 0;
    }
  }
  return drops;
}

/**
 * The pipeline's clock for a receiver: every 100 ms `hooks.onTick` gets the wall time (read
 * into `clock`), so flows time out while no datagram arrives. Null without an onTick.
 */
export function wallTicks(
  clock: { sec: number; ns: number },
  hooks: Pick<BatchHooks, 'onTick'>,
): NodeJS.Timeout | null {
  const tick = hooks.onTick;
  if (!tick) return null;
  return setInterval(() => {
    wallClock(clock);
    tick(clock.sec, clock.ns);
  }, 100);
}

/** Address bytes of the last sender, cached: mirror sources are few. */
class AddrCache {
  private key = '';
  v4 = 0;
  v6: Uint8Array | null = null;
  isV6 = false;
  /** From a received datagram's raw address (4 or 16 network-order bytes at `o`). */
  setRaw(family: number, b: Uint8Array, o: number): void {
    const v4mapped =
      family === 6 &&
      b[o + 10] === 0xff &&
      b[o + 11] === 0xff &&
      b[o] === 0 &&
      b[o + 1] === 0 &&
      b[o + 2] === 0 &&
      b[o + 3] === 0 &&
      b[o + 4] === 0 &&
      b[o + 5] === 0 &&
      b[o + 6] === 0 &&
      b[o + 7] === 0 &&
      b[o + 8] === 0 &&
      b[o + 9] === 0;
    if (family === 4 || v4mapped) {
      const a = v4mapped ? o + 12 : o;
      const v = ((b[a]! << 24) | (b[a + 1]! << 16) | (b[a + 2]! << 8) | b[a + 3]!) >>> 0;
      if (!this.isV6 && this.v4 === v && this.key !== '') return;
      this.isV6 = false;
      this.v4 = v;
    } else {
      const cur = this.v6;
      if (this.isV6 && cur) {
        let same = true;
        for (let i = 0; i < 16; i++)
          if (cur[i] !== b[o + i]) {
            same = false;
            break;
          }
        if (same) return;
      }
      this.isV6 = true;
      this.v6 = b.slice(o, o + 16);
    }
    this.key = '\0raw'; // a string set() never matches, so set() re-parses after us
  }

  set(addr: string): void {
    if (addr === this.key) return;
    this.key = addr;
    const mapped = addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
    const v4 = parseIpv4(mapped);
    if (v4 !== null) {
      this.isV6 = false;
      this.v4 = v4;
    } else {
      this.isV6 = true;
      this.v6 = parseIpv6(addr) ?? new Uint8Array(16);
    }
  }
}

/**
 * Writes the outer IPv4/IPv6 + UDP headers of a received VXLAN datagram in front of its
 * payload, so the frame looks as it did on the wire (minus the outer Ethernet header).
 */
export class OuterHeaderBuilder {
  private readonly src = new AddrCache();
  private readonly dst = new AddrCache();

  setLocal(address: string): void {
    this.dst.set(address);
  }

  /** Header length for a datagram from `from`. */
  headerLen(from: string): number {
    this.src.set(from);
    return this.src.isV6 || this.dst.isV6 ? 48 : 28;
  }

  /** Header length for a datagram whose raw source address is at b[o] (batched receive). */
  headerLenRaw(family: number, b: Uint8Array, o: number): number {
    this.src.setRaw(family, b, o);
    return this.src.isV6 || this.dst.isV6 ? 48 : 28;
  }

  /** Write the headers ending at `payloadOff`; returns the frame's start offset. */
  write(buf: Buffer, payloadOff: number, payloadLen: number, srcPort: number, dstPort: number): number {
    const s = this.src;
    const d = this.dst;
    const udpLen = 8 + payloadLen;
    let o: number;
    if (!s.isV6 && !d.isV6) {
      o = payloadOff - 28;
      buf[o] = 0x45;
      buf[o + 1] = 0;
      buf.writeUInt16BE(Math.min(65535, 20 + udpLen), o + 2);
      buf.writeUInt32BE(0, o + 4); // id 0, no fragmentation
      buf[o + 8] = 64;
      buf[o + 9] = 17;
      buf.writeUInt16BE(0, o + 10);
      buf.writeUInt32BE(s.v4 >>> 0, o + 12);
      buf.writeUInt32BE(d.v4 >>> 0, o + 16);
    } else {
      o = payloadOff - 48;
      buf.writeUInt32BE(0x60000000, o);
      buf.writeUInt16BE(udpLen & 0xffff, o + 4);
      buf[o + 6] = 17;
      buf[o + 7] = 64;
      writeV6(buf, o + 8, s);
      writeV6(buf, o + 24, d);
    }
    const u = payloadOff - 8;
    buf.writeUInt16BE(srcPort, u);
    buf.writeUInt16BE(dstPort, u + 2);
    buf.writeUInt16BE(udpLen & 0xffff, u + 4);
    buf.writeUInt16BE(0, u + 6);
    return o;
  }
}

function writeV6(buf: Buffer, o: number, a: AddrCache): void {
  if (a.isV6 && a.v6) {
    buf.set(a.v6, o);
    return;
  }
  // IPv4 address inside an IPv6 header: v4-mapped.
  buf.fill(0, o, o + 10);
  buf[o + 10] = 0xff;
  buf[o + 11] = 0xff;
  buf.writeUInt32BE(a.v4 >>> 0, o + 12);
}

abstract class UdpReceiver implements MirrorReceiver {
  abstract readonly kind: 'vxlan' | 'tzsp';
  readonly counters = newCounters();
  protected sock: Socket | null = null;
  protected readonly frame = newFrame();
  protected readonly clock = { sec: 0, ns: 0 };
  private timer: NodeJS.Timeout | null = null;
  private bound = { address: '0.0.0.0', port: 0 };

  constructor(
    protected readonly cfg: UdpReceiverConfig,
    protected readonly onFrame: FrameHandler,
    protected readonly hooks: BatchHooks,
  ) {}

  address(): { address: string; port: number } {
    return this.bound;
  }

  protected malformed(reason: string): void {
    this.counters.malformed[reason] = (this.counters.malformed[reason] ?? 0) + 1;
  }

  protected abstract onMessage(msg: Buffer, rinfo: RemoteInfo): void;
  protected onBound(): void {}

  /** Receivers that implement onDatagram read through the addon's recvmmsg when it is there. */
  protected readonly batchable: boolean = false;
  /**
   * One datagram of a batch: `caplen` bytes at buf[off] (the slot's headroom in front is free to
   * write), `len` its real length; its source address is at meta bytes `addrOff`.
   */
  protected onDatagram(_buf: Buffer, _off: number, _caplen: number, _len: number, _i: number): void {}

  private native: UdpBatchBinding | null = null;
  private nh: NativeHandle | null = null;
  /** Batched receive: RECV_SLOTS slots of RECV_SLOT bytes, RECV_HEADROOM bytes free in front. */
  protected static readonly RECV_SLOT = 16_384;
  protected static readonly RECV_HEADROOM = 64;
  protected static readonly RECV_SLOTS = 256;
  protected rbuf: Buffer | null = null;
  protected meta: Uint32Array | null = null;
  protected metaBytes: Uint8Array | null = null;

  /** How the socket is read: 'recvmmsg' (addon) or 'dgram'. Valid after start(). */
  get io(): 'recvmmsg' | 'dgram' {
    return this.nh ? 'recvmmsg' : 'dgram';
  }

  async start(): Promise<void> {
    const native = this.batchable ? loadUdpBatchBinding() : null;
    if (native) return this.startBatched(native);
    const type = isIPv6(this.cfg.host) ? 'udp6' : 'udp4';
    const sock = createSocket({ type, reuseAddr: false });
    this.sock = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.cfg.port, this.cfg.host, () => {
        sock.removeListener('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      this.sock = null;
      throw this.bindError(e);
    });
    try {
      sock.setRecvBufferSize(this.cfg.rcvbuf);
    } catch {
      // capped by the kernel; the default still works
    }
    const a = sock.address();
    this.bound = { address: a.address, port: a.port };
    this.onBound();
    sock.on('message', (msg, rinfo) => {
      this.counters.received++;
      this.counters.bytes += msg.length;
      this.onMessage(msg, rinfo);
    });
    sock.on('error', (e) => this.hooks.onError?.(e));
    this.startTicks();
  }

  private bindError(e: NodeJS.ErrnoException): Error {
    const hint = e.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : '';
    return new Error(`cannot listen on udp ${this.cfg.host}:${this.cfg.port}: ${e.message}${hint}`);
  }

  private startTicks(): void {
    this.timer = wallTicks(this.clock, this.hooks);
  }

  private startBatched(native: UdpBatchBinding): void {
    const v6 = isIPv6(this.cfg.host);
    let h: NativeHandle;
    try {
      h = native.udpOpen(v6 ? 6 : 4, this.cfg.host, this.cfg.port, this.cfg.rcvbuf, 0);
    } catch (e) {
      throw this.bindError(e as NodeJS.ErrnoException);
    }
    const C = UdpReceiver;
    this.rbuf = Buffer.allocUnsafeSlow(C.RECV_SLOT * C.RECV_SLOTS);
    this.meta = new Uint32Array(RECV_META_STRIDE * C.RECV_SLOTS);
    this.metaBytes = new Uint8Array(this.meta.buffer);
    this.native = native;
    this.nh = h;
    this.bound = native.address(h);
    this.onBound();
    native.poll(h, this.drain);
    this.startTicks();
  }

  /** Readable: read batches until the socket is empty (at most 64 batches, then yield). */
  private readonly drain = (): void => {
    const native = this.native;
    const h = this.nh;
    const buf = this.rbuf!;
    const meta = this.meta!;
    const C = UdpReceiver;
    const counters = this.counters;
    for (let round = 0; round < 64 && this.nh === h && h; round++) {
      let n: number;
      try {
        n = native!.recvBatch(h, buf, meta, C.RECV_SLOT, C.RECV_HEADROOM);
      } catch (e) {
        this.hooks.onError?.(e as Error);
        return;
      }
      if (n === 0) return;
      wallClock(this.clock);
      for (let i = 0; i < n; i++) {
        const m = i * RECV_META_STRIDE;
        const len = meta[m + RECV_LEN]!;
        counters.received++;
        counters.bytes += len;
        if ((meta[m + RECV_FLAGS]! & RECV_TRUNCATED) !== 0) counters.truncated++;
        this.onDatagram(buf, meta[m + RECV_OFF]!, meta[m + RECV_CAPLEN]!, len, i);
      }
      if (n < C.RECV_SLOTS) return;
    }
  };

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.nh) {
      this.refreshStats();
      this.native!.close(this.nh);
      this.nh = null;
      return;
    }
    const s = this.sock;
    if (!s) return;
    this.refreshStats();
    this.sock = null;
    await new Promise<void>((r) => s.close(() => r()));
  }

  refreshStats(): MirrorCounters {
    if (this.sock || this.nh) this.counters.socketDrops = udpSocketDrops(this.bound.port, this.bound.address);
    return this.counters;
  }
}

class VxlanReceiver extends UdpReceiver {
  readonly kind = 'vxlan' as const;
  private readonly outer = new OuterHeaderBuilder();
  /** Payload lands at this offset, leaving room for the largest outer header in front. */
  private readonly payloadOff = 64;
  private work = Buffer.allocUnsafeSlow(64 + 65536);
  protected override readonly batchable = true;

  protected override onBound(): void {
    this.outer.setLocal(this.address().address);
  }

  protected override onDatagram(buf: Buffer, po: number, caplen: number, len: number, i: number): void {
    if (len < VXLAN_HEADER + ETH_MIN) {
      this.malformed('vxlan_too_short');
      return;
    }
    if ((buf[po]! & 0x08) === 0) {
      this.malformed('vxlan_no_vni_flag');
      return;
    }
    const m = i * RECV_META_STRIDE;
    this.outer.headerLenRaw(this.meta![m + RECV_FAMILY]!, this.metaBytes!, m * 4 + RECV_ADDR_BYTE);
    // The outer headers go into the slot's headroom: no copy of the datagram.
    const start = this.outer.write(buf, po, len, this.meta![m + RECV_PORT]!, VXLAN_PORT);
    const f = this.frame;
    f.buf = buf;
    f.off = start;
    f.caplen = po + caplen - start;
    f.wirelen = po + len - start;
    f.tsSec = this.clock.sec;
    f.tsNs = this.clock.ns;
    f.linkType = LinkType.RAW;
    f.ifIndex = 0;
    this.counters.delivered++;
    this.onFrame(f);
  }

  protected onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < VXLAN_HEADER + ETH_MIN) {
      this.malformed('vxlan_too_short');
      return;
    }
    if ((msg[0]! & 0x08) === 0) {
      this.malformed('vxlan_no_vni_flag');
      return;
    }
    const work = this.work;
    const po = this.payloadOff;
    msg.copy(work, po);
    this.outer.headerLen(rinfo.address);
    const start = this.outer.write(work, po, msg.length, rinfo.port, VXLAN_PORT);
    const f = this.frame;
    wallClock(this.clock);
    f.buf = work;
    f.off = start;
    f.caplen = po + msg.length - start;
    f.wirelen = f.caplen;
    f.tsSec = this.clock.sec;
    f.tsNs = this.clock.ns;
    f.linkType = LinkType.RAW;
    f.ifIndex = 0;
    this.counters.delivered++;
    this.onFrame(f);
  }
}

/** Where the frame a TZSP datagram carries starts, and its link type (set by `tzspInner`). */
export interface TzspInner {
  off: number;
  linkType: number;
}

/**
 * TZSP (TaZmen Sniffer Protocol): header, tagged fields up to END, then the frame. Reads the
 * datagram of `len` bytes at buf[o] and fills `out`; returns null, or the reason it is not a
 * packet to decode (a malformed counter's name).
 */
export function tzspInner(buf: Buffer, o: number, len: number, out: TzspInner): string | null {
  const end = o + len;
  if (len < 5 || buf[o] !== 1) return 'tzsp_bad_header';
  const type = buf[o + 1]!;
  if (type !== 0 && type !== 1) return 'tzsp_not_a_packet'; // keepalives and the like
  const encap = (buf[o + 2]! << 8) | buf[o + 3]!;
  let p = o + 4;
  for (;;) {
    if (p >= end) return 'tzsp_truncated_tags';
    const tag = buf[p]!;
    if (tag === 1) {
      p++;
      break;
    }
    if (tag === 0) {
      p++;
      continue;
    }
    if (p + 2 > end) return 'tzsp_truncated_tags';
    p += 2 + buf[p + 1]!;
  }
  const linkType = encap === 1 ? LinkType.ETHERNET : encap === 7 ? LinkType.RAW : -1;
  if (linkType < 0) return 'tzsp_unsupported_encapsulation';
  if (p >= end) return 'tzsp_empty';
  out.off = p;
  out.linkType = linkType;
  return null;
}

class TzspReceiver extends UdpReceiver {
  readonly kind = 'tzsp' as const;
  private readonly inner: TzspInner = { off: 0, linkType: 0 };
  protected override readonly batchable = true;

  protected override onDatagram(buf: Buffer, po: number, caplen: number, len: number): void {
    this.deliver(buf, po, caplen, len);
  }

  protected onMessage(msg: Buffer): void {
    wallClock(this.clock);
    this.deliver(msg, 0, msg.length, msg.length);
  }

  private deliver(buf: Buffer, po: number, caplen: number, len: number): void {
    const bad = tzspInner(buf, po, caplen, this.inner);
    if (bad !== null) {
      this.malformed(bad);
      return;
    }
    const f = this.frame;
    const o = this.inner.off;
    f.buf = buf;
    f.off = o;
    f.caplen = po + caplen - o;
    f.wirelen = po + len - o;
    f.tsSec = this.clock.sec;
    f.tsNs = this.clock.ns;
    f.linkType = this.inner.linkType;
    f.ifIndex = 0;
    this.counters.delivered++;
    this.onFrame(f);
  }
}

/**
 * A UDP mirror receiver of `kind`. With `ring` (and the addon's receive thread built), a thread
 * of the addon drains the socket into a ring of that size and this thread takes frames from the
 * ring (mirror-ring.ts); otherwise this thread reads the socket itself (recvmmsg, or node:dgram).
 */
function createUdpMirrorReceiver(
  kind: 'vxlan' | 'tzsp',
  cfg: Partial<UdpReceiverConfig> & { ring?: Partial<RingConfig> },
  onFrame: FrameHandler,
  hooks: BatchHooks,
): MirrorReceiver {
  const { ring, ...udp } = cfg;
  const c = { host: '0.0.0.0', port: kind === 'vxlan' ? VXLAN_PORT : TZSP_PORT, rcvbuf: 8 << 20, ...udp };
  if (ring) {
    const native = loadUdpBatchBinding();
    if (hasRing(native)) {
      const rc = validateRingConfig({ ...DEFAULT_RING, ...ring });
      return new RingReceiver(kind, native, { ...c, ...rc }, onFrame, hooks, udpSocketDrops);
    }
  }
  return kind === 'vxlan' ? new VxlanReceiver(c, onFrame, hooks) : new TzspReceiver(c, onFrame, hooks);
}

/** A VXLAN receiver (4789), on the addon's receive thread with `ring` (see createUdpMirrorReceiver). */
export function createVxlanReceiver(
  cfg: Partial<UdpReceiverConfig> & { ring?: Partial<RingConfig> },
  onFrame: FrameHandler,
  hooks: BatchHooks = {},
): MirrorReceiver {
  return createUdpMirrorReceiver('vxlan', cfg, onFrame, hooks);
}

/** A TZSP receiver (37008), on the addon's receive thread with `ring`. */
export function createTzspReceiver(
  cfg: Partial<UdpReceiverConfig> & { ring?: Partial<RingConfig> },
  onFrame: FrameHandler,
  hooks: BatchHooks = {},
): MirrorReceiver {
  return createUdpMirrorReceiver('tzsp', cfg, onFrame, hooks);
}

export interface GreReceiverConfig {
  /** Local IPv4 address to receive on; '' for all. */
  bindIp: string;
  rcvbuf: number;
  batchBytes: number;
  /** With the addon's receive thread: a ring of this size, and its overload sampling. */
  ring?: Partial<RingConfig>;
}

/**
 * GRE and ERSPAN II/III (over GRE) through a raw IPv4 socket for IP protocol 47. The kernel
 * hands over whole IPv4 packets, so frames are raw IP and the decoder sees the real outer
 * addresses, GRE key and ERSPAN session. Needs the vantage-pcap addon and root/CAP_NET_RAW.
 */
export function createGreReceiver(
  cfg: Partial<GreReceiverConfig>,
  onFrame: FrameHandler,
  hooks: BatchHooks = {},
): MirrorReceiver {
  const { ring, ...rest } = cfg;
  const c: GreReceiverConfig = { bindIp: '', rcvbuf: 8 << 20, batchBytes: 2 << 20, ...rest };
  if (ring) {
    const native = loadUdpBatchBinding();
    if (hasRing(native)) {
      const rc = validateRingConfig({ ...DEFAULT_RING, ...ring });
      const host = c.bindIp || '0.0.0.0';
      return new RingReceiver(
        'gre',
        native,
        { host, port: 0, rcvbuf: c.rcvbuf, ...rc },
        onFrame,
        hooks,
        udpSocketDrops,
      );
    }
  }
  const counters = newCounters();
  let binding: PcapBinding | null = null;
  let handle: NativeHandle | null = null;
  let loop: BatchLoop | null = null;
  const counting: FrameHandler = (f) => {
    counters.received++;
    counters.bytes += f.caplen;
    counters.delivered++;
    onFrame(f);
  };
  return {
    kind: 'gre',
    counters,
    address: () => ({ address: c.bindIp || '0.0.0.0', port: 0 }),
    async start() {
      binding = loadPcapBinding();
      try {
        handle = binding.rawOpen(47, c.bindIp, c.rcvbuf);
      } catch (e) {
        throw explainNativeError(e, 'receiving GRE/ERSPAN (raw IP protocol 47)');
      }
      loop = new BatchLoop(binding, handle, LinkType.RAW, c.batchBytes, counting, hooks);
      loop.start();
    },
    async stop() {
      if (loop) counters.socketDrops = rawSocketDrops(47, c.bindIp);
      await loop?.stop();
      loop = null;
    },
    refreshStats: () => {
      if (loop) counters.socketDrops = rawSocketDrops(47, c.bindIp);
      return counters;
    },
  };
}
