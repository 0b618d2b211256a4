import { ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka';
import type { AlertRecord } from '../../schema/alert.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, KafkaSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';

/**
 * Kafka: an idempotent producer with acks=all (the broker de-duplicates the producer's own
 * retries within a session, KIP-98); key = alert_id so every version of one alert lands on one
 * partition in order. A batch is one produce request.
 */
export function createKafkaSink(name: string, cfg: KafkaSinkConfig, deps: SinkDeps): Sink {
  let producer: Producer<string, string, string, string> | null = null;
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const encode = (a: AlertRecord): string =>
    JSON.stringify(cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a);
  const make = (): Producer<string, string, string, string> =>
    new Producer({
      clientId: cfg.clientId,
      bootstrapBrokers: cfg.brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      autocreateTopics: false,
      retries: 1,
      retryDelay: 200,
      timeout: 5000,
    });
  return {
    kind: 'kafka',
    name,
    async start() {
      producer = make();
      health = { ok: true, detail: `producing to ${cfg.topic}` };
    },
    async stop() {
      const p = producer;
      producer = null;
      await p?.close().catch(() => {});
    },
    async deliver(batch): Promise<DeliveryResult> {
      if (!producer) producer = make();
      try {
        await producer.send({
          messages: batch.map((a) => ({
            topic: cfg.topic,
            key: a.alert_id,
            value: encode(a),
            headers: { 'vantage-updated-ts': a.updated_ts },
          })),
        });
        health = { ok: true, detail: `producing to ${cfg.topic}` };
        return { failed: [] };
      } catch (e) {
        health = { ok: false, detail: (e as Error).message };
        // A producer whose connection broke mid-request keeps stale state: begin afresh.
        const p = producer;
        producer = null;
        await p.close().catch(() => {});
        throw e;
      }
    },
    health: () => health,
  };
}
