/**
 * The store checkpoints on its own (DuckDB's automatic checkpoint inside a commit is off: it
 * ran beside inserts and DuckDB 1.5.5 then sometimes invalidated the database). The WAL stays
 * near `walCheckpoint` while appends, compactions of closed generations, live rollups and
 * queries run together, and every acknowledged row is there after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rotationBatch } from '../../../test/store/rotation-data.js';
import { silentLogger } from '../../common/log.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-checkpoint-'));
after(() => rmSync(root, { recursive: true, force: true }));

const wal = (dir: string): number =>
  statSync(join(dir, 'records.duckdb.wal'), { throwIfNoEntry: false })?.size ?? 0;

test('the WAL is checkpointed at walCheckpoint beside compactions and queries; nothing is lost', async () => {
  const dir = join(root, 'a');
  const LIMIT = 1_000_000;
  const cfg = {
    dataDir: dir,
    threads: 2,
    walCheckpoint: String(LIMIT),
    compactRows: 6000,
    liveChunkRows: 2000,
  } as const;
  const s = createEmbeddedStore(cfg, { log: silentLogger });
  await s.start();
  const BATCH = 1500;
  const BATCHES = 60;
  let logged = 0;
  let maxWal = 0;
  let maxStep = 0;
  let queries = 0;
  let stop = false;
  // Queries beside the appends, as the API runs them.
  const reader = (async () => {
    while (!stop) {
      await s.top({ type: 'exported_flow', dim: 'src_ip', by: 'bytes', limit: 10 });
      await s.count('exported_flow', {});
      queries++;
    }
  })();
  try {
    for (let b = 0; b < BATCHES; b++) {
      const before = wal(dir);
      await s.append('exported_flow', rotationBatch(b * BATCH, BATCH));
      const now = wal(dir);
      // What this append logged (a checkpoint after it may have emptied the WAL since).
      if (now > before) {
        logged += now - before;
        maxStep = Math.max(maxStep, now - before);
      }
      maxWal = Math.max(maxWal, now);
    }
  } finally {
    stop = true;
    await reader;
  }
  await s.compactionDone();
  const st = await s.stats();
  // The appends logged several times the threshold; the WAL never held much more than it.
  assert.ok(logged > 4 * LIMIT, `appends logged ${logged} bytes`);
  assert.ok(st.checkpoints!.runs >= 2, `${st.checkpoints!.runs} checkpoints`);
  assert.equal(st.checkpoints!.failed, 0);
  // Put off while queries need older rows, forced at twice the limit.
  assert.ok(
    maxWal < 2 * LIMIT + 2 * maxStep,
    `WAL peaked at ${maxWal} bytes (limit ${LIMIT}, step ${maxStep})`,
  );
  assert.ok(s.compactions >= 3, `${s.compactions} compactions ran beside the appends`);
  assert.ok(queries > 0);
  await s.stop();

  const again = createEmbeddedStore(cfg, { log: silentLogger });
  await again.start();
  try {
    assert.equal(await again.count('exported_flow', {}), BATCH * BATCHES);
    const top = await again.top({ type: 'exported_flow', dim: 'src_ip', by: 'bytes', limit: 5000 });
    assert.equal(
      top.reduce((a, r) => a + r.flows, 0),
      BATCH * BATCHES,
    );
  } finally {
    await again.stop();
  }
});

test('a read that stays open puts a forced checkpoint off for a while, not the appends behind it', {
  timeout: 60_000,
}, async () => {
  const dir = join(root, 'b');
  const LIMIT = 200_000;
  const warned: string[] = [];
  const log = { ...silentLogger, warn: (msg: string) => void warned.push(msg) };
  const s = createEmbeddedStore({ dataDir: dir, threads: 1, walCheckpoint: String(LIMIT) }, { log });
  await s.start();
  try {
    await s.append('exported_flow', rotationBatch(0, 6000));
    // An export whose client stopped reading: its first rows are taken, the rest never asked for.
    let release!: () => void;
    const stalled = new Promise<void>((r) => {
      release = r;
    });
    let took = 0;
    const read = s.stream({ type: 'exported_flow' }, async (rows) => {
      took += rows.length;
      await stalled;
    });
    while (took === 0) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    let n = 6000;
    // Past twice the limit, so the next append forces a checkpoint, which waits for the read.
    while (warned.length === 0 && performance.now() - t0 < 30_000) {
      await s.append('exported_flow', rotationBatch(n, 1500));
      n += 1500;
    }
    assert.deepEqual(warned, ['forced checkpoint put off: a read stayed open']);
    // Appends go on after it while the read stays open (plain checkpoints only, which fail while
    // it is open): a forced checkpoint tried again would wait for the read and warn once more
    // per append, and an append held behind the read would never end (the test's timeout).
    for (let i = 0; i < 5; i++, n += 1500) await s.append('exported_flow', rotationBatch(n, 1500));
    assert.equal(warned.length, 1);
    release();
    await read;
    assert.equal(await s.count('exported_flow', {}), n);
  } finally {
    await s.stop();
  }
});
