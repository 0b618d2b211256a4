import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exportDatagrams } from '../../../test/collect/build.js';
import { fixture } from '../../../test/support/fixtures.js';
import { columnarOf, encodeColumns } from '../../collect/columns.js';
import { CollectDecoder } from '../../collect/decoder.js';
import type { CollectedRecord } from '../../collect/types.js';
import { silentLogger } from '../../common/log.js';
import type { Columnar } from '../columnar.js';
import { StoreFeed } from '../feed.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-held-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function flows(): Promise<{ recs: CollectedRecord[]; cols: Columnar }> {
  const out: CollectedRecord[] = [];
  const d = new CollectDecoder({}, (r) => out.push(r));
  for (const f of ['softflowd-v9-http-methods.pcap', 'softflowd-ipfix-ipv6-mixed.pcap'])
    for (const x of await exportDatagrams(fixture(`made/${f}`)))
      d.decode(x.payload, 0, x.payload.length, '192.0.2.7', 40000, 1_700_000_000_000);
  const recs = out.filter((r) => r.type === 'exported_flow');
  return { recs, cols: columnarOf(encodeColumns(recs)).flows };
}

/** Row selections of `n` rows each, cycling through the batch's rows. */
function slices(c: Columnar, n: number, count: number): Columnar[] {
  const all = c.rows;
  return Array.from({ length: count }, (_, k) => ({
    ...c,
    rows: Uint32Array.from({ length: n }, (_, i) => all[(k * n + i) % all.length]!),
  }));
}

const q = { type: 'exported_flow', limit: 5000, sort: 'first_ts', desc: false } as const;
const strip = (items: Record<string, unknown>[]) =>
  items.map(({ _seq, ...r }) => r).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));

// Both kinds of hold: an open transaction on the live table, and the temp staging table that
// `stagedAppend` uses while queries run (one INSERT per hold).
for (const staged of [false, true]) {
  const how = staged ? ' (staged)' : '';
  const tag = staged ? '-staged' : '';
  test(`held appends commit at commitRows${how}: nothing is visible (or acknowledged) before, all of it after`, async () => {
    const { cols } = await flows();
    const s = createEmbeddedStore(
      {
        dataDir: join(root, `rows${tag}`),
        threads: 1,
        stagedAppend: staged,
        commitRows: 100,
        commitDelayMs: 60_000,
      },
      { log: silentLogger },
    );
    await s.start();
    try {
      const acked: number[] = [];
      const parts = slices(cols, 30, 4);
      const done = parts.map((p, i) =>
        s.appendColumnParts('exported_flow', [p], { hold: true }).then(() => acked.push(i)),
      );
      // 30, 60, 90 rows held: below commitRows, so none acknowledged and none visible.
      await Promise.race([done[3], new Promise((r) => setTimeout(r, 300))]);
      const seen = await s.count('exported_flow', {});
      // The fourth (120 rows in all) passes commitRows: the four commit together.
      await Promise.all(done);
      assert.deepEqual(acked.sort(), [0, 1, 2, 3]);
      assert.ok(seen === 0 || seen === 120, `rows visible mid-hold: ${seen}`);
      assert.equal(await s.count('exported_flow', {}), 120);
      assert.equal(s.readStats.commits + s.readStats.stagedCommits, 1, 'one commit for the four appends');
      if (staged) assert.equal(s.readStats.stagedCommits, 1, 'through the staging table');
    } finally {
      await s.stop();
    }
  });

  test(`held rows commit after commitDelayMs, before another write, and at stop${how}; stored as the direct path stores them`, async () => {
    const { recs, cols } = await flows();
    const ref = createEmbeddedStore({ dataDir: join(root, `ref${tag}`), threads: 1 }, { log: silentLogger });
    const s = createEmbeddedStore(
      {
        dataDir: join(root, `delay${tag}`),
        threads: 1,
        stagedAppend: staged,
        commitRows: 1_000_000,
        commitDelayMs: 50,
      },
      { log: silentLogger },
    );
    await ref.start();
    await s.start();
    try {
      const [a, b, c] = slices(cols, 40, 3) as [Columnar, Columnar, Columnar];
      // 1) The delay: one held append, nothing follows, it commits on its own.
      await s.appendColumnParts('exported_flow', [a], { hold: true });
      assert.equal(await s.count('exported_flow', {}), 40);
      // 2) Another write (an object append) commits the held rows first.
      const held = s.appendColumnParts('exported_flow', [b], { hold: true });
      await s.append('exported_flow', recs.slice(0, 1) as never);
      await ref.append('exported_flow', recs.slice(0, 1) as never);
      assert.equal(await s.count('exported_flow', {}), 81, 'held rows committed before the other write');
      await held;
      // 3) Stop commits what is held.
      const last = s.appendColumnParts('exported_flow', [c], { hold: true });
      await s.stop();
      await last;
      const again = createEmbeddedStore(
        { dataDir: join(root, `delay${tag}`), threads: 1 },
        { log: silentLogger },
      );
      await again.start();
      for (const p of [a, b, c]) await ref.appendColumns('exported_flow', p);
      const items = (await again.list(q)).items;
      const got = strip(items);
      const want = strip((await ref.list(q)).items);
      await again.stop();
      assert.equal(got.length, 121);
      assert.deepEqual(got, want);
    } finally {
      await ref.stop();
    }
  });

  test(`feed with hold${how}: every offered row stored exactly once, the account exact while rows are held`, async () => {
    const { cols } = await flows();
    const s = createEmbeddedStore(
      {
        dataDir: join(root, `feed${tag}`),
        threads: 1,
        stagedAppend: staged,
        commitRows: 500,
        commitDelayMs: 100,
      },
      { log: silentLogger },
    );
    await s.start();
    try {
      const feed = new StoreFeed(s, { source: 'collector', maxBytes: 1e9, maxAppendRows: 64, hold: true });
      let offered = 0;
      for (const [i, p] of slices(cols, 37, 60).entries()) {
        offered += feed.offerColumns('exported_flow', p);
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        const st = feed.stats();
        assert.equal(st.offered, st.stored + st.queuedRows + st.inFlight + st.storeBehind);
      }
      await feed.drain();
      const st = feed.stats();
      assert.equal(offered, 37 * 60);
      assert.equal(st.stored, offered);
      assert.equal(st.inFlight, 0);
      assert.equal(st.queuedBytes, 0);
      assert.equal(await s.count('exported_flow', {}), offered);
      // Commits of about commitRows, not one per append.
      const commits = s.readStats.commits + s.readStats.stagedCommits;
      assert.ok(commits <= Math.ceil(offered / 500) + 1, `${commits} commits`);
      if (staged) assert.equal(s.readStats.commits, 0, 'every commit staged');
    } finally {
      await s.stop();
    }
  });

  test(`feed with hold${how}: batches leave the queue once DuckDB has copied them; acknowledged only at the commit`, async () => {
    const { cols } = await flows();
    const s = createEmbeddedStore(
      {
        dataDir: join(root, `copied${tag}`),
        threads: 1,
        stagedAppend: staged,
        commitRows: 1_000_000,
        commitDelayMs: 60_000,
      },
      { log: silentLogger },
    );
    await s.start();
    try {
      const feed = new StoreFeed(s, { source: 'collector', maxBytes: 1e9, hold: true });
      for (const p of slices(cols, 50, 4)) feed.offerColumns('exported_flow', p);
      // Until the store has copied them the batches weigh on the queue.
      assert.ok(feed.stats().queuedBytes > 0);
      for (let i = 0; i < 200 && feed.stats().queuedBytes > 0; i++)
        await new Promise((r) => setTimeout(r, 5));
      const mid = feed.stats();
      assert.equal(mid.queuedBytes, 0, 'copied batches no longer weigh on the queue');
      assert.equal(mid.inFlight, 200, 'but their rows are not acknowledged');
      assert.equal(mid.stored, 0);
      assert.equal(await s.count('exported_flow', {}), 0);
      // Stopping the store commits them; the feed then counts them stored.
      await s.stop();
      await feed.drain();
      assert.equal(feed.stats().stored, 200);
    } finally {
      await s.stop().catch(() => undefined);
    }
  });
}

test('holdWhileIdle false: a held append commits at once while nobody queries, and gathers in the staging table while queries run', async () => {
  const { cols } = await flows();
  const s = createEmbeddedStore(
    {
      dataDir: join(root, 'idle'),
      threads: 1,
      stagedAppend: 'while-reading',
      holdWhileIdle: false,
      commitRows: 100,
      commitDelayMs: 60_000,
    },
    { log: silentLogger },
  );
  await s.start();
  try {
    const [a, b, c, d, e] = slices(cols, 30, 5) as [Columnar, Columnar, Columnar, Columnar, Columnar];
    // Nobody has asked: acknowledged at once, one commit each, never staged.
    await s.appendColumnParts('exported_flow', [a], { hold: true });
    await s.appendColumnParts('exported_flow', [b], { hold: true });
    assert.equal(s.readStats.commits, 2);
    assert.equal(s.readStats.stagedCommits, 0);
    // A query just ended: the next appends are held in the staging table until commitRows.
    assert.equal(await s.count('exported_flow', {}), 60);
    const acked: number[] = [];
    const held: Promise<number>[] = [c, d, e].map((p, i) =>
      s.appendColumnParts('exported_flow', [p], { hold: true }).then(() => acked.push(i)),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(acked.length, 0, 'nothing acknowledged below commitRows');
    // 90 rows held; one more append passes commitRows and the four commit in one INSERT.
    held.push(s.appendColumnParts('exported_flow', [a], { hold: true }).then(() => acked.push(3)));
    await Promise.all(held);
    assert.deepEqual(acked.sort(), [0, 1, 2, 3]);
    assert.equal(s.readStats.stagedCommits, 1);
    assert.equal(s.readStats.commits, 2);
    assert.equal(await s.count('exported_flow', {}), 180);
  } finally {
    await s.stop();
  }
});
