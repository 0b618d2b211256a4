import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { Frame } from '../../src/capture/frame.js';
import {
  createGreReceiver,
  createTzspReceiver,
  createVxlanReceiver,
  OuterHeaderBuilder,
  type UdpBatchBinding,
} from '../../src/capture/mirror.js';
import {
  DEFAULT_RING,
  hasRing,
  type RingReceiver,
  validateRingConfig,
} from '../../src/capture/mirror-ring.js';
import { FlowSamplingMarks } from '../../src/capture/sampling-marks.js';
import { ConfigError } from '../../src/common/errors.js';
import { Sensor } from '../../src/flow/sensor.js';
import { columnarToRecords } from '../../src/store/columnar.js';
import { realFrames, runs } from '../support/fuzz.js';
import { type Conversation, conversationPackets, rng } from '../support/traffic.js';
import { ROOT, requireOrSkip } from './support.js';

/**
 * The VXLAN receiver whose socket a thread of the addon drains into a ring, on loopback with a
 * real sender (sendmmsg on a thread of its own). The truth is the sender's: what it sent (and
 * the kernel's own counts of what it dropped), and for sampling the packets of each generated
 * conversation.
 */
function ringAddon(t: TestContext): UdpBatchBinding | null {
  let b: UdpBatchBinding | null = null;
  try {
    b = createRequire(import.meta.url)('vantage-pcap') as UdpBatchBinding;
  } catch {
    b = null;
  }
  const ok = hasRing(b) && process.env.VANTAGE_NO_PCAP !== '1';
  return requireOrSkip(t, ok ? [] : ['the vantage-pcap addon with udpRingStart (npm rebuild vantage-pcap)'])
    ? b
    : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Packets the kernel dropped from its per-CPU receive backlogs (loopback passes through them). */
function softnetDrops(): number {
  return readFileSync('/proc/net/softnet_stat', 'latin1')
    .trim()
    .split('\n')
    .reduce((s, l) => s + Number.parseInt(l.split(/\s+/)[1] ?? '0', 16), 0);
}

const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const { addon, port, host, datagrams, pps } = workerData;
const b = require(addon);
// port 0 with a host: raw GRE (IP protocol 47), the kernel writing the IPv4 header.
const h = port === 0 ? b.rawOpen(47, '', 1 << 16) : b.udpOpen(4, '', -1, 0, 4 << 20);
b.connect(h, host, port);
const total = datagrams.reduce((s, d) => s + d.length, 0);
const buf = Buffer.allocUnsafeSlow(total);
const table = new Uint32Array(2 * datagrams.length);
let o = 0;
datagrams.forEach((d, i) => { buf.set(d, o); table[2 * i] = o; table[2 * i + 1] = d.length; o += d.length; });
let i = 0, errors = 0;
const t0 = Date.now();
const pump = () => {
  while (i < datagrams.length) {
    const due = pps > 0 ? Math.floor((pps * (Date.now() - t0)) / 1000) - i : datagrams.length;
    if (due <= 0) return setImmediate(pump);
    let n = 0;
    try { n = b.sendBatch(h, buf, table, i, Math.min(256, due, datagrams.length - i)); } catch { errors++; n = 1; }
    if (n === 0) return setImmediate(pump);
    i += n;
  }
  b.close(h);
  parentPort.postMessage({ sent: i - errors, errors });
};
pump();
`;

/** Send `datagrams` to 127.0.0.1:port over UDP, or to `host` as GRE payloads with port 0. */
async function send(port: number, datagrams: Buffer[], pps: number, host = '127.0.0.1'): Promise<number> {
  const w = new Worker(SENDER, {
    eval: true,
    workerData: { addon: `${ROOT}native/pcap`, port, host, datagrams, pps },
  });
  const r = await new Promise<{ sent: number; errors: number }>((res) => w.once('message', res));
  await w.terminate();
  assert.equal(r.errors, 0);
  return r.sent;
}

function vxlan(vni: number, frame: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + frame.length);
  b.writeUInt32BE(0x08000000, 0);
  b.writeUInt32BE(vni << 8, 4);
  b.set(frame, 8);
  return b;
}

/** A TZSP datagram (version 1, received packet) carrying `frame` of encapsulation `encap`. */
function tzsp(encap: number, frame: Uint8Array, tags: number[] = []): Buffer {
  return Buffer.concat([Buffer.from([1, 0, encap >> 8, encap & 255, ...tags, 1]), frame]);
}

/**
 * GRE receivers in this file listen on their own loopback address: a raw socket for protocol 47
 * gets every GRE packet to its address, those of other tests' senders too.
 */
const GRE_HOST = '127.0.0.3';

/** A GRE header (RFC 2784/2890): checksum-less, with a key and a sequence number when given. */
function gre(proto: number, payload: Uint8Array, key?: number, seq?: number): Buffer {
  const h = Buffer.alloc(4 + (key === undefined ? 0 : 4) + (seq === undefined ? 0 : 4));
  h.writeUInt16BE((key === undefined ? 0 : 0x2000) | (seq === undefined ? 0 : 0x1000), 0);
  h.writeUInt16BE(proto, 2);
  if (key !== undefined) h.writeUInt32BE(key, 4);
  if (seq !== undefined) h.writeUInt32BE(seq, key === undefined ? 4 : 8);
  return Buffer.concat([h, payload]);
}

/** ERSPAN type II (over GRE with a sequence number) of session `session`. */
function erspan2(session: number, frame: Uint8Array, seq: number): Buffer {
  const e = Buffer.alloc(8);
  e.writeUInt16BE(0x1000, 0); // Ver 1 (type II), VLAN 0
  e.writeUInt16BE(session & 0x3ff, 2);
  return gre(0x88be, Buffer.concat([e, frame]), undefined, seq);
}

/** ERSPAN type III with the platform sub-header (O flag) of session `session`. */
function erspan3(session: number, frame: Uint8Array, seq: number): Buffer {
  const e = Buffer.alloc(20);
  e.writeUInt16BE(0x2000, 0); // Ver 2 (type III)
  e.writeUInt16BE(session & 0x3ff, 2);
  e[11] = 1; // O: an 8-byte platform-specific sub-header follows
  return gre(0x22eb, Buffer.concat([e, frame]), undefined, seq);
}

/** Until the receiver's count stops moving and its ring is empty. */
async function settle(rx: RingReceiver): Promise<void> {
  let last = -1;
  for (;;) {
    await sleep(150);
    const c = rx.refreshStats();
    if (c.received === last && rx.ringUsed === 0) return;
    last = c.received;
  }
}

function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) {
    // a slow sensor
  }
}

/**
 * Overload sampling on a ring receiver of `kind`: 4,000 generated conversations sent interleaved
 * through a slow sensor; every kept flow has all its packets, N on its record, and Σ N ≈ sent.
 */
async function keepsWholeFlows(t: TestContext, kind: 'vxlan' | 'tzsp' | 'gre'): Promise<void> {
  if (!ringAddon(t)) return;
  if (kind === 'gre' && !requireOrSkip(t, process.getuid?.() === 0 ? [] : ['root (raw sockets)'])) return;
  const r = rng(11);
  // Conversations with their own packets (the truth), sent interleaved as a network would.
  const convs: Conversation[] = [];
  for (let i = 0; i < 4000; i++)
    convs.push({
      client: `10.${(i >> 8) & 255}.${i & 255}.1`,
      server: `172.16.${i % 50}.${1 + (i % 7)}`,
      proto: r() < 0.3 ? 17 : 6,
      cport: 20_000 + (i % 40_000),
      sport: r() < 0.5 ? 443 : 53,
      t: 1_700_000_000 + i * 0.001,
      request: 20 + Math.floor(r() * 200),
      response: 20 + Math.floor(r() * 400),
    });
  const truth = new Map<string, number>();
  const pkts: { t: number; data: Buffer }[] = [];
  for (const [ci, c] of convs.entries()) {
    const ps = conversationPackets(c);
    truth.set(`${c.client} ${c.cport} ${c.server} ${c.sport} ${c.proto}`, ps.length);
    // TZSP carries Ethernet frames, and raw IP packets for every other conversation; GRE
    // carries Ethernet (with a key), IP, ERSPAN II and III in turn.
    const wrap = (d: Buffer, seq: number): Buffer =>
      kind === 'vxlan'
        ? vxlan(5, d)
        : kind === 'tzsp'
          ? ci % 2
            ? tzsp(1, d)
            : tzsp(7, d.subarray(14))
          : [
              () => gre(0x6558, d, 5),
              () => gre(0x0800, d.subarray(14)),
              () => erspan2(9, d, seq),
              () => erspan3(9, d, seq),
            ][ci % 4]!();
    for (const [i, p] of ps.entries())
      pkts.push({ t: p.tsSec + p.tsNs / 1e9, data: wrap(Buffer.from(p.data), i) });
  }
  pkts.sort((a, b) => a.t - b.t);
  const flows: Record<string, unknown>[] = [];
  let rx: RingReceiver | null = null;
  const marks = new FlowSamplingMarks({
    get factor() {
      return rx?.factor ?? 1;
    },
  });
  const sensor = new Sensor((rec) => {
    if (rec.type === 'flow') flows.push(rec);
  });
  sensor.addHook(marks);
  sensor.writeColumns((type, c) => {
    if (type === 'flow') flows.push(...columnarToRecords(marks.fillColumns(c), 'flow'));
  }, 512);
  const ring = { ringBytes: 256 + (1 << 20), sampling: true, maxSampling: 64 };
  const slow = (f: Frame): void => {
    sensor.onFrame(f);
    spin(20);
  };
  rx = (
    kind === 'gre'
      ? createGreReceiver({ bindIp: GRE_HOST, ring }, slow)
      : (kind === 'vxlan' ? createVxlanReceiver : createTzspReceiver)(
          { host: '127.0.0.1', port: 0, ring },
          slow,
        )
  ) as RingReceiver;
  await rx.start();
  const sent = await send(
    rx.address().port,
    pkts.map((p) => p.data),
    100_000,
    kind === 'gre' ? GRE_HOST : '127.0.0.1',
  );
  await settle(rx);
  await rx.stop();
  sensor.finish();
  const c = rx.counters;
  const rc = rx.ringCounters();
  t.diagnostic(
    `sent ${sent}: received ${c.received}, delivered ${c.delivered}, sampled out ${c.sampledOut}, ring_full ${c.ringFull}, socket ${c.socketDrops}; flows kept ${rc.flowsKept}, sampled out ${rc.flowsSampled}, level changes ${rc.levelChanges}, evictions ${rc.evictions}; ${flows.length} flow records`,
  );
  assert.equal(c.received, c.delivered + c.sampledOut + c.ringFull);
  assert.equal(c.ringFull + c.socketDrops, 0, 'sampling kept the ring from filling');
  assert.ok(c.sampledOut > 0, 'the slow sensor made the receiver sample');
  let factors = 0;
  let sampled = 0;
  for (const f of flows) {
    const key = `${f.client_ip} ${f.client_port} ${f.server_ip} ${f.server_port} ${f.proto}`;
    const want = truth.get(key);
    assert.ok(want !== undefined, `a flow that was not sent: ${key}`);
    assert.equal(
      Number(f.client_packets) + Number(f.server_packets),
      want,
      `kept flow ${key} has every packet`,
    );
    const k = Number(f.sampling_rate ?? 1);
    assert.ok(k >= 1 && (k & (k - 1)) === 0);
    factors += k;
    if (k > 1) sampled++;
  }
  assert.equal(flows.length, rc.flowsKept);
  assert.equal(rc.flowsKept + rc.flowsSampled, convs.length);
  assert.ok(sampled > 0, 'some kept flows stand for several');
  // Unbiased: the kept flows weighted by their N stand for about every flow sent.
  assert.ok(Math.abs(factors - convs.length) < convs.length * 0.25, `Σ N = ${factors} for ${convs.length}`);
}

/**
 * Random and mutated datagrams through a sampling ring receiver of `kind` with a slow consumer:
 * the thread parses every one and the account stays exact.
 */
async function fuzzAccount(t: TestContext, kind: 'vxlan' | 'tzsp', datagrams: Buffer[]): Promise<void> {
  let delivered = 0;
  const rx = (kind === 'vxlan' ? createVxlanReceiver : createTzspReceiver)(
    { host: '127.0.0.1', port: 0, ring: { ringBytes: 256 + 65536, sampling: true, maxSampling: 4 } },
    () => {
      delivered++;
      if (delivered % 8 === 0) spin(30);
    },
  ) as RingReceiver;
  await rx.start();
  const sent = await send(rx.address().port, datagrams, 50_000);
  await settle(rx);
  await rx.stop();
  const c = rx.counters;
  let malformed = 0;
  for (const n of Object.values(c.malformed)) malformed += n;
  t.diagnostic(
    `sent ${sent}: delivered ${c.delivered}, malformed ${malformed}, sampled out ${c.sampledOut}, ring_full ${c.ringFull}, socket ${c.socketDrops}`,
  );
  assert.equal(c.received + c.socketDrops, sent);
  assert.equal(c.received, c.delivered + c.sampledOut + c.ringFull + malformed);
  assert.ok(malformed > 0 && c.delivered > 0);
}

describe('VXLAN receive thread and ring (addon)', () => {
  test('exact account under overload: sent = delivered + ring_full + malformed + counted kernel drops; frames byte-exact', async (t) => {
    if (!ringAddon(t)) return;
    const r = rng(7);
    const datagrams: Buffer[] = [];
    for (let i = 0; i < 12_000; i++) {
      const k = r();
      if (k < 0.005)
        datagrams.push(Buffer.alloc(12)); // vxlan_too_short
      else if (k < 0.01)
        datagrams.push(Buffer.alloc(60)); // no VNI flag
      else {
        const f = Buffer.alloc(60 + Math.floor(r() * 1400));
        f.writeUInt16BE(0x0800, 12);
        f.writeUInt32BE(i, f.length - 4);
        datagrams.push(vxlan(1 + (i % 3), f));
      }
    }
    const got: Buffer[] = [];
    const outer = new OuterHeaderBuilder();
    let headerMismatch = 0;
    const rx = createVxlanReceiver(
      { host: '127.0.0.1', port: 0, ring: { ringBytes: 256 + 65536 } },
      (f: Frame) => {
        // The frame: rebuilt outer IPv4 + UDP header, then the datagram as it was sent.
        const want = Buffer.alloc(28 + 8);
        outer.headerLen('127.0.0.1');
        outer.write(want, 28, f.wirelen - 28, f.buf.readUInt16BE(f.off + 20), 4789);
        if (!f.buf.subarray(f.off, f.off + 28).equals(want.subarray(0, 28))) headerMismatch++;
        got.push(Buffer.from(f.buf.subarray(f.off + 28, f.off + f.caplen)));
        if (got.length % 4 === 0) spin(40);
      },
    ) as RingReceiver;
    outer.setLocal('127.0.0.1');
    await rx.start();
    assert.equal(rx.ringSize, 65536);
    const port = rx.address().port;
    const backlog0 = softnetDrops();
    const sent = await send(port, datagrams, 0);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    const backlog = softnetDrops() - backlog0;
    const malformed = (c.malformed.vxlan_too_short ?? 0) + (c.malformed.vxlan_no_vni_flag ?? 0);
    t.diagnostic(
      `sent ${sent}: received ${c.received} (socket drops ${c.socketDrops}, backlog ${backlog}), delivered ${c.delivered}, ring_full ${c.ringFull}, malformed ${malformed}`,
    );
    assert.equal(sent, datagrams.length);
    assert.equal(sent, c.received + c.socketDrops + backlog);
    assert.equal(c.received, c.delivered + c.ringFull + c.sampledOut + malformed);
    assert.equal(c.sampledOut, 0);
    assert.ok(c.ringFull > 0, 'the slow consumer overflowed the 64 KiB ring');
    assert.equal(headerMismatch, 0);
    const rc = rx.ringCounters();
    assert.ok(rc.highWater <= rx.ringSize, `ring high water ${rc.highWater} within ${rx.ringSize}`);
    assert.ok(rc.highWater > rx.ringSize / 2);
    // Every delivered frame is one of the sent datagrams, in order, byte for byte.
    let j = 0;
    for (const g of got) {
      while (j < datagrams.length && !datagrams[j]!.equals(g)) j++;
      assert.ok(j < datagrams.length, 'a delivered frame that was never sent, or out of order');
      j++;
    }
  });

  test('a consumer that keeps up: the empty ring goes on at 0 and gives back the pages written past its first MiB; no frame lost, no sampling', {
    timeout: 120_000,
  }, async (t) => {
    if (!ringAddon(t)) return;
    // 20 MB over ~3 s through an 8 MiB ring whose consumer keeps up but now and then stalls:
    // without the rewind the writes walk the whole ring (all of it resident); with it they stay
    // near the first MiB, laps of different lengths, and the pages past it are given back once
    // a second while the marker of the lap just ended is still to be read. A rewind's skipped
    // end must not read as backlog either: with sampling on it would raise N at once.
    const datagrams: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const f = Buffer.alloc(900 + (i % 200));
      f.writeUInt16BE(0x0800, 12);
      f.writeUInt32BE(i, f.length - 4);
      datagrams.push(vxlan(1, f));
    }
    const got: Buffer[] = [];
    const rx = createVxlanReceiver(
      { host: '127.0.0.1', port: 0, ring: { ringBytes: 256 + (8 << 20), sampling: true } },
      (f: Frame) => {
        got.push(Buffer.from(f.buf.subarray(f.off + 28, f.off + f.caplen)));
        // A stall now and then: the ring holds a few hundred KB to a few MB, laps differ.
        if (got.length % 1500 === 0) spin(((got.length / 1500) % 4) * 60_000);
      },
    ) as RingReceiver;
    await rx.start();
    assert.equal(rx.ringSize, 8 << 20);
    const sent = await send(rx.address().port, datagrams, 7_000);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    const rc = rx.ringCounters();
    t.diagnostic(
      `sent ${sent}: received ${c.received}, delivered ${c.delivered}, sampled out ${c.sampledOut}, ring_full ${c.ringFull}, socket ${c.socketDrops}; rewinds ${rc.rewinds}, trims ${rc.trims}, high water ${rc.highWater}, level changes ${rc.levelChanges}`,
    );
    assert.equal(c.socketDrops, 0);
    assert.equal(c.received, sent);
    assert.equal(c.delivered, sent, 'nothing sampled out or dropped');
    assert.equal(rc.levelChanges, 0, 'no rewind read as a full ring');
    assert.ok(rc.rewinds >= 10, `${rc.rewinds} rewinds for 20 MB`);
    assert.ok(rc.trims >= 2, 'the pages past the first MiB were given back, more than once');
    assert.ok(rc.highWater < 4 << 20, `high water ${rc.highWater}: the skipped ends are not backlog`);
    assert.equal(got.length, datagrams.length);
    for (let i = 0; i < got.length; i++)
      assert.ok(got[i]!.equals(datagrams[i]!), `frame ${i} byte-exact, in order`);
  });

  test('overload sampling keeps whole flows 1 in N and puts N on their records', async (t) => {
    await keepsWholeFlows(t, 'vxlan');
  });

  test('random and mutated datagrams: the receive thread parses every inner frame for sampling and keeps the account', async (t) => {
    if (!ringAddon(t)) return;
    const seeds = await realFrames(
      ['ipv6-mixed-tcp-udp-ssh-dns.pcap', 'vlan-8021q-icmp-arp.pcap', 'http-methods-many.pcap'],
      100,
    );
    const eth = seeds.filter((f) => f.linkType === 1).map((f) => f.data);
    const datagram = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 1600 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.nat(eth.length - 1),
          fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 8 }),
          fc.nat(2000),
        )
        .map(([i, edits, cut]) => {
          const f = Buffer.from(eth[i]!);
          for (const [o, v] of edits) if (f.length > 0) f[o % f.length] = v;
          const vx = vxlan(3, f.subarray(0, Math.max(0, Math.min(f.length, cut))));
          return vx;
        }),
    );
    const datagrams = fc.sample(datagram, { numRuns: runs(3000), seed: 42 });
    await fuzzAccount(t, 'vxlan', datagrams);
  });

  test('IPv6: the rebuilt outer header is the one the JavaScript receiver writes', async (t) => {
    if (!ringAddon(t)) return;
    const got: Buffer[] = [];
    const rx = createVxlanReceiver({ host: '::1', port: 0, ring: { ringBytes: 256 + 65536 } }, (f) => {
      got.push(Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)));
    }) as RingReceiver;
    await rx.start();
    const s = createSocket('udp6');
    await new Promise<void>((r) => s.bind(0, '::1', () => r()));
    const sport = s.address().port;
    const msgs = [60, 200, 1400].map((n, i) => {
      const f = Buffer.alloc(n);
      f.writeUInt16BE(0x86dd, 12);
      f[n - 1] = i;
      return vxlan(9, f);
    });
    for (const m of msgs)
      await new Promise<void>((r, j) => s.send(m, rx.address().port, '::1', (e) => (e ? j(e) : r())));
    for (let i = 0; i < 50 && got.length < msgs.length; i++) await sleep(20);
    s.close();
    await rx.stop();
    assert.equal(got.length, msgs.length);
    const outer = new OuterHeaderBuilder();
    outer.setLocal('::1');
    msgs.forEach((m, i) => {
      const want = Buffer.alloc(64 + m.length);
      m.copy(want, 64);
      outer.headerLen('::1');
      const start = outer.write(want, 64, m.length, sport, 4789);
      assert.equal(start, 16, 'a 48-byte IPv6 + UDP header');
      assert.deepEqual(got[i], want.subarray(start));
    });
  });

  test('ring config: errors name the key', () => {
    assert.deepEqual(validateRingConfig({ ...DEFAULT_RING }), DEFAULT_RING);
    const bad: [Partial<typeof DEFAULT_RING>, string][] = [
      [{ ringBytes: 1000 }, 'mirror.ringBytes'],
      [{ maxSampling: 12 }, 'mirror.maxSampling'],
      [{ samplingFlows: 10 }, 'mirror.samplingFlows'],
      [{ nice: -30 }, 'mirror.nice'],
    ];
    for (const [c, key] of bad)
      assert.throws(
        () => validateRingConfig({ ...DEFAULT_RING, ...c }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(key),
      );
  });
});

describe('TZSP receive thread and ring (addon)', () => {
  test('exact account under overload, each frame byte-exact with its link type, malformed datagrams named', async (t) => {
    if (!ringAddon(t)) return;
    const r = rng(17);
    const datagrams: Buffer[] = [];
    /** What each good datagram must come out as: link type and frame. */
    const want: { link: number; frame: Buffer }[] = [];
    const bad: Record<string, number> = {};
    const badOne = (reason: string, d: Buffer): void => {
      bad[reason] = (bad[reason] ?? 0) + 1;
      datagrams.push(d);
    };
    for (let i = 0; i < 12_000; i++) {
      const k = r();
      if (k < 0.002) badOne('tzsp_bad_header', Buffer.from([2, 0, 0, 1, 1, 0, 0]));
      else if (k < 0.004) badOne('tzsp_not_a_packet', Buffer.from([1, 4, 0, 0, 1]));
      else if (k < 0.006) badOne('tzsp_truncated_tags', Buffer.from([1, 0, 0, 1, 10, 40, 0, 0]));
      else if (k < 0.008) badOne('tzsp_unsupported_encapsulation', tzsp(18, Buffer.alloc(40)));
      else if (k < 0.01) badOne('tzsp_empty', tzsp(1, Buffer.alloc(0)));
      else {
        const eth = r() < 0.5;
        const f = Buffer.alloc((eth ? 60 : 40) + Math.floor(r() * 1400));
        if (eth) f.writeUInt16BE(0x0800, 12);
        else f[0] = 0x45;
        f.writeUInt32BE(i, f.length - 4);
        // Padding and a tagged field (type 10, 2 bytes) before END on some.
        const tags = r() < 0.3 ? [0, 10, 2, 0xab, 0xcd] : [];
        datagrams.push(tzsp(eth ? 1 : 7, f, tags));
        want.push({ link: eth ? 1 : 101, frame: f });
      }
    }
    const got: { link: number; frame: Buffer }[] = [];
    const rx = createTzspReceiver(
      { host: '127.0.0.1', port: 0, ring: { ringBytes: 256 + 65536 } },
      (f: Frame) => {
        got.push({ link: f.linkType, frame: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)) });
        if (got.length % 4 === 0) spin(40);
      },
    ) as RingReceiver;
    await rx.start();
    assert.equal(rx.kind, 'tzsp');
    const backlog0 = softnetDrops();
    const sent = await send(rx.address().port, datagrams, 0);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    const backlog = softnetDrops() - backlog0;
    let malformed = 0;
    for (const n of Object.values(c.malformed)) malformed += n;
    t.diagnostic(
      `sent ${sent}: received ${c.received} (socket drops ${c.socketDrops}, backlog ${backlog}), delivered ${c.delivered}, ring_full ${c.ringFull}, malformed ${JSON.stringify(c.malformed)}`,
    );
    assert.equal(sent, c.received + c.socketDrops + backlog);
    assert.equal(c.received, c.delivered + c.ringFull + malformed);
    assert.ok(c.ringFull > 0, 'the slow consumer overflowed the 64 KiB ring');
    assert.equal(got.length, c.delivered);
    // Every malformed count names a reason the generator made, never more than it made.
    for (const [k, n] of Object.entries(c.malformed)) assert.ok(n <= (bad[k] ?? 0), `${k}: ${n}`);
    // Every delivered frame is one of the good datagrams' frames, in order, byte for byte.
    let j = 0;
    for (const g of got) {
      while (j < want.length && !(want[j]!.link === g.link && want[j]!.frame.equals(g.frame))) j++;
      assert.ok(j < want.length, 'a delivered frame that was never sent, or out of order');
      j++;
    }
  });

  test('without the ring (recvmmsg or node:dgram on this thread) the same datagrams give the same frames', async (t) => {
    if (!ringAddon(t)) return;
    const frames = [60, 300, 1400].map((n, i) => {
      const f = Buffer.alloc(n);
      f.writeUInt16BE(0x0800, 12);
      f[n - 1] = i;
      return f;
    });
    const datagrams = [
      ...frames.map((f) => tzsp(1, f, [0, 0])),
      Buffer.from([1, 4, 0, 0, 1]),
      tzsp(7, Buffer.from([0x45, 0, 0, 20])),
    ];
    const run = async (ring: boolean): Promise<{ frames: string[]; malformed: Record<string, number> }> => {
      const out: string[] = [];
      const rx = createTzspReceiver(
        { host: '127.0.0.1', port: 0, ...(ring ? { ring: { ringBytes: 256 + 65536 } } : {}) },
        (f: Frame) => out.push(`${f.linkType}:${f.buf.toString('hex', f.off, f.off + f.caplen)}`),
      );
      await rx.start();
      await send(rx.address().port, datagrams, 0);
      for (let i = 0; i < 50 && rx.refreshStats().received < datagrams.length; i++) await sleep(20);
      await rx.stop();
      return { frames: out, malformed: rx.counters.malformed };
    };
    const a = await run(true);
    const b = await run(false);
    // node:dgram, as without the addon
    process.env.VANTAGE_DGRAM = '1';
    const d = await run(false).finally(() => {
      delete process.env.VANTAGE_DGRAM;
    });
    assert.equal(a.frames.length, 4);
    assert.deepEqual(a, b);
    assert.deepEqual(a, d);
    assert.deepEqual(a.malformed, { tzsp_not_a_packet: 1 });
    assert.equal(a.frames[3], '101:45000014');
  });

  test('random and mutated datagrams: the thread walks every TZSP header for sampling and keeps the account', async (t) => {
    if (!ringAddon(t)) return;
    const seeds = await realFrames(['ipv6-mixed-tcp-udp-ssh-dns.pcap', 'vlan-8021q-icmp-arp.pcap'], 100);
    const eth = seeds.filter((f) => f.linkType === 1).map((f) => f.data);
    const datagram = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 1600 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.nat(eth.length - 1),
          fc.boolean(),
          // Well-formed tagged fields (padding, type-length-value) or random bytes.
          fc.oneof(
            fc
              .array(
                fc.oneof(
                  fc.constant([0]),
                  fc
                    .tuple(fc.integer({ min: 2, max: 60 }), fc.nat(6))
                    .map(([k, n]) => [k, n, ...Array(n).fill(7)]),
                ),
                { maxLength: 4 },
              )
              .map((x) => x.flat()),
            fc.array(fc.nat(255), { maxLength: 12 }),
          ),
          fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 4 }),
          fc.boolean(),
          fc.nat(2000),
        )
        .map(([i, raw, tags, edits, inHeader, cut]) => {
          const f = Buffer.from(eth[i]!);
          const d = tzsp(raw ? 7 : 1, raw ? f.subarray(14) : f, tags);
          // Edits inside the carried frame mostly, and sometimes anywhere (the header too).
          const from = inHeader ? 0 : d.length - (raw ? f.length - 14 : f.length);
          for (const [o, v] of edits) if (d.length > from) d[from + (o % (d.length - from))] = v;
          return d.subarray(0, Math.max(0, Math.min(d.length, from + cut)));
        }),
    );
    const datagrams = fc.sample(datagram, { numRuns: runs(3000), seed: 43 });
    await fuzzAccount(t, 'tzsp', datagrams);
  });

  test('overload sampling keeps whole flows (Ethernet and raw IP carried)', async (t) => {
    await keepsWholeFlows(t, 'tzsp');
  });
});

describe('GRE/ERSPAN receive thread and ring (addon, raw sockets)', () => {
  const root = (t: TestContext): boolean =>
    ringAddon(t) !== null && requireOrSkip(t, process.getuid?.() === 0 ? [] : ['root (raw sockets)']);

  test('exact account under overload; each record is the IPv4 packet the kernel received, byte-exact', async (t) => {
    if (!root(t)) return;
    const r = rng(17);
    const payloads: Buffer[] = [];
    for (let i = 0; i < 12_000; i++) {
      const f = Buffer.alloc(60 + Math.floor(r() * 1400));
      f.writeUInt16BE(0x0800, 12);
      f.writeUInt32BE(i, f.length - 4);
      payloads.push(i % 3 === 0 ? gre(0x6558, f, 7) : i % 3 === 1 ? erspan2(9, f, i) : erspan3(4, f, i));
    }
    const got: Buffer[] = [];
    let headers = 0;
    const rx = createGreReceiver({ bindIp: GRE_HOST, ring: { ringBytes: 256 + 65536 } }, (f: Frame) => {
      // The kernel's IPv4 header (protocol 47, to GRE_HOST), then the GRE packet as it was sent.
      const ihl = (f.buf[f.off]! & 15) * 4;
      if (f.buf[f.off + 9] === 47 && f.buf.readUInt32BE(f.off + 16) === 0x7f000003) headers++;
      got.push(Buffer.from(f.buf.subarray(f.off + ihl, f.off + f.caplen)));
      if (got.length % 4 === 0) spin(40);
    }) as RingReceiver;
    await rx.start();
    assert.equal(rx.kind, 'gre');
    const backlog0 = softnetDrops();
    const sent = await send(0, payloads, 0, GRE_HOST);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    const backlog = softnetDrops() - backlog0;
    t.diagnostic(
      `sent ${sent}: received ${c.received} (socket drops ${c.socketDrops}, backlog ${backlog}), delivered ${c.delivered}, ring_full ${c.ringFull}`,
    );
    assert.equal(sent, payloads.length);
    assert.equal(sent, c.received + c.socketDrops + backlog);
    assert.equal(c.received, c.delivered + c.ringFull);
    assert.ok(c.ringFull > 0, 'the slow consumer filled the ring');
    assert.equal(headers, got.length);
    // What arrived is what was sent, in order, byte for byte (the ring dropped some whole ones).
    let j = 0;
    for (const g of got) {
      while (j < payloads.length && !payloads[j]!.equals(g)) j++;
      assert.ok(j < payloads.length, 'a received packet that was not sent, or out of order');
      j++;
    }
  });

  test('the same flows with and without the ring, tunnels named', async (t) => {
    if (!root(t)) return;
    const seeds = await realFrames(['http-methods-many.pcap', 'dns-udp-many-types-nxdomain.pcap'], 400);
    const eth = seeds.filter((f) => f.linkType === 1).map((f) => Buffer.from(f.data));
    const payloads = eth.flatMap((f, i) => [gre(0x6558, f, 7), erspan2(9, f, i), erspan3(5, f, i)]);
    const flowsOf = async (ring: boolean): Promise<string[]> => {
      const flows: string[] = [];
      const add = (f: Record<string, unknown>): void => {
        flows.push(
          [
            f.tunnel,
            f.gre_key,
            f.erspan_session,
            f.client_ip,
            f.client_port,
            f.server_ip,
            f.server_port,
            f.proto,
            f.client_packets,
            f.server_packets,
          ].join(' '),
        );
      };
      const sensor = new Sensor((rec) => {
        if (rec.type === 'flow') add(rec as unknown as Record<string, unknown>);
      });
      sensor.writeColumns((type, c) => {
        if (type === 'flow') for (const f of columnarToRecords(c, 'flow')) add(f);
      }, 512);
      const rx = createGreReceiver({ bindIp: GRE_HOST, ...(ring ? { ring: {} } : {}) }, sensor.onFrame);
      await rx.start();
      const sent = await send(0, payloads, 20_000, GRE_HOST);
      for (let i = 0; i < 200 && rx.refreshStats().delivered < sent; i++) await sleep(10);
      await rx.stop();
      sensor.finish();
      assert.equal(rx.counters.delivered, sent);
      return flows.sort();
    };
    const plain = await flowsOf(false);
    const ringed = await flowsOf(true);
    assert.ok(plain.length > 10);
    assert.deepEqual(ringed, plain);
    for (const tunnel of ['gre', 'erspan'])
      assert.ok(
        plain.some((f) => f.startsWith(`${tunnel} `)),
        tunnel,
      );
  });

  test('overload sampling keeps whole flows (GRE with Ethernet and IP, ERSPAN II and III)', async (t) => {
    await keepsWholeFlows(t, 'gre');
  });

  test('ERSPAN III whose platform sub-header is cut off: delivered, never hashed past its end', async (t) => {
    if (!root(t)) return;
    // A full packet first leaves a well-formed frame in the thread's receive slots; each cut one
    // then announces an 8-byte sub-header it does not carry.
    const f = Buffer.alloc(60);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    const whole = erspan3(3, f, 0);
    const cut = erspan3(5, Buffer.alloc(0), 1).subarray(0, 4 + 4 + 12);
    const payloads = [whole, ...Array.from({ length: 50 }, () => cut)];
    const rx = createGreReceiver(
      { bindIp: GRE_HOST, ring: { ringBytes: 256 + 65536, sampling: true, maxSampling: 4 } },
      () => {},
    ) as RingReceiver;
    await rx.start();
    const sent = await send(0, payloads, 10_000, GRE_HOST);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    const rc = rx.ringCounters();
    assert.equal(c.received + c.socketDrops, sent);
    assert.equal(c.delivered, c.received);
    // Only the whole packet's flow was decided on: the cut ones had nothing to hash.
    assert.equal(rc.flowsKept + rc.flowsSampled, 1);
  });

  test('random and mutated GRE packets: the thread walks every header for sampling and keeps the account', async (t) => {
    if (!root(t)) return;
    const seeds = await realFrames(['ipv6-mixed-tcp-udp-ssh-dns.pcap', 'vlan-8021q-icmp-arp.pcap'], 100);
    const eth = seeds.filter((f) => f.linkType === 1).map((f) => Buffer.from(f.data));
    const packet = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 1600 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.nat(eth.length - 1),
          fc.nat(4),
          fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 4 }),
          fc.nat(2000),
        )
        .map(([i, how, edits, cut]) => {
          const f = eth[i]!;
          const d = [
            () => gre(0x6558, f, i),
            () => gre(0x86dd, f.subarray(14)),
            () => erspan2(i, f, i),
            () => erspan3(i, f, i),
            () => gre(0x88be, f),
          ][how]!();
          for (const [o, v] of edits) d[o % d.length] = v;
          return d.subarray(0, Math.min(d.length, cut));
        }),
    );
    const payloads = fc.sample(packet, { numRuns: runs(3000), seed: 47 });
    let delivered = 0;
    const rx = createGreReceiver(
      { bindIp: GRE_HOST, ring: { ringBytes: 256 + 65536, sampling: true, maxSampling: 4 } },
      () => {
        delivered++;
        if (delivered % 8 === 0) spin(30);
      },
    ) as RingReceiver;
    await rx.start();
    const sent = await send(0, payloads, 50_000, GRE_HOST);
    await settle(rx);
    await rx.stop();
    const c = rx.counters;
    t.diagnostic(
      `sent ${sent}: delivered ${c.delivered}, sampled out ${c.sampledOut}, ring_full ${c.ringFull}, socket ${c.socketDrops}`,
    );
    assert.equal(c.received + c.socketDrops, sent);
    assert.equal(c.received, c.delivered + c.sampledOut + c.ringFull);
    assert.equal(delivered, c.delivered);
  });
});
