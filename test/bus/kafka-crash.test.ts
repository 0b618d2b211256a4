import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';

process.env.STREAM_PAUSE_MS = '25';

import { isMissing, startKafka } from '../support/peers.js';
import { StreamChild, tally } from './stream.js';

const TOTAL = 30_000;

it('Kafka sink: kill -9 of Vantage mid-stream and a broker restart lose no alert', {
  timeout: 600_000,
}, async (t) => {
  const k = await startKafka();
  if (isMissing(k)) return t.skip(`peer missing: ${k.missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bus-crash-'));
  try {
    await k.createTopic('alerts', 3);
    const sinks = [
      {
        name: 'kafka',
        batchSize: 1000,
        maxAttempts: 100_000,
        backoffMs: 100,
        maxBackoffMs: 2000,
        kafka: { brokers: [k.brokers], topic: 'alerts' },
      },
    ];
    const a = new StreamChild(dir, sinks, 0, TOTAL);
    await a.until(() => a.lastPublished >= 8_000);
    await a.kill9();
    const durable = a.lastPublished;
    const b = new StreamChild(dir, sinks, durable + 1, TOTAL);
    await b.until(() => b.lastPublished >= 16_000);
    await k.restart();
    await b.until(() => b.done !== null);
    // A broker back from kill -9 recovers its logs before it serves reads: read until complete.
    let ids: string[] = [];
    for (let i = 0; i < 5 && tally(TOTAL, ids).missing.length > 0; i++)
      ids = (await k.consume('alerts')).map((m) => m.key);
    const r = tally(TOTAL, ids);
    t.diagnostic(`killed after alert ${durable} was durable; broker restarted mid-stream`);
    t.diagnostic(
      `${ids.length} messages read back, ${r.distinct} distinct ids, ${r.duplicates} duplicates, ${r.missing.length} missing`,
    );
    t.diagnostic(b.done!);
    console.log(
      `kafka at-least-once: ${r.distinct}/${TOTAL} ids, duplicates ${r.duplicates}, missing ${r.missing.length}`,
    );
    assert.deepEqual(r.missing.slice(0, 10), []);
  } finally {
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
