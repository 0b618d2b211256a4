import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { niceThread, threadId, threadNice } from './priority.js';

const procfs = existsSync('/proc/thread-self');
// Thread priorities are read from /proc (Linux); CI runs on Linux, so there it is never skipped.
if (!procfs && process.env.CI === 'true') throw new Error('CI=true and this test needs /proc/thread-self');

test('a worker thread nices itself: the kernel reports the value on that thread only', {
  skip: !procfs && 'no /proc',
}, async () => {
  const src = `
    const { parentPort } = require('node:worker_threads');
    const { setPriority } = require('node:os');
    const { readlinkSync } = require('node:fs');
    parentPort.once('message', (m) => {
      const link = readlinkSync('/proc/thread-self');
      const tid = Number(link.slice(link.lastIndexOf('/') + 1));
      setPriority(tid, m);
      parentPort.postMessage(tid);
      parentPort.once('message', () => process.exit(0));
    });`;
  const w = new Worker(src, { eval: true });
  const before = threadNice(process.pid) ?? 0;
  w.postMessage(Math.min(19, before + 7));
  const tid = await new Promise<number>((r) => w.once('message', r));
  assert.notEqual(tid, process.pid);
  // ps reads the same field independently of this module's parser.
  const ps = execFileSync('ps', ['-L', '-o', 'tid=,ni=', '-p', String(process.pid)], { encoding: 'utf8' });
  const rows = new Map(
    ps
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]),
  );
  assert.equal(rows.get(tid), Math.min(19, before + 7));
  assert.equal(threadNice(tid), Math.min(19, before + 7));
  assert.equal(rows.get(process.pid), before, 'the main thread keeps its priority');
  w.postMessage('exit');
  await new Promise((r) => w.once('exit', r));
});

test('the calling thread: its id, and a nice value set and read back', {
  skip: !procfs && 'no /proc',
}, async () => {
  assert.equal(threadId(), process.pid, 'the main thread is the process');
  const src = `
    const { parentPort } = require('node:worker_threads');
    parentPort.once('message', async (m) => {
      const p = await import(m);
      const tid = p.threadId();
      const ok = p.niceThread(19);
      parentPort.postMessage({ tid, ok, nice: p.threadNice(tid) });
    });`;
  const w = new Worker(src, { eval: true });
  w.postMessage(new URL('./priority.js', import.meta.url).href);
  const r = await new Promise<{ tid: number; ok: boolean; nice: number }>((res) => w.once('message', res));
  await w.terminate();
  assert.ok(r.tid > 0 && r.tid !== process.pid);
  assert.equal(r.ok, true);
  assert.equal(r.nice, 19);
  assert.equal(niceThread(25), false, 'out of range: refused, nothing set');
  assert.equal(niceThread(5, 0), false, 'no thread id: refused');
});
