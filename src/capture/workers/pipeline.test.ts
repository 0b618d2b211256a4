import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decoder } from '../../decode/decoder.js';
import type { SensorRecord } from '../../flow/sensor.js';
import { readCaptureFile } from '../capture-file.js';
import { newFrame } from '../frame.js';
import { createInlinePipeline } from './pipeline.js';
import { symmetricFlowHash } from './shard.js';
import { createThreadedPipeline } from './threaded.js';

const fixture = (n: string): string =>
  new URL(`../../../../test/fixtures/pcaps/${n}`, import.meta.url).pathname;

/** Swap source and destination (addresses and ports) of an Ethernet/IPv4/TCP frame in place. */
function swapDirection(b: Buffer): void {
  const ip = 14;
  const s = b.readUInt32BE(ip + 12);
  b.writeUInt32BE(b.readUInt32BE(ip + 16), ip + 12);
  b.writeUInt32BE(s, ip + 16);
  const l4 = ip + (b[ip]! & 0xf) * 4;
  const sp = b.readUInt16BE(l4);
  b.writeUInt16BE(b.readUInt16BE(l4 + 2), l4);
  b.writeUInt16BE(sp, l4 + 2);
}

test('the shard hash is symmetric: both directions of a flow land on the same worker', async () => {
  const d = new Decoder();
  let n = 0;
  await readCaptureFile(fixture('http-methods-many.pcap'), (f) => {
    const b = Buffer.from(f.buf.subarray(f.off, f.off + f.caplen));
    const g = newFrame();
    g.buf = b;
    g.caplen = b.length;
    g.wirelen = b.length;
    const h1 = symmetricFlowHash(d.decode(g));
    swapDirection(b);
    const h2 = symmetricFlowHash(d.decode(g));
    assert.equal(h1, h2);
    n++;
  });
  assert.ok(n > 600);
});

test('the threaded pipeline meters the same flows as the inline one', async () => {
  const files = [
    'http-methods-many.pcap',
    'ipv6-mixed-tcp-udp-ssh-dns.pcap',
    'tcp-retransmissions-http.pcap',
  ];
  const key = (rs: SensorRecord[]): string[] =>
    rs
      .filter((r) => r.type === 'flow')
      .map((r) => {
        const { flow_id: _id, app: _app, ...rest } = r as Record<string, unknown>;
        return JSON.stringify(rest);
      })
      .sort();
  const inline: SensorRecord[] = [];
  const threaded: SensorRecord[] = [];
  const a = createInlinePipeline((r) => inline.push(r), { flow: {}, l7: true });
  const b = createThreadedPipeline((r) => threaded.push(r), {
    flow: {},
    l7: true,
    workers: 2,
    buffersPerWorker: 4096,
  });
  await b.ready;
  for (const f of files) {
    await readCaptureFile(fixture(f), a.onFrame);
    await readCaptureFile(fixture(f), b.onFrame);
  }
  const ca = await a.finish();
  const cb = await b.finish();
  assert.equal(cb.frames, ca.frames);
  assert.deepEqual(cb.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
  assert.deepEqual(key(threaded), key(inline));
});
