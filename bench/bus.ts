/**
 * Alert bus benchmark (part of `npm run bench`; alone: node dist/bench/bus.js).
 *
 * 1. Alerts/s through the durable outbox alone (publish = fsync'd append), batches of 1000.
 * 2. Alerts/s through the Kafka sink (outbox → idempotent producer, acks=all, lz4) on a real
 *    broker, beside Kafka's own producer (ProducerPerformance, same broker, same settings, the
 *    same alert JSON as payload) run in the same session: the machine is shared, so wall rates
 *    are noisy; CPU time per alert (ours: process.cpuUsage; the broker and the peer: /proc) and
 *    the ratio to the peer are the figures to compare.
 * 3. p99 latency from publish to the message being readable on the topic, at a steady rate.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { createBus } from '../src/bus/bus.js';
import { parseBusConfig } from '../src/bus/config.js';
import { alertRecordOf } from '../src/common/alerts.js';
import { silentLogger } from '../src/common/log.js';
import type { AlertRecord } from '../src/schema/alert.js';
import { isMissing, startKafka } from '../test/support/peers.js';

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
    'compression.type=lz4',
    'linger.ms=5',
    'batch.size=1048576',
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

export async function benchBus(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-bus-'));
  try {
    // 1. Outbox alone.
    const pool = alerts(N, 'o');
    const bus0 = createBus({ sinks: [] }, { dataDir: join(dir, 'o'), log: silentLogger });
    await bus0.start();
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < N; i += 1000) pending.push(bus0.publish(pool.slice(i, i + 1000)));
    await Promise.all(pending);
    const outboxRate = N / ((performance.now() - t0) / 1000);
    let c = process.cpuUsage(c0);
    await bus0.stop();
    const obCpu = (c.user + c.system) / 1e6;
    out(
      `outbox publish (fsync'd)     ${fmt(outboxRate)} alerts/s wall, ${((obCpu * 1e6) / N).toFixed(1)} µs CPU/alert = ${fmt(N / obCpu)} alerts per CPU-s   (goal ≥ 50,000)`,
    );

    const k = await startKafka();
    if (isMissing(k)) {
      out(`kafka sink                   skipped: ${k.missing}`);
      return;
    }
    try {
      await k.createTopic('bench', 3);
      await k.createTopic('peer', 3);
      await k.createTopic('latency', 1);
      const broker = await listener(k.brokers.split(':')[1]!);
      // 2. Through the Kafka sink (defaults: batches of 5,000, lz4).
      const sinks = parseBusConfig([{ name: 'k', kafka: { brokers: [k.brokers], topic: 'bench' } }]);
      const bus = createBus({ sinks }, { dataDir: join(dir, 'k'), log: silentLogger });
      await bus.start();
      const b0 = broker ? procCpu(broker) : 0;
      t0 = performance.now();
      c0 = process.cpuUsage();
      const p2: Promise<unknown>[] = [];
      for (let i = 0; i < N; i += 1000) p2.push(bus.publish(pool.slice(i, i + 1000)));
      await Promise.all(p2);
      while (bus.stats().sinks[0]!.lagAlerts > 0) await new Promise((r) => setTimeout(r, 5));
      const kafkaRate = N / ((performance.now() - t0) / 1000);
      c = process.cpuUsage(c0);
      const ourCpu = (c.user + c.system) / 1e6;
      const brokerCpu = broker ? procCpu(broker) - b0 : Number.NaN;
      await bus.stop();
      out(
        `through the Kafka sink       ${fmt(kafkaRate)} alerts/s wall, ${((ourCpu * 1e6) / N).toFixed(1)} µs CPU/alert = ${fmt(N / ourCpu)} alerts per CPU-s (broker ${((brokerCpu * 1e6) / N).toFixed(1)} µs/alert)   (goal ≥ 50,000, batched)`,
      );
      // The peer: Kafka's own producer with the same alert JSON, same broker, same settings.
      const payloads = join(dir, 'payloads.txt');
      writeFileSync(
        payloads,
        pool
          .slice(0, 1000)
          .map((a) => JSON.stringify(a))
          .join('\n'),
      );
      const pb0 = broker ? procCpu(broker) : 0;
      const peer = await peerProducer(k.brokers, 'peer', N, payloads);
      const peerBroker = broker ? procCpu(broker) - pb0 : Number.NaN;
      if (peer) {
        out(
          `peer: Kafka ProducerPerformance ${fmt(peer.rate)} records/s wall, ${((peer.cpu * 1e6) / N).toFixed(1)} µs CPU/record (JVM start included; broker ${((peerBroker * 1e6) / N).toFixed(1)} µs/record)`,
        );
        out(
          `  ratio ours/peer: wall ${(kafkaRate / peer.rate).toFixed(2)}, client CPU per alert ${(ourCpu / peer.cpu).toFixed(2)}`,
        );
      } else out('peer: Kafka ProducerPerformance did not run');

      // 3. Latency publish → readable, 5,000 alerts/s in batches of 50.
      const lsinks = parseBusConfig([
        { name: 'l', batchSize: 2000, kafka: { brokers: [k.brokers], topic: 'latency' } },
      ]);
      const lbus = createBus({ sinks: lsinks }, { dataDir: join(dir, 'l'), log: silentLogger });
      await lbus.start();
      const consumer = new Consumer({
        clientId: 'bench',
        groupId: `bench-${Date.now()}`,
        bootstrapBrokers: [k.brokers],
        deserializers: stringDeserializers,
        maxWaitTime: 10,
      });
      const stream = await consumer.consume({ topics: ['latency'], mode: 'earliest' });
      const sentAt = new Map<string, number>();
      const lat: number[] = [];
      const M = 20_000;
      const got = new Promise<void>((resolve) => {
        stream.on('data', (m: { key: string }) => {
          const t = sentAt.get(m.key);
          if (t !== undefined) lat.push(performance.now() - t);
          if (lat.length >= M) resolve();
        });
      });
      const lpool = alerts(M, 'l');
      for (let i = 0; i < M; i += 50) {
        const batch = lpool.slice(i, i + 50);
        const now = performance.now();
        for (const a of batch) sentAt.set(a.alert_id, now);
        await lbus.publish(batch);
        await new Promise((r) => setTimeout(r, 10));
      }
      await got;
      lat.sort((a, b) => a - b);
      const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(1);
      out(`publish → readable on topic  p50 ${p(0.5)} ms, p99 ${p(0.99)} ms   (goal p99 < 1000 ms)`);
      await stream.close();
      await consumer.close();
      await lbus.stop();
    } finally {
      await k.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBus();
