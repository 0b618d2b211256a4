import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { AlertRecord } from '../../schema/alert.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, NatsSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';

/**
 * NATS JetStream: each alert is published with Nats-Msg-Id = alert_id + updated_ts, so the
 * server drops a re-send inside the stream's duplicate window, and each PubAck is awaited.
 */
export function createNatsSink(name: string, cfg: NatsSinkConfig, deps: SinkDeps): Sink {
  let nc: NatsConnection | null = null;
  let js: JetStreamClient | null = null;
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const encode = (a: AlertRecord): string =>
    JSON.stringify(cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a);
  const client = async (): Promise<JetStreamClient> => {
    if (js && nc && !nc.isClosed()) return js;
    nc = await connect({
      servers: cfg.servers,
      maxReconnectAttempts: -1,
      timeout: 5000,
      ...(cfg.token !== undefined && { token: cfg.token }),
      ...(cfg.user !== undefined && { user: cfg.user }),
      ...(cfg.pass !== undefined && { pass: cfg.pass }),
    });
    js = jetstream(nc, { timeout: 5000 });
    return js;
  };
  return {
    kind: 'nats',
    name,
    async start() {
      health = { ok: true, detail: `publishing to ${cfg.subject}` };
    },
    async stop() {
      const c = nc;
      nc = null;
      js = null;
      await c?.drain().catch(() => {});
    },
    async deliver(batch): Promise<DeliveryResult> {
      const j = await client().catch((e: Error) => {
        health = { ok: false, detail: e.message };
        throw e;
      });
      const acks = await Promise.allSettled(
        batch.map((a) => j.publish(cfg.subject, encode(a), { msgID: `${a.alert_id}/${a.updated_ts}` })),
      );
      const failed: number[] = [];
      let error: string | undefined;
      acks.forEach((r, i) => {
        if (r.status === 'rejected') {
          failed.push(i);
          error = (r.reason as Error).message;
        }
      });
      health = error ? { ok: false, detail: error } : { ok: true, detail: `publishing to ${cfg.subject}` };
      return error === undefined ? { failed } : { failed, error };
    },
    health: () => health,
  };
}
