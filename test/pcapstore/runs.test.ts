import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { ConfigError } from '../../src/common/errors.js';
import { Sensor } from '../../src/flow/sensor.js';
import {
  createPacketRecorder,
  type RecorderConfig,
  type RecorderDeps,
} from '../../src/pcapstore/recorder.js';
import { SegmentIndex } from '../../src/pcapstore/segment-index.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { fixture } from '../support/fixtures.js';
import { type Rec, records, sameRecords } from './helpers.js';

/** The same capture with every header big-endian: its record headers are never stored as they are. */
function bigEndianCopy(src: string, dst: string): void {
  const b = Buffer.from(readFileSync(src));
  for (const o of [0, 16, 20]) b.writeUInt32BE(b.readUInt32LE(o), o);
  b.writeUInt16BE(b.readUInt16LE(4), 4);
  b.writeUInt16BE(b.readUInt16LE(6), 6);
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = b.readUInt32LE(o + 8);
    for (let k = 0; k < 16; k += 4) b.writeUInt32BE(b.readUInt32LE(o + k), o + k);
    o += 16 + incl;
  }
  writeFileSync(dst, b);
}

/**
 * A microsecond capture whose records alternate with ones longer than the addon's 16 KiB
 * staging area for scaled runs (TSO-sized frames: a real frame padded to 20,000 and 70,000 bytes).
 */
function jumboCopy(src: string, dst: string): void {
  const b = readFileSync(src);
  const out: Buffer[] = [b.subarray(0, 24)];
  let k = 0;
  for (let o = 24; o + 16 <= b.length; k++) {
    const incl = b.readUInt32LE(o + 8);
    const rec = b.subarray(o, o + 16 + incl);
    const pad = k % 3 === 1 ? 20_000 : k % 7 === 5 ? 70_000 : 0;
    if (pad > incl) {
      const big = Buffer.alloc(16 + pad, 0x5a);
      rec.copy(big);
      big.writeUInt32LE(pad, 8);
      big.writeUInt32LE(Math.max(pad, rec.readUInt32LE(12)), 12);
      out.push(big);
    } else out.push(rec);
    o += 16 + incl;
  }
  writeFileSync(dst, Buffer.concat(out));
}

/** Can this directory take O_DIRECT at all (asked of the kernel, not of the recorder)? */
function directAllowed(dir: string): boolean {
  try {
    closeSync(openSync(join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(join(dir, 'probe'), { force: true });
  }
}

const SOURCES = [
  'http-206-zero-window.pcap', // microseconds
  'sll-tcp-handshake-nanosecond.pcap', // nanoseconds, another link type (a new segment)
  'pcapng-two-interfaces-dns.pcapng', // no pcap record headers at all
  'dns-udp-many-types-nxdomain.pcap',
  'corrupt-record-length-tls.pcap', // ends in damage: the read stops there
];

describe('recorder: runs of records copied whole', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-runs-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const be = join(tmp, 'big-endian.pcap');
  bigEndianCopy(fixture('tcp-retransmissions-http.pcap'), be);
  const jumbo = join(tmp, 'jumbo-us.pcap');
  jumboCopy(fixture('http-206-zero-window.pcap'), jumbo);
  const files = [...SOURCES.map(fixture), be, jumbo, fixture('http-206-zero-window.pcap')];

  /** Record `files` into `dir`, through the wrapped reader (runs) or frame by frame. */
  async function record(
    dir: string,
    cfg: Partial<RecorderConfig>,
    wrapped: boolean,
    deps: RecorderDeps = {},
  ) {
    const rec = createPacketRecorder({ dir, fsync: false, segmentBytes: 64 * 1024, ...cfg }, deps);
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    const read = wrapped ? rec.reader(readCaptureFile) : readCaptureFile;
    for (const f of files) await read(f, sensor.onFrame);
    sensor.finish();
    await rec.stop();
    return rec.counters;
  }

  for (const directIo of [true, false]) {
    for (const [name, cfg, deps] of [
      ['every packet', {}, {}],
      ['a filter breaks the runs', { filter: 'tcp and not port 443' }, {}],
      ['a snaplen cuts packets', { snaplen: 100 }, {}],
      // Runs longer than the recorder's copy step (64 KiB).
      ['long runs', { segmentBytes: 512 * 1024 }, {}],
      // Without the addon's copy: runs through the staging buffer.
      ['every packet, JavaScript copy', {}, { nativeCopy: false }],
      ['long runs, JavaScript copy', { segmentBytes: 512 * 1024 }, { nativeCopy: false }],
    ] as const) {
      it(`writes what the one-by-one path writes, byte for byte (${directIo ? 'O_DIRECT' : 'page cache'}, ${name})`, async () => {
        const a = join(tmp, `runs-${directIo}-${name}`);
        const b = join(tmp, `one-${directIo}-${name}`);
        const ca = await record(a, { ...cfg, directIo }, true, deps);
        const cb = await record(b, { ...cfg, directIo }, false);
        assert.equal(ca.directIo, directIo && directAllowed(tmp) ? 1 : 0);
        assert.equal(ca.packets, cb.packets);
        assert.ok(ca.segments >= 4, `segments ${ca.segments}`);
        const names = readdirSync(a).sort();
        assert.deepEqual(names, readdirSync(b).sort());
        for (const n of names) {
          if (!n.endsWith('.idx')) {
            assert.ok(readFileSync(join(a, n)).equals(readFileSync(join(b, n))), n);
            continue;
          }
          // Indexes agree but for the flow ids, which each sensor numbers from its own start.
          const x = SegmentIndex.read(join(a, n))!;
          const y = SegmentIndex.read(join(b, n))!;
          assert.deepEqual(x.meta, y.meta);
          for (const k of Object.keys(x.d) as (keyof typeof x.d)[])
            if (k !== 'flowId') assert.deepEqual(x.d[k], y.d[k], `${n} ${k}`);
        }

        // Independent of both paths: the stored records are the sources' records.
        const store = await PcapStore.open(a);
        assert.equal(store.counters.segmentsRecovered, 0);
        const got: Rec[] = [];
        for (const s of store.segments) got.push(...(await records(s.path)));
        if (name.startsWith('every packet')) {
          const want: Rec[] = [];
          for (const f of files) want.push(...(await records(f)));
          assert.equal(sameRecords(got, want), null);
        } else if (name === 'a snaplen cuts packets') {
          const want: Rec[] = [];
          for (const f of files)
            for (const r of await records(f)) want.push({ ...r, data: r.data.subarray(0, 100) });
          assert.equal(sameRecords(got, want), null);
        }
      });
    }
  }

  it('refuses a bad config naming the key', () => {
    const dir = join(tmp, 'bad');
    for (const [cfg, key] of [
      [{ writeBlocks: 1 }, 'writeBlocks'],
      [{ segmentBytes: 100 }, 'segmentBytes'],
      [{ directIo: 'yes' as unknown as boolean }, 'directIo'],
    ] as const) {
      assert.throws(
        () => createPacketRecorder({ dir, ...cfg }),
        (e: unknown) => e instanceof ConfigError && e.key === key,
      );
    }
  });

  it('reads an index written deflated before indexes were stored as they are', async () => {
    const dir = join(tmp, 'old-index');
    await record(dir, {}, true);
    const store = await PcapStore.open(dir);
    const seg = store.segments[0]!;
    const now = SegmentIndex.read(seg.idxPath)!;
    // The format the recorder wrote until 2026-12-06: arrays padded to 8 and deflated, no `z`.
    const d = now.d as unknown as Record<string, Uint8Array>;
    const names = Object.keys(d).sort();
    const parts = names.map((k) => {
      const a = d[k]!;
      const p = Buffer.alloc((a.byteLength + 7) & ~7);
      p.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return p;
    });
    const body = Buffer.concat(parts);
    const types = new Map<unknown, string>([
      [Uint8Array, 'u8'],
      [Uint16Array, 'u16'],
      [Int16Array, 'i16'],
      [Uint32Array, 'u32'],
      [Int32Array, 'i32'],
      [Float64Array, 'f64'],
    ]);
    const meta = Buffer.from(
      JSON.stringify({
        meta: now.meta,
        raw: body.length,
        arrays: names.map((k) => [k, types.get(d[k]!.constructor), d[k]!.length]),
      }),
    );
    const head = Buffer.alloc(8);
    head.writeUInt32LE(0x31585056, 0);
    head.writeUInt32LE(meta.length, 4);
    const old = join(tmp, 'old.idx');
    writeFileSync(old, Buffer.concat([head, meta, deflateRawSync(body, { level: 1 })]));
    const back = SegmentIndex.read(old);
    assert.ok(back);
    assert.deepEqual(back.meta, now.meta);
    for (const k of names)
      assert.deepEqual(back.d[k as keyof typeof back.d], now.d[k as keyof typeof now.d], k);
    assert.ok(now.meta.packets > 0);
  });
});
