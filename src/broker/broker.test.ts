import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { readCaptureFile } from '../capture/capture-file.js';
import { type Frame, LinkType, newFrame } from '../capture/frame.js';
import { ConfigError } from '../common/errors.js';
import { createBroker } from './broker.js';
import { parseBrokerConfig } from './config.js';
import { DedupWindow, packetKey } from './dedup.js';
import type { Delivery, OutFrame } from './out-frame.js';
import { streamPcap } from './stream.js';
import type { TargetCounters } from './types.js';

/** A delivery that keeps what it is given. */
function memory(): {
  frames: Array<{ bytes: Buffer; wirelen: number }>;
  make: (c: TargetCounters) => Delivery;
} {
  const frames: Array<{ bytes: Buffer; wirelen: number }> = [];
  return {
    frames,
    make: (c) => ({
      kind: 'memory',
      start: async () => {},
      stop: async () => {},
      send(f: OutFrame, caplen: number) {
        frames.push({ bytes: Buffer.from(f.buf.subarray(f.off, f.off + caplen)), wirelen: f.wirelen });
        c.sent++;
        c.bytes += caplen;
      },
    }),
  };
}

/** Ethernet + IPv4 + UDP frame 10.0.0.1:1000 → 10.0.0.2:53 (tcpdump: IP 10.0.0.1.1000 > 10.0.0.2.53: UDP, length 4). */
function udpFrame(opts: { ttl?: number; srcMac?: number; vlan?: number; dst?: number } = {}): Buffer {
  const vlan = opts.vlan ?? -1;
  const l2 = vlan >= 0 ? 18 : 14;
  const b = Buffer.alloc(l2 + 20 + 8 + 4);
  b.writeUIntBE(0x020000000002, 0, 6);
  b.writeUIntBE(0x020000000000 + (opts.srcMac ?? 1), 6, 6);
  if (vlan >= 0) {
    b.writeUInt16BE(0x8100, 12);
    b.writeUInt16BE(vlan, 14);
    b.writeUInt16BE(0x0800, 16);
  } else b.writeUInt16BE(0x0800, 12);
  const ip = l2;
  b[ip] = 0x45;
  b.writeUInt16BE(32, ip + 2);
  b[ip + 8] = opts.ttl ?? 64;
  b[ip + 9] = 17;
  b.writeUInt16BE(0xbeef ^ (opts.ttl ?? 64), ip + 10); // "checksum": changes with the TTL
  b.writeUInt32BE(0x0a000001, ip + 12);
  b.writeUInt32BE(opts.dst ?? 0x0a000002, ip + 16);
  b.writeUInt16BE(1000, ip + 20);
  b.writeUInt16BE(53, ip + 22);
  b.writeUInt16BE(12, ip + 24);
  b.write('abcd', ip + 28);
  return b;
}

function frameOf(b: Buffer, tsMs = 0, linkType: number = LinkType.ETHERNET): Frame {
  const f = newFrame();
  f.buf = b;
  f.off = 0;
  f.caplen = b.length;
  f.wirelen = b.length;
  f.linkType = linkType;
  f.tsSec = Math.floor(tsMs / 1000);
  f.tsNs = (tsMs % 1000) * 1e6;
  return f;
}

describe('broker', () => {
  test('de-duplication ignores TTL, checksum, MACs and VLAN tags, within the window only', async () => {
    const m = memory();
    const broker = createBroker();
    await broker.addTarget({ name: 't', dedupWindowMs: 50 }, m.make);
    await broker.start();
    broker.onFrame(frameOf(udpFrame({ ttl: 64 }), 1000));
    broker.onFrame(frameOf(udpFrame({ ttl: 63, srcMac: 9 }), 1010)); // next hop's copy
    broker.onFrame(frameOf(udpFrame({ ttl: 64, vlan: 7 }), 1020)); // copy from a tagged SPAN port
    broker.onFrame(frameOf(udpFrame({ ttl: 64 }), 1100)); // outside the window: sent again
    broker.onFrame(frameOf(udpFrame({ dst: 0x0a000003 }), 1101)); // different packet
    await broker.stop();
    const [t] = broker.stats().targets;
    assert.equal(t!.matched, 5);
    assert.equal(t!.deduplicated, 2);
    assert.equal(t!.sent, 3);
    assert.equal(m.frames.length, 3);
  });

  test('its packet hook is idle while it has no target, and counts the packets a pipeline skipped for it', async () => {
    const m = memory();
    const broker = createBroker();
    const hook = broker.hook();
    assert.equal(hook.idle?.(), true);
    hook.skipped?.(7);
    assert.equal(broker.stats().packets, 7);
    await broker.addTarget({ name: 't' }, m.make);
    assert.equal(hook.idle?.(), false, 'a target added at run time gets packets from the next batch');
    await broker.removeTarget('t');
    assert.equal(hook.idle?.(), true);
  });

  test('slicing keeps the wire length', async () => {
    const m = memory();
    const broker = createBroker();
    await broker.addTarget({ name: 't', snaplen: 20 }, m.make);
    broker.onFrame(frameOf(udpFrame()));
    assert.equal(m.frames[0]!.bytes.length, 20);
    assert.equal(m.frames[0]!.wirelen, 46);
    assert.equal(broker.stats().targets[0]!.bytes, 20);
  });

  test('rules: CIDR, port, VLAN, protocol', async () => {
    const broker = createBroker();
    const a = memory();
    const b = memory();
    const c = memory();
    await broker.addTarget({ name: 'a', rules: { cidr: ['10.0.0.3/32'] } }, a.make);
    await broker.addTarget({ name: 'b', rules: { port: [53], vlan: [7] } }, b.make);
    await broker.addTarget({ name: 'c', rules: { proto: [6] } }, c.make);
    broker.onFrame(frameOf(udpFrame()));
    broker.onFrame(frameOf(udpFrame({ dst: 0x0a000003 })));
    broker.onFrame(frameOf(udpFrame({ vlan: 7 })));
    assert.equal(a.frames.length, 1);
    assert.equal(b.frames.length, 1);
    assert.equal(c.frames.length, 0);
  });

  test('mirror tunnels are decapsulated; the VNI rule still sees the tunnel', async () => {
    // vxlan-http.pcap: 12 frames, all 'IP 10.1.200.131.50000 > 10.1.1.172.4789: VXLAN ... vni 1'
    // around an HTTP connection 172.16.11.201 > 54.86.237.188.80.
    const broker = createBroker();
    const vni1 = memory();
    const vni2 = memory();
    await broker.addTarget({ name: 'vni1', rules: { vni: [1] }, filter: 'tcp port 80' }, vni1.make);
    await broker.addTarget({ name: 'vni2', rules: { vni: [2] } }, vni2.make);
    const frames: Buffer[] = [];
    const path = new URL('../../../test/fixtures/pcaps/vxlan-http.pcap', import.meta.url).pathname;
    await readCaptureFile(path, (f) => {
      frames.push(Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)));
      broker.onFrame(f);
    });
    assert.equal(frames.length, 12);
    assert.equal(vni1.frames.length, 12);
    assert.equal(vni2.frames.length, 0);
    // The inner Ethernet frames: the 50 bytes of outer headers (14 + 20 + 8 + 8) are gone.
    for (let i = 0; i < 12; i++) assert.ok(frames[i]!.subarray(50).equals(vni1.frames[i]!.bytes));
  });

  test('raw IP frames get a synthetic Ethernet header', async () => {
    const broker = createBroker();
    const m = memory();
    await broker.addTarget({ name: 't', filter: 'udp port 53' }, m.make);
    const eth = udpFrame();
    broker.onFrame(frameOf(eth.subarray(14), 0, LinkType.RAW));
    assert.equal(m.frames.length, 1);
    const got = m.frames[0]!.bytes;
    assert.equal(got.readUInt16BE(12), 0x0800);
    assert.ok(got.subarray(0, 12).equals(Buffer.alloc(12)));
    assert.ok(got.subarray(14).equals(eth.subarray(14)));
  });

  test('pcap stream to a Writable; a slow reader costs counted drops, not memory', async () => {
    const broker = createBroker();
    const w = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    const s = await streamPcap(broker, w, { filter: 'udp', maxBuffered: 4096 });
    await broker.start();
    for (let i = 0; i < 500; i++) broker.onFrame(frameOf(udpFrame(), i));
    await new Promise((r) => setImmediate(r));
    w.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => setTimeout(r, 20));
    const st = s.stats()!;
    assert.equal(st.matched, 500);
    assert.ok(st.dropped > 0 && st.dropReasons.stream_full === st.dropped);
    assert.equal(st.sent + st.dropped + st.pending, 500);
    const data = Buffer.concat(chunks);
    assert.equal(data.readUInt32LE(0), 0xa1b23c4d);
    assert.equal(data.length, 24 + st.sent * (16 + 46));
    await s.close();
    assert.equal(broker.stats().targets.length, 0);
  });

  test('dedup key: same bytes same key; a changed payload byte changes it', () => {
    const a = udpFrame();
    const b = udpFrame();
    b[b.length - 1] = 0;
    assert.equal(packetKey(a, 14, 4, 0, a.length), packetKey(udpFrame({ ttl: 1 }), 14, 4, 0, a.length));
    assert.notEqual(packetKey(a, 14, 4, 0, a.length), packetKey(b, 14, 4, 0, b.length));
    const w = new DedupWindow(10);
    assert.equal(w.seen(1, 0), false);
    assert.equal(w.seen(1, 10), true);
    assert.equal(w.seen(1, 25), false);
  });

  test('config errors name the exact key', () => {
    const bad = (v: unknown, key: string): void => {
      assert.throws(
        () => parseBrokerConfig(v),
        (e: unknown) => e instanceof ConfigError && e.key === key,
      );
    };
    bad(
      { targets: [{ name: 'a', deliver: { type: 'vxlan', host: 'h', vni: -1 } }] },
      'broker.targets[0].deliver.vni',
    );
    bad({ targets: [{ name: 'a', filter: 'tcp port' }] }, 'broker.targets[0].filter');
    bad({ targets: [{ name: 'a', rules: { cidr: ['10.0.0.0/33'] } }] }, 'broker.targets[0].rules.cidr[0]');
    bad({ targets: [{ name: 'a' }, { name: 'a' }] }, 'broker.targets[1].name');
    bad({ targets: [{ name: 'a', snap: 1 }] }, 'broker.targets[0].snap');
    bad({ targets: [{ name: 'a', deliver: { type: 'carrier-pigeon' } }] }, 'broker.targets[0].deliver.type');
    const ok = parseBrokerConfig({
      targets: [
        { name: 'ids', filter: 'tcp', snaplen: 128, deliver: { type: 'vxlan', host: '10.0.0.5', vni: 9 } },
      ],
    });
    assert.deepEqual(ok.targets[0]!.deliver, { type: 'vxlan', host: '10.0.0.5', port: 4789, vni: 9 });
  });
});
