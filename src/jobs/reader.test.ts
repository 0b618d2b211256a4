import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { readCaptureFile } from '../capture/capture-file.js';
import { eth, ipv4, udp } from '../demo/packets.js';
import { pcapFile } from '../demo/pcap-writer.js';
import { IngestStop } from '../store/ingest.js';
import { DEFAULT_UPLOAD_LIMITS, parseUploadLimits, type UploadLimits } from './limits.js';
import { compressionOf, type ReadCounters, readCaptureLimited } from './reader.js';

const dir = mkdtempSync(join(tmpdir(), 'jobs-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** n UDP packets with distinct ports and a payload of `size` bytes of a repeating pattern. */
function capture(n: number, size = 40): Buffer {
  const pkts = [];
  for (let i = 0; i < n; i++) {
    const payload = Array.from({ length: size }, (_, k) => (i * 7 + k) & 0xff);
    const data = Buffer.from(
      eth(
        0x0800,
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1024 + (i % 60000), 53, payload)),
      ),
    );
    pkts.push({ data, tsSec: 1_700_000_000 + i, tsNs: 0 });
  }
  return pcapFile(pkts);
}

function file(name: string, b: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, b);
  return p;
}

const fresh = (): ReadCounters => ({ compressedBytes: 0, inflatedBytes: 0, packets: 0 });
const limits = (l: Partial<UploadLimits>): UploadLimits => ({ ...DEFAULT_UPLOAD_LIMITS, ...l });

async function read(path: string, l: Partial<UploadLimits> = {}, stopAfter = -1) {
  const counters = fresh();
  const signal = { stop: null as IngestStop | null };
  let frames = 0;
  let bytes = 0;
  try {
    const s = await readCaptureLimited(
      path,
      (f) => {
        frames++;
        bytes += f.caplen;
        if (frames === stopAfter) signal.stop = new IngestStop('cancelled', 'cancelled');
      },
      limits(l),
      counters,
      signal,
    );
    return { frames, bytes, counters, error: s.error?.message ?? null, stop: null };
  } catch (e) {
    if (!(e instanceof IngestStop)) throw e;
    return { frames, bytes, counters, error: null, stop: e.code };
  }
}

function tool(name: string): boolean {
  const ok = spawnSync(name, ['--version']).status === 0;
  if (!ok && process.env.CI === 'true') throw new Error(`${name} is required in CI`);
  return ok;
}

describe('reading an upload within limits', () => {
  const plain = capture(3000);
  it('reads plain, gzip, zstd and xz to the packets readCaptureFile reads', async () => {
    const p = file('plain.pcap', plain);
    let want = 0;
    await readCaptureFile(p, () => {
      want++;
    });
    assert.equal(want, 3000);
    const variants: [string, Buffer | null][] = [
      ['plain', plain],
      ['gzip', gzipSync(plain)],
      ['zstd', tool('zstd') ? spawnSync('zstd', ['-c'], { input: plain }).stdout : null],
      ['xz', tool('xz') ? spawnSync('xz', ['-c'], { input: plain }).stdout : null],
    ];
    for (const [kind, b] of variants) {
      if (!b) continue;
      assert.equal(compressionOf(b), kind === 'plain' ? 'none' : kind);
      const r = await read(file(`v.${kind}`, b));
      assert.equal(r.error, null, kind);
      assert.equal(r.frames, want, kind);
      assert.equal(r.counters.inflatedBytes, plain.length, kind);
      assert.equal(r.counters.compressedBytes, b.length, kind);
    }
  });

  it('stops at the packet limit with exactly that many packets delivered', async () => {
    const r = await read(file('p.pcap', plain), { maxPackets: 1234 });
    assert.equal(r.stop, 'max_packets');
    assert.equal(r.frames, 1234);
    assert.equal(r.counters.packets, 1234);
  });

  it('stops at the inflated-size limit, reading no byte past it', async () => {
    const big = capture(20_000, 200);
    for (const [kind, b] of [
      ['gzip', gzipSync(big)],
      ['zstd', tool('zstd') ? spawnSync('zstd', ['-c'], { input: big }).stdout : null],
    ] as const) {
      if (!b) continue;
      const r = await read(file(`i.${kind}`, b), { maxInflatedBytes: 1 << 20, maxInflationRatio: 1e6 });
      assert.equal(r.stop, 'max_inflated_bytes', kind);
      assert.equal(r.counters.inflatedBytes, 1 << 20, kind);
      // Every whole record inside the first MiB was delivered, none after it.
      const perRecord = 16 + 14 + 20 + 8 + 200;
      assert.equal(r.frames, Math.floor(((1 << 20) - 24) / perRecord), kind);
    }
  });

  it('stops at the inflation ratio once past the grace bytes: a header and 1 GiB of zeros', async () => {
    // Gzip members concatenate into one stream: 1,024 members of 1 MiB of zeros.
    const zeros = gzipSync(Buffer.alloc(1 << 20));
    const head = gzipSync(pcapFile([]));
    const parts = [head];
    for (let i = 0; i < 1024; i++) parts.push(zeros);
    const bomb = Buffer.concat(parts);
    const rss0 = process.memoryUsage().rss;
    const r = await read(file('bomb.pcap.gz', bomb));
    const rss = process.memoryUsage().rss - rss0;
    assert.equal(r.stop, 'max_inflation_ratio');
    const grace = DEFAULT_UPLOAD_LIMITS.ratioGraceBytes;
    assert.ok(
      r.counters.inflatedBytes > grace && r.counters.inflatedBytes <= grace + (1 << 20),
      `${r.counters.inflatedBytes}`,
    );
    assert.ok(
      r.counters.compressedBytes < bomb.length / 2,
      `${r.counters.compressedBytes} of ${bomb.length}`,
    );
    // Zero-length records: 16 bytes each.
    assert.ok(r.frames * 16 + 24 <= r.counters.inflatedBytes && r.frames * 16 + 24 > grace - (1 << 20));
    assert.ok(rss < 128 << 20, `RSS grew ${rss >> 20} MiB`);
  });

  it('stops at the next chunk when the job is cancelled', async () => {
    const r = await read(file('c.pcap', capture(50_000, 10)), {}, 10);
    assert.equal(r.stop, 'cancelled');
    assert.ok(r.frames >= 10 && r.frames < 50_000);
  });

  it('reports damage, never throws it, on any bytes (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, gz) => {
        const body = Buffer.concat([plain.subarray(0, 24), Buffer.from(bytes)]);
        const r = await read(file('f.bin', gz ? gzipSync(body) : body));
        assert.ok(r.error !== null || r.stop !== null || r.frames >= 0);
      }),
      { numRuns: runs(60) },
    );
  });

  it('validates its config naming the key', () => {
    assert.throws(() => parseUploadLimits({ maxPackets: 0 }), /uploads\.maxPackets: expected an integer/);
    assert.throws(() => parseUploadLimits({ maxPacket: 1 }), /uploads\.maxPacket: unknown key/);
    assert.throws(() => parseUploadLimits([]), /uploads: expected an object/);
    assert.deepEqual(parseUploadLimits({ maxJobs: 3 }), { maxJobs: 3 });
  });
});
