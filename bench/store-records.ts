/**
 * The store part of the main job alone (issue 13): every record `ingest --store` hands the
 * embedded store for a capture (flow, DNS, TLS, HTTP column batches of 131,072 rows as the
 * ingest cuts them, the other types as objects), made once by the sensor, then appended to a
 * fresh store per pass — start, appends, stop (the checkpoint) — with this build's store and
 * another's (`--base DIST`) alternated in one process. CPU seconds of every thread
 * (process.cpuUsage: DuckDB's and the GC's included) and of the main thread apart, since the
 * machine is shared. Both builds get the very same batches (flow ids included), so their
 * stored tables must hash the same: checked after each pass.
 *
 * usage: node --expose-gc dist/bench/store-records.js [capture] [--rounds N] [--base DIR/dist]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { threadCpuSeconds } from '../src/capture/workers/thread-cpu.js';
import { memoryBudget } from '../src/common/budget.js';
import { silentLogger } from '../src/common/log.js';
import { createSensor } from '../src/flow/sensor.js';
import type { Columnar } from '../src/store/columnar.js';
import type { Rec } from '../src/store/types.js';
import { cpuS, gcCount, opt, settleGc } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const FILE = args[0] && !args[0].startsWith('--') ? args[0] : `${ROOT}bench/out/realistic-1360000.pcap`;
const ROUNDS = Number(opt('rounds', '3'));
const BASE = opt('base', '');

type Item = { type: string; cols: Columnar } | { type: string; recs: Rec[] };

interface Pass {
  start: number;
  append: number;
  appendMain: number;
  stop: number;
  gc: number;
  digest: string;
}

async function records(file: string): Promise<{ items: Item[]; n: number }> {
  const items: Item[] = [];
  const objects = new Map<string, Rec[]>();
  let n = 0;
  const sensor = createSensor(
    (r) => {
      const a = objects.get(r.type);
      if (a) a.push(r as Rec);
      else objects.set(r.type, [r as Rec]);
      n++;
    },
    {
      columns: (type, cols) => {
        items.push({ type, cols });
        n += cols.rows.length;
      },
      columnRows: 131_072,
    },
  );
  await readCaptureFile(file, sensor.onFrame);
  sensor.finish();
  for (const [type, recs] of objects) items.push({ type, recs });
  return { items, n };
}

/** count and a hash of every live table's rows in `_seq` order. */
async function digest(dir: string): Promise<string> {
  const db = await DuckDBInstance.create(join(dir, 'records.duckdb'));
  const c = await db.connect();
  const h = createHash('sha256');
  const tables = (
    await c.runAndReadAll(
      "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'main' AND column_name = '_seq' ORDER BY 1",
    )
  ).getRows();
  for (const [t] of tables) {
    const r = await c.runAndReadAll(
      `SELECT count(*)::VARCHAR, coalesce(md5(string_agg(CAST(x AS VARCHAR), '\n' ORDER BY _seq)), '') FROM "${t}" x`,
    );
    h.update(`${t} ${r.getRows()[0]!.join(' ')}\n`);
  }
  c.closeSync();
  db.closeSync();
  return h.digest('hex').slice(0, 16);
}

async function pass(
  // biome-ignore lint/suspicious/noExplicitAny: the store module of either build
  mod: any,
  dir: string,
  items: Item[],
): Promise<Pass> {
  rmSync(dir, { recursive: true, force: true });
  const budget = memoryBudget();
  global.gc?.();
  await settleGc();
  const g0 = gcCount();
  const c0 = process.cpuUsage();
  const store = mod.createEmbeddedStore(
    { dataDir: dir, memoryLimit: budget.duckdb, threads: budget.duckdbThreads },
    { log: silentLogger },
  );
  await store.start();
  const c1 = process.cpuUsage();
  const m1 = threadCpuSeconds();
  for (const it of items) {
    if ('cols' in it) await store.appendColumns(it.type, it.cols);
    else await store.append(it.type, it.recs);
  }
  const c2 = process.cpuUsage();
  const m2 = threadCpuSeconds();
  await store.stop();
  const c3 = process.cpuUsage();
  await settleGc();
  const gc = gcCount() - g0;
  const p = {
    start: between(c0, c1),
    append: between(c1, c2),
    appendMain: m2 - m1,
    stop: between(c2, c3),
    gc,
    digest: await digest(dir),
  };
  rmSync(dir, { recursive: true, force: true });
  return p;
}

const between = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number =>
  cpuS({ user: b.user - a.user, system: b.system - a.system });

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor((s.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  gcCount();
  const { items, n } = await records(FILE);
  const builds: [string, unknown][] = [['this', await import('../src/store/embedded/store.js')]];
  if (BASE) builds.unshift(['base', await import(join(BASE, 'src/store/embedded/store.js'))]);
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-store-records-'));
  const res = new Map<string, Pass[]>();
  try {
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, mod] of builds) {
        const p = await pass(mod, join(tmp, name), items);
        if (!res.has(name)) res.set(name, []);
        res.get(name)!.push(p);
        process.stderr.write(
          `round ${r + 1} ${name}: start ${p.start.toFixed(2)} append ${p.append.toFixed(2)} (main ${p.appendMain.toFixed(2)}) stop ${p.stop.toFixed(2)} CPU-s, ${p.gc} GC, tables ${p.digest}\n`,
        );
      }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(
    `\n== the store part alone: ${n} records of ${FILE} (${ROUNDS} rounds, least / median CPU-s) ==\n`,
  );
  const fmt = (a: number[]): string => `${Math.min(...a).toFixed(3)} / ${median(a).toFixed(3)}`;
  for (const [name, ps] of res) {
    const tot = ps.map((p) => p.start + p.append + p.stop);
    process.stdout.write(
      `${name.padEnd(5)} start ${fmt(ps.map((p) => p.start))}  append ${fmt(ps.map((p) => p.append))} (main thread ${fmt(ps.map((p) => p.appendMain))})  stop ${fmt(ps.map((p) => p.stop))}  whole ${fmt(tot)}  GC ${median(ps.map((p) => p.gc))}  tables ${[...new Set(ps.map((p) => p.digest))].join(',')}\n`,
    );
  }
  const digests = new Set([...res.values()].flat().map((p) => p.digest));
  if (digests.size !== 1) {
    process.stdout.write('STORED TABLES DIFFER between passes\n');
    process.exitCode = 1;
  }
}

await main();
