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
import type { Rec } from '../src/store/types.js';

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
const T0 = Date.UTC(2026, 11, 6, 10) * 1000;
const iso = (us: number): string => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}000Z`;
for (let i = 0; i < 65_536; i += 8192) {
  const batch: Rec[] = [];
  for (let k = i; k < i + 8192; k++) {
    const t = iso(T0 + k * 900);
    batch.push({
      source: 'ipfix',
      exporter: '192.0.2.1',
      exporter_port: 2055,
      observation_domain: 1,
      export_ts: t,
      first_ts: t,
      last_ts: t,
      duration_ms: 0,
      src_ip: `10.0.${k >> 8}.${k & 255}`,
      dst_ip: `192.168.${(k >> 12) & 255}.${(k >> 4) & 255}`,
      src_port: 1024 + (k % 60000),
      dst_port: 443,
      proto: 6,
      packets: 10,
      bytes: 5000 + (k % 97),
      packets_raw: 10,
      bytes_raw: 5000 + (k % 97),
      sampling_rate: 1,
    });
  }
  await s.append('exported_flow', batch);
}
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
