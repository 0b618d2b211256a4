/**
 * Upload bombs through the upload reader and the full sensor, as an upload job runs them:
 * CPU seconds (user+sys of this process, process.cpuUsage) to the stop, and RSS, beside the
 * peer `gzip -dc | head -c N | tcpdump -r - -w /dev/null` inflating and reading the same bytes
 * (CPU from /usr/bin/time). Measures; never asserts.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/uploads.js
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pcapFile } from '../src/demo/pcap-writer.js';
import { createSensor } from '../src/flow/sensor.js';
import { DEFAULT_UPLOAD_LIMITS } from '../src/jobs/limits.js';
import { type ReadCounters, readCaptureLimited } from '../src/jobs/reader.js';
import { IngestStop } from '../src/store/ingest.js';

const OUT = join(process.cwd(), 'bench', 'out');
mkdirSync(OUT, { recursive: true });

function members(head: Buffer, member: Buffer, n: number): Buffer {
  const m = gzipSync(member);
  return Buffer.concat([gzipSync(head), ...Array.from({ length: n }, () => m)]);
}

const rec = Buffer.alloc(16 + 65535);
rec.writeUInt32LE(65535, 8);
rec.writeUInt32LE(65535, 12);
const bombs: [string, Buffer][] = [
  ['header + 1 GiB of zeros', members(pcapFile([]), Buffer.alloc(1 << 20), 1024)],
  ['130,816 zero-filled 65,535-byte packets', members(pcapFile([]), rec, 130_816)],
];

function peerCpu(path: string, bytes: number): number {
  const out = execFileSync(
    'sh',
    [
      '-c',
      `/usr/bin/time -f '%U %S' sh -c 'gzip -dc ${path} | head -c ${bytes} | tcpdump -r - -w /dev/null 2>/dev/null' 2>&1 >/dev/null | tail -1`,
    ],
    { encoding: 'utf8' },
  );
  const [u, s] = out.trim().split(/\s+/).map(Number);
  return (u ?? 0) + (s ?? 0);
}

for (const [name, body] of bombs) {
  const path = join(OUT, `bomb-${body.length}.pcap.gz`);
  writeFileSync(path, body);
  const sensor = createSensor(() => {});
  const counters: ReadCounters = { compressedBytes: 0, inflatedBytes: 0, packets: 0 };
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const c0 = process.cpuUsage();
  let stop = '';
  try {
    await readCaptureLimited(
      path,
      (f) => {
        sensor.onFrame(f);
        if ((counters.packets & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
      },
      DEFAULT_UPLOAD_LIMITS,
      counters,
      { stop: null },
    );
  } catch (e) {
    if (!(e instanceof IngestStop)) throw e;
    stop = e.code;
  }
  sensor.finish();
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  let peer = Number.NaN;
  try {
    peer = peerCpu(path, counters.inflatedBytes);
  } catch {}
  console.log(
    `${name}: ${(body.length / 2 ** 20).toFixed(1)} MiB gzip → stopped (${stop}) after ${(counters.inflatedBytes / 2 ** 20).toFixed(0)} MiB inflated, ${counters.packets} packets; ${cpu.toFixed(2)} CPU-s (goal: stop within seconds, not the 25 min of the issue); peer gzip|tcpdump on the same bytes ${peer.toFixed(2)} CPU-s (ratio ${(cpu / peer).toFixed(1)}); RSS +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`,
  );
}
