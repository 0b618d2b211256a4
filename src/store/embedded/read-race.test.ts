/**
 * Queries while compactions and retention change the store's files (a real store, real
 * Parquet files): a query reads the rows of one consistent state, whatever commits while it is
 * being planned or run, and a partition file is not deleted under a query that may read it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import type { Rec } from '../types.js';
import { createEmbeddedStore } from './store.js';
import { MINUTE_US } from './top-rollup.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-read-race-'));
after(() => rmSync(root, { recursive: true, force: true }));

const DAY_US = 86_400_000_000;
const T0 = Date.UTC(2026, 11, 1) * 1000;

const iso = (us: number): string => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}000Z`;

/** Row `i` of the generated stream: its time walks through `days` days, a minute per 500 rows. */
function record(i: number, days = 1): Rec {
  const us = T0 + (Math.floor(i / 500) % (days * 1440)) * MINUTE_US + (i % 500) * 1000;
  return {
    source: 'ipfix',
    exporter: '192.0.2.1',
    exporter_port: 2055,
    observation_domain: 1,
    export_ts: iso(us),
    first_ts: iso(us),
    last_ts: iso(us),
    duration_ms: 0,
    src_ip: `10.0.${(i >> 8) & 3}.${i & 255}`,
    dst_ip: '192.0.2.9',
    src_port: 40000,
    dst_port: 443,
    proto: 6,
    packets: 1,
    bytes: 100,
    packets_raw: 1,
    bytes_raw: 100,
    sampling_rate: 1,
  };
}

const batch = (from: number, n: number, days = 1): Rec[] =>
  Array.from({ length: n }, (_, k) => record(from + k, days));

test('a query running while compactions commit counts every acknowledged row once (never missed, never twice)', async () => {
  const s = createEmbeddedStore(
    { dataDir: join(root, 'compact'), threads: 1, compactRows: 3000, liveChunkRows: 1000 },
    { log: silentLogger },
  );
  await s.start();
  try {
    const BATCH = 500;
    const TOTAL = 60_000;
    let acked = 0;
    let submitted = 0;
    let done = false;
    const writer = (async () => {
      for (let i = 0; i < TOTAL; i += BATCH) {
        submitted = i + BATCH;
        await s.append('exported_flow', batch(i, BATCH));
        acked = i + BATCH;
      }
      done = true;
    })();
    // Ranges that read the Parquet files (raw rows and the rollups' edges), and none.
    const range = { after: T0, before: T0 + 10 * 1440 * MINUTE_US };
    const errors: string[] = [];
    const seen: string[] = [];
    let queries = 0;
    const reader = async (k: number) => {
      while (!done) {
        const before = acked;
        try {
          const n =
            k % 2 === 0
              ? await s.count('exported_flow', range)
              : (
                  await s.top({
                    type: 'exported_flow',
                    by: 'flows',
                    dim: 'dst_port',
                    limit: 10,
                    after: T0 + 1000,
                    before: range.before,
                  })
                ).reduce((a, r) => a + r.flows, 0) + 1;
          const upto = submitted;
          queries++;
          // Every row acknowledged before the query began is in it, and nothing beyond what
          // was submitted by its end (a row counted twice would pass that bound).
          if (n < before || n > upto)
            seen.push(`${k % 2 === 0 ? 'count' : 'top'} ${n} not in [${before}, ${upto}]`);
        } catch (e) {
          errors.push(String(e));
        }
      }
    };
    await Promise.all([writer, reader(0), reader(1), reader(2), reader(3)]);
    await s.compactionDone();
    const st = await s.stats();
    assert.ok(st.partitions >= 10, `compactions ran: ${st.partitions} partitions`);
    assert.ok(queries > 50, `queries run: ${queries}`);
    assert.deepEqual(errors, []);
    assert.deepEqual(seen.slice(0, 5), []);
    assert.equal(await s.count('exported_flow', range), TOTAL);
  } finally {
    await s.stop();
  }
});

test('retention drops partitions while queries read them: no query fails, and each sees whole partitions', async () => {
  const s = createEmbeddedStore(
    { dataDir: join(root, 'retention'), threads: 1, compactRows: 2000, retentionDays: 3 },
    { log: silentLogger },
  );
  await s.start();
  try {
    // 30 days of rows, a day per 2,000 rows, compacted as they come: a partition per day.
    const PER_DAY = 1440 * 500;
    const rows: Rec[] = [];
    for (let d = 0; d < 30; d++) for (let k = 0; k < 2000; k++) rows.push(record(d * PER_DAY + k * 360, 30));
    for (let i = 0; i < rows.length; i += 2000) {
      await s.append('exported_flow', rows.slice(i, i + 2000));
      await s.compactionDone();
    }
    const st0 = await s.stats();
    assert.ok(st0.partitions >= 25, `partitions: ${st0.partitions}`);
    const range = { after: T0 - DAY_US, before: T0 + 40 * DAY_US };
    const errors: string[] = [];
    const odd: number[] = [];
    let queries = 0;
    let done = false;
    const reader = async () => {
      while (!done) {
        try {
          const n = await s.count('exported_flow', range);
          queries++;
          if (n % 2000 !== 0) odd.push(n);
        } catch (e) {
          errors.push(String(e));
        }
      }
    };
    const readers = [reader(), reader(), reader(), reader()];
    // Retention a day at a time: each call drops the oldest day's partition.
    for (let d = 1; d <= 27; d++) await s.enforceRetention((T0 + (d + 3) * DAY_US) / 1000 + 1);
    done = true;
    await Promise.all(readers);
    assert.ok(queries > 20, `queries run: ${queries}`);
    assert.deepEqual(errors.slice(0, 3), []);
    assert.deepEqual(odd.slice(0, 5), []);
    // The dropped files are removed once no read that began before the drop runs.
    const st = await s.stats();
    const files = readdirSync(join(root, 'retention', 'parquet', 'exported_flow'), {
      recursive: true,
    }).filter((f) => String(f).endsWith('.parquet'));
    assert.equal(files.length, st.partitions);
    assert.equal(st.droppedPartitions, 27);
  } finally {
    await s.stop();
  }
});
