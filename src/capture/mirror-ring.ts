import { ConfigError } from '../common/errors.js';
import type { FrameHandler } from './frame.js';
import { LinkType, newFrame } from './frame.js';
import type { BatchHooks, NativeHandle } from './live.js';
import { explainNativeError } from './live.js';
import type { MirrorCounters, MirrorReceiver, TzspInner, UdpBatchBinding } from './mirror.js';
import { rawSocketDrops, tzspInner, wallTicks } from './mirror.js';

/** IP protocol number of GRE (ERSPAN rides on it). */
const GRE_PROTO = 47;

/**
 * A VXLAN, TZSP or GRE/ERSPAN receiver whose socket is drained by a thread of the vantage-pcap addon into a
 * bounded ring (`udpRingStart`, native/pcap/src/vantage_pcap.c), so decode, flows, L7, the packet
 * recorder and store appends on this thread no longer decide when the socket is read: a burst
 * or a busy moment waits in the ring (sized from the memory budget), not in the kernel's buffer.
 *
 * When this thread cannot keep up for longer than the ring holds, what the ring cannot take is
 * dropped and counted as `ring_full`; or, with `sampling`, the receive thread keeps whole flows
 * 1 in N (N from the ring's fill, recorded per packet and then on the flow records) before the
 * ring is full. The account is exact: datagrams received = delivered + ring_full + sampled out +
 * malformed + (records still in the ring).
 */

export interface RingConfig {
  /**
   * Bytes the ring may take (control words included; at least 64 KiB + 256). Its data area is
   * the largest power of two that fits, so it takes between half of this and all of it.
   */
  ringBytes: number;
  /** Keep whole flows 1 in N under overload instead of dropping at a full ring. */
  sampling: boolean;
  /** Largest N (a power of two, 2..32768). */
  maxSampling: number;
  /** Flows whose sampling decision is remembered at once (a bounded table, 8 bytes each). */
  samplingFlows: number;
  /**
   * Nice value of the receive thread (-20..19; 0 leaves it). It does little per datagram but
   * must run when they come; raising it needs root or CAP_SYS_NICE, else it stays as it is.
   */
  nice: number;
  /**
   * SCHED_FIFO priority of the receive thread (1-99; 0: the fair scheduler). Under the fair
   * scheduler a busy machine can hold the thread off the CPU for longer than the socket buffer
   * lasts, even at a raised nice value (the share is per process group); needs root or
   * CAP_SYS_NICE, else it stays as it is.
   */
  realtime: number;
}

export const DEFAULT_RING: RingConfig = {
  ringBytes: 32 << 20,
  sampling: false,
  maxSampling: 16,
  samplingFlows: 1 << 20,
  nice: -5,
  realtime: 0,
};

/** Check a ring config; errors name the key under `key` (e.g. `mirror.ring`). */
export function validateRingConfig(c: RingConfig, key = 'mirror'): RingConfig {
  if (!Number.isInteger(c.ringBytes) || c.ringBytes < RING_CTL + 65536 || c.ringBytes > 2 ** 31)
    throw new ConfigError(`${key}.ringBytes`, `a size from 64KiB to 2GiB (got ${c.ringBytes})`);
  const n = c.maxSampling;
  if (!Number.isInteger(n) || n < 2 || n > 32768 || (n & (n - 1)) !== 0)
    throw new ConfigError(`${key}.maxSampling`, `a power of two from 2 to 32768 (got ${n})`);
  if (!Number.isInteger(c.samplingFlows) || c.samplingFlows < 4096 || c.samplingFlows > 1 << 26)
    throw new ConfigError(`${key}.samplingFlows`, `from 4096 to 67108864 (got ${c.samplingFlows})`);
  if (!Number.isInteger(c.nice) || c.nice < -20 || c.nice > 19)
    throw new ConfigError(`${key}.nice`, `from -20 to 19 (got ${c.nice})`);
  if (!Number.isInteger(c.realtime) || c.realtime < 0 || c.realtime > 99)
    throw new ConfigError(`${key}.realtime`, `from 0 (off) to 99 (got ${c.realtime})`);
  return c;
}

/** The addon with the receive thread (an older build has only recvBatch). */
export interface UdpRingBinding extends UdpBatchBinding {
  udpRingStart(
    h: NativeHandle,
    buf: Buffer,
    opts: {
      vxlan: boolean;
      tzsp?: boolean;
      /** The handle is a raw socket for IP protocol 47 (rawOpen). */
      gre?: boolean;
      sampling: boolean;
      maxLevel: number;
      tableEntries: number;
      nice: number;
      realtime?: number;
    },
    onData: () => void,
  ): number;
}

export function hasRing(b: UdpBatchBinding | null): b is UdpRingBinding {
  return b !== null && typeof (b as Partial<UdpRingBinding>).udpRingStart === 'function';
}

/** Layout of the ring buffer, as the addon writes it. */
const RING_CTL = 256;
const RING_REC = 20;
const RING_PAD = 0xffffffff;
const C_HEAD = 0;
const C_TAIL = 1;
const C_WAITING = 2;
const C_LEVEL = 3;
const C_TID = 4;
const C_NICE = 5;
const C_RT = 6;
/** Counters (f64 from byte 64), in the addon's RC_* order. */
export const RING_COUNTERS = [
  'received',
  'bytes',
  'written',
  'ringFull',
  'sampledOut',
  'truncated',
  'tooShort',
  'noVni',
  'recvErrors',
  'evictions',
  'flowsKept',
  'flowsSampled',
  'levelChanges',
  'highWater',
  /** Times the empty ring went on at 0 before its end (so it stays resident only where written). */
  'rewinds',
  /** Times the pages written past the ring's first MiB were given back (madvise). */
  'trims',
] as const;
export type RingCounters = Record<(typeof RING_COUNTERS)[number], number>;
/** Frames handed to this thread per turn of the event loop before it yields to other work. */
const PER_TURN = 8192;

export interface RingMirrorCounters extends MirrorCounters {
  /** Datagrams the ring had no room for (this thread was behind for longer than the ring holds). */
  ringFull: number;
  /** Datagrams of flows left out by overload sampling. */
  sampledOut: number;
  /** The sampling factor N in force now (1: every flow kept). */
  sampling: number;
}

export class RingReceiver implements MirrorReceiver {
  readonly counters: RingMirrorCounters = {
    received: 0,
    bytes: 0,
    delivered: 0,
    malformed: {},
    socketDrops: 0,
    truncated: 0,
    ringFull: 0,
    sampledOut: 0,
    sampling: 1,
  };
  /** The sampling factor of the frame being handed out (1 without sampling): its flow stands for N. */
  factor = 1;
  private readonly frame = newFrame();
  private readonly clock = { sec: 0, ns: 0 };
  private h: NativeHandle | null = null;
  private buf: Buffer | null = null;
  private ctl: Uint32Array | null = null;
  private cnt: Float64Array | null = null;
  private size = 0;
  private bound = { address: '0.0.0.0', port: 0 };
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  /** The consumer said it had no room (hooks.ready): frames wait in the ring until resume(). */
  private paused = false;
  private ignoreReady = false;
  private readonly inner: TzspInner = { off: 0, linkType: 0 };

  /**
   * `kind` 'vxlan': the thread checks each datagram and rebuilds its outer headers, so a record
   * is a raw-IP frame; 'tzsp': a record is the datagram, whose TZSP header this thread reads;
   * 'gre': a record is the whole IPv4 packet of protocol 47 from a raw socket (`port` unused),
   * a raw-IP frame whose GRE and ERSPAN headers the decoder reads.
   */
  constructor(
    readonly kind: 'vxlan' | 'tzsp' | 'gre',
    private readonly native: UdpRingBinding,
    private readonly cfg: { host: string; port: number; rcvbuf: number } & RingConfig,
    private readonly onFrame: FrameHandler,
    private readonly hooks: BatchHooks,
    private readonly socketDrops: (port: number, host: string) => number,
  ) {}

  address(): { address: string; port: number } {
    return this.bound;
  }

  /** Whether the receive thread runs at the configured nice value. */
  get niceApplied(): boolean {
    return this.ctl ? Atomics.load(this.ctl, C_NICE) === 1 : false;
  }

  /** Whether the receive thread runs SCHED_FIFO (config `realtime`). */
  get realtimeApplied(): boolean {
    return this.ctl ? Atomics.load(this.ctl, C_RT) === 1 : false;
  }

  /** The receive thread's id (its CPU time is in /proc/self/task/ID/stat); 0 before start. */
  get threadId(): number {
    return this.ctl ? Atomics.load(this.ctl, C_TID) : 0;
  }

  async start(): Promise<void> {
    const v6 = this.cfg.host.includes(':');
    const gre = this.kind === 'gre';
    let h: NativeHandle;
    try {
      h = gre
        ? this.native.rawOpen(GRE_PROTO, this.cfg.host === '0.0.0.0' ? '' : this.cfg.host, this.cfg.rcvbuf)
        : this.native.udpOpen(v6 ? 6 : 4, this.cfg.host, this.cfg.port, this.cfg.rcvbuf, 0);
    } catch (e) {
      if (gre) throw explainNativeError(e, 'receiving GRE/ERSPAN (raw IP protocol 47)');
      const err = e as Error;
      throw new Error(`cannot listen on udp ${this.cfg.host}:${this.cfg.port}: ${err.message}`);
    }
    // The data area is a power of two (positions wrap with a mask): the largest that fits.
    let area = 65536;
    while (area * 2 <= this.cfg.ringBytes - RING_CTL) area *= 2;
    const buf = Buffer.allocUnsafeSlow(RING_CTL + area);
    this.bound = gre ? { address: this.cfg.host, port: 0 } : this.native.address(h);
    this.h = h;
    this.buf = buf;
    this.ctl = new Uint32Array(buf.buffer, buf.byteOffset, 16);
    this.cnt = new Float64Array(buf.buffer, buf.byteOffset + 64, RING_COUNTERS.length);
    try {
      this.size = this.native.udpRingStart(
        h,
        buf,
        {
          vxlan: this.kind === 'vxlan',
          tzsp: this.kind === 'tzsp',
          gre,
          sampling: this.cfg.sampling,
          maxLevel: Math.log2(this.cfg.maxSampling),
          tableEntries: this.cfg.samplingFlows,
          nice: this.cfg.nice,
          realtime: this.cfg.realtime,
        },
        this.wake,
      );
    } catch (e) {
      this.native.close(h);
      this.h = null;
      const what = gre ? `gre on ${this.cfg.host}` : `udp ${this.cfg.host}:${this.cfg.port}`;
      throw new Error(`cannot start the receive thread of ${what}: ${(e as Error).message}`);
    }
    Atomics.store(this.ctl, C_WAITING, 1);
    // The thread is running once it has said who it is (its id and nice value are read later).
    for (let i = 0; i < 200 && Atomics.load(this.ctl, C_TID) === 0; i++)
      await new Promise((r) => setTimeout(r, 1));
    this.timer = wallTicks(this.clock, this.hooks);
  }

  /** Called by the addon when records arrived while this thread was waiting. */
  private readonly wake = (): void => {
    if (!this.scheduled && !this.paused) this.drain();
  };

  /** The consumer has room again (after `hooks.ready` said no): hand out what waits. */
  readonly resume = (): void => {
    if (!this.paused) return;
    this.paused = false;
    if (!this.scheduled) this.drain();
  };

  private readonly later = (): void => {
    this.scheduled = false;
    this.drain();
  };

  /** Hand out what the ring holds (at most PER_TURN frames, then yield and go on). */
  private drain(): void {
    const ctl = this.ctl;
    const buf = this.buf;
    if (!ctl || !buf) return;
    const size = this.size;
    const mask = size - 1;
    const f = this.frame;
    const tzsp = this.kind === 'tzsp';
    f.buf = buf;
    f.linkType = LinkType.RAW;
    f.ifIndex = 0;
    const ready = this.ignoreReady ? undefined : this.hooks.ready;
    let tail = ctl[C_TAIL]!;
    let head = Atomics.load(ctl, C_HEAD);
    let n = 0;
    for (;;) {
      while (tail !== head && n < PER_TURN) {
        if (ready !== undefined && !ready()) {
          this.paused = true;
          break;
        }
        const off = tail & mask;
        if (size - off < RING_REC) {
          tail = (tail + size - off) >>> 0;
          continue;
        }
        const o = RING_CTL + off;
        const caplen = buf.readUInt32LE(o + 8);
        if (caplen === RING_PAD) {
          tail = (tail + size - off) >>> 0;
          continue;
        }
        f.tsSec = buf.readUInt32LE(o);
        f.tsNs = buf.readUInt32LE(o + 4);
        f.caplen = caplen;
        f.wirelen = buf.readUInt32LE(o + 12);
        this.factor = buf.readUInt32LE(o + 16) & 0xffff;
        f.off = o + RING_REC;
        tail = (tail + RING_REC + ((caplen + 3) & ~3)) >>> 0;
        if (tzsp) {
          const bad = tzspInner(buf, f.off, caplen, this.inner);
          if (bad !== null) {
            this.counters.malformed[bad] = (this.counters.malformed[bad] ?? 0) + 1;
            continue;
          }
          const skip = this.inner.off - f.off;
          f.off = this.inner.off;
          f.caplen -= skip;
          f.wirelen -= skip;
          f.linkType = this.inner.linkType;
        }
        n++;
        this.onFrame(f);
        // Room for the receive thread as frames are handed out, not at the end of a long turn.
        if ((n & 127) === 0) Atomics.store(ctl, C_TAIL, tail);
      }
      Atomics.store(ctl, C_TAIL, tail);
      // Paused: no wake-up wanted from the thread; resume() comes when the consumer has room.
      if (n >= PER_TURN || this.paused) break;
      // Sleep only after saying so and seeing nothing arrived since (the thread checks the flag
      // after it publishes its head, so no record is left unannounced).
      Atomics.store(ctl, C_WAITING, 1);
      head = Atomics.load(ctl, C_HEAD);
      if (head === tail) break;
      Atomics.store(ctl, C_WAITING, 0);
    }
    this.counters.delivered += n;
    if (n >= PER_TURN && this.h && !this.paused) {
      this.scheduled = true;
      setImmediate(this.later);
    }
  }

  /** The addon's counters now. */
  ringCounters(): RingCounters {
    const out = {} as RingCounters;
    const cnt = this.cnt;
    RING_COUNTERS.forEach((k, i) => {
      out[k] = cnt ? cnt[i]! : 0;
    });
    return out;
  }

  /** Records waiting in the ring now (bytes). */
  get ringUsed(): number {
    return this.ctl ? (Atomics.load(this.ctl, C_HEAD) - Atomics.load(this.ctl, C_TAIL)) >>> 0 : 0;
  }

  get ringSize(): number {
    return this.size;
  }

  refreshStats(): RingMirrorCounters {
    const c = this.counters;
    if (!this.ctl) return c;
    const r = this.ringCounters();
    c.received = r.received;
    c.bytes = r.bytes;
    c.truncated = r.truncated;
    c.ringFull = r.ringFull;
    c.sampledOut = r.sampledOut;
    c.sampling = 2 ** Atomics.load(this.ctl, C_LEVEL);
    if (r.tooShort > 0) c.malformed.vxlan_too_short = r.tooShort;
    if (r.noVni > 0) c.malformed.vxlan_no_vni_flag = r.noVni;
    if (this.h)
      c.socketDrops =
        this.kind === 'gre'
          ? rawSocketDrops(GRE_PROTO, this.bound.address)
          : this.socketDrops(this.bound.port, this.bound.address);
    return c;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.h) return;
    this.refreshStats();
    // The thread is joined by close; what it wrote before is handed out after.
    this.native.close(this.h);
    this.h = null;
    // What waits in the ring is handed out as the consumer takes it; a consumer that makes no
    // room for 2 s gets the rest at once (and counts what it has no room for).
    let last = this.ringUsed;
    let since = performance.now();
    while (this.ringUsed > 0) {
      if (!this.paused && !this.scheduled) this.drain();
      if (this.ringUsed === 0) break;
      if (this.ringUsed !== last) {
        last = this.ringUsed;
        since = performance.now();
      } else if (performance.now() - since > 2000) this.ignoreReady = true;
      if (this.ignoreReady) this.paused = false;
      await new Promise((r) => setTimeout(r, 1));
    }
    this.refreshStats();
  }
}
