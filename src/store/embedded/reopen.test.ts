/**
 * A checkpoint that cannot write (here: the file size limit, as a full disk would) is fatal
 * to DuckDB, which then invalidates the database: every statement fails until it is opened
 * again. The store opens it again by itself; no acknowledged row is lost (the WAL replays),
 * and appends and queries go on once the disk takes writes again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rotationBatch } from '../../../test/store/rotation-data.js';
import { silentLogger } from '../../common/log.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-reopen-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** This process's soft limit on the size of a file it writes (EFBIG past it). */
function fileSizeLimit(bytes: number | 'unlimited'): void {
  execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${bytes}:unlimited`]);
}

let havePrlimit = true;
try {
  execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
} catch {
  havePrlimit = false;
}

test('a fatal checkpoint error: the store opens the database again and loses nothing acknowledged', {
  skip: !havePrlimit && process.env.CI !== 'true' ? 'prlimit (util-linux) is missing' : false,
}, async () => {
  // Past the limit the kernel sends SIGXFSZ (fatal by default) and the write fails with EFBIG.
  process.on('SIGXFSZ', () => undefined);
  const dir = join(root, 'a');
  const errors: string[] = [];
  const log = {
    ...silentLogger,
    error: (m: string, f?: Record<string, unknown>) => {
      errors.push(`${m} ${String(f?.error ?? '')}`);
    },
  };
  const s = createEmbeddedStore(
    { dataDir: dir, threads: 1, walCheckpoint: '256KB', compactRows: 1_000_000, topRollups: {} },
    { log },
  );
  await s.start();
  const BATCH = 2000;
  let next = 0;
  const acked: number[] = [];
  const appendOne = async (): Promise<boolean> => {
    const from = next;
    next += BATCH;
    try {
      await s.append('exported_flow', rotationBatch(from, BATCH));
      acked.push(from);
      return true;
    } catch {
      return false;
    }
  };
  let reading = false;
  try {
    for (let i = 0; i < 5; i++) assert.ok(await appendOne());
    // Queries run throughout, as the API's do: their connections must not outlive the database.
    reading = true;
    const reader = (async () => {
      while (reading) await s.count('exported_flow', {}).catch(() => undefined);
    })();
    // The database file may not grow: the WAL (smaller) still takes the next appends, and
    // the first checkpoint past walCheckpoint fails to write.
    fileSizeLimit(statSync(join(dir, 'records.duckdb')).size);
    let failedAppends = 0;
    for (let i = 0; i < 40 && errors.length === 0; i++) if (!(await appendOne())) failedAppends++;
    assert.ok(
      errors.some((e) => /invalidated/.test(e)),
      `DuckDB invalidated the database: ${errors.join(' | ')}`,
    );
    // While the file cannot grow, opening it again fails too; the store says so and tries again.
    for (let i = 0; i < 3; i++) if (!(await appendOne())) failedAppends++;
    // Nothing is acknowledged that the database could not keep.
    assert.ok(failedAppends > 0, 'appends fail while the database file cannot grow');
    fileSizeLimit('unlimited');
    assert.ok(await appendOne(), 'appends are acknowledged once the disk takes writes again');
    assert.ok(s.reopens >= 1);
    for (let i = 0; i < 5; i++) assert.ok(await appendOne());
    reading = false;
    await reader;
    // Every reader connection in the pool answers (none of them is the invalidated database's).
    const counts = await Promise.all(Array.from({ length: 8 }, () => s.count('exported_flow', {})));
    assert.ok(counts.every((n) => n === counts[0]));
    const ids = new Set<number>();
    await s.stream({ type: 'exported_flow', fields: ['bytes'] }, (rows) => {
      for (const r of rows) ids.add(Number(r.bytes));
    });
    for (const from of acked)
      for (let i = from; i < from + BATCH; i++) assert.ok(ids.has(i), `acknowledged row ${i} lost`);
    assert.equal(await s.count('exported_flow', {}), ids.size, 'no row twice');
  } finally {
    reading = false;
    fileSizeLimit('unlimited');
    await s.stop();
  }
});
