import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { describe, type TestContext, test } from 'node:test';
import { VxlanDelivery } from '../../src/broker/deliver/vxlan.js';
import type { OutFrame } from '../../src/broker/out-frame.js';
import { newTargetCounters } from '../../src/broker/types.js';
import type { NativeHandle } from '../../src/capture/live.js';
import {
  createVxlanReceiver,
  loadUdpBatchBinding,
  RECV_ADDR_BYTE,
  RECV_CAPLEN,
  RECV_FAMILY,
  RECV_FLAGS,
  RECV_LEN,
  RECV_META_STRIDE,
  RECV_OFF,
  RECV_PORT,
  type UdpBatchBinding,
} from '../../src/capture/mirror.js';
import { requireOrSkip } from './support.js';

/**
 * The addon's batched UDP I/O (recvmmsg / sendmmsg) on loopback. Loaded directly, so these run
 * with VANTAGE_NO_PCAP=1 too (that switch only sends Vantage itself down the node:dgram path).
 */
function addon(t: TestContext): UdpBatchBinding | null {
  let b: Partial<UdpBatchBinding> | null = null;
  try {
    b = createRequire(import.meta.url)('vantage-pcap') as Partial<UdpBatchBinding>;
  } catch {
    b = null;
  }
  const ok = b !== null && typeof b.recvBatch === 'function';
  return requireOrSkip(
    t,
    ok ? [] : ['the vantage-pcap addon with batched UDP I/O (npm rebuild vantage-pcap)'],
  )
    ? (b as UdpBatchBinding)
    : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pattern(i: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let k = 0; k < len; k++) b[k] = (i * 31 + k * 7) & 255;
  if (len >= 4) b.writeUInt32BE(i, 0);
  return b;
}

function bindDgram(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
  const s = createSocket(type);
  return new Promise((r) => s.bind(0, host, () => r(s)));
}

function sendAll(s: Socket, msgs: Buffer[], port: number, host: string): Promise<void> {
  return msgs.reduce<Promise<void>>(
    (p, m) => p.then(() => new Promise<void>((r, j) => s.send(m, port, host, (e) => (e ? j(e) : r())))),
    Promise.resolve(),
  );
}

interface Got {
  data: Buffer;
  caplen: number;
  len: number;
  flags: number;
  family: number;
  port: number;
  addr: Buffer;
}

/** Receive through poll + recvBatch until `want` datagrams came (or 3 s passed). */
async function receive(
  b: UdpBatchBinding,
  h: NativeHandle,
  want: number,
  slot: number,
  headroom: number,
  slots = 64,
): Promise<Got[]> {
  const buf = Buffer.alloc(slot * slots);
  const meta = new Uint32Array(RECV_META_STRIDE * slots);
  const got: Got[] = [];
  let calls = 0;
  b.poll(h, () => {
    for (;;) {
      const n = b.recvBatch(h, buf, meta, slot, headroom);
      calls++;
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const m = i * RECV_META_STRIDE;
        const off = meta[m + RECV_OFF]!;
        assert.equal(off, i * slot + headroom);
        const fam = meta[m + RECV_FAMILY]!;
        const ab = m * 4 + RECV_ADDR_BYTE;
        got.push({
          data: Buffer.from(buf.subarray(off, off + meta[m + RECV_CAPLEN]!)),
          caplen: meta[m + RECV_CAPLEN]!,
          len: meta[m + RECV_LEN]!,
          flags: meta[m + RECV_FLAGS]!,
          family: fam,
          port: meta[m + RECV_PORT]!,
          addr: Buffer.from(meta.buffer.slice(ab, ab + (fam === 6 ? 16 : 4))),
        });
      }
    }
  });
  const deadline = Date.now() + 3000;
  while (got.length < want && Date.now() < deadline) await sleep(5);
  assert.ok(calls > 0);
  return got;
}

describe('batched UDP I/O of the addon (recvmmsg / sendmmsg)', () => {
  test('recvBatch: many datagrams of varying sizes, byte-exact, in order, with their source', async (t) => {
    const b = addon(t);
    if (!b) return;
    const h = b.udpOpen(4, '127.0.0.1', 0, 4 << 20, 0);
    const { address, port } = b.address(h);
    assert.equal(address, '127.0.0.1');
    assert.ok(port > 0);
    const tx = await bindDgram('udp4', '127.0.0.1');
    const msgs = Array.from({ length: 1500 }, (_, i) => pattern(i, i === 0 ? 0 : 1 + ((i * 997) % 9000)));
    const got = receive(b, h, msgs.length, 9216 + 64, 64);
    // In chunks the socket buffer holds: this test is about bytes and order, not about drops.
    for (let i = 0; i < msgs.length; i += 100) {
      await sendAll(tx, msgs.slice(i, i + 100), port, '127.0.0.1');
      await sleep(10);
    }
    const r = await got;
    b.close(h);
    assert.equal(r.length, msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      const g = r[i]!;
      assert.equal(g.len, msgs[i]!.length, `datagram ${i}`);
      assert.equal(g.caplen, msgs[i]!.length);
      assert.equal(g.flags, 0);
      assert.ok(g.data.equals(msgs[i]!), `datagram ${i} differs`);
      assert.equal(g.family, 4);
      assert.equal(g.port, tx.address().port);
      assert.deepEqual([...g.addr], [127, 0, 0, 1]);
    }
    tx.close();
  });

  test('recvBatch over IPv6: source address and port', async (t) => {
    const b = addon(t);
    if (!b) return;
    const h = b.udpOpen(6, '::1', 0, 1 << 20, 0);
    const tx = await bindDgram('udp6', '::1');
    const msgs = [pattern(1, 100), pattern(2, 1300), pattern(3, 1)];
    const got = receive(b, h, msgs.length, 2048, 0);
    await sendAll(tx, msgs, b.address(h).port, '::1');
    const r = await got;
    b.close(h);
    assert.equal(r.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.ok(r[i]!.data.equals(msgs[i]!));
      assert.equal(r[i]!.family, 6);
      assert.equal(r[i]!.port, tx.address().port);
      assert.deepEqual([...r[i]!.addr], [...Buffer.alloc(15), 1]);
    }
    tx.close();
  });

  test('a datagram longer than the slot is reported truncated, the next one intact', async (t) => {
    const b = addon(t);
    if (!b) return;
    const h = b.udpOpen(4, '127.0.0.1', 0, 1 << 20, 0);
    const tx = await bindDgram('udp4', '127.0.0.1');
    const big = pattern(7, 5000);
    const small = pattern(8, 300);
    const got = receive(b, h, 2, 1024, 24, 4);
    await sendAll(tx, [big, small], b.address(h).port, '127.0.0.1');
    const r = await got;
    b.close(h);
    assert.equal(r.length, 2);
    assert.equal(r[0]!.flags, 1);
    assert.equal(r[0]!.len, 5000);
    assert.equal(r[0]!.caplen, 1000);
    assert.ok(r[0]!.data.equals(big.subarray(0, 1000)));
    assert.equal(r[1]!.flags, 0);
    assert.ok(r[1]!.data.equals(small));
    tx.close();
  });

  test('sendBatch: many datagrams from one buffer, byte-exact and in order', async (t) => {
    const b = addon(t);
    if (!b) return;
    const rx = await bindDgram('udp4', '127.0.0.1');
    rx.setRecvBufferSize(4 << 20);
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    const msgs = Array.from({ length: 2000 }, (_, i) => pattern(i, 1 + ((i * 389) % 1472)));
    const buf = Buffer.concat(msgs);
    const table = new Uint32Array(2 * msgs.length);
    let o = 0;
    msgs.forEach((m, i) => {
      table[2 * i] = o;
      table[2 * i + 1] = m.length;
      o += m.length;
    });
    const h = b.udpOpen(4, '', -1, 0, 4 << 20);
    b.connect(h, '127.0.0.1', rx.address().port);
    let sent = 0;
    while (sent < msgs.length) {
      sent += b.sendBatch(h, buf, table, sent, Math.min(300, msgs.length - sent));
      if (sent < msgs.length) await sleep(1); // let the receiver read
    }
    const deadline = Date.now() + 3000;
    while (got.length < msgs.length && Date.now() < deadline) await sleep(5);
    b.close(h);
    rx.close();
    assert.equal(got.length, msgs.length);
    for (let i = 0; i < msgs.length; i++) assert.ok(got[i]!.equals(msgs[i]!), `datagram ${i} differs`);
  });

  test('bad arguments and errors are JS errors with messages, not crashes', async (t) => {
    const b = addon(t);
    if (!b) return;
    const h = b.udpOpen(4, '127.0.0.1', 0, 0, 0);
    const buf = Buffer.alloc(4096);
    assert.throws(() => b.recvBatch(h, buf, new Uint32Array(RECV_META_STRIDE), 8192, 0), { code: 'EINVAL' });
    assert.throws(() => b.recvBatch(h, buf, new Uint32Array(RECV_META_STRIDE), 100, 100), { code: 'EINVAL' });
    assert.throws(() => b.recvBatch(h, buf, new Uint32Array(4), 1024, 0), { code: 'EINVAL' });
    assert.throws(
      () => b.recvBatch(h, buf, new Int32Array(24) as unknown as Uint32Array, 1024, 0),
      TypeError,
    );
    assert.equal(b.recvBatch(h, buf, new Uint32Array(RECV_META_STRIDE * 4), 1024, 0), 0); // nothing waiting
    assert.throws(() => b.sendBatch(h, buf, new Uint32Array([0, 10]), 0, 1), { code: 'EDESTADDRREQ' });
    const port = b.address(h).port;
    b.close(h);
    // Nobody listens any more: the kernel reports the refused datagram on a later send.
    const tx = b.udpOpen(4, '', -1, 0, 0);
    b.connect(tx, '127.0.0.1', port);
    assert.throws(() => b.sendBatch(tx, buf, new Uint32Array([4000, 200]), 0, 1), { code: 'EINVAL' });
    assert.throws(() => b.sendBatch(tx, buf, new Uint32Array([0, 10]), 1, 1), { code: 'EINVAL' });
    assert.throws(() => b.connect(tx, 'not-an-ip', 1), { code: 'EINVAL', message: /family/ });
    assert.throws(() => b.udpOpen(4, '::1', 0, 0, 0), { code: 'EINVAL' });
    assert.throws(() => b.recvBatch(h, buf, new Uint32Array(RECV_META_STRIDE), 1024, 0), { code: 'ECLOSED' });
    b.close(tx);
  });

  test('VxlanDelivery: every frame is sent or counted (sendmmsg path), exact bytes', async (t) => {
    const b = addon(t);
    if (!b) return;
    const native = loadUdpBatchBinding();
    const rx = await bindDgram('udp4', '127.0.0.1');
    rx.setRecvBufferSize(4 << 20);
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    const c = newTargetCounters();
    const d = new VxlanDelivery('127.0.0.1', rx.address().port, 99, 4096, c);
    await d.start();
    assert.equal(d.io, native ? 'sendmmsg' : 'dgram');
    const frames = Array.from({ length: 3000 }, (_, i) => pattern(i, 60 + ((i * 131) % 1400)));
    const f: OutFrame = { buf: Buffer.alloc(0), off: 0, caplen: 0, wirelen: 0, tsSec: 0, tsNs: 0 };
    let bytes = 0;
    for (let i = 0; i < frames.length; i++) {
      f.buf = frames[i]!;
      f.caplen = f.buf.length;
      d.send(f, f.caplen);
      bytes += f.caplen;
      if (i % 200 === 199) await sleep(2);
    }
    await d.stop();
    const deadline = Date.now() + 3000;
    while (got.length < c.sent && Date.now() < deadline) await sleep(5);
    rx.close();
    assert.equal(c.pending, 0);
    assert.equal(c.sent + c.dropped, frames.length, JSON.stringify(c));
    assert.equal(c.dropped, 0, JSON.stringify(c));
    assert.equal(c.bytes, bytes);
    assert.equal(got.length, frames.length);
    for (let i = 0; i < frames.length; i++) {
      assert.equal(got[i]!.readUInt32BE(4), 99 << 8);
      assert.ok(got[i]!.subarray(8).equals(frames[i]!), `frame ${i} differs`);
    }
  });

  test('VXLAN receiver: an oversize datagram is delivered cut and counted, not crashed', async (t) => {
    const b = addon(t);
    if (!b) return;
    const lens: Array<[number, number]> = [];
    const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0 }, (fr) =>
      lens.push([fr.caplen, fr.wirelen]),
    );
    await rx.start();
    const tx = await bindDgram('udp4', '127.0.0.1');
    const big = Buffer.alloc(20_000);
    big[0] = 0x08;
    const ok = Buffer.alloc(8 + 60);
    ok[0] = 0x08;
    await sendAll(tx, [big, ok], rx.address().port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (rx.counters.received < 2 && Date.now() < deadline) await sleep(5);
    await rx.stop();
    tx.close();
    assert.equal(rx.counters.received, 2);
    assert.equal(rx.counters.delivered, 2);
    assert.equal(rx.counters.bytes, 20_000 + 68);
    if (loadUdpBatchBinding()) {
      assert.equal(rx.counters.truncated, 1);
      assert.deepEqual(lens, [
        [28 + 16_384 - 64, 28 + 20_000],
        [28 + 68, 28 + 68],
      ]);
    } else {
      assert.equal(rx.counters.truncated, 0);
      assert.deepEqual(lens, [
        [28 + 20_000, 28 + 20_000],
        [28 + 68, 28 + 68],
      ]);
    }
  });
});
