import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { searchToStream } from '../../src/pcapstore/search.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { fixture } from '../support/fixtures.js';
import { tcpdumpSkip } from './helpers.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

describe('crash recovery', { skip: tcpdumpSkip() }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-crash-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('opens after kill -9 with the live segment recovered and readable by tcpdump', async () => {
    const dir = join(tmp, 'store');
    const child = spawn(process.execPath, [CHILD, dir, fixture('http-206-zero-window.pcap')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      child.on('exit', (c) => reject(new Error(`child exited early (${c})`)));
    });
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const segs = readdirSync(dir)
      .filter((f) => f.endsWith('.pcap'))
      .sort();
    assert.ok(segs.length >= 2);
    const live = join(dir, segs[segs.length - 1]!);
    // The kill may even land between creating a segment and writing its header: such a file
    // holds no packet and is removed on open.
    const headerless = statSync(live).size < 24;
    // A torn write: the kill may land between whole blocks, so tear the last record by hand too.
    appendFileSync(live, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xff, 0xff]));
    const before = statSync(live).size;

    const store = await PcapStore.open(dir, { writable: true });
    assert.ok(store.counters.segmentsRecovered >= 1);
    if (headerless) {
      assert.ok(!existsSync(live), 'headerless segment removed');
      assert.equal(store.segments.length, segs.length - 1);
    } else {
      assert.ok(statSync(live).size < before, 'torn record cut off');
      assert.equal(store.segments.length, segs.length);
    }
    for (const s of store.segments) {
      const r = spawnSync('tcpdump', ['-r', s.path, '-w', '/dev/null'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /truncated|bogus/);
    }
    // The recovered segment answers searches like tcpdump does.
    const last = store.segments[store.segments.length - 1]!;
    const td = spawnSync('tcpdump', ['-r', last.path, 'tcp port 80'], { encoding: 'utf8' });
    const want = td.stdout.split('\n').filter(Boolean).length;
    const firstUs = last.meta.firstSec * 1e6 + Math.floor(last.meta.firstNs / 1000);
    const lastUs = last.meta.lastSec * 1e6 + Math.floor(last.meta.lastNs / 1000) + 1;
    // Restrict to that segment by its sequence: open a store holding only it.
    const only = store.segments.filter((s) => s.seq === last.seq);
    store.segments.splice(0, store.segments.length, ...only);
    const got = await searchToStream(store, { filter: 'tcp port 80', after: firstUs, before: lastUs }, null, {
      countOnly: true,
    });
    assert.equal(got.packets, want);

    // A second open finds the written index and rebuilds nothing.
    const again = await PcapStore.open(dir, { writable: true });
    assert.equal(again.counters.segmentsRecovered, 0);
    truncateSync(last.path, last.meta.fileBytes); // unchanged
  });
});
