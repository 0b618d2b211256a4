import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../common/log.js';
import type { RadiusConfig } from './config.js';
import { accountingResponse, identityOfAccounting, parseAccountingRequest } from './radius.js';
import { deliver, type EventDeps } from './sink.js';
import type { EventSource } from './source.js';
import { countWeird, newCounters } from './types.js';

/**
 * A RADIUS accounting server (RFC 2866) for identities: verifies each Accounting-Request with
 * the shared secret, records who has which address, and answers an Accounting-Response so
 * the NAS stops retransmitting. Packets that do not verify get no answer (counted).
 */
export class RadiusListener implements EventSource {
  readonly name: string;
  readonly format = 'radius';
  readonly counters = newCounters();
  private sock: dgram.Socket | null = null;
  private bound: { address: string; port: number } | null = null;

  constructor(
    private readonly cfg: RadiusConfig,
    private readonly deps: EventDeps & { log: Logger },
  ) {
    this.name = `radius:${cfg.host}:${cfg.port}`;
  }

  address(): { address: string; port: number } | null {
    return this.bound;
  }

  async start(): Promise<void> {
    const s = dgram.createSocket(net.isIPv6(this.cfg.host) ? 'udp6' : 'udp4');
    this.sock = s;
    s.on('message', (m, rinfo) => {
      this.counters.received++;
      this.counters.bytes += m.length;
      const r = parseAccountingRequest(m, this.cfg.secret);
      if ('kind' in r) {
        countWeird(this.counters, r.name);
        return;
      }
      deliver(identityOfAccounting(r, Date.now()), this.counters, this.deps);
      s.send(accountingResponse(r, this.cfg.secret), rinfo.port, rinfo.address);
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
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((res) => s.close(() => res()));
  }
}
