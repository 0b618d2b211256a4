/**
 * Probe: the soak's dashboard query (top-10 `src_ip` by bytes of `exported_flow`, no time
 * range) on an idle store holding N minutes of history, 65,536 sources a minute as the soak's
 * sender makes them, compacted. Its cost grew with the minutes stored while it summed every
 * minute's rollup rows; it reads per-key totals now. CPU seconds of the process (all threads)
 * beside wall, since the machine is shared.
 *
 * usage: node dist/test/load/top-history.js [minutes, e.g. 2,10,30]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryBudget } from '../../src/common/budget.js';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import type { Rec } from '../../src/store/types.js';

const marks = (process.argv[2] ?? '2,10,30').split(',').map(Number);
const budget = memoryBudget(768e6);
const dir = mkdtempSync(join(tmpdir(), 'top-history-'));
const s = createEmbeddedStore(
  { dataDir: dir, memoryLimit: budget.duckdb, threads: budget.duckdbThreads, compactRows: 1_000_000 },
  { log: silentLogger },
);
await s.start();
const cpuS = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const T0 = Date.UTC(2026, 11, 6, 10) * 1000;
const iso = (us: number): string => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}000Z`;
const KEYS = 65_536;
let minute = 0;
for (const mark of marks) {
  for (; minute < mark; minute++) {
    for (let i = 0; i < KEYS; i += 8192) {
      const batch: Rec[] = [];
      for (let k = i; k < i + 8192; k++) {
        const t = iso(T0 + minute * 60_000_000 + k * 900);
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
  }
  await s.compact();
  const runs: { cpu: number; wall: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const c0 = cpuS();
    const w0 = performance.now();
    // Another limit each run, so it computes instead of sharing the last run's answer.
    await s.top({ type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 10 + i });
    runs.push({ cpu: (cpuS() - c0) * 1000, wall: performance.now() - w0 });
  }
  const st = await s.stats();
  const f = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  process.stdout.write(
    `${mark} minutes (${st.rows.exported_flow} rows, ${st.partitions} partitions): top-10 src_ip by bytes, no range: ${f(runs.map((r) => r.cpu))} ms CPU, ${f(runs.map((r) => r.wall))} ms wall; load ${loadavg()[0]!.toFixed(1)}\n`,
  );
}
await s.stop();
rmSync(dir, { recursive: true, force: true });
