import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AlertRecord } from '../../schema/alert.js';
import { syslog5424, toCef } from '../cef.js';
import type { DeliveryResult, Sink, SinkDeps, SinkHealth, SyslogSinkConfig } from '../types.js';

/**
 * Syslog RFC 5424 over UDP (one datagram per message), TCP with octet-counting framing
 * (RFC 6587 §3.4.1: `LEN SP MSG`) or TLS (RFC 5425, the same framing). The payload is CEF or
 * the alert as JSON. Over TCP/TLS a batch is delivered once the socket has flushed it; UDP
 * gives no receipt at all, which the docs say.
 */
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
              servername: cfg.servername ?? cfg.host,
              ...(cfg.ca !== undefined && { ca: readFileSync(cfg.ca) }),
            })
          : netConnect({ host: cfg.host, port: cfg.port });
      const ready = cfg.transport === 'tls' ? 'secureConnect' : 'connect';
      s.setTimeout(10_000);
      s.once(ready, () => {
        s.setTimeout(0);
        sock = s;
        resolve(s);
      });
      s.once('timeout', () => s.destroy(new Error('connect timed out')));
      s.once('error', (e) => {
        if (sock === s) sock = null;
        reject(e);
      });
      s.on('close', () => {
        if (sock === s) sock = null;
      });
      // The collector never speaks; reading keeps a half-closed connection noticed.
      s.on('data', () => {});
    });
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
