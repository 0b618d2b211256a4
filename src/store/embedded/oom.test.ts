/**
 * An append that runs out of DuckDB's memory leaves DuckDB 1.5.5's table with a column longer
 * than its row group, and the next checkpoint then fails with "Corrupted in-memory column ...
 * misaligned count", which invalidates the database. The store opens its database again after
 * such an append (the WAL holds only committed rows), so the checkpoint at stop succeeds and
 * every acknowledged row is there once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rotationBatch } from '../../../test/store/rotation-data.js';
import { silentLogger } from '../../common/log.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-oom-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('an append out of DuckDB memory: the database is opened again, the next checkpoint succeeds, nothing acknowledged is lost', async () => {
  const dir = join(root, 'a');
  const errors: string[] = [];
  const log = {
    ...silentLogger,
    error: (m: string) => {
      errors.push(m);
    },
  };
  // A pool too small for a second batch of 20,000 flow rows beside the first.
  const cfg = { dataDir: dir, threads: 1, topRollups: {}, duckdbSettings: { memory_limit: '40MB' } };
  const s = createEmbeddedStore(cfg, { log });
  await s.start();
  let acked = 0;
  let next = 0;
  const append = async (n: number): Promise<boolean> => {
    const from = next;
    next += n;
    try {
      await s.append('exported_flow', rotationBatch(from, n));
      acked += n;
      return true;
    } catch (e) {
      assert.match(String(e), /pin block|allocate|Out of Memory/i);
      return false;
    }
  };
  let failed = 0;
  for (let i = 0; i < 10 && failed === 0; i++) if (!(await append(20_000))) failed++;
  assert.equal(failed, 1, 'a 20,000-row append ran out of memory');
  assert.ok(acked > 0);
  assert.ok(errors.some((m) => /ran out of memory/.test(m)));
  for (let i = 0; i < 5; i++) assert.ok(await append(1000), 'smaller appends go on');
  assert.ok(s.reopens >= 1);
  // Stop checkpoints: without the reopening this fails with the misaligned count.
  await s.stop();
  assert.ok(!errors.some((m) => /invalidated/.test(m)), errors.join(' | '));

  const again = createEmbeddedStore({ dataDir: dir, threads: 1, topRollups: {} }, { log: silentLogger });
  await again.start();
  try {
    assert.equal(await again.count('exported_flow', {}), acked);
  } finally {
    await again.stop();
  }
});
