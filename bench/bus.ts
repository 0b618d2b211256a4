/**
 * Alert bus benchmark (part of `npm run bench`; alone: node dist/bench/bus.js).
 *
 * 1. Alerts/s through the durable outbox alone (publish = fsync'd append), batches of 1000.
 * 2. Alerts/s through the Kafka sink (outbox → record batches encoded from the stored bytes →
 *    idempotent Produce requests, acks=all, lz4; VANTAGE_BENCH_KAFKA='{"compression":"none"}'
 *    overrides sink settings) on a real broker, beside Kafka's own producer (ProducerPerformance, same broker, same settings, the
 *    same alert JSON as payload) run in the same session: the machine is shared, so wall rates
 *    are noisy; CPU time per alert (ours: process.cpuUsage; the broker and the peer: /proc) and
 *    the ratio to the peer are the figures to compare.
 *    2b, run before 2: delivery alone, from an outbox filled beforehand (the sink's and the
 *    broker's cost without publishing); it also warms the broker's JIT, as the peer's run finds it.
 * 3. p99 latency from publish to the message being readable on the topic, at a steady 5,000
 *    alerts/s (the product's latency) and at the saturating rate of 2 (queueing).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { createBus } from '../src/bus/bus.js';
import { parseBusConfig } from '../src/bus/config.js';
import { alertRecordOf } from '../src/common/alerts.js';
import { silentLogger } from '../src/common/log.js';
import type { AlertRecord } from '../src/schema/alert.js';
import { isMissing, type KafkaPeer, startKafka } from '../test/support/peers.js';
import { eveRate } from './events.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const PEERS = process.env.VANTAGE_PEERS ?? join(process.env.HOME ?? '/root', '.cache', 'vantage-peers');

/** CPU seconds (user + system) a process has used so far, from /proc. */
function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The pid listening on a local TCP port (the broker). */
async function listener(port: string): Promise<number | null> {
  const text = await new Promise<string>((resolve) => {
    const p = spawn('ss', ['-Hltnp', `sport = :${port}`]);
    let o = '';
    p.stdout.on('data', (d: Buffer) => {
      o += d.toString();
    });
    p.on('close', () => resolve(o));
    p.on('error', () => resolve(''));
  });
  const m = /pid=(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

/** Kafka's ProducerPerformance: wall rate it reports and the CPU seconds of its JVM. */
async function peerProducer(
  brokers: string,
  topic: string,
  n: number,
  payloads: string,
  inFlight: number,
  compression: string,
): Promise<{ rate: number; cpu: number } | null> {
  const args = [
    '-cp',
    `${join(PEERS, 'kafka', 'libs')}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(n),
    '--throughput',
    '-1',
    '--payload-file',
    payloads,
    '--producer-props',
    `bootstrap.servers=${brokers}`,
    'acks=all',
    'enable.idempotence=true',
    `compression.type=${compression}`,
    'linger.ms=5',
    // Our produce request carries 5,000 alerts over 3 partitions: about 1.2 MB per partition.
    'batch.size=1200000',
    `max.in.flight.requests.per.connection=${inFlight}`,
  ];
  return new Promise((resolve) => {
    const p = spawn('/usr/bin/time', ['-f', 'CPU %U %S', 'java', ...args]);
    let o = '';
    p.stdout.on('data', (d: Buffer) => {
      o += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      o += d.toString();
    });
    p.on('error', () => resolve(null));
    p.on('close', () => {
      const rate = /records sent, ([\d.]+) records\/sec/.exec(o);
      const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(o);
      resolve(rate && cpu ? { rate: Number(rate[1]), cpu: Number(cpu[1]) + Number(cpu[2]) } : null);
    });
  });
}
const N = Number(process.env.VANTAGE_BENCH_ALERTS ?? 200_000);
/** Kafka sink settings over the defaults, e.g. '{"compression":"none"}' (to compare codecs). */
const KAFKA_OVERRIDES = JSON.parse(process.env.VANTAGE_BENCH_KAFKA ?? '{}') as Record<string, unknown>;
const BATCH = 1000;

/**
 * The broker as the bench runs it: thread pools sized for the 2 cores it shares with us and the
 * peer, produce requests of uncompressed 5,000-alert batches accepted, and Kafka's defaults
 * spelt out where they matter (no fsync by the broker: durability is replication's; 1 GiB
 * segments, so no roll during a run).
 */
const BROKER_PROPS = [
  'num.network.threads=2',
  'num.io.threads=2',
  'message.max.bytes=16777216',
  'log.segment.bytes=1073741824',
  'log.flush.interval.messages=9223372036854775807',
];

function alerts(n: number, tag: string): AlertRecord[] {
  return Array.from({ length: n }, (_, i) =>
    alertRecordOf(
      {
        ts: Date.UTC(2026, 0, 1) + i,
        category: 'beacon',
        detector: 'beacon.periodic',
        title: `Periodic connections to 192.0.2.${i % 250} every 60 s`,
        severity: 75,
        confidence: 80,
        src_ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
        dst_ip: '192.0.2.10',
        dst_port: 443,
        proto: 6,
        evidence: { period_s: 60, jitter: 0.02, connections: 120 },
      },
      'bench',
      `${tag}-${i}`,
    ),
  );
}

/**
 * Batches of BATCH alerts with ids `<tag>-<n>`, n from `from`. Detectors do not keep an alert
 * once it is published (the outbox encodes it at once), so the bench does not either: one pool of
 * BATCH alert objects is given new ids per batch. Holding all N alerts live would make the
 * collector trace N objects the product never holds.
 */
function batches(tag: string): (from: number) => AlertRecord[] {
  const pool = alerts(BATCH, tag);
  return (from) => {
    for (let j = 0; j < pool.length; j++) pool[j]!.alert_id = `${tag}-${from + j}`;
    return pool;
  };
}

const load = () => {
  const l = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return `load ${l[0]}`;
};
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Publish `total` alerts at `rate` alerts/s (batches of `per`, on an absolute schedule) and
 * measure publish → readable by a consumer of the topic. Returns p50, p99 and the rate offered.
 */
async function latency(
  brokers: string,
  topic: string,
  dir: string,
  rate: number,
  total: number,
  per: number,
): Promise<{ p50: number; p99: number; offered: number }> {
  const sinks = parseBusConfig([{ name: 'l', kafka: { brokers: [brokers], topic } }]);
  const bus = createBus({ sinks }, { dataDir: dir, log: silentLogger });
  await bus.start();
  const consumer = new Consumer({
    clientId: 'bench',
    groupId: `bench-${topic}-${Date.now()}`,
    bootstrapBrokers: [brokers],
    deserializers: stringDeserializers,
    maxWaitTime: 10,
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
  const sentAt = new Float64Array(total);
  const lat: number[] = [];
  const got = new Promise<void>((resolve) => {
    stream.on('data', (m: { key: string }) => {
      const t = sentAt[Number(m.key.slice(m.key.lastIndexOf('-') + 1))];
      if (t) lat.push(performance.now() - t);
      if (lat.length >= total) resolve();
    });
  });
  const pool = alerts(per, topic);
  const pending: Promise<unknown>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i += per) {
    await sleepMs(t0 + (i / rate) * 1000 - performance.now());
    const now = performance.now();
    for (let j = 0; j < per; j++) {
      pool[j]!.alert_id = `${topic}-${i + j}`;
      sentAt[i + j] = now;
    }
    pending.push(bus.publish(pool));
  }
  const offered = total / ((performance.now() - t0) / 1000);
  await Promise.all(pending);
  await got;
  await stream.close();
  await consumer.close();
  await bus.stop();
  lat.sort((a, b) => a - b);
  const q = (f: number) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!;
  return { p50: q(0.5), p99: q(0.99), offered };
}

async function kafkaPhases(
  k: KafkaPeer,
  dir: string,
  summary: { wall: number; cpu: number; p99: number },
): Promise<void> {
  let t0: number;
  let c0: NodeJS.CpuUsage;
  let c: NodeJS.CpuUsage;
  try {
    await k.createTopic('bench', 3);
    await k.createTopic('peer', 3);
    await k.createTopic('steady', 1);
    await k.createTopic('saturated', 1);
    const broker = await listener(k.brokers.split(':')[1]!);
    // 2. Through the Kafka sink (defaults: batches of 5,000, lz4, 2 requests in flight).
    const sinks = parseBusConfig([
      { name: 'k', kafka: { brokers: [k.brokers], topic: 'bench', ...KAFKA_OVERRIDES } },
    ]);
    const kafka = sinks[0]!.kind === 'kafka' ? sinks[0]!.kafka : null;
    // 2b. Delivery alone, run first: the outbox is filled with no sink, then the sink starts at
    // its beginning (a cursor at sequence 1): what the sink and the broker cost without
    // publishing. It also warms the broker's JIT, which the peer, run after, always had.
    const dirB = join(dir, 'kb');
    const fill = createBus({ sinks: [] }, { dataDir: dirB, log: silentLogger });
    await fill.start();
    const nextB = batches('kb');
    const pf: Promise<unknown>[] = [];
    for (let i = 0; i < N; i += BATCH) pf.push(fill.publish(nextB(i)));
    await Promise.all(pf);
    await fill.stop();
    mkdirSync(join(dirB, 'bus', 'cursors'), { recursive: true });
    writeFileSync(join(dirB, 'bus', 'cursors', 'k.json'), JSON.stringify({ seq: 1, seg: 1, off: 0 }));
    const drain = createBus({ sinks }, { dataDir: dirB, log: silentLogger });
    const bb0 = broker ? procCpu(broker) : 0;
    const tb0 = performance.now();
    const cb0 = process.cpuUsage();
    await drain.start();
    while (drain.stats().sinks[0]!.lagAlerts > 0) await sleepMs(5);
    const drainRate = N / ((performance.now() - tb0) / 1000);
    const cb = process.cpuUsage(cb0);
    const drainCpu = (cb.user + cb.system) / 1e6;
    const drainBroker = broker ? procCpu(broker) - bb0 : Number.NaN;
    await drain.stop();
    out(
      `delivery alone (filled outbox → topic, first: it warms the broker) ${fmt(drainRate)} alerts/s wall, ${((drainCpu * 1e6) / N).toFixed(1)} µs CPU/alert = ${fmt(N / drainCpu)} alerts per CPU-s (broker ${((drainBroker * 1e6) / N).toFixed(1)} µs/alert; ${load()})`,
    );
    const bus = createBus({ sinks }, { dataDir: join(dir, 'k'), log: silentLogger });
    await bus.start();
    const next = batches('k');
    const b0 = broker ? procCpu(broker) : 0;
    const l0 = load();
    t0 = performance.now();
    c0 = process.cpuUsage();
    const p2: Promise<unknown>[] = [];
    for (let i = 0; i < N; i += BATCH) p2.push(bus.publish(next(i)));
    await Promise.all(p2);
    while (bus.stats().sinks[0]!.lagAlerts > 0) await sleepMs(5);
    const kafkaRate = N / ((performance.now() - t0) / 1000);
    c = process.cpuUsage(c0);
    const ourCpu = (c.user + c.system) / 1e6;
    const brokerCpu = broker ? procCpu(broker) - b0 : Number.NaN;
    await bus.stop();
    summary.wall = kafkaRate;
    summary.cpu = N / ourCpu;
    out(
      `through the Kafka sink       ${fmt(kafkaRate)} alerts/s wall, ${((ourCpu * 1e6) / N).toFixed(1)} µs CPU/alert = ${fmt(N / ourCpu)} alerts per CPU-s (broker ${((brokerCpu * 1e6) / N).toFixed(1)} µs/alert; ${l0} → ${load()})   (goal ≥ 50,000, batched)`,
    );
    out(
      `  settings: ${sinks[0]!.batchSize} alerts per delivery (record batches under ${kafka?.maxBatchBytes} bytes), ${kafka?.compression}, ${kafka?.inFlight} requests in flight on one connection, acks=all, one idempotent producer id, 3 partitions; broker ${BROKER_PROPS.slice(0, 2).join(' ')}`,
    );
    // The peer: Kafka's own producer with the same alert JSON, same broker, same settings.
    const payloads = join(dir, 'payloads.txt');
    writeFileSync(
      payloads,
      alerts(BATCH, 'p')
        .map((a) => JSON.stringify(a))
        .join('\n'),
    );
    const pb0 = broker ? procCpu(broker) : 0;
    const pl0 = load();
    const peer = await peerProducer(
      k.brokers,
      'peer',
      N,
      payloads,
      kafka?.inFlight ?? 2,
      kafka?.compression ?? 'lz4',
    );
    const peerBroker = broker ? procCpu(broker) - pb0 : Number.NaN;
    // The JVM's start and warm-up alone: the same run with one record.
    const start = await peerProducer(
      k.brokers,
      'peer',
      1,
      payloads,
      kafka?.inFlight ?? 2,
      kafka?.compression ?? 'lz4',
    );
    if (peer) {
      const steady = start ? Math.max(0, peer.cpu - start.cpu) : Number.NaN;
      out(
        `peer: Kafka ProducerPerformance ${fmt(peer.rate)} records/s wall, ${((peer.cpu * 1e6) / N).toFixed(1)} µs CPU/record with the JVM's start, ${((steady * 1e6) / N).toFixed(1)} without (broker ${((peerBroker * 1e6) / N).toFixed(1)} µs/record; ${pl0} → ${load()})`,
      );
      out(
        `  ratio ours/peer: wall ${(kafkaRate / peer.rate).toFixed(2)}, client CPU per alert ${(ourCpu / peer.cpu).toFixed(2)} (${(ourCpu / steady).toFixed(2)} against the peer without its JVM start)`,
      );
    } else out('peer: Kafka ProducerPerformance did not run');

    // 3. Latency publish → readable: at a steady 5,000 alerts/s (batches of 50 every 10 ms),
    // well under capacity, and at the saturating rate just measured (batches of 1,000).
    const steady = await latency(k.brokers, 'steady', join(dir, 's'), 5000, 50_000, 50);
    out(
      `publish → readable on topic  p50 ${steady.p50.toFixed(1)} ms, p99 ${steady.p99.toFixed(1)} ms at ${fmt(steady.offered)} alerts/s   (goal p99 < 1000 ms)`,
    );
    summary.p99 = steady.p99;
    const sat = await latency(k.brokers, 'saturated', join(dir, 'x'), kafkaRate, Math.min(N, 100_000), BATCH);
    out(
      `  at the saturating rate      p50 ${sat.p50.toFixed(1)} ms, p99 ${sat.p99.toFixed(1)} ms at ${fmt(sat.offered)} alerts/s (queueing behind the broker, not the product's latency)`,
    );
  } finally {
    await k.stop();
  }
}

export async function benchBus(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-bus-'));
  const summary = { wall: Number.NaN, cpu: Number.NaN, p99: Number.NaN };
  out(
    `${fmt(N)} alerts of ${Buffer.byteLength(JSON.stringify(alerts(1, 'x')[0]))} bytes (JSON), published in batches of ${BATCH}; ${load()}`,
  );
  try {
    // 1. Outbox alone.
    const next0 = batches('o');
    const bus0 = createBus({ sinks: [] }, { dataDir: join(dir, 'o'), log: silentLogger });
    await bus0.start();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < N; i += BATCH) pending.push(bus0.publish(next0(i)));
    await Promise.all(pending);
    const outboxRate = N / ((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    await bus0.stop();
    const obCpu = (c.user + c.system) / 1e6;
    out(
      `outbox publish (fsync'd)     ${fmt(outboxRate)} alerts/s wall, ${((obCpu * 1e6) / N).toFixed(1)} µs CPU/alert = ${fmt(N / obCpu)} alerts per CPU-s   (goal ≥ 50,000)`,
    );

    const k = await startKafka(BROKER_PROPS);
    if (isMissing(k)) out(`kafka sink                   skipped: ${k.missing}`);
    else await kafkaPhases(k, dir, summary);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const eve = eveRate();
  const th = (n: number) => `${fmt(n / 1000)}k`;
  out(`\nissue 17 goals (${load()}; wall rates measure the neighbours on a shared machine)`);
  out(
    `  alerts/s through the outbox and the Kafka sink  ${th(summary.wall)}/s wall, ${th(summary.cpu)} per CPU-s of Vantage   goal ≥ 50k/s batched`,
  );
  out(`  p99 publish → topic at 5,000 alerts/s          ${summary.p99.toFixed(0)} ms   goal < 1,000 ms`);
  out(
    `  EVE lines/s ingested (every line an alert)      ${th(eve.wall)}/s wall, ${th(eve.cpu)} per CPU-s, one core   goal ≥ 100k/s`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBus();
