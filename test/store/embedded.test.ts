import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import { runConformance } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

runConformance({
  name: 'embedded (DuckDB)',
  async open(key) {
    const s = createEmbeddedStore({ dataDir: join(root, key), threads: 2 }, { log: silentLogger });
    await s.start();
    return s;
  },
  compact: (s) => (s as EmbeddedStore).compact(true),
});

describe('embedded store specifics', () => {
  it('drops partitions by age and by size', async () => {
    const dir = join(root, 'retention');
    const s = createEmbeddedStore({ dataDir: dir, retentionDays: 30, threads: 2 }, { log: silentLogger });
    await s.start();
    const old = syntheticFlows(1000, { startUs: Date.UTC(2020, 0, 1) * 1000, spanUs: 3 * 86_400_000_000 });
    const fresh = syntheticFlows(500, { startUs: (Date.now() - 3_600_000) * 1000, spanUs: 1_000_000 });
    await s.append('flow', old);
    await s.append('flow', fresh);
    await s.compact(true);
    assert.equal((await s.stats()).partitions, 4);
    assert.equal(await s.enforceRetention(), 3);
    assert.equal(await s.count('flow', {}), 500);
    await s.stop();
    const t = createEmbeddedStore({ dataDir: dir, retentionBytes: 1, threads: 2 }, { log: silentLogger });
    await t.start();
    assert.ok((await t.enforceRetention()) >= 1);
    assert.equal(await t.count('flow', {}), 0);
    await t.stop();
  });

  it('lists partitions of the same columns with one set of names, compacted or read at start', async () => {
    // Months of history are thousands of partitions a day: a set of names each grew the heap.
    const dir = join(root, 'column-sets');
    type Listed = { partitions: { type: string; columns: ReadonlySet<string> }[] };
    const sets = (s: EmbeddedStore) => {
      const parts = (s as unknown as Listed).partitions.filter((p) => p.type === 'flow');
      assert.ok(parts.length >= 4, `${parts.length} partitions`);
      assert.ok(parts[0]!.columns.has('client_ip'));
      return new Set(parts.map((p) => p.columns)).size;
    };
    const s = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger });
    await s.start();
    const days = syntheticFlows(1000, { startUs: Date.UTC(2020, 0, 1) * 1000, spanUs: 4 * 86_400_000_000 });
    await s.append('flow', days.slice(0, 600));
    await s.compact(true);
    await s.append('flow', days.slice(600));
    await s.compact(true);
    assert.equal(sets(s), 1);
    await s.stop();
    const t = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger });
    await t.start();
    assert.equal(sets(t), 1);
    assert.equal(await t.count('flow', {}), 1000);
    await t.stop();
  });

  it("compacts a type's live rows past compactRows, today's included, beside the appends", async () => {
    const s = createEmbeddedStore(
      { dataDir: join(root, 'compact-rows'), compactRows: 10_000, threads: 2 },
      { log: silentLogger },
    );
    await s.start();
    const now = Date.now() * 1000;
    for (let b = 0; b < 5; b++)
      await s.append(
        'flow',
        syntheticFlows(4000, { idBase: b * 4000, seed: b + 1, startUs: now, spanUs: 1_000_000 }),
      );
    await s.compactionDone();
    const st = await s.stats();
    assert.ok(st.partitions >= 1, 'a partition of today was written');
    assert.equal(st.rows.flow, 20_000);
    assert.equal(await s.count('flow', {}), 20_000);
    const ids = await s.list({
      type: 'flow',
      fields: ['flow_id'],
      limit: 30_000,
      sort: 'flow_id',
      desc: false,
    });
    assert.deepEqual(
      ids.items.map((r) => r.flow_id),
      Array.from({ length: 20_000 }, (_, i) => i),
    );
    await s.stop();
  });

  it('removes a Parquet file a crash left outside the manifest', async () => {
    const dir = join(root, 'orphan');
    const s = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger });
    await s.start();
    await s.append('flow', syntheticFlows(100));
    await s.stop();
    const stray = join(dir, 'parquet', 'flow', '2024-01-01');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stray, { recursive: true });
    writeFileSync(join(stray, '000000000999.parquet'), 'partial');
    const t = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger });
    await t.start();
    assert.deepEqual(readdirSync(stray), []);
    assert.equal(await t.count('flow', {}), 100);
    await t.stop();
  });

  it('adds columns for fields added to the registry', async () => {
    const dir = join(root, 'evolve');
    const base = {
      type: 'thing',
      doc: 't',
      timeField: 'ts',
      fields: { ts: { type: 'ts', doc: '' } },
    } as const;
    const s = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger, defs: [base] });
    await s.start();
    await s.append('thing', [{ ts: '2024-01-01T00:00:00Z' }]);
    await s.compact(true);
    await s.append('thing', [{ ts: '2024-01-02T00:00:00Z' }]);
    await s.stop();
    const more = {
      ...base,
      fields: { ...base.fields, name: { type: 'string', doc: '', nullable: true } },
    } as const;
    const t = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger, defs: [more] });
    await t.start();
    await t.append('thing', [{ ts: '2024-01-03T00:00:00Z', name: 'x' }]);
    const page = await t.list({ type: 'thing', limit: 10, desc: false });
    assert.deepEqual(
      page.items.map((r) => r.name),
      [null, null, 'x'],
    );
    await t.stop();
  });
});
