import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossLedger } from '../common/loss.js';
import type { Columnar } from './columnar.js';
import { StoreFeed } from './feed.js';
import type { Rec, RecordStore } from './types.js';

/** A store whose appends wait until released: the store "falls behind" on demand. */
function slowStore() {
  const rows: { type: string; packets: number; bytes: number; sampling_rate: number }[] = [];
  let gate: (() => void) | null = null;
  let blocked = true;
  const wait = () => (blocked ? new Promise<void>((r) => (gate = r)) : Promise.resolve());
  const store = {
    defs: [],
    async append(type: string, recs: readonly Rec[]) {
      await wait();
      for (const r of recs)
        rows.push({ type, packets: r.packets as number, bytes: r.bytes as number, sampling_rate: 1 });
    },
    async appendColumns(type: string, c: Columnar) {
      await wait();
      const nn = c.num.length;
      const [p, b, s] = ['packets', 'bytes', 'sampling_rate'].map((k) => c.num.indexOf(k));
      for (let k = 0; k < c.rows.length; k++) {
        const i = c.rows[k]!;
        rows.push({
          type,
          packets: c.f[i * nn + p!]!,
          bytes: c.f[i * nn + b!]!,
          sampling_rate: c.f[i * nn + s!]!,
        });
      }
    },
  } as unknown as RecordStore;
  return {
    store,
    rows,
    release() {
      blocked = false;
      gate?.();
    },
  };
}

/** `n` flow rows, 10 packets / 1000 bytes each, unsampled. */
function batch(n: number): Columnar {
  const num = ['packets', 'bytes', 'sampling_rate'];
  const f = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) f.set([10, 1000, 1], i * 3);
  return {
    num,
    str: ['src_ip'],
    f,
    s: new Int32Array(n).fill(0),
    dict: ['192.0.2.1'],
    rows: Uint32Array.from({ length: n }, (_, i) => i),
  };
}

test('a store that falls behind: the queue holds its bound, the rest is dropped and counted exactly', async () => {
  const { store, rows, release } = slowStore();
  const ledger = new LossLedger();
  const oneBatch = StoreFeed.weigh(batch(1000));
  const feed = new StoreFeed(store, { source: 'collector', maxBytes: oneBatch * 3 }, ledger);
  let accepted = 0;
  for (let i = 0; i < 20; i++) accepted += feed.offerColumns('exported_flow', batch(1000));
  const st = feed.stats();
  assert.equal(st.offered, 20_000);
  // What is kept is within the bound; the account is exact while the store is behind.
  assert.ok(st.queuedBytes <= oneBatch * 3);
  assert.equal(st.offered, st.stored + st.storeBehind + st.sampledOut + st.queuedRows + st.inFlight);
  assert.equal(ledger.total('collector', 'store_behind'), st.storeBehind);
  assert.ok(st.storeBehind > 0);
  assert.deepEqual(
    ledger.losing(60_000).map((e) => e.reason),
    ['store_behind'],
  );
  release();
  await feed.drain();
  const end = feed.stats();
  assert.equal(end.stored, accepted);
  assert.equal(rows.length, accepted);
  assert.equal(end.offered, end.stored + end.storeBehind);
});

test('sampling under overload keeps 1 in N and scales counters: sums stay unbiased, the rest is counted', async () => {
  const { store, rows, release } = slowStore();
  const ledger = new LossLedger();
  const oneBatch = StoreFeed.weigh(batch(1024));
  const feed = new StoreFeed(store, { source: 'collector', maxBytes: oneBatch * 8, sampling: true }, ledger);
  let offeredPackets = 0;
  for (let i = 0; i < 8; i++) {
    feed.offerColumns('exported_flow', batch(1024));
    offeredPackets += 1024 * 10;
  }
  release();
  await feed.drain();
  const st = feed.stats();
  assert.ok(st.sampledOut > 0, 'the queue filled past half: sampling started');
  assert.equal(st.offered, st.stored + st.sampledOut + st.storeBehind);
  assert.equal(st.storeBehind, 0);
  assert.equal(ledger.total('collector', 'sampled'), st.sampledOut);
  // Every kept row says how many it stands for; packets and bytes sum to what was offered.
  const sum = rows.reduce((a, r) => a + r.packets, 0);
  assert.equal(sum, offeredPackets);
  assert.equal(
    rows.reduce((a, r) => a + r.sampling_rate, 0),
    8 * 1024,
  );
  assert.ok(rows.some((r) => r.sampling_rate > 1));
});

test('a store error is counted on the source, never silent', async () => {
  const ledger = new LossLedger();
  const store = {
    defs: [],
    append: async () => {
      throw new Error('disk full');
    },
  } as unknown as RecordStore;
  const feed = new StoreFeed(store, { source: 'mirror.vxlan[0]', maxBytes: 1e9 }, ledger);
  feed.offerRecords('flow', [{ packets: 1 }, { packets: 2 }]);
  await feed.drain();
  assert.equal(feed.stats().storeErrors, 2);
  assert.equal(ledger.total('mirror.vxlan[0]', 'store_error'), 2);
});

test('what waited goes to the store as parts of one append, up to maxAppendRows rows', async () => {
  let gate: (() => void) | null = null;
  const calls: number[][] = [];
  const store = {
    defs: [],
    async append() {},
    async appendColumns() {
      throw new Error('the parts path is there: no concatenation');
    },
    async appendColumnParts(_type: string, parts: readonly Columnar[]) {
      calls.push(parts.map((p) => p.rows.length));
      if (calls.length === 1) await new Promise<void>((r) => (gate = r));
    },
  } as unknown as RecordStore;
  const feed = new StoreFeed(store, { source: 'collector', maxBytes: 1e9 });
  feed.offerColumns('exported_flow', batch(50_000));
  while (calls.length === 0) await new Promise((r) => setImmediate(r));
  // The first batch is in flight; five arrive and wait. The default bound is 196,608 rows per append.
  for (let i = 0; i < 5; i++) feed.offerColumns('exported_flow', batch(50_000));
  (gate as unknown as () => void)();
  await feed.drain();
  assert.deepEqual(calls, [[50_000], [50_000, 50_000, 50_000], [50_000, 50_000]]);
  assert.equal(feed.stats().stored, 300_000);
});

test('batches offered while a commit holds the event loop join the next append', async () => {
  const calls: number[][] = [];
  const store = {
    defs: [],
    async append() {},
    async appendColumnParts(_type: string, parts: readonly Columnar[]) {
      calls.push(parts.map((p) => p.rows.length));
    },
  } as unknown as RecordStore;
  const feed = new StoreFeed(store, { source: 'collector', maxBytes: 1e9 });
  // Offered in one turn of the loop, as a decode thread's messages arrive after a synchronous commit.
  for (let i = 0; i < 4; i++) feed.offerColumns('exported_flow', batch(1_000));
  await feed.drain();
  assert.deepEqual(calls, [[1_000, 1_000, 1_000, 1_000]]);
});
