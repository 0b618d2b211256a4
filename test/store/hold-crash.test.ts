import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-hold-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Run the child until it acknowledged `minAcks` batches, then SIGKILL it mid-hold. */
function runAndKill(minAcks: number): Promise<number[]> {
  const child = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'hold-crash-child.js'), dir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acks: number[] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child acknowledged only ${acks.length} batches in time`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const m = /^ack (flow|exported_flow) (\d+)$/.exec(buf.slice(0, nl));
        if (m) acks.push(Number(m[2]));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      // Into the next hold, with batches of both types appended and not yet committed.
      if (acks.length >= minAcks && !child.killed) setTimeout(() => child.kill('SIGKILL'), 25);
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (${signal})`));
      else resolve(acks);
    });
  });
}

it('a hold across types killed with SIGKILL: every acknowledged batch whole, commits all or nothing', async () => {
  const acked = await runAndKill(30);
  // The WAL replays at start; stop checkpoints it.
  const s = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
  await s.start();
  await s.stop();
  const db = await DuckDBInstance.create(join(dir, 'records.duckdb'));
  const c = await db.connect();
  const per = new Map<number, number>();
  for (const sql of [
    'SELECT flow_id // 1000, count(*) FROM live_flow GROUP BY 1',
    'SELECT bytes // 1000, count(*) FROM live_exported_flow GROUP BY 1',
  ])
    for (const [b, n] of (await c.runAndReadAll(sql)).getRows()) per.set(Number(b), Number(n));
  c.closeSync();
  db.closeSync();
  for (const b of acked) assert.equal(per.get(b), 500, `acknowledged batch ${b} stored whole`);
  for (const [b, n] of per)
    assert.equal(n, 500, `batch ${b}: ${n} rows, a batch is stored whole or not at all`);
  // A commit takes every batch held before it, of both types: what survived is the batches
  // offered up to one commit, with no gap (a type's rows lost from a commit would leave one).
  const stored = [...per.keys()].sort((a, b) => a - b);
  assert.deepEqual(
    stored,
    stored.map((_, i) => i),
    'the batches of whole commits, in order',
  );
  assert.ok(stored.length >= Math.max(...acked) + 1);
  assert.ok(acked.length >= 30);
});
