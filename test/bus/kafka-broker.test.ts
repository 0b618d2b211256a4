import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { parseBusConfig } from '../../src/bus/config.js';
import { createSink } from '../../src/bus/sinks/index.js';
import { partitionForKey } from '../../src/bus/sinks/kafka.js';
import { spansOf } from '../../src/bus/sinks/kafka-batch.js';
import type { EncodedAlert } from '../../src/bus/types.js';
import { isMissing, PEERS, startKafka } from '../support/peers.js';

const CP = `${join(PEERS, 'kafka', 'libs')}/*`;
const PARTITIONS = 3;

const java = (args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile('java', ['-cp', CP, ...args], { maxBuffer: 1 << 28 }, (err, out, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(out),
    ),
  );

function alerts(n: number, tag: string): EncodedAlert[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `${tag}-${i}-ü`;
    const updated = `2026-12-06T08:${String(i % 60).padStart(2, '0')}:00.000Z`;
    // Values of varied size and little repetition, so batches are cut by maxBatchBytes.
    const json = JSON.stringify({ alert_id: id, n: i, pad: (i * 7919).toString(36).repeat(1 + (i % 40)) });
    const [idBytes, jsonBytes, updatedBytes] = [Buffer.from(id), Buffer.from(json), Buffer.from(updated)];
    return {
      ...spansOf(idBytes, jsonBytes, updatedBytes),
      id,
      updated,
      json: jsonBytes,
      idBytes,
      updatedBytes,
    };
  });
}

it('Kafka sink: the broker stores each pipelined, split batch once, in sequence, on the partition Kafka picks', {
  timeout: 300_000,
}, async (t) => {
  const k = await startKafka();
  if (isMissing(k)) return t.skip(`peer missing: ${k.missing}`);
  try {
    await k.createTopic('alerts', PARTITIONS);
    const [spec] = parseBusConfig([
      {
        name: 'k',
        kafka: {
          brokers: [k.brokers],
          topic: 'alerts',
          inFlight: 3,
          maxBatchBytes: 4096,
          compression: 'lz4',
        },
      },
    ]);
    const sink = createSink(spec!, { version: 'test' });
    await sink.start();
    // As the bus does: three deliveries in flight at once, a fourth after them.
    const batches = [alerts(1500, 'a'), alerts(1500, 'b'), alerts(1500, 'c'), alerts(700, 'd')];
    const first = await Promise.all(batches.slice(0, 3).map((b) => sink.deliverEncoded!(b)));
    const last = await sink.deliverEncoded!(batches[3]!);
    const health = sink.health();
    await sink.stop();
    const counters = (sink as unknown as { counters: Record<string, number> }).counters;
    for (const r of [...first, last]) assert.deepEqual(r.failed, []);
    const sent = new Map(batches.flat().map((a) => [a.id, a]));

    // Read back with Kafka's console consumer: partition, offset, header, key, value.
    const out = await java([
      'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server',
      k.brokers,
      '--topic',
      'alerts',
      '--from-beginning',
      '--timeout-ms',
      '20000',
      ...['print.partition', 'print.offset', 'print.headers', 'print.key'].flatMap((p) => [
        '--property',
        `${p}=true`,
      ]),
      '--property',
      'key.separator=\t',
    ]);
    const seen = new Map<string, number>();
    const offsets: number[][] = Array.from({ length: PARTITIONS }, () => []);
    for (const line of out.split('\n')) {
      if (!line.startsWith('Partition:')) continue;
      const [part, offset, header, key, ...value] = line.split('\t');
      const a = sent.get(key!);
      assert.ok(a, `unknown key ${key}`);
      const p = Number(part!.slice('Partition:'.length));
      assert.equal(p, partitionForKey(a.idBytes, PARTITIONS), key);
      offsets[p]!.push(Number(offset!.slice('Offset:'.length)));
      assert.equal(header, `vantage-updated-ts:${a.updated}`);
      assert.equal(value.join('\t'), a.json.toString());
      seen.set(key!, (seen.get(key!) ?? 0) + 1);
    }
    assert.equal(seen.size, sent.size, 'every alert read back');
    assert.deepEqual(
      [...seen.values()].filter((n) => n !== 1),
      [],
      'none twice',
    );
    for (const o of offsets)
      assert.deepEqual(
        o.sort((x, y) => x - y),
        o.map((_, i) => i),
      );

    // The broker's log: one producer id, sequences contiguous per partition, lz4 batches.
    const producers = new Set<string>();
    let batchCount = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const dir = join(k.dir, 'data', `alerts-${p}`);
      const log = readdirSync(dir).find((f) => f.endsWith('.log'))!;
      const dump = await java(['kafka.tools.DumpLogSegments', '--files', join(dir, log)]);
      let next = 0;
      for (const line of dump.split('\n')) {
        if (!line.startsWith('baseOffset:')) continue;
        const f = Object.fromEntries([...line.matchAll(/(\w+): (\S+)/g)].map((m) => [m[1]!, m[2]!]));
        batchCount++;
        producers.add(f.producerId!);
        assert.equal(Number(f.baseSequence), Number(f.baseOffset), line);
        assert.equal(Number(f.baseSequence), next, line);
        assert.equal(Number(f.lastSequence), Number(f.lastOffset), line);
        assert.equal(f.compresscodec, 'lz4');
        assert.equal(f.isTransactional, 'false');
        assert.equal(f.isvalid, 'true');
        next = Number(f.lastSequence) + 1;
      }
      assert.equal(next, offsets[p]!.length, `partition ${p}: every record in a batch`);
    }
    assert.equal(producers.size, 1, 'one producer id');
    assert.ok(health.ok && health.detail.includes(`producer id ${[...producers][0]}`), health.detail);
    assert.equal(counters.sessions, 1);
    assert.equal(counters.batches, batchCount);
    assert.equal(counters.duplicates, 0);
    assert.equal(counters.failed_batches, 0);
    assert.ok(counters.requests! >= 4 && counters.requests! <= batchCount, `${counters.requests} requests`);
    assert.ok(batchCount > 4 * PARTITIONS, `deliveries cut into batches under maxBatchBytes (${batchCount})`);
    t.diagnostic(`${sent.size} alerts in ${batchCount} record batches over ${PARTITIONS} partitions`);
  } finally {
    await k.stop();
  }
});
