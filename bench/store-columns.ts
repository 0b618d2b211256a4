/**
 * Collected flows into the embedded store through the column path (`appendColumnParts`)
 * against the object path (`append`), same rows, same run: rows/s of the store alone. Batches
 * are what the collector's decode thread hands over (IPFIX, 30 records per datagram, 256
 * datagrams = 7,680 records per batch), appended as the store feed does when rows wait:
 * COALESCE batches per commit (default 25: 192,000 rows, under the feed's 196,608).
 * Environment: COALESCE, MEMORY_MB (DuckDB memory limit, default 300), WAL, THREADS (default
 * 2), PATHS (default columns,held,objects; also staged, held-staged: held appends while queries run),
 * INSERT_FEED=0 (the appender's synchronous flush instead of `insertFeed`), COMPACT_ROWS (the store's compaction
 * threshold, default the store's 2M: past it the run includes compactions beside the appends).
 * Besides the rates it reports the longest append (wall): a compaction that held the appends
 * shows there.
 *
 * usage: node dist/bench/store-columns.js [rows]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { columnarOf, decodeColumns, encodeColumns } from '../src/collect/columns.js';
import { CollectDecoder } from '../src/collect/decoder.js';
import type { CollectedRecord } from '../src/collect/types.js';
import { silentLogger } from '../src/common/log.js';
import { concatColumnar } from '../src/store/columnar.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import type { Rec } from '../src/store/types.js';
import { ExportGen } from './collect.js';

export interface StoreColumnsResult {
  path: string;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  rowsPerCpuSec: number;
  eventLoopBusy: number;
  /** CPU-s of the main thread per million rows. */
  mainCpuPerMillion: number;
  /** The longest append, s (wall: a compaction that holds the appends shows here). */
  maxAppendSeconds: number;
  compactions: number;
}

/** CPU time of this process's main thread so far, seconds. */
function mainThreadCpu(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

/**
 * Column batches of collected flows as the decode thread hands them on: 8 batches of 256 IPFIX
 * messages (10 records each) from one generator, to be appended again and again.
 */
export function exportedFlowBatches(): ReturnType<typeof encodeColumns>[] {
  const gen = new ExportGen(10);
  const batches: ReturnType<typeof encodeColumns>[] = [];
  for (let b = 0; b < 8; b++) {
    const out: CollectedRecord[] = [];
    const d = new CollectDecoder({ communityId: true }, (r) => out.push(r));
    for (let i = 0; i < 256; i++) {
      const m = gen.next();
      d.decode(m, 0, m.length, '192.0.2.1', 2055, Date.now());
    }
    batches.push(encodeColumns(out));
  }
  return batches;
}

export async function benchStoreColumns(
  rows = 2_000_000,
  log: (s: string) => void = (s) => {
    process.stdout.write(`${s}\n`);
  },
) {
  const batches = exportedFlowBatches();
  const results: StoreColumnsResult[] = [];
  const paths = (process.env.PATHS ?? 'columns,held,objects').split(',') as (
    | 'columns'
    | 'held'
    | 'held-staged'
    | 'staged'
    | 'objects'
  )[];
  for (const path of paths) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-store-cols-'));
    const s = createEmbeddedStore(
      {
        dataDir: dir,
        threads: Number(process.env.THREADS ?? 2),
        memoryLimit: Number(process.env.MEMORY_MB ?? 300) * 2 ** 20,
        stagedAppend: path === 'staged' || path === 'held-staged',
        ...(process.env.WAL ? { walCheckpoint: process.env.WAL } : {}),
        ...(process.env.COMPACT_ROWS ? { compactRows: Number(process.env.COMPACT_ROWS) } : {}),
        ...(process.env.INSERT_FEED === '0' ? { insertFeed: false } : {}),
      },
      { log: silentLogger },
    );
    await s.start();
    let n = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const m0 = mainThreadCpu();
    const limit = rows;
    const per = Number(process.env.COALESCE ?? 25);
    const held = new Set<Promise<void>>();
    let heldRows = 0;
    let maxAppend = 0;
    for (let k = 0; n < limit; k += per) {
      // A turn of the event loop per commit, as the feed gives (it yields before it gathers
      // one): a compaction beside the appends completes its DuckDB calls on this loop.
      await new Promise((r) => setImmediate(r));
      const a0 = performance.now();
      const group = Array.from({ length: per }, (_, j) => batches[(k + j) % batches.length]!);
      if (path === 'held' || path === 'held-staged') {
        // As the feed hands batches to the store in `vantage start`: one decode batch per append,
        // not waiting for the previous one, committed by the store a row group at a time.
        for (const g of group) {
          const c = columnarOf(g).flows;
          held.add(s.appendColumnParts('exported_flow', [c], { hold: true }));
          heldRows += c.rows.length;
          n += c.rows.length;
        }
        if (heldRows >= 2 * 122_880) {
          await Promise.all(held);
          held.clear();
          heldRows = 0;
        }
      } else if (path === 'columns') {
        const parts = group.map((g) => columnarOf(g).flows);
        await s.appendColumnParts('exported_flow', parts);
        for (const p of parts) n += p.rows.length;
      } else if (path === 'staged') {
        const c = concatColumnar(group.map((g) => columnarOf(g).flows));
        await s.appendColumns('exported_flow', c);
        n += c.rows.length;
      } else {
        const recs = group.flatMap((g) => decodeColumns(g)) as unknown as Rec[];
        await s.append('exported_flow', recs);
        n += recs.length;
      }
      maxAppend = Math.max(maxAppend, performance.now() - a0);
    }
    await Promise.all(held);
    // Rows count as stored once acknowledged; a compaction still running is not waited for.
    const compactions = (s as { compactions?: number }).compactions ?? Number.NaN;
    const sec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSec = (cpu.user + cpu.system) / 1e6;
    const main = mainThreadCpu() - m0;
    const busy = performance.eventLoopUtilization(elu0).utilization;
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
    const r = {
      path,
      rows: n,
      seconds: sec,
      rowsPerSec: Math.round(n / sec),
      rowsPerCpuSec: Math.round(n / cpuSec),
      eventLoopBusy: busy,
      mainCpuPerMillion: (main / n) * 1e6,
      maxAppendSeconds: maxAppend / 1000,
      compactions,
    };
    results.push(r);
    log(
      `  store append (${path.padEnd(7)}) ${n} exported_flow rows: ${(r.rowsPerSec / 1e3).toFixed(0)}k rows/s, ${(r.rowsPerCpuSec / 1e3).toFixed(0)}k rows per CPU-second (all threads), main thread ${r.mainCpuPerMillion.toFixed(2)} CPU-s per 1M rows, event loop busy ${(busy * 100).toFixed(0)}%; ${path === 'held' ? '122,880' : Math.round(n / Math.ceil(n / (per * 7680)))} rows per commit; longest append ${r.maxAppendSeconds.toFixed(2)} s, ${compactions} compactions; goal ≥ 400k rows/s`,
    );
  }
  return results;
}

if (process.argv[1]?.endsWith('bench/store-columns.js')) {
  const n = Number(process.argv[2]) || undefined;
  await benchStoreColumns(n);
}
