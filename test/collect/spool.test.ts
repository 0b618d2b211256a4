import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FRAME_HDR, Spool } from '../../src/collect/spool.js';
import { runs } from '../support/fuzz.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-test-'));
  dirs.push(d);
  return d;
}

interface Dg {
  bytes: Buffer;
  exporter: string;
  port: number;
  ms: number;
}

/** Datagram `i`: its number in the first 4 bytes, then a pattern, of a length derived from i. */
function dg(i: number, len = 4 + ((i * 7919) % 1500), sources = 3): Dg {
  const b = Buffer.alloc(Math.max(4, len));
  b.writeUInt32BE(i, 0);
  for (let k = 4; k < b.length; k++) b[k] = (i + k) & 0xff;
  const s = i % sources;
  return { bytes: b, exporter: `192.0.2.${s + 1}`, port: 2055 + s, ms: 1_700_000_000_000 + i };
}

function readAll(sp: Spool, max = Number.MAX_SAFE_INTEGER, chunk = 7): Dg[] {
  const out: Dg[] = [];
  while (out.length < max) {
    const n = sp.read(Math.min(chunk, max - out.length), (buf, off, len, exporter, port, ms) =>
      out.push({ bytes: Buffer.from(buf.subarray(off, off + len)), exporter, port, ms }),
    );
    if (n === 0) break;
  }
  return out;
}

const segments = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.spool'));

describe('collector spool', () => {
  test('order, framing and sources across segment boundaries, with reads between appends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ len: fc.integer({ min: 0, max: 3000 }), src: fc.integer({ min: 0, max: 4 }) }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 50 }),
        (items, readSizes) => {
          const dir = tmp();
          const sp = Spool.open({ dir, segmentBytes: 8192, maxBytes: 1 << 30 });
          const sent: Dg[] = items.map((it, i) => ({
            bytes: Buffer.alloc(it.len, i & 0xff),
            exporter: `2001:db8::${it.src}`,
            port: 4739 + it.src,
            ms: 1000 + i,
          }));
          const got: Dg[] = [];
          let r = 0;
          for (let i = 0; i < sent.length; i++) {
            const d = sent[i]!;
            assert.ok(sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms));
            if (i % 5 === 4) got.push(...readAll(sp, readSizes[r++ % readSizes.length]!));
          }
          got.push(...readAll(sp));
          assert.equal(got.length, sent.length);
          assert.deepEqual(got, sent);
          assert.equal(sp.pending, 0);
          const st = sp.stats();
          assert.equal(st.appended, sent.length);
          assert.equal(st.read, sent.length);
          sp.close();
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: runs(40) },
    );
  });

  test('a datagram is never split: many segments, each one whole frames from its own header', () => {
    const dir = tmp();
    const sp = Spool.open({ dir, segmentBytes: 10_000, maxBytes: 1 << 30 });
    for (let i = 0; i < 500; i++) {
      const d = dg(i);
      sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms);
    }
    sp.flush();
    const segs = segments(dir).sort();
    assert.ok(segs.length > 20, `${segs.length} segments`);
    // Independent walk of the format: magic, then frames whose lengths add up to the file size.
    let datagrams = 0;
    for (const f of segs) {
      const b = readFileSync(join(dir, f));
      assert.equal(b.subarray(0, 8).toString('latin1'), 'VSPOOL1\n');
      let o = 8;
      while (o < b.length) {
        const len = b.readUInt32LE(o + 4);
        if (b[o + 8] === 1) {
          assert.equal(b.readUInt32BE(o + FRAME_HDR), datagrams);
          datagrams++;
        }
        o += FRAME_HDR + len;
      }
      assert.equal(o, b.length, `${f} ends on a frame boundary`);
      assert.ok(b.length <= 10_000 || b.length < 8 + 2 * (FRAME_HDR + 1504));
    }
    assert.equal(datagrams, 500);
    assert.deepEqual(
      readAll(sp),
      Array.from({ length: 500 }, (_, i) => dg(i)),
    );
    sp.close();
  });

  test('bounded: past maxBytes appends are refused and counted; released segments are deleted', () => {
    const dir = tmp();
    const max = 64 * 1024;
    const sp = Spool.open({ dir, segmentBytes: 16 * 1024, maxBytes: max });
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      const d = dg(i, 1000);
      if (sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms)) ok++;
      else refused++;
      sp.flush();
      const onDisk = segments(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
      assert.ok(onDisk <= max, `${onDisk} bytes on disk`);
    }
    const st = sp.stats();
    assert.ok(ok > 40 && ok < 64, `${ok} kept`);
    assert.equal(st.full, refused);
    assert.equal(st.full + st.appended, 200);
    assert.ok(st.bytes <= max && st.peakBytes <= max);
    // Reading alone frees nothing: the store has not acknowledged yet.
    const first = readAll(sp, 30);
    const d = dg(999, 1000);
    assert.equal(sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms), false);
    sp.release(sp.position());
    assert.ok(sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms), 'room after release');
    const rest = readAll(sp);
    assert.deepEqual(
      [...first, ...rest].map((x) => x.bytes.readUInt32BE(0)),
      [...Array.from({ length: ok }, (_, i) => i), 999],
    );
    sp.release(sp.position());
    assert.deepEqual(segments(dir), [], 'an empty spool keeps no segment');
    assert.equal(sp.stats().bytes, 0);
    sp.close();
  });

  test('restart: what follows the cursor is drained again, in order; what was released is not', () => {
    const dir = tmp();
    const a = Spool.open({ dir, segmentBytes: 20_000 });
    for (let i = 0; i < 300; i++) {
      const d = dg(i);
      a.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms);
    }
    readAll(a, 120);
    a.release(a.position());
    readAll(a, 50); // read but never stored: must come back
    a.close();
    const b = Spool.open({ dir, segmentBytes: 20_000 });
    assert.equal(b.pending, 180);
    assert.equal(b.stats().torn, 0);
    // New datagrams queue behind the drained ones.
    for (let i = 300; i < 320; i++) {
      const d = dg(i);
      b.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms);
    }
    assert.deepEqual(
      readAll(b),
      Array.from({ length: 200 }, (_, i) => dg(120 + i)),
    );
    b.release(b.position());
    b.close();
    assert.equal(Spool.open({ dir }).pending, 0);
  });

  test('a torn or damaged tail is cut at the last whole record and counted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.boolean(), (seed, flip) => {
        const dir = tmp();
        const a = Spool.open({ dir, segmentBytes: 1 << 30 });
        /** End offsets of the datagram frames, and of every frame. */
        const ends: number[] = [];
        const bounds = new Set<number>([8]);
        let end = 8;
        for (let i = 0; i < 40; i++) {
          const d = dg(i, 50 + i);
          a.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms);
          // a source frame precedes the first datagram of each source
          if (i < 3) {
            end += FRAME_HDR + `${d.port} ${d.exporter}`.length;
            bounds.add(end);
          }
          end += FRAME_HDR + d.bytes.length;
          bounds.add(end);
          ends.push(end);
        }
        a.close();
        const [seg] = segments(dir);
        const path = join(dir, seg!);
        const size = statSync(path).size;
        assert.equal(size, end);
        const at = 8 + (seed % (size - 8));
        if (flip) {
          // One damaged byte: its frame fails its CRC (or its length or kind is impossible).
          const b = readFileSync(path);
          b[at] = b[at]! ^ 0x5a;
          writeFileSync(path, b);
        } else truncateSync(path, at);
        const whole = ends.filter((e) => e <= at).length;
        const b = Spool.open({ dir });
        const got = readAll(b);
        assert.deepEqual(
          got,
          Array.from({ length: whole }, (_, i) => dg(i, 50 + i)),
        );
        assert.equal(b.stats().torn, !flip && bounds.has(at) ? 0 : 1);
        // The file now ends at the last whole frame (or is gone when none is left).
        if (whole > 0) assert.ok(bounds.has(statSync(path).size));
        b.close();
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: runs(60) },
    );
  });

  test('garbage segment files never throw and are counted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean(), (bytes, withMagic) => {
        const dir = tmp();
        const body = withMagic
          ? Buffer.concat([Buffer.from('VSPOOL1\n', 'latin1'), bytes])
          : Buffer.from(bytes);
        writeFileSync(join(dir, '0000000000000001.spool'), body);
        const sp = Spool.open({ dir });
        readAll(sp);
        const d = dg(1);
        assert.ok(sp.append(d.bytes, 0, d.bytes.length, d.exporter, d.port, d.ms));
        sp.close();
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: runs(100) },
    );
  });

  test('kill -9 of a writing process: what was written is read back whole and in order', async () => {
    const dir = tmp();
    const child = join(dirname(), 'spool-writer.js');
    const p = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let flushed = 0;
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => {
        const last = d.toString().trim().split('\n').pop();
        flushed = Number(last);
        if (flushed >= 20_000) {
          p.kill('SIGKILL');
          resolve();
        }
      });
      p.once('exit', (c) => (flushed >= 20_000 ? resolve() : reject(new Error(`writer exited ${c}`))));
    });
    await new Promise((r) => (p.exitCode === null && p.signalCode === null ? p.once('exit', r) : r(null)));
    const sp = Spool.open({ dir });
    const got = readAll(sp, Number.MAX_SAFE_INTEGER, 512);
    assert.ok(got.length >= flushed, `${got.length} read back, ${flushed} reported written`);
    for (let i = 0; i < got.length; i++) assert.equal(got[i]!.bytes.readUInt32BE(0), i);
    assert.ok(sp.stats().torn <= 1);
    sp.close();
  });
});

function dirname(): string {
  return join(fileURLToPath(import.meta.url), '..');
}
