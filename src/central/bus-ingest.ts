import {
  Consumer,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import type { Logger } from '../common/log.js';
import { columnarToRecords, wrapColumnAppend } from '../store/columnar.js';
import { BAND, LOCAL_SEQ_LIMIT } from '../store/distributed/store.js';
import type { Rec, RecordStore } from '../store/types.js';

/**
 * Sensors → Kafka → central → record store. A sensor publishes every batch it stores as
 * messages of at most MAX_RECORDS records ({type, sensor, records}); the central's ingester
 * consumes them, writes them with sequence numbers made from (partition, offset, index), and
 * commits the offsets only after the store acknowledged the write. A crash between write and
 * commit redelivers messages whose numbers are already stored: the store skips those rows
 * (ClickHouseStore.appendAt), so the counts stay exact: at-least-once delivery, written once.
 */
export const MAX_RECORDS = 4096;
/** Records per message a sensor sends: ~1 KB each keeps messages under Kafka's 1 MB default. */
const PER_MESSAGE = 256;
const MAX_PARTITIONS = 256;
const MAX_OFFSET = 2 ** 32;

export interface BusMessage {
  type: string;
  sensor: string;
  records: Rec[];
}

export interface KafkaBusConfig {
  brokers: string[];
  topic: string;
  clientId?: string;
}

/** The sensor side: publish batches (idempotent producer, acks=all). */
export function createRecordPublisher(cfg: KafkaBusConfig & { sensor: string }) {
  const producer = new Producer({
    clientId: cfg.clientId ?? `vantage-${cfg.sensor}`,
    bootstrapBrokers: cfg.brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
  });
  let sent = 0;
  return {
    async publish(type: string, records: readonly Rec[]): Promise<void> {
      // A produce request's record batch per partition must stay under the broker's 1 MB
      // default: messages go out in groups of about 800 KB, spread over partitions by key.
      let group: { topic: string; key: string; value: string }[] = [];
      let bytes = 0;
      for (let i = 0; i < records.length; i += PER_MESSAGE) {
        const m: BusMessage = {
          type,
          sensor: cfg.sensor,
          records: records.slice(i, i + PER_MESSAGE) as Rec[],
        };
        const value = JSON.stringify(m);
        if (group.length > 0 && bytes + value.length > 800_000) {
          await producer.send({ messages: group });
          group = [];
          bytes = 0;
        }
        group.push({ topic: cfg.topic, key: `${cfg.sensor}/${type}/${sent++}`, value });
        bytes += value.length;
      }
      if (group.length) await producer.send({ messages: group });
    },
    close: () => producer.close(),
  };
}

/** A RecordStore that also publishes what it stores (a sensor's store in a federation). */
export function publishingStore<S extends RecordStore>(
  store: S,
  pub: ReturnType<typeof createRecordPublisher>,
): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append')
        return async (type: string, records: readonly Rec[]) => {
          await target.append(type, records);
          await pub.publish(type, records);
        };
      // The column path (collector, live feed, capture ingest) is published too, as records
      // (the bus's form), batch by batch in the order they were stored.
      if (prop === 'appendColumns' || prop === 'appendColumnParts')
        return wrapColumnAppend(target, prop, async (type, batches, inner) => {
          await inner();
          for (const c of batches) await pub.publish(type, columnarToRecords(c, type));
        });
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export interface IdempotentSink {
  appendAt(type: string, batches: readonly { records: readonly Rec[]; seqBase: number }[]): Promise<void>;
}

export interface IngesterConfig extends KafkaBusConfig {
  groupId: string;
  /** Rows gathered before a write (default 200,000). */
  batchRows?: number;
  /** Longest wait before a partial batch is written, ms (default 200). */
  flushMs?: number;
}

export interface IngesterStats {
  messages: number;
  rows: number;
  batches: number;
  /** Messages received but not yet written and committed. */
  pending: number;
}

/** The sequence number of record 0 of a message: unique per (partition, offset). */
export function seqBaseOf(partition: number, offset: bigint): number {
  if (partition >= MAX_PARTITIONS)
    throw new Error(`partition ${partition}: at most ${MAX_PARTITIONS} are numbered`);
  if (offset >= BigInt(MAX_OFFSET)) throw new Error(`offset ${offset} past ${MAX_OFFSET}`);
  return LOCAL_SEQ_LIMIT + partition * BAND + Number(offset) * MAX_RECORDS;
}

export function createBusIngester(
  cfg: IngesterConfig,
  deps: { store: IdempotentSink; log?: Logger; onBatch?: (s: IngesterStats) => Promise<void> | void },
) {
  const batchRows = cfg.batchRows ?? 200_000;
  const flushMs = cfg.flushMs ?? 200;
  let consumer: Consumer<string, string, string, string> | null = null;
  let pending: { m: Message<string, string, string, string>; b: BusMessage }[] = [];
  let pendingRows = 0;
  let flushing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let stream: Awaited<ReturnType<Consumer<string, string, string, string>['consume']>> | null = null;
  let failed: Error | null = null;
  const stats: IngesterStats = { messages: 0, rows: 0, batches: 0, pending: 0 };

  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      if (pending.length === 0 || failed) return;
      const msgs = pending;
      pending = [];
      pendingRows = 0;
      const byType = new Map<string, { records: Rec[]; seqBase: number }[]>();
      for (const { m, b } of msgs) {
        const list = byType.get(b.type) ?? [];
        list.push({ records: b.records, seqBase: seqBaseOf(m.partition, m.offset) });
        byType.set(b.type, list);
      }
      try {
        for (const [type, batches] of byType) await deps.store.appendAt(type, batches);
        // Commit only what is stored: the last message of each partition carries the offset.
        const last = new Map<number, Message<string, string, string, string>>();
        for (const { m } of msgs) last.set(m.partition, m);
        for (const m of last.values()) await m.commit();
      } catch (e) {
        // Not committed: a restart redelivers these messages and the store skips what it has.
        failed = e as Error;
        deps.log?.error?.('bus ingest failed; restart to resume from the last commit', { error: String(e) });
        throw e;
      }
      stats.messages += msgs.length;
      for (const { b } of msgs) stats.rows += b.records.length;
      stats.batches++;
      stats.pending = pending.length;
      await deps.onBatch?.({ ...stats });
      if (stream?.isPaused() && pendingRows < batchRows) stream.resume();
    });
    return flushing;
  };

  return {
    stats: () => ({ ...stats, pending: pending.length }),
    error: () => failed,
    async start(): Promise<void> {
      consumer = new Consumer({
        groupId: cfg.groupId,
        clientId: cfg.clientId ?? `vantage-ingest-${process.pid}`,
        bootstrapBrokers: cfg.brokers,
        deserializers: stringDeserializers,
        autocommit: false,
        maxWaitTime: 100,
        // A crashed ingester's membership must lapse soon, or its successor's join waits on it.
        sessionTimeout: 6000,
        rebalanceTimeout: 6000,
        heartbeatInterval: 1000,
        timeout: 60_000,
      });
      stream = await consumer.consume({
        topics: [cfg.topic],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        autocommit: false,
      });
      stream.on('data', (m: Message<string, string, string, string>) => {
        const b = JSON.parse(m.value) as BusMessage;
        if (b.records.length > MAX_RECORDS)
          throw new Error(`message of ${b.records.length} records (at most ${MAX_RECORDS})`);
        pending.push({ m, b });
        pendingRows += b.records.length;
        if (pendingRows >= batchRows) {
          stream?.pause();
          flush().catch(() => {});
        }
      });
      timer = setInterval(() => {
        flush().catch(() => {});
      }, flushMs);
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await flush().catch(() => {});
      await stream?.close().catch(() => {});
      await consumer?.close().catch(() => {});
    },
  };
}
