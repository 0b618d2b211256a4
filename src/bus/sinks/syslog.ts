import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { AlertRecord } from '../../schema/alert.js';
import { syslog5424, toCef } from '../cef.js';
import type { DeliveryResult, Sink, SinkDeps, SinkHealth, SyslogSinkConfig } from '../types.js';

/**
 * Syslog RFC 5424 over UDP (one datagram per message), TCP with octet-counting framing
 * (RFC 6587 §3.4.1: `LEN SP MSG`) or TLS (RFC 5425, the same framing). The payload is CEF or
 * the alert as JSON. Over TCP/TLS a batch is delivered once the socket has flushed it; UDP
 * gives no receipt at all, which the docs say.
 */
const ACCEPT_WAIT_MS = 1000;

export function createSyslogSink(name: string, cfg: SyslogSinkConfig, deps: SinkDeps): Sink {
  let sock: Socket | null = null;
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const udp = cfg.transport === 'udp' ? createSocket(cfg.host.includes(':') ? 'udp6' : 'udp4') : null;
  const line = (a: AlertRecord): string =>
    syslog5424(a, cfg.format === 'cef' ? toCef(a, deps.version) : JSON.stringify(a), cfg);

  const stream = (): Promise<Socket> => {
    if (sock && !sock.destroyed && sock.writable) return Promise.resolve(sock);
    return new Promise((resolve, reject) => {
      const s =
        cfg.transport === 'tls'
          ? tlsConnect({
              host: cfg.host,
              port: cfg.port,
              // SNI carries names only (RFC 6066); the certificate is still checked against an IP host.
              ...((cfg.servername !== undefined || isIP(cfg.host) === 0) && {
                servername: cfg.servername ?? cfg.host,
              }),
              ...(cfg.ca !== undefined && { ca: readFileSync(cfg.ca) }),
              ...(cfg.cert !== undefined && { cert: readFileSync(cfg.cert) }),
              ...(cfg.key !== undefined && { key: readFileSync(cfg.key) }),
            })
          : netConnect({ host: cfg.host, port: cfg.port });
      const ready = cfg.transport === 'tls' ? 'secureConnect' : 'connect';
      s.setTimeout(10_000);
      s.once(ready, () => {
        const go = (): void => {
          s.setTimeout(0);
          sock = s;
          resolve(s);
        };
        if (cfg.transport === 'tls' && (s as TLSSocket).getProtocol() === 'TLSv1.3')
          accepted(s as TLSSocket, go);
        else go();
      });
      s.once('timeout', () => s.destroy(new Error('connect timed out')));
      s.once('error', (e) => {
        if (sock === s) sock = null;
        reject(e);
      });
      s.on('close', () => {
        if (sock === s) sock = null;
        reject(new Error('the collector closed the connection'));
      });
      // The collector never speaks; reading keeps a half-closed connection noticed.
      s.on('data', () => {});
    });
  };

  /**
   * In TLS 1.3 the client's handshake ends before the collector has checked its certificate: a
   * collector that refuses it says so one round trip later, and alerts written meanwhile would
   * be lost unseen. The collector's session ticket (sent once it accepted us) or its refusal ends
   * the wait; a collector that sends no ticket costs one bounded wait per connection.
   */
  const accepted = (s: TLSSocket, go: () => void): void => {
    const t = setTimeout(done, ACCEPT_WAIT_MS);
    function done(): void {
      clearTimeout(t);
      s.off('session', done);
      if (!s.destroyed) go();
    }
    s.once('session', done);
  };

  return {
    kind: 'syslog',
    name,
    async start() {
      health = { ok: true, detail: `${cfg.transport}://${cfg.host}:${cfg.port}` };
    },
    async stop() {
      sock?.end();
      sock = null;
      udp?.close();
    },
    async deliver(batch): Promise<DeliveryResult> {
      try {
        if (udp) {
          for (const a of batch) {
            const b = Buffer.from(line(a));
            await new Promise<void>((res, rej) =>
              udp.send(b, cfg.port, cfg.host, (e) => (e ? rej(e) : res())),
            );
          }
        } else {
          const s = await stream();
          const frames = batch.map((a) => {
            const m = Buffer.from(line(a));
            return Buffer.concat([Buffer.from(`${m.length} `), m]);
          });
          await new Promise<void>((res, rej) => {
            const onErr = (e: Error): void => rej(e);
            s.once('error', onErr);
            s.write(Buffer.concat(frames), (e) => {
              s.off('error', onErr);
              if (e) rej(e);
              else res();
            });
          });
        }
        health = { ok: true, detail: `${cfg.transport}://${cfg.host}:${cfg.port}` };
        return { failed: [] };
      } catch (e) {
        health = { ok: false, detail: (e as Error).message };
        sock?.destroy();
        sock = null;
        throw e;
      }
    },
    health: () => health,
  };
}
