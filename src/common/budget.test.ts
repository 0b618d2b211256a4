import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  capMallocArenas,
  defaultBudgetBytes,
  MALLOC_ARENAS,
  memoryBudget,
  parseBytes,
  trimMallocEvery,
} from './budget.js';

const MiB = 2 ** 20;

test('the default budget follows the machine RAM within its bounds', () => {
  assert.equal(defaultBudgetBytes(24 * 1024 * MiB), 768 * MiB);
  assert.equal(defaultBudgetBytes(4 * 1024 * MiB), 512 * MiB);
  assert.equal(defaultBudgetBytes(1024 * 1024 * MiB), 4096 * MiB);
});

test('the split adds up to the budget, DuckDB threads follow its share', () => {
  const b = memoryBudget(1024 * MiB, 8);
  const parts =
    b.duckdb +
    b.collectDecode +
    b.collectStore +
    b.liveStore +
    b.mirrorRing +
    b.events +
    b.uploads +
    b.detect +
    b.rest;
  assert.equal(parts, b.total);
  assert.ok(b.rest > 0);
  assert.ok(b.detect > 0 && b.detect < b.rest);
  assert.equal(b.duckdbThreads, Math.floor(b.duckdb / (128 * MiB)));
  assert.equal(memoryBudget(256 * MiB, 8).duckdbThreads, 1);
});

test('sizes parse with units; a bad one names the key', () => {
  assert.equal(parseBytes('memoryBudget', '768MB'), 768e6);
  assert.equal(parseBytes('memoryBudget', '2GiB'), 2 * 2 ** 30);
  assert.equal(parseBytes('memoryBudget', 1e9), 1e9);
  assert.throws(() => parseBytes('memoryBudget', 'lots'), /memoryBudget/);
  assert.throws(() => memoryBudget(100 * MiB), /memoryBudget/);
});

test('glibc arenas: MALLOC_ARENA_MAX in the environment wins, else the addon caps them at two', () => {
  assert.equal(capMallocArenas({ MALLOC_ARENA_MAX: '4' }), 4);
  let addon = true;
  try {
    createRequire(import.meta.url)('vantage-pcap');
  } catch {
    addon = false;
  }
  // Without the addon (an install without libpcap) nothing can be set, and it says so.
  assert.equal(capMallocArenas({}), addon ? MALLOC_ARENAS : null);
});

test("the addon's mallocInfo counts what glibc holds (the memory trace's glibc figures)", (t) => {
  let info: (() => { used: number; free: number; mapped: number }) | undefined;
  try {
    info = (createRequire(import.meta.url)('vantage-pcap') as { mallocInfo?: typeof info }).mallocInfo;
  } catch {}
  if (!info) {
    t.skip('the vantage-pcap addon is not built');
    return;
  }
  const before = info();
  // A Buffer this large is one malloc'd (mmapped) block outside V8's heap.
  const b = Buffer.allocUnsafeSlow(32 * MiB);
  b.fill(1);
  const during = info();
  assert.ok(during.used - before.used >= 32 * MiB, `in use ${before.used} → ${during.used}`);
  assert.ok(during.mapped >= during.used);
  assert.ok(before.free >= 0 && Number.isFinite(before.free));
});

test("the addon's mallocTrim gives the pages of glibc's free chunks back; the periodic trim can be turned off", async (t) => {
  let addon = true;
  try {
    createRequire(import.meta.url)('vantage-pcap');
  } catch {
    addon = false;
  }
  if (!addon) {
    // CI builds the addon: there a missing one is a failure, not a skip.
    if (process.env.CI === 'true') assert.fail('the vantage-pcap addon is not built');
    t.skip('the vantage-pcap addon is not built');
    return;
  }
  assert.equal(trimMallocEvery(0), null);
  const stop = trimMallocEvery(60_000);
  assert.equal(typeof stop, 'function');
  stop?.();
  // In a process of its own: 64 KiB Buffers (below glibc's mmap threshold, so carved from its
  // heap), one in eight kept, so the freed ones lie between live blocks where glibc's own trim
  // of the heap's top cannot reach them. Only malloc_trim gives their pages back.
  const child = `
    const a = require('vantage-pcap');
    const keep = [];
    let drop = [];
    for (let i = 0; i < 2048; i++) {
      const b = Buffer.allocUnsafeSlow(64 * 1024);
      b.fill(i & 255);
      (i % 8 === 0 ? keep : drop).push(b);
    }
    drop = null;
    const settle = () => new Promise((r) => setTimeout(r, 100));
    (async () => {
      for (let k = 0; k < 3; k++) { globalThis.gc(); await settle(); }
      const rss0 = process.memoryUsage.rss();
      const free = a.mallocInfo().free;
      const trimmed = a.mallocTrim();
      const rss1 = process.memoryUsage.rss();
      process.stdout.write(JSON.stringify({ rss0, rss1, free, trimmed, kept: keep.length }));
    })();
  `;
  const { execFileSync } = await import('node:child_process');
  const out = JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '-e', child], { encoding: 'utf8' }),
  ) as { rss0: number; rss1: number; free: number; trimmed: boolean };
  const freed = 1792 * 64 * 1024;
  assert.ok(out.free >= freed * 0.9, `glibc holds the freed blocks: ${out.free} free of ${freed}`);
  assert.equal(out.trimmed, true);
  assert.ok(out.rss0 - out.rss1 >= freed * 0.8, `RSS ${out.rss0} → ${out.rss1} (${freed} freed)`);
});
