import { createRequire } from 'node:module';
import type { Frame, FrameHandler } from './frame.js';
import { newFrame } from './frame.js';

/**
 * Live capture through our own libpcap binding (native/pcap, package `vantage-pcap`). The
 * binding is optional: when it was not built, `loadPcapBinding` throws a LiveCaptureError whose
 * message says exactly what to install.
 */

export const INSTALL_HINT =
  'live capture needs the optional vantage-pcap addon, which is not built on this machine: ' +
  'install the Debian package libpcap-dev and a C compiler (apt-get install libpcap-dev g++ make python3), ' +
  'then run: npm rebuild vantage-pcap';

export const PERMISSION_HINT =
  'needs root or the CAP_NET_RAW capability: run as root, or grant it to node with ' +
  'sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(command -v node))';

export type LiveErrorKind = 'no_addon' | 'permission' | 'no_device' | 'filter' | 'other';

export class LiveCaptureError extends Error {
  constructor(
    readonly kind: LiveErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'LiveCaptureError';
  }
}

/** Opaque handle of the binding. */
export type NativeHandle = { readonly __brand: 'vantage-pcap-handle' };

export interface PcapBinding {
  open(
    iface: string,
    opts: {
      snaplen: number;
      promisc: boolean;
      immediate: boolean;
      bufferSize: number;
      timeoutMs: number;
      filter: string;
    },
  ): NativeHandle;
  datalink(h: NativeHandle): number;
  /** Fill `buf` with packet records (see RECORD_HEADER); waits at most the handle's timeout. */
  read(h: NativeHandle, buf: Buffer): Promise<{ bytes: number; packets: number }>;
  stats(h: NativeHandle): { received: number; dropped: number; ifDropped: number };
  inject(h: NativeHandle, frame: Buffer): number;
  rawOpen(proto: number, bindIp?: string, rcvbuf?: number): NativeHandle;
  rawSend(h: NativeHandle, payload: Buffer, dstIp: string): number;
  close(h: NativeHandle): void;
  interfaces(): string[];
  libVersion(): string;
}

let cached: PcapBinding | null = null;

/** Load the binding; VANTAGE_NO_PCAP=1 behaves as if it were not built (tests, support). */
export function loadPcapBinding(): PcapBinding {
  if (cached) return cached;
  if (process.env.VANTAGE_NO_PCAP === '1')
    throw new LiveCaptureError('no_addon', `${INSTALL_HINT} (disabled by VANTAGE_NO_PCAP=1)`);
  try {
    cached = createRequire(import.meta.url)('vantage-pcap') as PcapBinding;
    return cached;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new LiveCaptureError('no_addon', `${INSTALL_HINT} (${why})`);
  }
}

/** True when the binding is built and loadable. */
export function pcapAvailable(): boolean {
  try {
    loadPcapBinding();
    return true;
  } catch {
    return false;
  }
}

/** Turn a binding error into a LiveCaptureError that says what to do. */
export function explainNativeError(e: unknown, what: string, binding?: PcapBinding): LiveCaptureError {
  const err = e as Error & { code?: string };
  const code = err.code ?? '';
  if (code === 'EPERM' || code === 'EACCES' || /permission|not permitted/i.test(err.message))
    return new LiveCaptureError('permission', `${what} ${PERMISSION_HINT} (${err.message})`);
  if (code === 'ENODEV' || /no such device/i.test(err.message)) {
    const list = binding ? binding.interfaces().filter((n) => !/^(dbus|bluetooth|nf)/.test(n)) : [];
    const avail = list.length > 0 ? `; interfaces here: ${list.join(', ')}` : '';
    return new LiveCaptureError('no_device', `${what}: no such interface${avail} (${err.message})`);
  }
  if (code === 'EFILTER') return new LiveCaptureError('filter', `${what}: ${err.message}`);
  return new LiveCaptureError('other', `${what}: ${err.message}`);
}

/** Bytes before each packet in a batch buffer: seconds, nanoseconds, caplen, wirelen (LE u32). */
export const RECORD_HEADER = 16;

/**
 * Hand every record of a batch buffer to `onFrame` through one reused Frame. Returns the number
 * of bytes of the packets (captured lengths) delivered.
 */
export function walkBatch(
  buf: Buffer,
  bytes: number,
  frame: Frame,
  linkType: number,
  onFrame: FrameHandler,
): number {
  let o = 0;
  let total = 0;
  frame.buf = buf;
  frame.linkType = linkType;
  while (o + RECORD_HEADER <= bytes) {
    const caplen = buf.readUInt32LE(o + 8);
    frame.tsSec = buf.readUInt32LE(o);
    frame.tsNs = buf.readUInt32LE(o + 4);
    frame.caplen = caplen;
    const wire = buf.readUInt32LE(o + 12);
    frame.wirelen = wire < caplen ? caplen : wire;
    frame.off = o + RECORD_HEADER;
    total += caplen;
    onFrame(frame);
    o += RECORD_HEADER + ((caplen + 3) & ~3);
  }
  return total;
}

export interface LiveCaptureConfig {
  iface: string;
  /** tcpdump filter compiled by libpcap into the kernel. */
  filter: string;
  snaplen: number;
  promisc: boolean;
  /** Deliver packets as they arrive instead of when a kernel block fills. */
  immediate: boolean;
  /** Kernel ring size in bytes. */
  bufferSize: number;
  /** Bytes of one batch buffer (two are used, so reading overlaps processing). */
  batchBytes: number;
  /** Longest a read waits for packets; also the period of `onTick`. */
  timeoutMs: number;
}

export const DEFAULT_LIVE_CONFIG: Omit<LiveCaptureConfig, 'iface'> = {
  filter: '',
  snaplen: 262_144,
  promisc: true,
  immediate: true,
  bufferSize: 32 << 20,
  batchBytes: 4 << 20,
  timeoutMs: 100,
};

export interface LiveCounters {
  packets: number;
  bytes: number;
  batches: number;
  /** Kernel figures from pcap_stats: packets the filter passed, dropped for lack of buffer space. */
  kernelReceived: number;
  kernelDropped: number;
  ifDropped: number;
}

export interface BatchHooks {
  /** After each batch (possibly empty) with the wall clock: flush batches, advance flow clocks. */
  onTick?: (tsSec: number, tsNs: number) => void;
  /** The source failed after starting (interface went away...). */
  onError?: (e: Error) => void;
  /** Just before the handle closes (last chance to read kernel counters). */
  beforeClose?: () => void;
  /**
   * Receivers with a ring of their own (mirror-ring.ts): whether the consumer can take a frame
   * now. While it cannot, frames stay in the ring (what overflows it is counted `ring_full`)
   * until the receiver's `resume()` is called.
   */
  ready?: () => boolean;
}

export interface LiveCapture {
  readonly counters: LiveCounters;
  /** LINKTYPE_* of the interface; valid after start(). */
  readonly linkType: number;
  /** Open the interface; rejects with a LiveCaptureError (permission, no device, filter). */
  start(): Promise<void>;
  /** Stop reading; resolves when the last batch was delivered and the handle closed. */
  stop(): Promise<void>;
  /** Refresh the kernel counters. */
  refreshStats(): LiveCounters;
}

/** The wall clock split into seconds and nanoseconds without allocating. */
export function wallClock(out: { sec: number; ns: number }): void {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  out.sec = sec;
  out.ns = Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6));
}

/**
 * Read loop shared by live capture and raw-socket receivers: two buffers, one being filled by
 * the binding on a pool thread while the other is walked on the main thread.
 */
export class BatchLoop {
  private running = false;
  private done: Promise<void> | null = null;
  private readonly frame = newFrame();
  private readonly clock = { sec: 0, ns: 0 };
  packets = 0;
  bytes = 0;
  batches = 0;

  constructor(
    private readonly binding: PcapBinding,
    private readonly handle: NativeHandle,
    private readonly linkType: number,
    private readonly batchBytes: number,
    private readonly onFrame: FrameHandler,
    private readonly hooks: BatchHooks,
  ) {}

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const bufs = [Buffer.allocUnsafeSlow(this.batchBytes), Buffer.allocUnsafeSlow(this.batchBytes)];
    let i = 0;
    let nextTick = 0;
    let pending: Promise<{ bytes: number; packets: number }> | null = this.binding.read(
      this.handle,
      bufs[0]!,
    );
    try {
      while (pending) {
        const got = await pending;
        const filled = bufs[i]!;
        i ^= 1;
        pending = this.running ? this.binding.read(this.handle, bufs[i]!) : null;
        if (got.packets > 0) {
          this.batches++;
          this.packets += got.packets;
          this.bytes += walkBatch(filled, got.bytes, this.frame, this.linkType, this.onFrame);
        }
        if (this.hooks.onTick) {
          // Reads return as soon as packets arrive (immediate mode): tick at most every 100 ms.
          const now = performance.now();
          if (now >= nextTick) {
            nextTick = now + 100;
            wallClock(this.clock);
            this.hooks.onTick(this.clock.sec, this.clock.ns);
          }
        }
      }
    } catch (e) {
      this.running = false;
      this.hooks.onError?.(e as Error);
    } finally {
      this.hooks.beforeClose?.();
      this.binding.close(this.handle);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

export function createLiveCapture(
  cfg: Partial<LiveCaptureConfig> & { iface: string },
  onFrame: FrameHandler,
  hooks: BatchHooks = {},
): LiveCapture {
  const c: LiveCaptureConfig = { ...DEFAULT_LIVE_CONFIG, ...cfg };
  const counters: LiveCounters = {
    packets: 0,
    bytes: 0,
    batches: 0,
    kernelReceived: 0,
    kernelDropped: 0,
    ifDropped: 0,
  };
  let binding: PcapBinding | null = null;
  let handle: NativeHandle | null = null;
  let loop: BatchLoop | null = null;
  let linkType = 1;
  let closed = false;

  const refreshStats = (): LiveCounters => {
    if (loop) {
      counters.packets = loop.packets;
      counters.bytes = loop.bytes;
      counters.batches = loop.batches;
    }
    if (binding && handle && !closed) {
      try {
        const s = binding.stats(handle);
        counters.kernelReceived = s.received;
        counters.kernelDropped = s.dropped;
        counters.ifDropped = s.ifDropped;
      } catch {
        // closed under us: keep the last figures
      }
    }
    return counters;
  };

  return {
    counters,
    get linkType() {
      return linkType;
    },
    async start() {
      binding = loadPcapBinding();
      try {
        handle = binding.open(c.iface, {
          snaplen: c.snaplen,
          promisc: c.promisc,
          immediate: c.immediate,
          bufferSize: c.bufferSize,
          timeoutMs: c.timeoutMs,
          filter: c.filter,
        });
      } catch (e) {
        throw explainNativeError(e, `live capture on ${c.iface}`, binding);
      }
      linkType = binding.datalink(handle);
      // A batch must hold at least one record of the full snap length.
      const batch = Math.max(c.batchBytes, c.snaplen + RECORD_HEADER + 4);
      loop = new BatchLoop(binding, handle, linkType, batch, onFrame, {
        ...hooks,
        beforeClose: () => {
          refreshStats();
          closed = true;
        },
      });
      loop.start();
    },
    async stop() {
      if (!loop) return;
      await loop.stop();
      refreshStats();
    },
    refreshStats,
  };
}
