import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../common/log.js';
import type { SyslogListenConfig } from './config.js';
import { SyslogFramer } from './framing.js';
import { parseSyslogPayload } from './payload.js';
import { deliver, type EventDeps } from './sink.js';
import type { EventSource } from './source.js';
import { countWeird, newCounters } from './types.js';

/**
 * A syslog receiver: UDP (one message per datagram), TCP and TLS (RFC 6587 framing, octet
 * counting or LF/NUL, told apart per message). Each message's payload becomes an alert or an
 * identity; what it cannot read is counted by name.
 */
export class SyslogListener implements EventSource {
  readonly name: string;
  readonly format = 'syslog';
  readonly counters = newCounters();
  readonly framing = {
    truncated: 0,
    badFrames: 0,
    connections: 0,
    refused: 0,
    octetCounted: 0,
    delimited: 0,
  };
  private udp: dgram.Socket | null = null;
  private server: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();
  private bound: { address: string; port: number } | null = null;

  constructor(
    private readonly cfg: SyslogListenConfig,
    private readonly deps: EventDeps & { log: Logger },
  ) {
    this.name = `syslog:${cfg.transport}://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${cfg.port}`;
  }

  /** The bound address (the port when configured as 0). */
  address(): { address: string; port: number } | null {
    return this.bound;
  }

  private onMessage(b: Buffer): void {
    this.counters.received++;
    deliver(parseSyslogPayload(b.toString('utf8'), this.cfg.format), this.counters, this.deps);
  }

  async start(): Promise<void> {
    if (this.cfg.transport === 'udp') {
      const s = dgram.createSocket({
        type: net.isIPv6(this.cfg.host) ? 'udp6' : 'udp4',
        recvBufferSize: 4 << 20,
      });
      this.udp = s;
      s.on('message', (m) => {
        this.counters.bytes += m.length;
        let msg = m;
        if (m.length > this.cfg.maxMessage) {
          this.counters.dropped++;
          this.framing.truncated++;
          countWeird(this.counters, 'message_truncated');
          msg = m.subarray(0, this.cfg.maxMessage);
        }
        let e = msg.length;
        while (e > 0 && (msg[e - 1] === 10 || msg[e - 1] === 0 || msg[e - 1] === 13)) e--;
        if (e > 0) this.onMessage(msg.subarray(0, e));
      });
      s.on('error', (e) => this.deps.log.warn(`events: ${this.name}: ${e.message}`));
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(this.cfg.port, this.cfg.host, () => {
          s.off('error', rej);
          res();
        });
      });
      const a = s.address();
      this.bound = { address: a.address, port: a.port };
      return;
    }
    const onConn = (c: net.Socket): void => this.accept(c);
    const server =
      this.cfg.transport === 'tls'
        ? tls.createServer({ cert: readFileSync(this.cfg.cert!), key: readFileSync(this.cfg.key!) }, onConn)
        : net.createServer(onConn);
    server.maxConnections = this.cfg.maxConnections;
    server.on('drop', () => {
      this.framing.refused++;
      countWeird(this.counters, 'connection_refused_over_limit');
    });
    server.on('tlsClientError', () => countWeird(this.counters, 'tls_handshake_failed'));
    this.server = server;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(this.cfg.port, this.cfg.host, () => {
        server.off('error', rej);
        res();
      });
    });
    const a = server.address() as net.AddressInfo;
    this.bound = { address: a.address, port: a.port };
  }

  private accept(c: net.Socket): void {
    this.conns.add(c);
    this.framing.connections++;
    const fr = new SyslogFramer((m) => this.onMessage(m), this.cfg.maxMessage);
    let seen = { t: 0, b: 0, o: 0, d: 0 };
    const sync = (): void => {
      // Framer counters are per connection; fold their growth into the source's.
      const t = fr.counters.truncated - seen.t;
      const b = fr.counters.badFrames - seen.b;
      if (t > 0) {
        this.framing.truncated += t;
        this.counters.dropped += t;
        countWeird(this.counters, 'message_truncated', t);
      }
      if (b > 0) {
        this.framing.badFrames += b;
        countWeird(this.counters, 'bad_octet_count', b);
      }
      this.framing.octetCounted += fr.counters.octetCounted - seen.o;
      this.framing.delimited += fr.counters.delimited - seen.d;
      seen = {
        t: fr.counters.truncated,
        b: fr.counters.badFrames,
        o: fr.counters.octetCounted,
        d: fr.counters.delimited,
      };
    };
    c.on('data', (d: Buffer) => {
      this.counters.bytes += d.length;
      fr.push(d);
      sync();
    });
    c.on('end', () => {
      fr.end();
      sync();
    });
    c.on('error', (e) => this.deps.log.debug(`events: ${this.name}: ${e.message}`));
    c.on('close', () => this.conns.delete(c));
  }

  async stop(): Promise<void> {
    const u = this.udp;
    this.udp = null;
    if (u) await new Promise<void>((res) => u.close(() => res()));
    for (const c of this.conns) c.destroy();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((res) => s.close(() => res()));
  }
}
