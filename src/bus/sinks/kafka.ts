import {
  type Broker,
  type Connection,
  kGetApi,
  kGetConnection,
  Producer,
  produceV9,
  produceV10,
  produceV11,
  Writer,
} from '@platformatic/kafka';
import type { AlertRecord } from '../../schema/alert.js';
import { murmur2 } from '../murmur2.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, EncodedAlert, KafkaSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';
import {
  BATCH_OVERHEAD,
  encodeRecordBatch,
  incrementSequence,
  type PartitionBatch,
  produceRequestBody,
  type RecordSpans,
  recordBound,
  spansOf,
} from './kafka-batch.js';

/** Header with the alert version (updated_ts), so a consumer can keep the newest of an id. */
const UPDATED_HEADER = Buffer.from('vantage-updated-ts');
const PRODUCE = 0;
const ACKS_ALL = -1;
/** The broker took this batch already (a re-send it de-duplicated): delivered. */
const DUPLICATE_SEQUENCE_NUMBER = 46;
/** Compressed batches are cut by their uncompressed size first, at this many times the limit. */
const RAW_PER_PACKED = 8;
/** How long the broker may wait for the replicas' acknowledgements (Kafka's request.timeout.ms). */
const PRODUCE_TIMEOUT_MS = 30_000;

/** The Produce versions whose request layout kafka-batch.ts writes (flexible, topic by name). */
type ProduceResponse = ReturnType<(typeof produceV11)['parseResponse']>;

const PARSERS = new Map<number, (typeof produceV11)['parseResponse']>([
  [9, produceV9.parseResponse],
  [10, produceV10.parseResponse],
  [11, produceV11.parseResponse],
]);

/** An idempotent producer session: the id the broker gave and the next sequence per partition. */
interface Session {
  producerId: bigint;
  producerEpoch: number;
  next: Map<number, number>;
  dead: boolean;
}

interface Chunk {
  partition: number;
  /** Range of the delivery's `order` this record batch holds. */
  from: number;
  to: number;
}

/** Kafka's default partitioner for a keyed record (BuiltInPartitioner.partitionForKey). */
export const partitionForKey = (key: Uint8Array, partitions: number, from = 0, to = key.length): number =>
  (murmur2(key, from, to) & 0x7fffffff) % partitions;

/**
 * Kafka: an idempotent producer with acks=all (the broker de-duplicates a producer's own
 * re-sends within a session, KIP-98); key = alert_id, partitioned as Kafka's own clients do,
 * so every version of one alert lands on one partition.
 *
 * The record batches are encoded here (kafka-batch.ts) straight from the outbox's bytes and sent
 * as a Produce request on the client's connection; the client does the rest (bootstrap,
 * metadata, connections, InitProducerId). Sequence numbers are assigned when a request is
 * written, so `inFlight` requests of one producer id are pipelined on one connection in order
 * (Kafka keeps idempotence for up to 5 in flight). A failed request ends the session: the next
 * delivery starts a new producer id, the bus re-sends what failed (at-least-once; a re-send of
 * a batch the broker had written is a duplicate, which consumers drop by id and the
 * `vantage-updated-ts` header).
 */
export function createKafkaSink(name: string, cfg: KafkaSinkConfig, deps: SinkDeps): Sink {
  let health: SinkHealth = { ok: true, detail: 'not started' };
  /** Producer ids taken, Produce requests and record batches sent, batches the broker had already (re-sends), batches refused. */
  const counters = { sessions: 0, requests: 0, batches: 0, bytes: 0, duplicates: 0, failed_batches: 0 };
  const producing = (): SinkHealth => ({
    ok: true,
    detail: `producing to ${cfg.topic}${live ? ` as producer id ${live.producerId}` : ''} (${counters.requests} requests, ${counters.batches} record batches, ${counters.duplicates} re-sends the broker already had)`,
  });
  let client: Producer<Buffer, Buffer, Buffer, Buffer> | null = null;
  let session: Promise<Session> | null = null;
  /** The session `session` resolved to, while it is the current one. */
  let live: Session | null = null;
  let produceVersion = 0;

  const make = (): Producer<Buffer, Buffer, Buffer, Buffer> =>
    new Producer({
      clientId: cfg.clientId,
      bootstrapBrokers: cfg.brokers,
      // Not the client's idempotent mode: that one allows a single request in flight. The
      // session below is the idempotent producer.
      idempotent: false,
      autocreateTopics: false,
      maxInflights: cfg.inFlight,
      retries: 2,
      retryDelay: 200,
      connectTimeout: 5000,
      requestTimeout: 30_000,
    });

  const open = (): Promise<Session> => {
    const s = client!.initIdempotentProducer({}).then((info) => {
      live = { producerId: info.producerId, producerEpoch: info.producerEpoch, next: new Map(), dead: false };
      counters.sessions++;
      return live;
    });
    // A failed start is not kept: the next delivery asks again.
    s.catch(() => {
      if (session === s) session = null;
    });
    return s;
  };

  const end = (s: Session): void => {
    s.dead = true;
    if (live === s) {
      live = null;
      session = null;
    }
  };

  const version = (c: Producer<Buffer, Buffer, Buffer, Buffer>): Promise<number> =>
    produceVersion > 0
      ? Promise.resolve(produceVersion)
      : new Promise((resolve, reject) =>
          c[kGetApi]('Produce', (e, api) => {
            if (e) return reject(e);
            if (!PARSERS.has(api!.version))
              return reject(new Error(`Kafka Produce v${api!.version} is not one this sink writes (9–11)`));
            produceVersion = api!.version;
            resolve(produceVersion);
          }),
        );

  const connection = (c: Producer<Buffer, Buffer, Buffer, Buffer>, b: Broker): Promise<Connection> =>
    new Promise((resolve, reject) => c[kGetConnection](b, (e, conn) => (e ? reject(e) : resolve(conn!))));

  const produce = async (records: readonly RecordSpans[]): Promise<DeliveryResult> => {
    if (records.length === 0) return { failed: [] };
    const c = client;
    if (!c) throw new Error('the Kafka sink is stopped');
    session ??= open();
    const s = await session;
    const v = await version(c);
    const meta = await c.metadata({ topics: [cfg.topic] });
    const topic = meta.topics.get(cfg.topic);
    if (!topic) throw new Error(`topic ${cfg.topic} not in the broker's metadata`);
    const parts = topic.partitionsCount;
    const leaders = new Map<number, Connection>();
    for (const p of topic.partitions) {
      if (leaders.has(p.leader)) continue;
      const b = meta.brokers.get(p.leader);
      if (!b) throw new Error(`no broker ${p.leader} leads a partition of ${cfg.topic}`);
      leaders.set(p.leader, await connection(c, b));
    }
    if (s.dead) throw new Error('the producer session ended; sending again in a new one');

    // From here to the sends nothing waits: sequences are numbered in the order requests are
    // written to the connection, which is the order the broker reads them.
    const n = records.length;
    const partOf = new Int32Array(n);
    const start = new Int32Array(parts + 1);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      const p = partitionForKey(r.src, parts, r.keyAt, r.keyEnd);
      partOf[i] = p;
      start[p + 1]!++;
    }
    for (let p = 0; p < parts; p++) start[p + 1]! += start[p]!;
    const fill = start.slice(0, parts);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[fill[partOf[i]!]!++] = i;

    const ts = Date.now();
    const hk = UPDATED_HEADER.length;
    // Per leader, rounds of requests: round k carries the k-th record batch of each partition
    // (a request holds one batch per partition).
    const rounds = new Map<number, PartitionBatch[][]>();
    const chunksOf = new Map<Buffer, Chunk>();
    for (let p = 0; p < parts; p++) {
      const lo = start[p]!;
      const hi = start[p + 1]!;
      if (lo === hi) continue;
      const leader = topic.partitions[p]!.leader;
      const list = rounds.get(leader) ?? [];
      rounds.set(leader, list);
      let round = 0;
      const add = (from: number, to: number): void => {
        const base = s.next.get(p) ?? 0;
        const batch = encodeRecordBatch(records, order, from, to, {
          producerId: s.producerId,
          producerEpoch: s.producerEpoch,
          baseSequence: base,
          timestamp: ts,
          compression: cfg.compression,
          headerKey: UPDATED_HEADER,
        });
        if (batch.length > cfg.maxBatchBytes && to - from > 1) {
          // Compressed past the bound: two halves, numbered again.
          const mid = from + ((to - from) >> 1);
          add(from, mid);
          add(mid, to);
          return;
        }
        s.next.set(p, incrementSequence(base, to - from));
        counters.batches++;
        counters.bytes += batch.length;
        const req = list[round] ?? [];
        list[round++] = req;
        req.push({ partition: p, batch });
        chunksOf.set(batch, { partition: p, from, to });
      };
      const cap = (cfg.compression === 'none' ? 1 : RAW_PER_PACKED) * cfg.maxBatchBytes - BATCH_OVERHEAD;
      let from = lo;
      let size = 0;
      // Sizes are counted record by record only when the partition's share may not fit.
      let bound = 0;
      for (let i = lo; i < hi && bound <= cap; i++) bound += recordBound(records[order[i]!]!, hk);
      for (let i = bound > cap ? lo : hi; i < hi; i++) {
        const r = recordBound(records[order[i]!]!, hk);
        if (i > from && size + r > cap) {
          add(from, i);
          from = i;
          size = 0;
        }
        size += r;
      }
      add(from, hi);
    }

    const sends: Promise<{ parts: PartitionBatch[]; res: ProduceResponse | null; err: Error | null }>[] = [];
    const parse = PARSERS.get(v)!;
    for (const [leader, list] of rounds) {
      const conn = leaders.get(leader)!;
      for (const req of list) {
        const body = produceRequestBody(cfg.topic, ACKS_ALL, PRODUCE_TIMEOUT_MS, req);
        counters.requests++;
        sends.push(
          new Promise((resolve) => {
            conn.send(
              PRODUCE,
              v,
              () => {
                const w = Writer.create();
                for (const b of body) w.append(b);
                return w;
              },
              parse,
              true,
              true,
              (err, res) => {
                // A response with partition errors arrives as an error that carries it.
                const carried = (err as { response?: ProduceResponse } | null)?.response;
                resolve({ parts: req, res: res ?? carried ?? null, err: err ?? null });
              },
            );
          }),
        );
      }
    }

    const failed: number[] = [];
    let error = '';
    for (const { parts: req, res, err } of await Promise.all(sends)) {
      const codes = new Map<number, number>();
      for (const t of res?.responses ?? [])
        for (const pr of t.partitionResponses) codes.set(pr.index, pr.errorCode);
      for (const pb of req) {
        const code = res ? (codes.get(pb.partition) ?? -1) : -1;
        if (code === DUPLICATE_SEQUENCE_NUMBER) counters.duplicates++;
        if (code === 0 || code === DUPLICATE_SEQUENCE_NUMBER) continue;
        counters.failed_batches++;
        const ch = chunksOf.get(pb.batch)!;
        for (let i = ch.from; i < ch.to; i++) failed.push(order[i]!);
        error ||=
          code === -1 ? (err?.message ?? 'no response') : `partition ${pb.partition}: Kafka error ${code}`;
      }
    }
    if (failed.length > 0) {
      end(s);
      c.clearMetadata();
      health = { ok: false, detail: error };
      return { failed: failed.sort((a, b) => a - b), error };
    }
    health = producing();
    return { failed: [] };
  };

  const guarded = async (records: readonly RecordSpans[]): Promise<DeliveryResult> => {
    try {
      return await produce(records);
    } catch (e) {
      health = { ok: false, detail: (e as Error).message };
      throw e;
    }
  };

  const sink: Sink & { readonly counters: typeof counters } = {
    kind: 'kafka',
    name,
    counters,
    concurrency: cfg.inFlight,
    async start() {
      client = make();
      health = { ok: true, detail: `producing to ${cfg.topic}` };
    },
    async stop() {
      const c = client;
      client = null;
      session = null;
      live = null;
      await c?.close().catch(() => {});
    },
    deliver(batch: readonly AlertRecord[]): Promise<DeliveryResult> {
      return guarded(
        batch.map((a) =>
          spansOf(
            Buffer.from(a.alert_id),
            Buffer.from(JSON.stringify(cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a)),
            Buffer.from(a.updated_ts),
          ),
        ),
      );
    },
    // The record form is exactly what the outbox stored: its bytes go out as they are.
    ...(cfg.format === 'record'
      ? { deliverEncoded: (batch: readonly EncodedAlert[]): Promise<DeliveryResult> => guarded(batch) }
      : {}),
    health: () => health,
  };
  return sink;
}
