import { ProduceAcks, Producer, type Serializers, stringSerializer } from '@platformatic/kafka';
import type { AlertRecord } from '../../schema/alert.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, EncodedAlert, KafkaSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';

type KafkaProducer = Producer<string, Buffer, string, string>;

/** Header with the alert version (updated_ts), so a consumer can keep the newest of an id. */
const UPDATED_HEADER = 'vantage-updated-ts';

const serializers: Serializers<string, Buffer, string, string> = {
  key: stringSerializer,
  value: (v?: Buffer) => v,
  headerKey: stringSerializer,
  headerValue: stringSerializer,
};

/**
 * Kafka: an idempotent producer with acks=all (the broker de-duplicates the producer's own
 * retries within a session, KIP-98); key = alert_id so every version of one alert lands on one
 * partition in order. A batch is one produce request, compressed (lz4 by default: about 20× on
 * alert JSON for under a microsecond per alert). One request is in flight at a time: the client
 * numbers an idempotent batch only once the previous one is acknowledged.
 */
export function createKafkaSink(name: string, cfg: KafkaSinkConfig, deps: SinkDeps): Sink {
  let producer: KafkaProducer | null = null;
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const make = (): KafkaProducer =>
    new Producer({
      clientId: cfg.clientId,
      bootstrapBrokers: cfg.brokers,
      serializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: cfg.compression,
      autocreateTopics: false,
      retries: 1,
      retryDelay: 200,
      timeout: 5000,
    });
  const message = (key: string, value: Buffer, updated: string) => ({
    topic: cfg.topic,
    key,
    value,
    // A Map is what the client keeps; an object would be converted per message.
    headers: new Map([[UPDATED_HEADER, updated]]),
  });
  const produce = async (messages: ReturnType<typeof message>[]): Promise<DeliveryResult> => {
    if (!producer) producer = make();
    try {
      await producer.send({ messages });
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
  };
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
    deliver(batch: readonly AlertRecord[]): Promise<DeliveryResult> {
      return produce(
        batch.map((a) =>
          message(
            a.alert_id,
            Buffer.from(JSON.stringify(cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a)),
            a.updated_ts,
          ),
        ),
      );
    },
    // The record form is exactly what the outbox stored: its bytes go out as they are.
    ...(cfg.format === 'record'
      ? {
          deliverEncoded: (batch: readonly EncodedAlert[]): Promise<DeliveryResult> =>
            produce(batch.map((e) => message(e.id, e.json, e.updated))),
        }
      : {}),
    health: () => health,
  };
}
