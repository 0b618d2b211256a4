/**
 * Collected flows into the embedded store through the column path (`appendColumns`) against
 * the object path (`append`), same rows, same run: rows/s of the store alone. Batches are
 * what the collector's decode thread hands over (IPFIX, 30 records per datagram, 256
 * datagrams per batch), appended `coalesce` batches at a time as the store feed does.
 *
 * usage: node dist/bench/store-columns.js [rows]
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
}

export async function benchStoreColumns(
  rows = 2_000_000,
  log: (s: string) => void = (s) => {
    process.stdout.write(`${s}\n`);
  },
) {
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
  const results: StoreColumnsResult[] = [];
  for (const path of ['columns', 'staged', 'objects'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-store-cols-'));
    const s = createEmbeddedStore(
      {
        dataDir: dir,
        threads: 2,
        memoryLimit: Number(process.env.MEMORY_MB ?? 300) * 2 ** 20,
        stagedAppend: path === 'staged',
        ...(process.env.WAL ? { walCheckpoint: process.env.WAL } : {}),
      },
      { log: silentLogger },
    );
    await s.start();
    let n = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const limit = rows;
    const per = Number(process.env.COALESCE ?? 4);
    for (let k = 0; n < limit; k += per) {
      // Four decode batches per append, as the store feed coalesces what waited.
      const group = Array.from({ length: per }, (_, j) => batches[(k + j) % batches.length]!);
      if (path !== 'objects') {
        const c = concatColumnar(group.map((g) => columnarOf(g).flows));
        await s.appendColumns('exported_flow', c);
        n += c.rows.length;
      } else {
        const recs = group.flatMap((g) => decodeColumns(g)) as unknown as Rec[];
        await s.append('exported_flow', recs);
        n += recs.length;
      }
    }
    const sec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSec = (cpu.user + cpu.system) / 1e6;
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
    };
    results.push(r);
    log(
      `  store append (${path.padEnd(7)}) ${n} exported_flow rows: ${(r.rowsPerSec / 1e3).toFixed(0)}k rows/s, ${(r.rowsPerCpuSec / 1e3).toFixed(0)}k rows per CPU-second (all threads), event loop busy ${(busy * 100).toFixed(0)}%`,
    );
  }
  return results;
}

if (process.argv[1]?.endsWith('bench/store-columns.js')) {
  const n = Number(process.argv[2]) || undefined;
  await benchStoreColumns(n);
}
