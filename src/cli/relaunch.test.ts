import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { RELAUNCHED_ENV, relaunchArgv, START_SEMI_SPACE_MB } from './relaunch.js';

const FLAG = `--max-semi-space-size=${START_SEMI_SPACE_MB}`;

test('the start is run again with the flag after node’s own options, unless a semi-space is given', () => {
  const argv = ['/usr/bin/node', '/opt/vantage/bin/vantage.js', 'start', '--data', 'd'];
  assert.deepEqual(relaunchArgv('/usr/bin/node', ['--enable-source-maps'], argv, {}), [
    '/usr/bin/node',
    '--enable-source-maps',
    FLAG,
    '/opt/vantage/bin/vantage.js',
    'start',
    '--data',
    'd',
  ]);
  // Already started again (no loop), or the operator chose a size: on the command line, with
  // underscores, or in NODE_OPTIONS.
  assert.equal(relaunchArgv('/usr/bin/node', [], argv, { [RELAUNCHED_ENV]: '1' }), null);
  assert.equal(relaunchArgv('/usr/bin/node', ['--max-semi-space-size=16'], argv, {}), null);
  assert.equal(relaunchArgv('/usr/bin/node', ['--max_semi_space_size=2'], argv, {}), null);
  assert.equal(
    relaunchArgv('/usr/bin/node', [], argv, { NODE_OPTIONS: '--trace-gc --max-semi-space-size=4' }),
    null,
  );
  // A flag that only begins the same does not count.
  assert.notEqual(relaunchArgv('/usr/bin/node', ['--max-semi-space-size-x'], argv, {}), null);
});

let addon = true;
try {
  createRequire(import.meta.url)('vantage-pcap');
} catch {
  addon = false;
}

/**
 * A process that calls relaunchWithHeapFlags, then fills the young generation of its main thread
 * and of a worker started afterwards. It prints its pid before and after (execve keeps it), what
 * the function said, and each thread's new space at its largest.
 */
const CHILD = (relaunch: string) => `
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
const churn = () => {
  let keep = [];
  let most = 0;
  for (let i = 0; i < 2e6; i++) {
    keep.push({ a: i, b: [i, i + 1], s: 'x' + i });
    if (keep.length > 20000) keep = keep.slice(10000);
    if (i % 1000 === 0) most = Math.max(most, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
  }
  return most / 2 ** 20;
};
if (isMainThread) {
  process.stderr.write('pid ' + process.pid + '\\n');
  const { relaunchWithHeapFlags } = await import(${JSON.stringify(relaunch)});
  const said = relaunchWithHeapFlags();
  const main = churn();
  const w = new Worker(new URL(import.meta.url));
  w.once('message', (worker) => {
    process.stdout.write(JSON.stringify({ pid: process.pid, said, execArgv: process.execArgv, env: process.env.${RELAUNCHED_ENV} ?? null, main, worker }) + '\\n');
  });
} else parentPort.postMessage(churn());
`;

test('vantage start’s relaunch: same pid, stdio kept, the main thread’s young generation bounded, a worker’s not', {
  skip: addon ? false : 'the vantage-pcap addon is not built',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'relaunch-'));
  try {
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD(pathToFileURL(join(import.meta.dirname, 'relaunch.js')).href));
    const { NODE_OPTIONS: _, ...env } = process.env;
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // The script ran twice in one process: once before execve, once after.
    const pids = [...r.stderr.matchAll(/^pid (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, r.stderr);
    assert.equal(pids[0], pids[1]);
    const out = JSON.parse(r.stdout) as {
      pid: number;
      said: string;
      execArgv: string[];
      env: string | null;
      main: number;
      worker: number;
    };
    assert.equal(out.pid, r.pid);
    assert.ok(out.execArgv.includes(FLAG), out.execArgv.join(' '));
    assert.match(out.said, /started again/);
    // The marker is gone, so a `vantage start` this process runs starts itself again too.
    assert.equal(out.env, null);
    // Two semi-spaces of 8 MiB at most; V8's default let both threads' grow to 32 MiB here.
    assert.ok(out.main <= 2 * START_SEMI_SPACE_MB, `main thread new space ${out.main} MiB`);
    assert.ok(out.worker > 2 * START_SEMI_SPACE_MB, `worker new space ${out.worker} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
