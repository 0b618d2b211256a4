/**
 * Alert bus benchmark (part of `npm run bench`; alone: node dist/bench/bus.js).
 *
 * 1. Alerts/s through the durable outbox alone (publish = fsync'd append), batches of 1000.
 * 2. Alerts/s through the Kafka sink (outbox → idempotent producer, acks=all) on a real broker.
 * 3. p99 latency from publish to the message being readable on the topic, at a steady rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < N; i += 1000) pending.push(bus0.publish(pool.slice(i, i + 1000)));
    await Promise.all(pending);
    const outboxRate = N / ((performance.now() - t0) / 1000);
    await bus0.stop();
    out(
      `outbox publish (fsync'd)     ${Math.round(outboxRate).toLocaleString('en')} alerts/s   (goal ≥ 50,000)`,
    );

    const k = await startKafka();
    if (isMissing(k)) {
      out(`kafka sink                   skipped: ${k.missing}`);
      return;
    }
    try {
      await k.createTopic('bench', 3);
      await k.createTopic('latency', 1);
      // 2. Through the Kafka sink.
      const sinks = parseBusConfig([
        { name: 'k', batchSize: 2000, kafka: { brokers: [k.brokers], topic: 'bench' } },
      ]);
      const bus = createBus({ sinks }, { dataDir: join(dir, 'k'), log: silentLogger });
      await bus.start();
      t0 = performance.now();
      const p2: Promise<unknown>[] = [];
      for (let i = 0; i < N; i += 1000) p2.push(bus.publish(pool.slice(i, i + 1000)));
      await Promise.all(p2);
      while (bus.stats().sinks[0]!.lagAlerts > 0) await new Promise((r) => setTimeout(r, 5));
      const kafkaRate = N / ((performance.now() - t0) / 1000);
      await bus.stop();
      out(
        `through the Kafka sink       ${Math.round(kafkaRate).toLocaleString('en')} alerts/s   (goal ≥ 50,000, batched)`,
      );

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
