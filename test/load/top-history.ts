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
import { appendSoakMinute } from './soak-rows.js';

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
let minute = 0;
for (const mark of marks) {
  for (; minute < mark; minute++) await appendSoakMinute(s, minute);
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
