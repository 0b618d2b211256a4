import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { EveSocketConfig } from './config.js';
import { parseEveLine } from './eve.js';
import { deliver, type EventDeps } from './sink.js';
import type { EventSource } from './source.js';
import { countWeird, newCounters } from './types.js';

type Handle = { readonly __brand: 'vantage-pcap-handle' };

/** The part of the vantage-pcap addon a unix datagram source uses. */
export interface UnixDgramBinding {
  /** A non-blocking AF_UNIX SOCK_DGRAM socket bound to path. */
  unixDgramOpen(path: string, rcvbuf: number): Handle;
  /** Call fn whenever the socket is readable (level triggered) until close(h). */
  poll(h: Handle, fn: () => void): void;
  /** recvmmsg without blocking: datagram i at buf[i*slot + headroom]; meta holds 12 words each. */
  recvBatch(h: Handle, buf: Buffer, meta: Uint32Array, slot: number, headroom: number): number;
  close(h: Handle): void;
}

/** The addon with unix datagram sockets, or the reason it cannot be had. */
export function loadUnixDgramBinding(): UnixDgramBinding | string {
  if (process.env.VANTAGE_NO_PCAP === '1') return 'the vantage-pcap addon is disabled by VANTAGE_NO_PCAP=1';
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as Partial<UnixDgramBinding>;
    if (typeof b.unixDgramOpen !== 'function')
      return 'the vantage-pcap addon on this machine is an older build';
    return b as UnixDgramBinding;
  } catch (e) {
    return `the vantage-pcap addon is not built (${(e as Error).message.split('\n')[0]})`;
  }
}

const INSTALL =
  'install the Debian package libpcap-dev and a C compiler (apt-get install libpcap-dev g++ make python3), ' +
  "then run: npm rebuild vantage-pcap; or set Suricata's eve-log filetype to unix_stream and this type to 'stream'";

const META_STRIDE = 12;
const META_LEN = 2;
const META_FLAGS = 3;
const TRUNCATED = 1;
/** Datagrams per recvmmsg call, and calls per readiness callback (then the loop runs others). */
const BATCH = 64;
const ROUNDS = 16;

/**
 * Suricata's EVE output to a unix datagram socket (`filetype: unix_dgram`, its default socket
 * type): Suricata sends one event per datagram to the socket we bind. Node has no unix datagram
 * sockets, so the addon's socket, readiness poll and recvmmsg batches do it: nothing allocated
 * per datagram but the event's string. A datagram longer than maxLine is cut by the kernel,
 * counted (`datagram_truncated`) and dropped; its neighbours are unaffected.
 */
export class EveDgram implements EventSource {
  readonly name: string;
  readonly format = 'eve';
  readonly counters = newCounters();
  private h: Handle | null = null;
  private readonly slot: number;
  private buf: Buffer | null = null;
  private readonly meta = new Uint32Array(BATCH * META_STRIDE);

  constructor(
    private readonly cfg: EveSocketConfig,
    private readonly deps: EventDeps & { log: Logger; binding?: UnixDgramBinding | string },
  ) {
    this.name = `eve:unix_dgram:${cfg.socket}`;
    // One byte more than the longest event kept: a longer datagram shows as truncated.
    this.slot = cfg.maxLine + 1;
  }

  async start(): Promise<void> {
    const b = this.deps.binding ?? loadUnixDgramBinding();
    if (typeof b === 'string')
      throw new ConfigError(
        cfg(this.cfg),
        `a unix_dgram EVE socket needs the vantage-pcap addon: ${b}; ${INSTALL}`,
      );
    // A socket file left by a previous run would make bind fail; anything else is not ours.
    if (existsSync(this.cfg.socket) && lstatSync(this.cfg.socket).isSocket()) unlinkSync(this.cfg.socket);
    const h = b.unixDgramOpen(this.cfg.socket, 4 << 20);
    this.h = h;
    this.buf = Buffer.allocUnsafe(this.slot * BATCH);
    b.poll(h, () => this.drain(b, h));
  }

  private drain(b: UnixDgramBinding, h: Handle): void {
    const buf = this.buf!;
    const c = this.counters;
    for (let round = 0; round < ROUNDS && this.h === h; round++) {
      let n: number;
      try {
        n = b.recvBatch(h, buf, this.meta, this.slot, 0);
      } catch (e) {
        countWeird(c, 'recv_error');
        this.deps.log.debug(`events: ${this.name}: ${(e as Error).message}`);
        return;
      }
      for (let i = 0; i < n; i++) {
        const m = i * META_STRIDE;
        const len = this.meta[m + META_LEN]!;
        c.received++;
        c.bytes += len;
        if (this.meta[m + META_FLAGS]! & TRUNCATED) {
          c.dropped++;
          countWeird(c, 'datagram_truncated');
          continue;
        }
        let end = i * this.slot + len;
        const start = i * this.slot;
        // Suricata ends each event with a newline; a sender may not.
        while (end > start && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
        if (end === start) {
          countWeird(c, 'empty_datagram');
          continue;
        }
        deliver(parseEveLine(buf.toString('utf8', start, end)), c, this.deps);
      }
      if (n < BATCH) return;
    }
  }

  async stop(): Promise<void> {
    const h = this.h;
    this.h = null;
    if (!h) return;
    const b = this.deps.binding ?? loadUnixDgramBinding();
    if (typeof b !== 'string') b.close(h);
    if (existsSync(this.cfg.socket) && lstatSync(this.cfg.socket).isSocket()) unlinkSync(this.cfg.socket);
  }
}

const cfg = (c: EveSocketConfig): string => `${c.key}.type`;
