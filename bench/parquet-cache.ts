/**
 * DuckDB's Parquet metadata cache against the store's memory budget (issue 21).
 *
 * The store's compacted parts are Parquet files that live until retention deletes them, so over
 * months a store reads tens of thousands of distinct files. With `parquet_metadata_cache` on,
 * DuckDB keeps every footer it decoded in its object cache, an LRU capped by the *estimated*
 * size of its entries against `memory_limit`. This probe measures what the cache really takes
 * (RSS, glibc) beside what DuckDB accounts for it (`duckdb_memory()`'s OBJECT_CACHE), for parts
 * shaped like the store's (41 columns, 10 row groups), written, read once and deleted as
 * retention would; and what the cache saves per query and per part.
 *
 * usage: node dist/bench/parquet-cache.js [parts, default 1500] [memory limit MB, default 192]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const PARTS = Number(process.argv[2] ?? 1500);
const LIMIT_MB = Number(process.argv[3] ?? 192);
const COLS = 41;
const ROWS = 40_000;
/** The store's parts hold 10 row groups (2M rows, 200k a group); the footer's size follows them. */
const GROUPS = 10;
const dir = mkdtempSync(join(tmpdir(), 'parquet-cache-'));

const select = (offset: number): string =>
  `SELECT ${Array.from({ length: COLS - 1 }, (_, i) => `(range * ${i + 7}) % ${997 + i} AS c${i}`).join(', ')}, range + ${offset} AS ts FROM range(${ROWS})`;

async function open(cache: boolean) {
  const db = await DuckDBInstance.create(':memory:', {
    memory_limit: `${LIMIT_MB}MB`,
    threads: '1',
    // File blocks are cached in the buffer pool (bounded by the limit, accounted at their size):
    // off, so that what grows here is the metadata cache alone.
    enable_external_file_cache: 'false',
  });
  const c = await db.connect();
  await c.run(`SET GLOBAL parquet_metadata_cache = ${cache}`);
  return { db, c };
}

const objectCache = async (c: Awaited<ReturnType<typeof open>>['c']): Promise<number> => {
  const r = await c.runAndReadAll(
    `SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'OBJECT_CACHE'`,
  );
  return Number(r.getRows()[0]?.[0] ?? 0);
};

/** Parts written, read once, deleted: RSS and the cache's accounted bytes along the way. */
async function churn(cache: boolean): Promise<void> {
  const { db, c } = await open(cache);
  const rss0 = process.memoryUsage().rss;
  const step = Math.max(1, Math.floor(PARTS / 10));
  const line: string[] = [];
  for (let i = 0; i < PARTS; i++) {
    const f = join(dir, `churn-${i}.parquet`);
    await c.run(`COPY (${select(i * ROWS)}) TO '${f}' (FORMAT parquet, ROW_GROUP_SIZE ${ROWS / GROUPS})`);
    await c.runAndReadAll(`SELECT count(*), sum(c3) FROM read_parquet('${f}') WHERE c1 > 5`);
    rmSync(f);
    if ((i + 1) % step === 0)
      line.push(
        `${i + 1}: +${((process.memoryUsage().rss - rss0) / 1e6).toFixed(0)} MB RSS, ${((await objectCache(c)) / 1e6).toFixed(0)} MB accounted`,
      );
  }
  process.stdout.write(`cache ${cache ? 'on ' : 'off'}: ${line.join('; ')}\n`);
  c.closeSync();
  db.closeSync();
}

/** CPU per query over P parts, with and without the cache, alternated. */
async function queries(): Promise<void> {
  const P = 40;
  const files: string[] = [];
  {
    const { db, c } = await open(false);
    for (let i = 0; i < P; i++) {
      const f = join(dir, `q-${i}.parquet`);
      files.push(`'${f}'`);
      if (!existsSync(f))
        await c.run(`COPY (${select(i * ROWS)}) TO '${f}' (FORMAT parquet, ROW_GROUP_SIZE ${ROWS / GROUPS})`);
    }
    c.closeSync();
    db.closeSync();
  }
  const list = `[${files.join(',')}]`;
  const qs = {
    'a narrow time range': `SELECT count(*) FROM read_parquet(${list}) WHERE ts BETWEEN ${ROWS * 20} AND ${ROWS * 20 + 1000}`,
    'a top-10 over every part': `SELECT c1, sum(c2) s FROM read_parquet(${list}) GROUP BY c1 ORDER BY s DESC LIMIT 10`,
  };
  const cpu: Record<string, number[]> = {};
  for (let round = 0; round < 3; round++)
    for (const cache of [true, false]) {
      const { db, c } = await open(cache);
      for (const [k, q] of Object.entries(qs)) {
        await c.runAndReadAll(q);
        const u0 = process.cpuUsage();
        for (let j = 0; j < 10; j++) await c.runAndReadAll(q);
        const u = process.cpuUsage(u0);
        const key = `${k}, cache ${cache ? 'on' : 'off'}`;
        cpu[key] = [...(cpu[key] ?? []), (u.user + u.system) / 1e4];
      }
      c.closeSync();
      db.closeSync();
    }
  for (const [k, v] of Object.entries(cpu))
    process.stdout.write(
      `${k}: ${Math.min(...v).toFixed(1)} ms CPU per query over ${P} parts (least of 3 rounds of 10)\n`,
    );
}

mkdirSync(dir, { recursive: true });
process.stdout.write(
  `# ${PARTS} parts of ${ROWS} rows x ${COLS} columns in ${GROUPS} row groups, memory_limit ${LIMIT_MB} MB, load ${loadavg()[0]!.toFixed(1)}\n`,
);
try {
  // Off first: memory the first run's cache freed may stay in the process and hide the second's.
  await churn(false);
  await churn(true);
  await queries();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
