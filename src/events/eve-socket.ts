import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '../common/log.js';
import type { EveSocketConfig } from './config.js';
import { parseEveLine } from './eve.js';
import { LineSplitter } from './lines.js';
import { deliver, type EventDeps } from './sink.js';
import type { EventSource } from './source.js';
import { countWeird, newCounters } from './types.js';

/**
 * Suricata's EVE output to a unix stream socket (`filetype: unix_stream`): Suricata connects
 * to the socket we listen on and writes one JSON event per line.
 */
export class EveSocket implements EventSource {
  readonly name: string;
  readonly format = 'eve';
  readonly counters = newCounters();
  private server: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();

  constructor(
    private readonly cfg: EveSocketConfig,
    private readonly deps: EventDeps & { log: Logger },
  ) {
    this.name = `eve:unix:${cfg.socket}`;
  }

  async start(): Promise<void> {
    // A socket file left by a previous run would make listen fail; anything else is not ours.
    if (existsSync(this.cfg.socket) && lstatSync(this.cfg.socket).isSocket()) unlinkSync(this.cfg.socket);
    const server = net.createServer((c) => this.accept(c));
    // Suricata opens one connection per output; a few more allow a restart overlap, no more.
    server.maxConnections = 16;
    this.server = server;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(this.cfg.socket, () => {
        server.off('error', rej);
        res();
      });
    });
  }

  private accept(c: net.Socket): void {
    this.conns.add(c);
    const split = new LineSplitter(
      (l) => {
        this.counters.received++;
        deliver(parseEveLine(l.toString('utf8')), this.counters, this.deps);
      },
      () => {
        this.counters.received++;
        this.counters.dropped++;
        countWeird(this.counters, 'line_too_long');
      },
      this.cfg.maxLine,
    );
    c.on('data', (d: Buffer) => {
      this.counters.bytes += d.length;
      split.push(d);
    });
    c.on('error', (e) => this.deps.log.debug(`events: ${this.name}: ${e.message}`));
    c.on('close', () => this.conns.delete(c));
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((res) => s.close(() => res()));
  }
}
