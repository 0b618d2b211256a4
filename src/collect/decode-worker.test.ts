import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, test } from 'node:test';
import { exportDatagrams } from '../../test/collect/build.js';
import { fixture } from '../../test/support/fixtures.js';
import { communityId, communityIdAt } from '../flow/community-id.js';
import { decodeColumns, encodeColumns } from './columns.js';
import { CollectDecoder } from './decoder.js';
import { type Collector, createCollector } from './receiver.js';
import type { CollectedRecord } from './types.js';

const LOCAL = { host: '127.0.0.1', udpPorts: [0], tcpPorts: [] };
const FILES = [
  'made/softflowd-v5-http-methods.pcap',
  'made/softflowd-v9-http-methods.pcap',
  'made/softflowd-v9-ipv6-mixed.pcap',
  'made/softflowd-ipfix-http-methods.pcap',
  'made/softflowd-ipfix-ipv6-mixed.pcap',
  'sflow-v5-counter-samples.pcap',
];

async function payloads(files = FILES): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const f of files) for (const d of await exportDatagrams(fixture(f))) out.push(d.payload);
  return out;
}

async function until(cond: () => boolean, ms = 10_000, what?: () => unknown): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out${what ? `: ${JSON.stringify(what())}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Send from one socket (one exporter address and port), one datagram at a time. */
async function sendFrom(s: dgram.Socket, port: number, msgs: Buffer[]): Promise<void> {
  for (const m of msgs) await new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()));
}

/** sFlow counter records carry the collector's receive time: not comparable between runs. */
function comparable(recs: CollectedRecord[]): unknown[] {
  return recs.map((r) => (r.type === 'sflow_counters' ? { ...r, ts: '' } : r));
}

describe('decode worker', () => {
  test('community_id computed in place equals the reference for v4/v6, TCP/UDP/ICMP/other', () => {
    const b = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) b[i] = (i * 37) & 255;
    for (const [proto, n] of [
      [6, 4],
      [17, 16],
      [1, 4],
      [58, 16],
      [47, 4],
      [132, 16],
    ] as const)
      for (const [sp, dp] of [
        [1234, 80],
        [80, 1234],
        [8, 0],
        [3, 1],
        [7, 7],
      ] as const) {
        for (const [so, d] of [
          [0, 16],
          [16, 0],
          [5, 5],
        ] as const) {
          const want = communityId(proto, b.subarray(so, so + n), b.subarray(d, d + n), sp, dp);
          assert.equal(communityIdAt(proto, b, so, b, d, n, sp, dp), want);
        }
      }
  });

  test('columnar form round-trips every record of the made fixtures (and extras, sFlow counters)', async () => {
    const recs: CollectedRecord[] = [];
    const d = new CollectDecoder({}, (r) => recs.push(r));
    for (const p of await payloads()) d.decode(p, 0, p.length, '192.0.2.7', 9999, 1_700_000_000_000);
    assert.ok(recs.some((r) => r.type === 'sflow_counters'));
    assert.ok(recs.filter((r) => r.type === 'exported_flow').length > 300);
    const withExtra = { ...(recs.find((r) => r.type === 'exported_flow') as CollectedRecord) };
    (withExtra as { extra: unknown }).extra = { '9:1': 'ab01', name: 'x' };
    recs.push(withExtra);
    const enc = encodeColumns(recs);
    const moved = structuredClone(enc, { transfer: [enc.buf] });
    assert.deepEqual(decodeColumns(moved), recs);
    assert.deepEqual(decodeColumns(encodeColumns([])), []);
  });

  test('worker path: same records and statistics as decoding on the main thread', async () => {
    const msgs = await payloads();
    const runs: { recs: CollectedRecord[]; c: Collector }[] = [];
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    for (const decodeInWorker of [true, false]) {
      const recs: CollectedRecord[] = [];
      const c = createCollector({ ...LOCAL, decodeInWorker }, { sink: (b) => recs.push(...b) });
      await c.start();
      assert.equal(c.decodeThread !== null, decodeInWorker);
      await sendFrom(s, c.addresses().udp[0]!, msgs);
      await until(() => c.stats().received === msgs.length);
      await c.stop();
      runs.push({ recs, c });
    }
    s.close();
    const [w, m] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.ok(w.recs.length > 300);
    assert.deepEqual(comparable(w.recs), comparable(m.recs));
    const ws = w.c.stats();
    const ms = m.c.stats();
    assert.deepEqual(ws.exporters, ms.exporters);
    assert.deepEqual(ws.totals, ms.totals);
    assert.equal(ws.totals.datagrams, msgs.length);
    assert.equal(ws.totals.drops + ws.totals.decodeErrors, 0);
    assert.equal(ws.queueDepth, 0);
    assert.equal(ws.workerCrashes, 0);
    assert.equal(ws.decodeInWorker, true);
  });

  test('stats are exact under overflow (received = decoded + drops) and stop() drains', async () => {
    const d = await payloads(['made/softflowd-v5-http-methods.pcap']);
    const msgs: Buffer[] = [];
    for (let i = 0; i < 400; i++) msgs.push(d[i % d.length]!);
    for (const maxQueue of [4, 65536]) {
      let sunk = 0;
      const c = createCollector(
        { ...LOCAL, maxQueue, workerBatchDatagrams: 8 },
        {
          sink: (b) => {
            sunk += b.length;
          },
        },
      );
      await c.start();
      const port = c.addresses().udp[0]!;
      const s = dgram.createSocket('udp4');
      await Promise.all(msgs.map((m) => new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()))));
      s.close();
      await until(() => c.stats().received + c.stats().socketDrops === msgs.length);
      // No waiting for the decode thread: stop() must hand over and drain what is in flight.
      await c.stop();
      const st = c.stats();
      assert.equal(st.received + st.socketDrops, msgs.length);
      assert.equal(st.queueDepth, 0);
      assert.equal(st.totals.datagrams + st.totals.drops, st.received);
      assert.equal(sunk, st.totals.records);
      if (maxQueue === 4) assert.ok(st.totals.drops > 0, 'a queue of 4 must overflow on a burst of 400');
      else assert.equal(st.totals.drops, 0);
      assert.ok(st.queueHighWater <= maxQueue);
    }
  });

  test('receiving on the decode thread: same records as on the main thread, exact stats, bounded when the main thread is busy', async () => {
    const d = await payloads(['made/softflowd-v9-http-methods.pcap', 'made/softflowd-ipfix-ipv6-mixed.pcap']);
    const collect = async (receiveInWorker: boolean, maxQueue: number, busyMs: number) => {
      const got: CollectedRecord[] = [];
      const c = createCollector(
        { ...LOCAL, receiveInWorker, maxQueue },
        {
          sink: (b) => {
            got.push(...b);
          },
        },
      );
      await c.start();
      const port = c.addresses().udp[0]!;
      const s = dgram.createSocket('udp4');
      await sendFrom(s, port, d);
      // The main thread blocked (as by a long store append): the decode thread keeps reading.
      const t0 = Date.now();
      while (Date.now() - t0 < busyMs);
      const burst: Buffer[] = [];
      for (let i = 0; i < 300; i++) burst.push(d[i % d.length]!);
      await Promise.all(burst.map((m) => new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()))));
      s.close();
      const sent = d.length + burst.length;
      await until(() => c.stats().received + c.stats().socketDrops === sent);
      await c.stop();
      return { got, st: c.stats(), sent };
    };
    const main = await collect(false, 65536, 0);
    const own = await collect(true, 65536, 0);
    assert.equal(own.st.received + own.st.socketDrops, own.sent);
    assert.equal(own.st.totals.datagrams + own.st.totals.drops, own.st.received);
    assert.equal(own.got.length, own.st.totals.records);
    if (own.st.socketDrops === 0 && main.st.socketDrops === 0) assert.equal(own.got.length, main.got.length);
    // A bound of 4 datagrams: what the main thread has not taken is dropped and counted.
    const small = await collect(true, 4, 300);
    assert.equal(small.st.received + small.st.socketDrops, small.sent);
    assert.equal(small.st.totals.datagrams + small.st.totals.drops, small.st.received);
    assert.equal(small.got.length, small.st.totals.records);
  });

  test('a crashed decode worker is reported, its datagrams counted as drops, and it restarts', async () => {
    const logs: string[] = [];
    let sunk = 0;
    const c = createCollector(LOCAL, {
      sink: (b) => {
        sunk += b.length;
      },
      log: (m) => logs.push(m),
    });
    await c.start();
    const port = c.addresses().udp[0]!;
    const d = await payloads(['made/softflowd-v5-http-methods.pcap']);
    const first = c.decodeThread!;
    first.postMessage({ t: 'crash' });
    const s = dgram.createSocket('udp4');
    const msgs: Buffer[] = [];
    for (let i = 0; i < 60; i++) msgs.push(d[i % d.length]!);
    await sendFrom(s, port, msgs);
    await until(() => c.stats().workerCrashes === 1);
    await until(() => {
      const st = c.stats();
      return st.received === msgs.length && st.queueDepth === 0;
    });
    let st = c.stats();
    assert.equal(st.totals.datagrams + st.totals.drops, st.received);
    assert.ok(logs.some((l) => /decode worker died \(decode worker crash requested\)/.test(l)));
    // A new thread took over: what is sent now is decoded.
    assert.ok(c.decodeThread !== null && c.decodeThread !== first);
    const before = st.totals.datagrams;
    await sendFrom(s, port, d);
    await until(() => c.stats().totals.datagrams === before + d.length);
    s.close();
    await c.stop();
    st = c.stats();
    assert.equal(st.totals.datagrams + st.totals.drops, st.received);
    assert.equal(sunk, st.totals.records);
    assert.equal(st.workerCrashes, 1);
  });

  test('when restarts are used up, every further datagram is dropped and counted', async () => {
    const logs: string[] = [];
    const c = createCollector(
      { ...LOCAL, maxWorkerRestarts: 0 },
      { sink: () => {}, log: (m) => logs.push(m) },
    );
    await c.start();
    const port = c.addresses().udp[0]!;
    await c.decodeThread!.terminate();
    await until(() => c.stats().workerCrashes === 1);
    assert.equal(c.decodeThread, null);
    const d = await payloads(['made/softflowd-v5-http-methods.pcap']);
    const s = dgram.createSocket('udp4');
    await sendFrom(s, port, d);
    s.close();
    await until(() => c.stats().received === d.length);
    const st = c.stats();
    assert.equal(st.totals.drops, d.length);
    assert.equal(st.totals.datagrams, 0);
    assert.ok(logs.some((l) => /not restarting/.test(l)));
    await c.stop();
  });
});

describe('decode worker with a spool', () => {
  test('a crash while datagrams wait in the spool: its successor drains them, none lost, none twice', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'spool-crash-'));
    try {
      const d = await payloads(['made/softflowd-v5-http-methods.pcap']);
      const msgs: Buffer[] = [];
      for (let i = 0; i < 300; i++) msgs.push(d[i % d.length]!);
      let expected = 0;
      const ref = new CollectDecoder({}, () => expected++);
      for (const m of msgs) ref.decode(m, 0, m.length, '127.0.0.1', 1, Date.now());
      let sunk = 0;
      // The "store": settles nothing until allowed, then everything handed to it.
      let allow = 0;
      const c = createCollector(
        { ...LOCAL, receiveInWorker: true, spool: { dir, aheadRecords: 100 } },
        {
          sink: (b) => {
            sunk += b.length;
          },
          settled: () => Math.min(sunk, allow),
          log: (m) => logs.push(m),
        },
      );
      const logs: string[] = [];
      await c.start();
      const port = c.addresses().udp[0]!;
      const s = dgram.createSocket('udp4');
      await sendFrom(s, port, msgs);
      s.close();
      // Everything received is decoded or on disk (the spool's stats follow its periodic flush).
      await until(
        () => {
          const st = c.stats();
          return (
            st.received === msgs.length && st.totals.datagrams + (st.spool?.datagrams ?? 0) === msgs.length
          );
        },
        10_000,
        () => ({ ...c.stats(), exporters: [] }),
      );
      const spooled = c.stats().spool!.datagrams;
      assert.ok(spooled > 200, `${spooled} datagrams waiting in the spool`);
      const first = c.decodeThread!;
      first.postMessage({ t: 'crash' });
      await until(
        () => c.stats().workerCrashes === 1 && c.decodeThread !== null && c.decodeThread !== first,
        10_000,
        () => ({ logs, ...c.stats(), exporters: [] }),
      );
      allow = Number.POSITIVE_INFINITY;
      await until(
        () => sunk >= expected && c.stats().spool?.datagrams === 0,
        10_000,
        () => ({ sunk, expected, ...c.stats(), exporters: [] }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await c.stop();
      const st = c.stats();
      assert.equal(sunk, expected, 'every record once');
      assert.equal(st.totals.drops, 0);
      assert.equal(st.spool?.full, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('IPFIX over TCP while the store is behind', () => {
  test('the connection is paused (TCP holds the data at the exporter), then every record arrives once', async (t) => {
    const net = await import('node:net');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'tcp-hold-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // IPFIX (version 10) messages of two exporters' captures, back to back on one connection.
    const d = await payloads([
      'made/softflowd-ipfix-http-methods.pcap',
      'made/softflowd-ipfix-ipv6-mixed.pcap',
    ]);
    const msgs: Buffer[] = [];
    for (let i = 0; i < 400; i++) msgs.push(...d);
    let expected = 0;
    const ref = new CollectDecoder({}, () => expected++);
    for (const m of msgs) ref.decode(m, 0, m.length, '127.0.0.1', 1, Date.now());
    let sunk = 0;
    // The "store": settles 1,000 records every 20 ms, slower than the exporter sends.
    let allow = 0;
    const pace = setInterval(() => {
      allow += 1000;
    }, 20);
    t.after(() => clearInterval(pace));
    const c = createCollector(
      {
        host: '127.0.0.1',
        udpPorts: [0],
        tcpPorts: [0],
        // Past 1,024 messages in flight they would be dropped: the pause must come first.
        maxQueue: 1024,
        receiveInWorker: true,
        spool: { dir, aheadRecords: 100 },
      },
      {
        sink: (b) => {
          sunk += b.length;
        },
        settled: () => Math.min(sunk, allow),
      },
    );
    await c.start();
    t.after(() => c.stop());
    const sock = net.connect(c.addresses().tcp[0]!, '127.0.0.1');
    t.after(() => sock.destroy());
    await new Promise<void>((r) => sock.once('connect', () => r()));
    // Written as an exporter does, a message at a time as the socket takes it.
    for (const m of msgs) if (!sock.write(m)) await new Promise((r) => sock.once('drain', r));
    sock.end();
    await until(
      () => sunk >= expected || c.stats().totals.drops > 0,
      60_000,
      () => ({ sunk, expected, ...c.stats(), exporters: [] }),
    );
    await new Promise((r) => setTimeout(r, 100));
    await c.stop();
    const st = c.stats();
    assert.equal(st.totals.drops, 0);
    assert.equal(sunk, expected, 'every record once');
    assert.equal(st.totals.decodeErrors, 0);
    assert.ok(st.tcpPauses > 0, 'the connection was paused while the store was behind');
    assert.ok(expected > 60_000, `${expected} records`);
  });
});
