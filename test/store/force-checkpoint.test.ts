import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'vantage-force-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A forced checkpoint beside reads in their snapshots must not hang the store. DuckDB's FORCE
 * CHECKPOINT holds the lock that starts transactions and spins until the older ones end; a
 * read whose next statement waited for a thread of Node's pool behind statements blocked on
 * that lock never ended, and nothing moved again. With a pool of 2 the child hung within a
 * second or two before the store let its reads end first; it must now go on appending and
 * reading through many forced checkpoints.
 */
it('forced checkpoints beside snapshot reads: appends and reads go on (Node pool of 2 threads)', async () => {
  const seconds = 8;
  const child = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'force-checkpoint-child.js'), dir, String(seconds)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, UV_THREADPOOL_SIZE: '2' } },
  );
  let last = [0, 0, 0];
  let lastMove = Date.now();
  let done = false;
  let buf = '';
  const code = await new Promise<number | null>((resolve) => {
    // A child that printed no progress for 15 s is hung: killed, and the test fails below.
    const watch = setInterval(() => {
      if (Date.now() - lastMove > 15_000) child.kill('SIGKILL');
    }, 500);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (line === 'done') done = true;
        const m = /^progress (\d+) (\d+) (\d+)$/.exec(line);
        if (!m) continue;
        const now = [Number(m[1]), Number(m[2]), Number(m[3])];
        if (now[0] !== last[0] || now[1] !== last[1]) lastMove = Date.now();
        last = now;
      }
    });
    child.on('exit', (c) => {
      clearInterval(watch);
      resolve(c);
    });
  });
  const [appends, reads, forced] = last;
  assert.ok(
    done,
    `the store hung: ${appends} appends, ${reads} reads, ${forced} forced checkpoints, then nothing`,
  );
  assert.equal(code, 0);
  assert.ok(forced! >= 3, `only ${forced} forced checkpoints ran: the test did not test them`);
  assert.ok(appends! >= 5 && reads! >= 20, `${appends} appends and ${reads} reads`);
});
