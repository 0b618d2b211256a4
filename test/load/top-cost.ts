/**
 * Probe: the cost of the soak's dashboard query (top-10 `src_ip` by bytes of `exported_flow`)
 * on an idle store as it grows, at the memory and threads `vantage start` gives DuckDB under a
 * 768 MB budget. CPU seconds (process.cpuUsage: every thread of the process) beside wall, since
 * the machine is shared.
 *
 * usage: node dist/test/load/top-cost.js [checkpoints in M rows, e.g. 5,10,20]
 * Environment: BUDGET_MB (default 768), TOP_ROLLUPS=0 to query the raw rows only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportedFlowBatches } from '../../bench/store-columns.js';
import { columnarOf } from '../../src/collect/columns.js';
import { memoryBudget } from '../../src/common/budget.js';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import type { TopQuery } from '../../src/store/types.js';

const marks = (process.argv[2] ?? '5,10,20').split(',').map((x) => Number(x) * 1e6);
const budget = memoryBudget(Number.parseInt(process.env.BUDGET_MB ?? '768', 10) * 1e6);
const batches = exportedFlowBatches();
const dir = mkdtempSync(join(tmpdir(), 'top-cost-'));
const s = createEmbeddedStore(
  {
    dataDir: dir,
    memoryLimit: budget.duckdb,
    threads: budget.duckdbThreads,
  },
  { log: silentLogger },
);
await s.start();
const cpuS = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const queries: [string, TopQuery][] = [
  ['top src_ip by bytes', { type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 10 }],
  ['top dst_port by flows', { type: 'exported_flow', by: 'flows', dim: 'dst_port', limit: 10 }],
];
let n = 0;
let appendCpu = 0;
let appendWall = 0;
for (const mark of marks) {
  const c0 = cpuS();
  const w0 = performance.now();
  for (let k = 0; n < mark; k += 26) {
    const parts = Array.from({ length: 26 }, (_, j) => columnarOf(batches[(k + j) % batches.length]!).flows);
    await s.appendColumnParts('exported_flow', parts);
    for (const p of parts) n += p.rows.length;
  }
  await s.compactionDone();
  appendCpu += cpuS() - c0;
  appendWall += (performance.now() - w0) / 1000;
  const st = await s.stats();
  for (const [name, tq] of queries) {
    const runs: { wall: number; cpu: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const c1 = cpuS();
      const w1 = performance.now();
      await s.top({ ...tq, limit: tq.limit + i }); // a new query each time: no shared answer
      runs.push({ wall: performance.now() - w1, cpu: (cpuS() - c1) * 1000 });
    }
    runs.sort((a, b) => a.cpu - b.cpu);
    process.stdout.write(
      `${(n / 1e6).toFixed(1)}M rows (${st.partitions} partitions): ${name}: ${runs.map((r) => `${r.wall.toFixed(0)} ms wall / ${r.cpu.toFixed(0)} ms CPU`).join(', ')}; load ${loadavg()[0]!.toFixed(1)}\n`,
    );
  }
}
process.stdout.write(
  `# appends: ${n} rows, ${(n / appendWall / 1e3).toFixed(0)}k rows/s wall, ${(n / appendCpu / 1e3).toFixed(0)}k per CPU-s (compaction and rollups included); memory_limit ${(budget.duckdb / 2 ** 20).toFixed(0)} MiB, threads ${budget.duckdbThreads}\n`,
);
await s.stop();
rmSync(dir, { recursive: true, force: true });
