/**
 * Feasibility of writing a bulk type's commits straight to Parquet parts on a worker thread
 * (issues 21 and 13), against the store's appender path, same batches, same run.
 *
 * - appender: the embedded store as `vantage start` drives it (`appendColumnParts`, COALESCE
 *   decode batches per commit), then `compact()` so every row ends in zstd Parquet as the
 *   direct path's do: appends, live rollups, checkpoints and the compaction's COPY all counted.
 * - direct: each commit's batches posted to one worker (`parquet-part-worker.ts`), which encodes a
 *   Parquet file of the compaction's format (arrow-rs via parquet-wasm, zstd), fsyncs and
 *   renames it; the main thread then registers it in a DuckDB catalog in one transaction
 *   (`_partitions` row plus the four top-N rollups read from the file, as a compaction writes
 *   them). Then the parts are merged into one file per MERGE_ROWS (DuckDB COPY from
 *   read_parquet), registered and the parts dropped in one transaction.
 *
 * Both stores are then read back by DuckDB: a count and a top-10 by bytes per src_ip over the
 * files, and every column's sum of hashes (each row's values, `_seq` aside) compared between the
 * two paths; the column types of a part as read (`parquetRead`) against the live table's.
 *
 * CPU: process.cpuUsage (every thread), the main thread's from /proc/self/task/PID/schedstat,
 * the worker's from its /proc/thread-self/schedstat.
 *
 * usage: node dist/bench/parquet-direct.js [rows]   (env: COALESCE=25, THREADS=2, MEMORY_MB=300,
 *   MERGE_ROWS=2000000, INFLIGHT=2, PATHS=appender,direct, ROUNDS=1, ROLLUPS=sql1|sql4|none,
 *   MERGE=copy|none, CHECK_ROLLUPS=1, DICT=text|all|none, ROW_GROUP=30720)
 *        node dist/bench/parquet-direct.js --encode [rounds]   the encoder alone on this thread:
 *   CPU-s per 1M rows of each stage, the writer's settings, and the rollups made in JS instead.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DuckDBInstance } from '@duckdb/node-api';
import { columnarOf } from '../src/collect/columns.js';
import { silentLogger } from '../src/common/log.js';
import { ALL_RECORDS } from '../src/schema/records.js';
import type { Columnar } from '../src/store/columnar.js';
import { columnsOf, createTableSql, parquetOptions, parquetRead } from '../src/store/embedded/schema.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import {
  DEFAULT_TOP_ROLLUPS,
  minuteOf,
  topMeasures,
  topRollupCreateSql,
  topRollupInsertSql,
  topRollupTable,
} from '../src/store/embedded/top-rollup.js';
import { isoToMicros } from '../src/store/values.js';
import { type EncodeOptions, encodePart } from './parquet-part.js';
import type { PartDone, PartJob } from './parquet-part-worker.js';
import { exportedFlowBatches } from './store-columns.js';

const def = ALL_RECORDS.find((d) => d.type === 'exported_flow')!;
const dims = DEFAULT_TOP_ROLLUPS.exported_flow ?? [];

function mainCpu(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}
function allCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Phase {
  name: string;
  wall: number;
  all: number;
  main: number;
  worker: number;
}

class Meter {
  phases: Phase[] = [];
  private t = 0;
  private a = 0;
  private m = 0;
  private w = 0;
  begin(workerCpu = 0): void {
    this.t = performance.now();
    this.a = allCpu();
    this.m = mainCpu();
    this.w = workerCpu;
  }
  end(name: string, workerCpu = 0): Phase {
    const p = {
      name,
      wall: (performance.now() - this.t) / 1000,
      all: allCpu() - this.a,
      main: mainCpu() - this.m,
      worker: workerCpu - this.w,
    };
    this.phases.push(p);
    return p;
  }
}

const fmt = (p: Phase, rows: number): string =>
  `${p.name.padEnd(22)} wall ${p.wall.toFixed(2).padStart(6)} s  all ${((p.all / rows) * 1e6).toFixed(2).padStart(5)} CPU-s/1M  main ${((p.main / rows) * 1e6).toFixed(2).padStart(5)}  worker ${((p.worker / rows) * 1e6).toFixed(2).padStart(5)}  (${Math.round(rows / p.wall / 1e3)}k rows/s wall, ${Math.round(rows / Math.max(p.all, 1e-9) / 1e3)}k rows per CPU-s)`;

function groups(batches: Columnar[][], rows: number, per: number): Columnar[][] {
  const out: Columnar[][] = [];
  let n = 0;
  for (let k = 0; n < rows; k += per) {
    const g: Columnar[] = [];
    for (let j = 0; j < per; j++) g.push(batches[(k + j) % batches.length]![0]!);
    for (const c of g) n += c.rows.length;
    out.push(g);
  }
  return out;
}

/** Columns' sums of row hashes over a relation: equal sums, equal columns (to a hash). */
async function fingerprint(con: Awaited<ReturnType<DuckDBInstance['connect']>>, rel: string) {
  const names = columnsOf(def).map((c) => `sum(hash("${c.name}"))::VARCHAR`);
  const r = await con.runAndReadAll(`SELECT count(*)::VARCHAR, ${names.join(', ')} FROM ${rel}`);
  return r.getRows()[0]!.map(String);
}

const readSel = (files: string[]): string => {
  const present = new Set(columnsOf(def).map((c) => c.name));
  return `(SELECT ${parquetRead(def, present)} FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}]))`;
};

async function readBack(dir: string, files: string[], log: (s: string) => void, label: string) {
  const db = await DuckDBInstance.create(':memory:', { threads: process.env.THREADS ?? '2' });
  const con = await db.connect();
  const m = new Meter();
  const rel = readSel(files);
  m.begin();
  const cnt = (await con.runAndReadAll(`SELECT count(*) FROM ${rel}`)).getRows()[0]![0];
  const pc = m.end('count');
  m.begin();
  const top = (
    await con.runAndReadAll(
      `SELECT src_ip::VARCHAR, sum(bytes)::VARCHAR AS b FROM ${rel} GROUP BY src_ip ORDER BY b DESC, 1 LIMIT 10`,
    )
  ).getRows();
  const pt = m.end('top10');
  const fp = await fingerprint(con, rel);
  const types = (await con.runAndReadAll(`DESCRIBE ${rel}`)).getRows().map((r) => `${r[0]}:${r[1]}`);
  log(
    `  read back ${label}: ${files.length} files, count ${cnt} in ${(pc.all * 1000).toFixed(0)} ms CPU (${(pc.wall * 1000).toFixed(0)} ms wall), top-10 src_ip by bytes ${(pt.all * 1000).toFixed(0)} ms CPU (${(pt.wall * 1000).toFixed(0)} ms wall) [${dir}]`,
  );
  con.closeSync();
  db.closeSync();
  return { count: String(cnt), top: JSON.stringify(top), fp, types };
}

/** The four rollups of one relation from one scan (GROUPING SETS), then split by dimension. */
function oneScanRollups(rel: string): string[] {
  const m = topMeasures(def);
  const sets = dims.map((d) => `(mi, "${d}")`).join(', ');
  const out = [
    `CREATE OR REPLACE TEMP TABLE _g AS SELECT GROUPING(${dims.map((d) => `"${d}"`).join(', ')}) AS gid, mi, ${dims.map((d) => `"${d}"`).join(', ')}, ${m.flows} AS flows, sum(${m.bytes}) AS bytes, sum(${m.packets}) AS packets FROM (SELECT *, ${minuteOf(def)} AS mi FROM ${rel}) GROUP BY GROUPING SETS (${sets})`,
  ];
  dims.forEach((d, i) => {
    const gid = ((1 << dims.length) - 1) ^ (1 << (dims.length - 1 - i));
    out.push(
      `INSERT INTO ${topRollupTable(def, d)} SELECT $1, mi, "${d}", flows, bytes, packets FROM temp.main._g WHERE gid = ${gid}`,
    );
  });
  out.push('DROP TABLE temp.main._g');
  return out;
}

async function appenderPath(gs: Columnar[][], log: (s: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pq-app-'));
  const s = createEmbeddedStore(
    {
      dataDir: dir,
      threads: Number(process.env.THREADS ?? 2),
      memoryLimit: Number(process.env.MEMORY_MB ?? 300) * 2 ** 20,
    },
    { log: silentLogger },
  );
  await s.start();
  const m = new Meter();
  const whole = new Meter();
  whole.begin();
  m.begin();
  let n = 0;
  for (const g of gs) {
    await new Promise((r) => setImmediate(r));
    await s.appendColumnParts('exported_flow', g);
    for (const c of g) n += c.rows.length;
  }
  const pa = m.end('appends (acknowledged)');
  m.begin();
  await s.compactionDone();
  await s.compact(true);
  await s.compactionDone();
  const pc = m.end('compact the rest');
  await s.stop();
  const pw = whole.end('appender total');
  for (const p of [pa, pc, pw]) log(`  appender ${fmt(p, n)}`);
  const db = await DuckDBInstance.create(join(dir, 'records.duckdb'));
  const con = await db.connect();
  const files = (await con.runAndReadAll("SELECT path FROM _partitions WHERE type = 'exported_flow'"))
    .getRows()
    .map((r) => join(dir, String(r[0])));
  const live = (
    await con.runAndReadAll(
      "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'live_exported_flow%'",
    )
  ).getRows();
  con.closeSync();
  db.closeSync();
  // The live table's column types, for the type check of the direct path's files.
  const tdb = await DuckDBInstance.create(':memory:');
  const tcon = await tdb.connect();
  await tcon.run(createTableSql(def, 't'));
  const liveTypes = (await tcon.runAndReadAll('DESCRIBE t')).getRows().map((r) => `${r[0]}:${r[1]}`);
  tcon.closeSync();
  tdb.closeSync();
  log(`  appender: ${files.length} Parquet files, live tables left ${live.length}`);
  return { dir, files, rows: n, phases: [pa, pc, pw], liveTypes };
}

async function directPath(gs: Columnar[][], log: (s: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pq-dir-'));
  const worker = new Worker(new URL('./parquet-part-worker.js', import.meta.url));
  let workerCpu = 0;
  const pending = new Map<number, (d: PartDone) => void>();
  worker.on('message', (d: PartDone) => {
    workerCpu = d.cpu;
    pending.get(d.id)?.(d);
    pending.delete(d.id);
  });
  const db = await DuckDBInstance.create(join(dir, 'records.duckdb'), {
    threads: process.env.THREADS ?? '2',
    memory_limit: `${Number(process.env.MEMORY_MB ?? 300)}MB`,
    preserve_insertion_order: 'false',
  });
  const w = await db.connect();
  await w.run(
    'CREATE TABLE _partitions (type VARCHAR, path VARCHAR, min_ts BIGINT, max_ts BIGINT, rows BIGINT, bytes BIGINT, max_seq BIGINT, columns VARCHAR)',
  );
  for (const d of dims) for (const sql of topRollupCreateSql(def, d)) await w.run(sql);
  // A warm-up job: the worker's module load and wasm compile are a start-up cost, not per row.
  await new Promise<PartDone>((res) => {
    pending.set(0, res);
    const job: PartJob = {
      id: 0,
      type: 'exported_flow',
      parts: [gs[0]![0]!],
      seq0: 0,
      path: join(dir, 'warm.parquet'),
    };
    worker.postMessage(job);
  });
  const w0 = workerCpu;
  const m = new Meter();
  m.begin(w0);
  const inflight = Number(process.env.INFLIGHT ?? 2);
  // Top-N rollups of a part: one DuckDB scan per dimension (as a compaction's are made from
  // live rows), one scan with GROUPING SETS, or none.
  const rollups = process.env.ROLLUPS ?? 'sql1';
  const merge = process.env.MERGE ?? 'copy';
  const rowGroup = process.env.ROW_GROUP ? Number(process.env.ROW_GROUP) : undefined;
  let seq = 0;
  let n = 0;
  let id = 1;
  const parts: { path: string; rows: number }[] = [];
  const running: Promise<void>[] = [];
  let chain = Promise.resolve();
  for (const g of gs) {
    await new Promise((r) => setImmediate(r));
    let gr = 0;
    for (const c of g) gr += c.rows.length;
    const seq0 = seq;
    seq += gr;
    const rel = join('parquet', 'exported_flow', 'day', `p${String(seq).padStart(12, '0')}.parquet`);
    const job: PartJob = { id: id++, type: 'exported_flow', parts: g, seq0, path: join(dir, rel) };
    job.opts = {
      ...(rowGroup !== undefined ? { rowGroupRows: rowGroup } : {}),
      ...(process.env.DICT ? { dictionary: process.env.DICT as 'text' | 'all' | 'none' } : {}),
    };
    const done = new Promise<PartDone>((res) => pending.set(job.id, res));
    worker.postMessage(job);
    // Registration in commit order (a chain), so `_seq` order and the catalog agree.
    const p = done.then((d) => {
      chain = chain.then(async () => {
        if (d.error) throw new Error(d.error);
        const meta = d.meta!;
        await w.run('BEGIN TRANSACTION');
        if (rollups === 'sql4')
          for (const dim of dims)
            await w.run(topRollupInsertSql(def, dim, readSel([join(dir, rel)]), 'true'), [rel]);
        else if (rollups === 'sql1')
          for (const sql of oneScanRollups(readSel([join(dir, rel)])))
            await w.run(sql, sql.includes('$1') ? [rel] : []);
        await w.run('INSERT INTO _partitions VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
          'exported_flow',
          rel,
          String(meta.minTs),
          String(meta.maxTs),
          String(meta.rows),
          String(d.bytes),
          String(meta.maxSeq),
          '@2',
        ]);
        await w.run('COMMIT');
        parts.push({ path: rel, rows: meta.rows });
        n += meta.rows;
      });
      return chain;
    });
    running.push(p);
    if (running.length >= inflight) await running.shift();
  }
  await Promise.all(running);
  const pa = m.end('parts (acknowledged)', workerCpu);
  const pr = await readBack(
    dir,
    parts.map((p) => join(dir, p.path)),
    log,
    'direct parts, before the merge',
  );
  // Merge: parts into files of MERGE_ROWS rows.
  m.begin(workerCpu);
  const mergeRows = Number(process.env.MERGE_ROWS ?? 2_000_000);
  const merged: string[] = [];
  let i = 0;
  while (merge === 'copy' && i < parts.length) {
    const batch: typeof parts = [];
    let r = 0;
    while (i < parts.length && (r < mergeRows || batch.length === 0)) {
      r += parts[i]!.rows;
      batch.push(parts[i++]!);
    }
    const rel = join('parquet', 'exported_flow', 'day', `m${String(i).padStart(12, '0')}.parquet`);
    const abs = join(dir, rel);
    const list = batch.map((p) => `'${join(dir, p.path)}'`).join(', ');
    await w.run(`COPY (SELECT * FROM read_parquet([${list}])) TO '${abs}' (${parquetOptions()})`);
    await w.run('BEGIN TRANSACTION');
    const paths = batch.map((p) => `'${p.path}'`).join(', ');
    for (const dim of dims)
      await w.run(`UPDATE _rtop_exported_flow__${dim} SET path = $1 WHERE path IN (${paths})`, [rel]);
    await w.run(`DELETE FROM _partitions WHERE path IN (${paths})`);
    await w.run("INSERT INTO _partitions VALUES ('exported_flow', $1, 0, 0, $2, 0, 0, '@2')", [
      rel,
      String(r),
    ]);
    await w.run('COMMIT');
    for (const p of batch) rmSync(join(dir, p.path));
    merged.push(abs);
  }
  const pm = m.end('merge parts', workerCpu);
  await w.run('CHECKPOINT');
  w.closeSync();
  db.closeSync();
  const pw = {
    name: 'direct total',
    wall: pa.wall + pm.wall,
    all: pa.all + pm.all,
    main: pa.main + pm.main,
    worker: pa.worker + pm.worker,
  };
  for (const p of [pa, pm, pw]) log(`  direct   ${fmt(p, n)}`);
  log(`  direct: ${parts.length} parts → ${merged.length} merged files (rollups ${rollups}, merge ${merge})`);
  if (process.env.CHECK_ROLLUPS) {
    const c2 = await (await DuckDBInstance.create(join(dir, 'records.duckdb'))).connect();
    for (const dim of dims) {
      const r = await c2.runAndReadAll(
        `SELECT count(*)::VARCHAR, sum(flows)::VARCHAR, sum(bytes)::VARCHAR, sum(hash(k, minute, flows, bytes, packets))::VARCHAR FROM ${topRollupTable(def, dim)}`,
      );
      log(`    rollup ${dim}: ${r.getRows()[0]!.join(' ')}`);
    }
    c2.closeSync();
  }
  await worker.terminate();
  return {
    dir,
    files: merged.length > 0 ? merged : parts.map((p) => join(dir, p.path)),
    rows: n,
    phases: [pa, pm, pw],
    partsRead: pr,
  };
}

export async function benchParquetDirect(
  rows = 2_400_000,
  log: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
) {
  const per = Number(process.env.COALESCE ?? 25);
  const batches = exportedFlowBatches().map((b) => [columnarOf(b).flows]);
  const gs = groups(batches, rows, per);
  const paths = (process.env.PATHS ?? 'appender,direct').split(',');
  const rounds = Number(process.env.ROUNDS ?? 1);
  log(
    `parquet-direct: ${rows} exported_flow rows, ${gs.length} commits of ~${per * 7680} rows, load ${load()}`,
  );
  let a: Awaited<ReturnType<typeof appenderPath>> | null = null;
  let d: Awaited<ReturnType<typeof directPath>> | null = null;
  for (let r = 0; r < rounds; r++)
    for (const p of paths) {
      if (a && p === 'appender') rmSync(a.dir, { recursive: true, force: true });
      if (d && p === 'direct') rmSync(d.dir, { recursive: true, force: true });
      if (p === 'appender') a = await appenderPath(gs, log);
      else d = await directPath(gs, log);
      log(`  (load ${load()})`);
    }
  if (a && d) {
    const ra = await readBack(a.dir, a.files, log, 'appender files');
    const rd = await readBack(d.dir, d.files, log, 'direct merged files');
    const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
    log(
      `  same count: ${same(ra.count, rd.count)}; same top-10: ${same(ra.top, rd.top)}; same column hashes: ${same(ra.fp, rd.fp)}`,
    );
    if (!same(ra.fp, rd.fp)) {
      const names = ['count', ...columnsOf(def).map((c) => c.name)];
      for (let i = 0; i < ra.fp.length; i++)
        if (ra.fp[i] !== rd.fp[i]) log(`    differs: ${names[i]} ${ra.fp[i]} vs ${rd.fp[i]}`);
    }
    const typesOk = same(rd.types, a.liveTypes);
    log(
      `  types as read = live table's: ${typesOk}${typesOk ? '' : `\n    read ${rd.types.join(' ')}\n    live ${a.liveTypes.join(' ')}`}`,
    );
    const sizeOf = (fs: string[]) => fs.reduce((s, f) => s + Number(readFileSync(f).length), 0);
    log(`  bytes: appender files ${sizeOf(a.files)}, direct merged ${sizeOf(d.files)}`);
    rmSync(a.dir, { recursive: true, force: true });
    rmSync(d.dir, { recursive: true, force: true });
  }
  return { appender: a?.phases, direct: d?.phases };
}

/**
 * The encoder alone on this thread, one commit's 25 batches (192,000 rows) per round: its stages
 * (fill the Arrow vectors, Arrow IPC, into wasm memory, arrow-rs write with zstd), then the
 * writer's settings one at a time, then the four top-N rollups made in JS from the same batches
 * (what a part writer would have to do to spare DuckDB a scan of each part).
 */
export function benchEncode(rounds = 6, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)) {
  const batches = exportedFlowBatches().map((b) => columnarOf(b).flows);
  const g = Array.from({ length: 25 }, (_, j) => batches[j % batches.length]!);
  const cpu = (): number => allCpu();
  log(`encode: 25 batches, ${g.reduce((a, c) => a + c.rows.length, 0)} rows per round, load ${load()}`);
  encodePart(def, g, 0);
  const stages = [0, 0, 0, 0];
  let rows = 0;
  for (let i = 0; i < rounds; i++) rows += encodePart(def, g, 0, { stages }).meta.rows;
  const per = (x: number): string => ((x / rows) * 1e6).toFixed(2);
  log(
    `  stages, CPU-s per 1M rows: fill ${per(stages[0]!)}, Arrow IPC ${per(stages[1]!)}, into wasm ${per(stages[2]!)}, Parquet write ${per(stages[3]!)}; sum ${per(stages.reduce((a, b) => a + b))}`,
  );
  const variants: [string, EncodeOptions][] = [
    ['default (dictionary for text, delta ints, chunk statistics, zstd)', {}],
    ['dictionary for every column', { dictionary: 'all' }],
    ['no dictionary', { dictionary: 'none' }],
    ['no statistics', { statistics: 'none' }],
    ['uncompressed', { compression: 'none' }],
    ['lz4', { compression: 'lz4' }],
  ];
  for (const [name, v] of variants) {
    let best = Number.POSITIVE_INFINITY;
    let size = 0;
    for (let i = 0; i < Math.max(2, rounds >> 1); i++) {
      const c0 = cpu();
      const r = encodePart(def, g, 0, v);
      best = Math.min(best, (cpu() - c0) / r.meta.rows);
      size = r.bytes.length;
    }
    log(
      `  ${name.padEnd(66)} least ${(best * 1e6).toFixed(2)} CPU-s per 1M rows, ${(size / 192_000).toFixed(1)} B/row`,
    );
  }
  let best = Number.POSITIVE_INFINITY;
  let sizes = '';
  for (let i = 0; i < rounds; i++) {
    const c0 = cpu();
    const r = jsRollups(g);
    best = Math.min(best, (cpu() - c0) / r.rows);
    sizes = r.sizes.join(', ');
  }
  log(
    `  rollups in JS (4 dimensions, per minute): least ${(best * 1e6).toFixed(2)} CPU-s per 1M rows; rollup rows ${sizes} (still to be inserted)`,
  );
}

/** The four rollups (minute, key) → flows, bytes, packets of one part's batches, in JS maps. */
function jsRollups(g: readonly Columnar[]): { rows: number; sizes: number[] } {
  const first = g[0]!;
  const nn = first.num.length;
  const ns = first.str.length;
  const tsI = first.str.indexOf(def.timeField);
  const ipI = [first.str.indexOf('src_ip'), first.str.indexOf('dst_ip')];
  const numI = [first.num.indexOf('dst_port'), first.num.indexOf('proto')];
  const bI = first.num.indexOf('bytes');
  const pI = first.num.indexOf('packets');
  const ids = new Map<string, number>();
  const aggs = [0, 1, 2, 3].map(() => ({
    at: new Map<number, number>(),
    sums: new Float64Array(3 << 18),
  }));
  const add = (k: number, key: number, by: number, pk: number): void => {
    const a = aggs[k]!;
    let s = a.at.get(key);
    if (s === undefined) {
      s = a.at.size;
      a.at.set(key, s);
    }
    a.sums[s * 3]! += 1;
    a.sums[s * 3 + 1]! += by;
    a.sums[s * 3 + 2]! += pk;
  };
  let rows = 0;
  for (const p of g) {
    const idOf = new Int32Array(p.dict.length).fill(-1);
    const minuteOfEntry = new Float64Array(p.dict.length).fill(-1);
    for (let q = 0; q < p.rows.length; q++) {
      const i = p.rows[q]!;
      rows++;
      const td = p.s[i * ns + tsI]!;
      let mi = td < 0 ? 0 : minuteOfEntry[td]!;
      if (mi < 0) {
        mi = Math.floor(isoToMicros(p.dict[td]!) / 60e6);
        minuteOfEntry[td] = mi;
      }
      const m = (mi % 4096) * 2 ** 24;
      const by = p.f[i * nn + bI]! || 0;
      const pk = p.f[i * nn + pI]! || 0;
      for (let k = 0; k < 2; k++) {
        const d = p.s[i * ns + ipI[k]!]!;
        let id = -1;
        if (d >= 0) {
          id = idOf[d]!;
          if (id < 0) {
            const t = p.dict[d]!;
            id = ids.get(t) ?? ids.size;
            ids.set(t, id);
            idOf[d] = id;
          }
        }
        add(k, m + id + 1, by, pk);
      }
      for (let k = 0; k < 2; k++) {
        const x = p.f[i * nn + numI[k]!]!;
        add(2 + k, m + (Number.isNaN(x) ? 0 : x + 1), by, pk);
      }
    }
  }
  return { rows, sizes: aggs.map((a) => a.at.size) };
}

if (process.argv[1]?.endsWith('bench/parquet-direct.js')) {
  if (process.argv[2] === '--encode') benchEncode(Number(process.argv[3]) || undefined);
  else await benchParquetDirect(Number(process.argv[2]) || undefined);
}
