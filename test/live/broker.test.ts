import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { createBroker } from '../../src/broker/index.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { createVxlanReceiver } from '../../src/capture/mirror.js';
import {
  type FileFrame,
  LIVE_FIXTURES,
  PCAPS,
  readFrames,
  requireOrSkip,
  sendVxlan,
  sleep,
  tcpdumpFrames,
} from './support.js';

const hasTcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { stdio: 'ignore' }).status === 0;

/** A UDP socket collecting VXLAN datagrams: the inner frames and the VNIs. */
async function vxlanSink(): Promise<{
  port: number;
  frames: Buffer[];
  vnis: Set<number>;
  close(): Promise<void>;
}> {
  const s = createSocket('udp4');
  const frames: Buffer[] = [];
  const vnis = new Set<number>();
  s.on('message', (m) => {
    vnis.add(m.readUInt32BE(4) >>> 8);
    frames.push(Buffer.from(m.subarray(8)));
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  try {
    s.setRecvBufferSize(4 << 20);
  } catch {}
  return { port: s.address().port, frames, vnis, close: () => new Promise((r) => s.close(() => r())) };
}

/** A TCP server reading one pcap stream into memory. */
async function pcapSink(): Promise<{
  port: number;
  data: () => Buffer;
  closed: Promise<void>;
  server: Server;
}> {
  const chunks: Buffer[] = [];
  let done: () => void = () => {};
  const closed = new Promise<void>((r) => {
    done = r;
  });
  const server = createServer((c) => {
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('close', () => done());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    data: () => Buffer.concat(chunks),
    closed,
    server,
  };
}

async function parsePcap(buf: Buffer): Promise<FileFrame[]> {
  const { writeFileSync, rmSync } = await import('node:fs');
  const tmp = `/tmp/vtest-stream-${process.pid}.pcap`;
  writeFileSync(tmp, buf);
  const frames: FileFrame[] = [];
  const sum = await readCaptureFile(tmp, (f) =>
    frames.push({
      bytes: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)),
      wirelen: f.wirelen,
      tsSec: f.tsSec,
      tsNs: f.tsNs,
      linkType: f.linkType,
    }),
  );
  rmSync(tmp);
  assert.equal(sum.error, null);
  return frames;
}

const hex = (fs: Array<{ bytes: Buffer } | Buffer>): string[] =>
  fs.map((f) => (Buffer.isBuffer(f) ? f : f.bytes).toString('hex'));

/**
 * Fixture captures are mirrored to the receiver as VXLAN over loopback; the broker replicates
 * them to two targets with different tcpdump filters: one delivers VXLAN to a UDP socket, the
 * other a pcap stream over TCP. Each receiver gets exactly the frames `tcpdump -r FILE FILTER`
 * selects, in order, byte for byte.
 */
describe('broker: two targets, two filters, compared with tcpdump -r', () => {
  const A = 'tcp';
  const B = 'udp port 53 or icmp or icmp6 or arp';
  for (const name of LIVE_FIXTURES) {
    test(name, async (t) => {
      if (!requireOrSkip(t, hasTcpdump ? [] : ['tcpdump'])) return;
      const path = PCAPS + name;
      const frames = await readFrames(path);
      const wantA = await tcpdumpFrames(path, A);
      const wantB = await tcpdumpFrames(path, B);
      const sa = await vxlanSink();
      const sb = await pcapSink();
      const broker = createBroker();
      await broker.addTarget({
        name: 'ids',
        filter: A,
        deliver: { type: 'vxlan', host: '127.0.0.1', port: sa.port, vni: 99 },
      });
      await broker.addTarget({
        name: 'ndr',
        filter: B,
        deliver: { type: 'pcap-tcp', host: '127.0.0.1', port: sb.port },
      });
      await broker.start();
      const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0 }, broker.onFrame);
      await rx.start();
      await sendVxlan(frames, '127.0.0.1', rx.address().port, 5, () => rx.counters.delivered);
      const deadline = Date.now() + 5000;
      while (sa.frames.length < wantA.length && Date.now() < deadline) await sleep(2);
      await rx.stop();
      await broker.stop();
      await sb.closed;
      sb.server.close();
      await sa.close();

      const st = broker.stats();
      const [ids, ndr] = st.targets;
      assert.equal(st.packets, frames.length);
      assert.equal(ids!.matched, wantA.length);
      assert.equal(ids!.sent, wantA.length);
      assert.equal(ids!.dropped, 0);
      assert.equal(ndr!.matched, wantB.length);
      assert.equal(ndr!.sent, wantB.length);
      assert.equal(ndr!.dropped, 0);
      assert.deepEqual(hex(sa.frames), hex(wantA));
      assert.deepEqual([...sa.vnis], wantA.length > 0 ? [99] : []);
      const gotB = await parsePcap(sb.data());
      assert.deepEqual(hex(gotB), hex(wantB));
    });
  }
});
