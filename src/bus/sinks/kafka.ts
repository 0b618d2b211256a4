import { ProduceAcks, Producer, type Serializers } from '@platformatic/kafka';
import type { AlertRecord } from '../../schema/alert.js';
import { murmur2 } from '../murmur2.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, EncodedAlert, KafkaSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';

type KafkaProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

/** Header with the alert version (updated_ts), so a consumer can keep the newest of an id. */
const UPDATED_HEADER = Buffer.from('vantage-updated-ts');

// Keys, values and headers are handed over as bytes (the outbox's stored slices): nothing is
// converted per message.
const bytes = (v?: Buffer): Buffer | undefined => v;
const serializers: Serializers<Buffer, Buffer, Buffer, Buffer> = {
  key: bytes,
  value: bytes,
  headerKey: bytes,
  headerValue: bytes,
};

/**
 * Kafka: idempotent producers with acks=all (the broker de-duplicates a producer's own retries
 * within a session, KIP-98); key = alert_id so every version of one alert lands on one
 * partition. A batch is one produce request, compressed (lz4 by default).
 *
 * The client numbers an idempotent batch only once the previous one of its producer is
 * acknowledged, so one producer has one request in flight. To keep the broker and this process
 * busy at once, the sink keeps `inFlight` producers (the bus delivers that many batches at
 * once); two batches in flight may land in either order, so versions of one alert in
 * consecutive batches can too: consumers keep the newest by the `vantage-updated-ts` header,
 * as they must anyway for the re-sends of at-least-once.
 */
export function createKafkaSink(name: string, cfg: KafkaSinkConfig, deps: SinkDeps): Sink {
  let health: SinkHealth = { ok: true, detail: 'not started' };
  let running = false;
  const idle: KafkaProducer[] = [];
  const busy = new Set<KafkaProducer>();
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
  const message = (key: Buffer, value: Buffer, updated: Buffer) => ({
    topic: cfg.topic,
    // The client's own choice (murmur2 of the key, modulo the partitions), without its BigInts.
    partition: murmur2(key) >>> 0,
    key,
    value,
    // A Map is what the client keeps; an object would be converted per message.
    headers: new Map([[UPDATED_HEADER, updated]]),
  });
  const produce = async (messages: ReturnType<typeof message>[]): Promise<DeliveryResult> => {
    const producer = idle.pop() ?? make();
    busy.add(producer);
    try {
      await producer.send({ messages });
      health = { ok: true, detail: `producing to ${cfg.topic}` };
    } catch (e) {
      health = { ok: false, detail: (e as Error).message };
      // A producer whose connection broke mid-request keeps stale state: begin afresh.
      busy.delete(producer);
      await producer.close().catch(() => {});
      throw e;
    }
    busy.delete(producer);
    if (running && idle.length < cfg.inFlight) idle.push(producer);
    else await producer.close().catch(() => {});
    return { failed: [] };
  };
  return {
    kind: 'kafka',
    name,
    concurrency: cfg.inFlight,
    async start() {
      running = true;
      idle.push(make());
      health = { ok: true, detail: `producing to ${cfg.topic}` };
    },
    async stop() {
      running = false;
      const all = [...idle.splice(0), ...busy];
      busy.clear();
      await Promise.all(all.map((p) => p.close().catch(() => {})));
    },
    deliver(batch: readonly AlertRecord[]): Promise<DeliveryResult> {
      return produce(
        batch.map((a) =>
          message(
            Buffer.from(a.alert_id),
            Buffer.from(JSON.stringify(cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a)),
            Buffer.from(a.updated_ts),
          ),
        ),
      );
    },
    // The record form is exactly what the outbox stored: its bytes go out as they are.
    ...(cfg.format === 'record'
      ? {
          deliverEncoded: (batch: readonly EncodedAlert[]): Promise<DeliveryResult> =>
            produce(batch.map((e) => message(e.idBytes, e.json, e.updatedBytes))),
        }
      : {}),
    health: () => health,
  };
}
