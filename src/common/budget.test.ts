import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { type TestContext, test } from 'node:test';
import {
  capMallocArenas,
  defaultBudgetBytes,
  fixMallocMmapThreshold,
  ingestDuckdbLimit,
  MALLOC_ARENAS,
  MALLOC_MMAP_THRESHOLD,
  MALLOC_TRIM_MS,
  memoryBudget,
  parseBytes,
  trimMallocEvery,
  trimMsFromEnv,
} from './budget.js';

const MiB = 2 ** 20;

/** The vantage-pcap addon, or null (an install without libpcap). */
function addon(): Record<string, unknown> | null {
  try {
    return createRequire(import.meta.url)('vantage-pcap') as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Whether the addon is there; skipped without it on a developer's machine, failed in CI (which builds it). */
function needAddon(t: TestContext): boolean {
  if (addon()) return true;
  if (process.env.CI === 'true') assert.fail('the vantage-pcap addon is not built');
  t.skip('the vantage-pcap addon is not built');
  return false;
}

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
  // Without the addon (an install without libpcap) nothing can be set, and it says so.
  assert.equal(capMallocArenas({}), addon() ? MALLOC_ARENAS : null);
});

test("the addon's mallocInfo counts what glibc holds (the memory trace's glibc figures)", (t) => {
  if (!needAddon(t)) return;
  const info = addon()!.mallocInfo as () => { used: number; free: number; mapped: number };
  const before = info();
  // A Buffer this large is one malloc'd (mmapped) block outside V8's heap.
  const b = Buffer.allocUnsafeSlow(32 * MiB);
  b.fill(1);
  const during = info();
  assert.ok(during.used - before.used >= 32 * MiB, `in use ${before.used} → ${during.used}`);
  assert.ok(during.mapped >= during.used);
  assert.ok(before.free >= 0 && Number.isFinite(before.free));
});

test("ingest's DuckDB limit is a third of the store's share, never under 64 MiB", () => {
  assert.equal(ingestDuckdbLimit(memoryBudget(768 * MiB, 2)), 64 * MiB);
  assert.equal(ingestDuckdbLimit(memoryBudget(512 * MiB, 2)), 64 * MiB);
  assert.equal(ingestDuckdbLimit(memoryBudget(4096 * MiB, 2)), Math.floor((4096 * MiB * 0.25) / 3));
  assert.ok(ingestDuckdbLimit(memoryBudget(4096 * MiB, 2)) < memoryBudget(4096 * MiB, 2).duckdb);
});

test('the fixed mmap threshold: a block freed does not raise it, so the next large block gets a mapping of its own', (t) => {
  assert.equal(fixMallocMmapThreshold(MALLOC_MMAP_THRESHOLD, { MALLOC_MMAP_THRESHOLD_: '131072' }), 131072);
  if (!addon()) assert.equal(fixMallocMmapThreshold(MALLOC_MMAP_THRESHOLD, {}), null);
  if (!needAddon(t)) return;
  // In a child (glibc's settings are per process): an 8 MiB block is freed, which raises glibc's
  // default threshold to 8 MiB; then a 1 MiB block is made and the bytes in mappings of their
  // own are read before and after it.
  const budgetJs = new URL('./budget.js', import.meta.url).href;
  const script = `
    const { fixMallocMmapThreshold } = await import(${JSON.stringify(budgetJs)});
    const { createRequire } = await import('node:module');
    const b = createRequire(${JSON.stringify(budgetJs)})('vantage-pcap');
    const set = process.argv[1] === 'fix' ? fixMallocMmapThreshold(undefined, {}) : null;
    let big = new ArrayBuffer(8 << 20);
    new Uint8Array(big).fill(1);
    const withBig = b.mallocInfo().ownMappings;
    big = null;
    // V8 frees a dead ArrayBuffer's bytes after a collection, maybe on another thread: wait.
    for (let i = 0; i < 200 && b.mallocInfo().ownMappings > withBig - (8 << 20); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = b.mallocInfo().ownMappings;
    const keep = new ArrayBuffer(1 << 20);
    const after = b.mallocInfo().ownMappings;
    console.log(JSON.stringify({ set, grew: after - before, keep: keep.byteLength }));
  `;
  const env = { ...process.env };
  delete env.MALLOC_MMAP_THRESHOLD_;
  const run = (arg: string): { set: number | null; grew: number } => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, arg], {
      encoding: 'utf8',
      env,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { set: number | null; grew: number };
  };
  const fixed = run('fix');
  assert.equal(fixed.set, MALLOC_MMAP_THRESHOLD);
  assert.ok(fixed.grew >= 1 << 20, `fixed: the 1 MiB block's own mapping (${fixed.grew} bytes)`);
  // The default, for contrast: the raised threshold puts the same block in glibc's heap.
  assert.equal(run('default').grew, 0);
});

test("the addon's mallocTrim gives the pages of glibc's free chunks back; the periodic trim can be turned off", async (t) => {
  if (!needAddon(t)) return;
  assert.equal(trimMallocEvery(0), null);
  assert.equal(trimMsFromEnv(undefined), MALLOC_TRIM_MS);
  assert.equal(trimMsFromEnv('0'), 0);
  for (const bad of ['', 'often', '10', '-5', '1500.5', '99999999'])
    assert.throws(() => trimMsFromEnv(bad), /VANTAGE_MALLOC_TRIM_MS/, bad);
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
