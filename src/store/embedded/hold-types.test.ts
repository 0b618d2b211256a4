/**
 * A held transaction spans record types: column appends of several types, interleaved as a
 * sensor hands them over, commit together once one type holds a row group (`commitRows`), and
 * are then stored exactly as the same appends one commit each store them (`_seq` included),
 * across a rotation, a compaction and the live rollups that run after the commit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rotationBatch } from '../../../test/store/rotation-data.js';
import { silentLogger } from '../../common/log.js';
import { exportedFlowRecord, flowRecord } from '../../schema/records.js';
import type { Columnar } from '../columnar.js';
import { recordsToColumnar } from '../columnar-read.js';
import { syntheticFlows } from '../synthetic.js';
import type { Rec } from '../types.js';
import { createEmbeddedStore, type EmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-hold-types-'));
after(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 11, 1) * 1000;
const flows = (base: number, n: number): Columnar =>
  recordsToColumnar(
    flowRecord,
    syntheticFlows(n, { idBase: base, seed: base + 1, startUs: T0, spanUs: 60_000_000 }) as unknown as Rec[],
  );
const exported = (base: number, n: number): Columnar =>
  recordsToColumnar(exportedFlowRecord, rotationBatch(base, n));

/** Every row of a type in time order (ties in `_seq` order), `_seq` included. */
const rows = async (s: EmbeddedStore, type: string): Promise<Rec[]> =>
  (await s.list({ type, limit: 100_000, desc: false })).items;

test('a hold spans types: interleaved batches commit once, when one type holds a row group, stored as one commit each stores them', async () => {
  // Small generations and live chunks: the commit's bookkeeping rotates, compacts and rolls up.
  const cfg = { threads: 1, compactRows: 1000, liveChunkRows: 400 } as const;
  const ref = createEmbeddedStore({ dataDir: join(root, 'ref'), ...cfg }, { log: silentLogger });
  const s = createEmbeddedStore(
    { dataDir: join(root, 'held'), ...cfg, commitRows: 1000, commitDelayMs: 60_000 },
    { log: silentLogger },
  );
  await ref.start();
  await s.start();
  try {
    // Flows 0..1199 in four batches of 300, collected flows in three of 200 between them.
    const batches: [string, Columnar][] = [];
    for (let k = 0; k < 4; k++) {
      batches.push(['flow', flows(k * 300, 300)]);
      if (k < 3) batches.push(['exported_flow', exported(k * 200, 200)]);
    }
    const acked: number[] = [];
    const hold = (i: number): Promise<void> =>
      s.appendColumnParts(batches[i]![0], [batches[i]![1]], { hold: true }).then(() => {
        acked.push(i);
      });
    const done = [0, 1, 2, 3, 4, 5].map(hold);
    // Six batches held (900 flows, 600 collected): nothing acknowledged, nothing visible.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(acked, [], 'nothing acknowledged before a type holds commitRows');
    const seen = [await s.count('flow', {}), await s.count('exported_flow', {})];
    // The seventh (1,200 flows) passes commitRows: all seven commit in one transaction.
    done.push(hold(6));
    await Promise.all(done);
    assert.deepEqual(
      acked.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(seen, [0, 0], 'nothing visible mid-hold');
    assert.equal(s.readStats.commits, 1, 'one commit for the seven appends of two types');
    for (const [type, c] of batches) await ref.appendColumns(type, c);
    // Past compactRows: both rotated in the commit's bookkeeping and compacted beside it.
    await s.compactionDone();
    await ref.compactionDone();
    assert.ok(s.rotations >= 1, 'the flows generation rotated');
    for (const type of ['flow', 'exported_flow']) {
      const got = await rows(s, type);
      assert.equal(got.length, type === 'flow' ? 1200 : 600);
      assert.deepEqual(got, await rows(ref, type), `${type}: the rows and their _seq`);
    }
    // The top-N reads the rollups the commit's bookkeeping summed: the same as the rows say.
    const truth = new Map<string, number>();
    for (const r of await rows(s, 'flow')) {
      const b = Number(r.client_wire_bytes ?? 0) + Number(r.server_wire_bytes ?? 0);
      truth.set(String(r.client_ip), (truth.get(String(r.client_ip)) ?? 0) + b);
    }
    const want = [...truth.values()].sort((a, b) => b - a).slice(0, 10);
    const top = { type: 'flow', by: 'bytes', dim: 'client_ip', limit: 10 } as const;
    assert.deepEqual(
      (await ref.top(top)).map((r) => r.bytes),
      want,
      'the reference store: the rolled-up top-N',
    );
    assert.deepEqual(
      (await s.top(top)).map((r) => r.bytes),
      want,
      'the rolled-up top-N',
    );
    assert.deepEqual((await s.stats()).rows, (await ref.stats()).rows);
  } finally {
    await s.stop();
    await ref.stop();
  }
});

test('a hold spans types: an object append, a keyed type and the delay each commit every type held first', async () => {
  const s = createEmbeddedStore(
    { dataDir: join(root, 'others'), threads: 1, commitRows: 1_000_000, commitDelayMs: 60_000 },
    { log: silentLogger },
  );
  await s.start();
  try {
    const a = s.appendColumnParts('flow', [flows(0, 50)], { hold: true });
    const b = s.appendColumnParts('exported_flow', [exported(0, 70)], { hold: true });
    await s.append('exported_flow', rotationBatch(1000, 5));
    await Promise.all([a, b]);
    assert.equal(await s.count('flow', {}), 50);
    assert.equal(await s.count('exported_flow', {}), 75);
    assert.equal(s.readStats.commits, 1);
    const c = s.appendColumnParts('exported_flow', [exported(2000, 10)], { hold: true });
    const d = s.appendColumnParts('flow', [flows(5000, 20)], { hold: true });
    await s.append('alert', [{ alert_id: 'a1', ts: new Date(T0 / 1000).toISOString(), severity: 10 }]);
    await Promise.all([c, d]);
    assert.equal(await s.count('flow', {}), 70);
    assert.equal(await s.count('exported_flow', {}), 85);
  } finally {
    await s.stop();
  }
});
