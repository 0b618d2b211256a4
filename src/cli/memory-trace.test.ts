import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Collector } from '../collect/receiver.js';
import type { StoreFeed } from '../store/feed.js';
import { type MemorySample, startMemoryTrace } from './memory-trace.js';
import { memoryKinds } from './smaps.js';

const vmRss = (): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? 0) * 1024;

test('the kinds of mapping add up to the resident memory the kernel reports', () => {
  const before = vmRss();
  const k = memoryKinds('self');
  const after = vmRss();
  assert.ok(k);
  const sum = k.file + k.heap + k.small + k.arena64 + k.mid + k.big;
  // smaps and status are read a moment apart: within 5% of either reading.
  const lo = Math.min(before, after) * 0.95;
  const hi = Math.max(before, after) * 1.05;
  assert.ok(sum >= lo && sum <= hi, `kinds ${sum} against VmRSS ${before}..${after}`);
  assert.ok(k.file > 0, 'node itself is a mapped file');
});

test('a trace sample carries the store checkpoints and, when asked, the kinds of mapping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-trace-'));
  try {
    const collector = { stats: () => ({}) } as unknown as Collector;
    const feed = {
      stats: () => ({ queuedBytes: 5, queuedRows: 2, inFlight: 1, stored: 7 }),
    } as unknown as StoreFeed;
    const store = {
      checkpoints: { runs: 3, ms: 1500 },
      memoryUse: async () => ({ limit: 100, used: 40, temp: 0, tags: { IN_MEMORY_TABLE: 40 } }),
    };
    const readAll = async (withKinds: boolean): Promise<MemorySample[]> => {
      const path = join(dir, `t-${withKinds}.jsonl`);
      const t = startMemoryTrace(path, { store, collector, feed }, 20, 1 << 20, withKinds);
      const lines = (): string[] => readFileSync(path, 'utf8').split('\n').filter(Boolean);
      // Three samples 20 ms apart (well inside the 5 s between two walks of smaps), however
      // slowly a loaded machine takes them.
      for (let i = 0; i < 200 && lines().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      t.stop();
      return lines().map((l) => JSON.parse(l) as MemorySample);
    };
    const read = async (withKinds: boolean): Promise<MemorySample> => (await readAll(withKinds))[0]!;
    const all = await readAll(true);
    const s = all[0]!;
    // The walk of smaps is dear: the first sample has it, the next ones within 5 s do not.
    assert.ok(all.length >= 3, `${all.length} samples`);
    assert.deepEqual(
      all.slice(1).filter((x) => x.kinds),
      [],
    );
    assert.equal(s.checkpoints, 3);
    assert.equal(s.checkpointSeconds, 1.5);
    assert.equal(s.duckdb, 40);
    assert.equal(s.feedRows, 3);
    assert.ok(s.kinds && s.kinds.file > 0);
    const kinds = s.kinds.file + s.kinds.heap + s.kinds.small + s.kinds.arena64 + s.kinds.mid + s.kinds.big;
    assert.ok(Math.abs(kinds - s.rss) < 0.05 * s.rss, `kinds ${kinds} against the sample's RSS ${s.rss}`);
    assert.equal((await read(false)).kinds, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an ingest's trace: no collector or feed, the worker's heap from a getter, samples taken when due between blocks", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-trace-'));
  try {
    const path = join(dir, 'ingest.jsonl');
    let asked = 0;
    const store = {
      memoryUse: async () => {
        asked++;
        return { limit: 64, used: 10, temp: 0, tags: {} };
      },
    };
    // An interval the timer never reaches in this test: every sample is one `due` took.
    const t = startMemoryTrace(
      path,
      { store, workerHeap: () => ({ used: 7, total: 9, cpu: 0.5 }) },
      3_600_000,
      1 << 20,
      false,
    );
    assert.equal(t.due() instanceof Promise, true, 'the first call samples');
    assert.equal(t.due(), undefined, 'busy or not due: no second sample');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.due(), undefined, 'an hour has not passed');
    t.dropStore();
    t.stop();
    assert.equal(t.due(), undefined, 'stopped');
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const s = JSON.parse(lines[0]!) as MemorySample;
    assert.equal(asked, 1);
    assert.equal(s.duckdb, 10);
    assert.equal(s.workerHeapUsed, 7);
    assert.equal(s.workerHeapTotal, 9);
    assert.equal(s.feedRows, 0);
    assert.ok(s.vmRss !== undefined && s.vmRss > 0 && Math.abs(s.vmRss - vmRss()) < 0.2 * s.vmRss);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
