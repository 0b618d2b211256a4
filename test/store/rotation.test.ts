/**
 * Live generations (src/store/embedded/store.ts): a type's appends go to its newest live
 * table; a full one is closed, copied to Parquet and dropped in one transaction with the
 * manifest. A process killed at any step of that keeps every acknowledged row exactly once,
 * in the rows and in the top-N sums; appends are acknowledged while a compaction runs; a
 * query sees each row once at every step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/common/log.js';
import {
  createEmbeddedStore,
  type EmbeddedStore,
  STORE_STEPS,
  type StoreStep,
} from '../../src/store/embedded/store.js';
import { ROTATION_CFG, rotationBatch } from './rotation-data.js';

const CHILD = fileURLToPath(new URL('./rotation-child.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'vantage-rotation-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The `bytes` of every stored row (row i has bytes = i). */
async function storedIds(s: EmbeddedStore): Promise<number[]> {
  const ids: number[] = [];
  await s.stream({ type: 'exported_flow', fields: ['bytes'] }, (rows) => {
    for (const r of rows) ids.push(Number(r.bytes));
  });
  return ids;
}

/** Every acknowledged row once, no row twice, and the top-N sums equal to the rows' sums. */
async function assertExactlyOnce(
  s: EmbeddedStore,
  acked: Set<number>,
  sent: number,
  when: string,
): Promise<void> {
  const ids = await storedIds(s);
  const seen = new Set<number>();
  for (const i of ids) {
    assert.ok(!seen.has(i), `${when}: row ${i} stored twice`);
    assert.ok(i >= 0 && i < sent, `${when}: row ${i} was never sent`);
    seen.add(i);
  }
  for (const i of acked) assert.ok(seen.has(i), `${when}: acknowledged row ${i} lost`);
  assert.equal(await s.count('exported_flow', {}), ids.length, `${when}: count`);
  // The rollups (live chunks, compacted partitions' sums and totals) hold each row once too.
  const top = await s.top({ type: 'exported_flow', dim: 'src_ip', by: 'bytes', limit: 5000 });
  let bytes = 0;
  let flows = 0;
  for (const r of top) {
    bytes += r.bytes;
    flows += r.flows;
  }
  assert.equal(flows, ids.length, `${when}: top-N flows`);
  assert.equal(
    bytes,
    ids.reduce((a, b) => a + b, 0),
    `${when}: top-N bytes`,
  );
}

describe('live generations', () => {
  for (const step of STORE_STEPS) {
    it(`kill -9 at ${step}: every acknowledged row once after restart`, async () => {
      const dir = join(root, step.replace(':', '-'));
      const BATCHES = 40;
      const child = spawn(process.execPath, [CHILD, dir, step, '2', String(BATCHES)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
        child.once('exit', (c, sig) => r([c, sig])),
      );
      assert.equal(signal, 'SIGKILL', `the child reached ${step} twice (exit ${code}; ${out.slice(-200)})`);
      const acked = new Set<number>();
      for (const m of out.matchAll(/^acked (\d+) (\d+)$/gm))
        for (let i = Number(m[1]); i < Number(m[2]); i++) acked.add(i);
      assert.ok(acked.size > 0, 'appends were acknowledged before the kill');
      const sent = BATCHES * 500;

      const s = createEmbeddedStore({ dataDir: dir, ...ROTATION_CFG }, { log: silentLogger });
      await s.start();
      try {
        // At once (a closed generation's compaction resumes beside these reads), after it, and
        // after everything was compacted.
        await assertExactlyOnce(s, acked, sent, 'restarted');
        await s.compactionDone();
        await assertExactlyOnce(s, acked, sent, 'resumed');
        await s.compact(true);
        await assertExactlyOnce(s, acked, sent, 'compacted');
        assert.ok((await s.stats()).partitions > 0);
      } finally {
        await s.stop();
      }
    });
  }

  // A store that held the appends behind the compaction would wait here for ever: the timeout fails it.
  it('acknowledges appends while a compaction runs (and retention waits for it), and a query sees each row once at every step', {
    timeout: 300_000,
  }, async () => {
    let acked = 0;
    let inflight = 0;
    const ackWaiters: { at: number; resolve: () => void }[] = [];
    const during = new Map<number, number>();
    let compacting = -1;
    let compactions = 0;
    let s: EmbeddedStore;
    let finished = false;
    const retention: Promise<number>[] = [];
    // The hook runs inside the store's compaction, which logs and swallows what it throws.
    const failures: string[] = [];
    const onStep = async (step: StoreStep): Promise<void> => {
      if (step === 'compact:begun') {
        compacting = acked;
        // `vantage start` enforces retention every minute: that must not hold the appends
        // behind the compaction (it did: it waited for the compaction inside the write chain).
        retention.push(s.enforceRetention());
      }
      if (step === 'compact:copied' || step === 'compact:uncommitted' || step === 'compact:committed') {
        // A query now reads the closed generation or its files, never both, never neither.
        const a0 = acked;
        const n = await s.count('exported_flow', {});
        if (n < a0 || n > acked + inflight)
          failures.push(`${step}: counted ${n}, acknowledged ${a0}..${acked}`);
      }
      if (step === 'compact:uncommitted' && !finished) {
        // The generation is dropped in this open transaction: appends must still commit.
        const at = acked + 3 * 500;
        await new Promise<void>((resolve) => ackWaiters.push({ at, resolve }));
      }
      if (step === 'compact:checkpointed') {
        // Those that ran beside the appends (not one the last append started).
        if (!finished) during.set(compactions++, (acked - compacting) / 500);
        compacting = -1;
      }
    };
    s = createEmbeddedStore(
      { dataDir: join(root, 'beside'), ...ROTATION_CFG },
      {
        log: silentLogger,
        onStep: (st) => onStep(st).catch((e: unknown) => void failures.push(`${st}: ${String(e)}`)),
      },
    );
    await s.start();
    try {
      let b = 0;
      while (compactions < 3 && b < 400) {
        // A turn of the event loop between appends, as a real source gives (the feed waits for
        // the decode thread's messages): the compaction's DuckDB calls complete on this loop.
        await new Promise((r) => setImmediate(r));
        inflight = 500;
        await s.append('exported_flow', rotationBatch(b * 500, 500));
        b++;
        acked += 500;
        inflight = 0;
        for (const w of ackWaiters.splice(0)) {
          if (acked >= w.at) w.resolve();
          else ackWaiters.push(w);
        }
      }
      finished = true;
      for (const w of ackWaiters.splice(0)) w.resolve();
      await s.compactionDone();
      await Promise.all(retention);
      assert.deepEqual(failures, []);
      assert.ok(compactions >= 3, `${compactions} compactions in ${b} appends`);
      for (const [i, n] of during)
        assert.ok(n >= 3, `compaction ${i}: ${n} appends acknowledged while it ran`);
      const all = new Set(Array.from({ length: acked }, (_, i) => i));
      await assertExactlyOnce(s, all, acked, 'end');
    } finally {
      await s.stop();
    }
  });
});
