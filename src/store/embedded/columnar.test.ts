import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { exportDatagrams } from '../../../test/collect/build.js';
import { fixture } from '../../../test/support/fixtures.js';
import { columnarOf, encodeColumns } from '../../collect/columns.js';
import { CollectDecoder } from '../../collect/decoder.js';
import type { CollectedRecord } from '../../collect/types.js';
import { silentLogger } from '../../common/log.js';
import { columnarToRecords } from '../columnar.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-columnar-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function collected(): Promise<CollectedRecord[]> {
  const out: CollectedRecord[] = [];
  const d = new CollectDecoder({}, (r) => out.push(r));
  for (const f of [
    'softflowd-v5-http-methods.pcap',
    'softflowd-v9-http-methods.pcap',
    'softflowd-ipfix-ipv6-mixed.pcap',
  ])
    for (const x of await exportDatagrams(fixture(`made/${f}`)))
      d.decode(x.payload, 0, x.payload.length, '192.0.2.7', 40000, 1_700_000_000_000);
  return out;
}

test('columnar append stores exactly what the object append stores (v5, v9, IPFIX v4+v6)', async () => {
  const recs = (await collected()).filter((r) => r.type === 'exported_flow');
  assert.equal(recs.length, 98 + 98 + 71);
  const { flows, others } = columnarOf(encodeColumns(recs));
  assert.equal(others.length, 0);
  const a = createEmbeddedStore({ dataDir: join(root, 'cols'), threads: 1 }, { log: silentLogger });
  const b = createEmbeddedStore({ dataDir: join(root, 'objs'), threads: 1 }, { log: silentLogger });
  await a.start();
  await b.start();
  try {
    await a.appendColumns('exported_flow', flows);
    await b.append('exported_flow', recs as never);
    const q = { type: 'exported_flow', limit: 1000, sort: 'first_ts', desc: false } as const;
    const strip = (items: Record<string, unknown>[]) =>
      items.map(({ _seq, ...r }) => r).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    const got = strip((await a.list(q)).items);
    const want = strip((await b.list(q)).items);
    assert.equal(got.length, recs.length);
    assert.deepEqual(got, want);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a row selection stores only the selected rows; columnarToRecords agrees with the source', async () => {
  const recs = (await collected()).filter((r) => r.type === 'exported_flow');
  const { flows } = columnarOf(encodeColumns(recs));
  const pick = Uint32Array.from([0, 5, 99, 200]);
  const sel = { ...flows, rows: pick };
  const objs = columnarToRecords(sel, 'exported_flow');
  assert.deepEqual(
    objs.map((o) => [o.src_ip, o.bytes, o.first_ts]),
    [...pick].map((i) => [recs[i]!.src_ip, recs[i]!.bytes, recs[i]!.first_ts]),
  );
  const s = createEmbeddedStore({ dataDir: join(root, 'sel'), threads: 1 }, { log: silentLogger });
  await s.start();
  try {
    await s.appendColumns('exported_flow', sel);
    assert.equal(await s.count('exported_flow', {}), 4);
  } finally {
    await s.stop();
  }
});

test('staged commits store what synchronous ones do; while-reading stages only after a query', async () => {
  const recs = (await collected()).filter((r) => r.type === 'exported_flow');
  const { flows } = columnarOf(encodeColumns(recs));
  const half = flows.rows.length >> 1;
  const all = Uint32Array.from(flows.rows);
  const first = { ...flows, rows: all.slice(0, half) };
  const second = { ...flows, rows: all.slice(half) };
  const q = { type: 'exported_flow', limit: 1000, sort: 'first_ts', desc: false } as const;
  const strip = (items: Record<string, unknown>[]) =>
    items.map(({ _seq, ...r }) => r).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  const b = createEmbeddedStore({ dataDir: join(root, 'staged-objs'), threads: 1 }, { log: silentLogger });
  await b.start();
  await b.append('exported_flow', recs as never);
  await b.append('exported_flow', [...first.rows].map((i) => recs[i]!) as never);
  const want = strip((await b.list({ ...q, limit: 2000 })).items);
  await b.stop();
  for (const mode of [true, 'while-reading'] as const) {
    const s = createEmbeddedStore(
      // Small slices: a staged commit fills its temp table over several turns of the loop.
      { dataDir: join(root, `staged-${mode}`), threads: 1, stagedAppend: mode, stageSliceRows: 97 },
      { log: silentLogger },
    );
    await s.start();
    try {
      // Two parts in one commit, then one part: both shapes of the staged path.
      await s.appendColumnParts('exported_flow', [first, second]);
      const staged0 = s.readStats.stagedCommits;
      // Nobody has asked yet: while-reading commits synchronously.
      assert.equal(staged0, mode === true ? 1 : 0, `${mode}: first commit`);
      assert.equal(await s.count('exported_flow', {}), recs.length);
      // A query just ended: the next commit is staged in both modes.
      await s.appendColumns('exported_flow', first);
      assert.equal(s.readStats.stagedCommits, staged0 + 1, `${mode}: commit after a query`);
      const got = strip((await s.list({ ...q, limit: 2000 })).items);
      assert.equal(got.length, recs.length + half);
      assert.deepEqual(got, want, `${mode}: the rows equal the object append's`);
    } finally {
      await s.stop();
    }
    // Each row its own `_seq` (what paging and compaction go by), slices included.
    const db = await DuckDBInstance.create(join(root, `staged-${mode}`, 'records.duckdb'));
    const c = await db.connect();
    const r = (
      await c.runAndReadAll('SELECT count(DISTINCT _seq), count(*) FROM live_exported_flow')
    ).getRows()[0]!;
    c.closeSync();
    db.closeSync();
    assert.equal(Number(r[0]), recs.length + half, `${mode}: every row its own _seq`);
    assert.equal(Number(r[1]), recs.length + half);
  }
});
