/**
 * Probe: glibc's bytes in use while the store runs the soak's dashboard query (top-10 `src_ip`
 * by bytes of `exported_flow`) again and again, past the store's 2-s cache, with a full GC
 * before each reading. What a query leaves behind shows here and not in the V8 heap (issue 21:
 * DuckDB's eviction queue keeps each query's block handles until it purges its dead entries).
 *
 * usage: node --expose-gc dist/bench/query-memory.js [queries per round, 200] [rounds, 12]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryBudget } from '../src/common/budget.js';
import { silentLogger } from '../src/common/log.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import { appendSoakMinute } from '../test/load/soak-rows.js';

const perRound = Number(process.argv[2]) || 200;
const rounds = Number(process.argv[3]) || 12;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const addon = createRequire(import.meta.url)('vantage-pcap') as {
  mallocInfo?: () => { used: number; free: number };
};
if (!addon.mallocInfo) throw new Error('the vantage-pcap addon has no mallocInfo (npm rebuild vantage-pcap)');
const mallocInfo = addon.mallocInfo;
const budget = memoryBudget(768e6);
const dir = mkdtempSync(join(tmpdir(), 'query-memory-'));
const s = createEmbeddedStore(
  { dataDir: dir, memoryLimit: budget.duckdb, threads: budget.duckdbThreads, compactRows: 1_000_000 },
  { log: silentLogger },
);
await s.start();
await appendSoakMinute(s, 0);
// The computation behind `top`, not its cache of identical requests (private: a probe).
const topNow = (s as unknown as { topNow(q: object): Promise<unknown> }).topNow.bind(s);
const query = () => topNow({ type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 10 });
const reading = (): string => {
  gc();
  const m = mallocInfo();
  return `glibc in use ${(m.used / 1e6).toFixed(2)} MB, V8 heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`;
};
process.stdout.write(`0 queries: ${reading()}\n`);
for (let r = 1; r <= rounds; r++) {
  for (let i = 0; i < perRound; i++) await query();
  await new Promise((res) => setTimeout(res, 100));
  process.stdout.write(`${r * perRound} queries: ${reading()}\n`);
}
await s.stop();
rmSync(dir, { recursive: true, force: true });
