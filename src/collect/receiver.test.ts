import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exportDatagrams, totals } from '../../test/collect/build.js';
import { fixture } from '../../test/support/fixtures.js';
import { createCollector } from './receiver.js';
import type { CollectedRecord } from './types.js';

const LOCAL = { host: '127.0.0.1', udpPorts: [0], tcpPorts: [0] };

async function sendAll(port: number, msgs: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const m of msgs) await new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()));
  s.close();
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('collector receiver (UDP and TCP on 127.0.0.1)', () => {
  test('UDP: every protocol on one port, records in batches, per-exporter stats', async () => {
    const got: CollectedRecord[] = [];
    let batches = 0;
    const c = createCollector(LOCAL, {
      sink: (b) => {
        batches++;
        got.push(...b);
      },
    });
    await c.start();
    const port = c.addresses().udp[0]!;
    const msgs: Buffer[] = [];
    for (const f of [
      'softflowd-v5-http-methods.pcap',
      'softflowd-v9-http-methods.pcap',
      'softflowd-ipfix-ipv6-mixed.pcap',
    ])
      for (const d of await exportDatagrams(fixture(`made/${f}`))) msgs.push(d.payload);
    await sendAll(port, msgs);
    await until(() => c.stats().totals.datagrams === msgs.length);
    c.flush();
    assert.deepEqual(totals(got), {
      records: 98 + 98 + 71,
      packets: 655 * 2 + 161,
      bytes: 219155 * 2 + 23397,
    });
    const st = c.stats();
    assert.equal(st.exporters.length, 1);
    assert.equal(st.totals.records, 267);
    assert.equal(st.totals.drops + st.socketDrops, 0);
    assert.ok(batches >= 1);
    assert.ok(st.recvBufferSize[0]! > 0);
    await c.stop();
  });

  test('IPFIX over TCP: messages framed by length across arbitrary segment boundaries', async () => {
    const got: CollectedRecord[] = [];
    const c = createCollector(LOCAL, { sink: (b) => got.push(...b) });
    await c.start();
    const stream = Buffer.concat(
      (await exportDatagrams(fixture('made/softflowd-ipfix-http-methods.pcap'))).map((d) => d.payload),
    );
    const sock = net.connect(c.addresses().tcp[0]!, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    for (let o = 0; o < stream.length; o += 37) {
      sock.write(stream.subarray(o, o + 37));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => c.stats().totals.records === 98);
    c.flush();
    assert.equal(totals(got).bytes, 219155);
    sock.end();
    await c.stop();
  });

  test('templates persist across a restart (state dir)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-collect-'));
    dirs.push(dir);
    const dgrams = await exportDatagrams(fixture('made/softflowd-v9-http-methods.pcap'));
    const first = createCollector({ ...LOCAL, stateDir: dir }, { sink: () => {} });
    await first.start();
    await sendAll(first.addresses().udp[0]!, [dgrams[0]!.payload]);
    await until(() => first.stats().totals.datagrams === 1);
    await first.stop();
    const got: CollectedRecord[] = [];
    const second = createCollector({ ...LOCAL, stateDir: dir }, { sink: (b) => got.push(...b) });
    await second.start();
    // Data-only datagrams (softflowd puts templates in its first one only).
    const rest = dgrams.slice(1).map((d) => d.payload);
    await sendAll(second.addresses().udp[0]!, rest);
    await until(() => second.stats().totals.datagrams === rest.length);
    second.flush();
    assert.equal(second.stats().totals.pendingSets, 0);
    // 98 records in all; those of the first datagram went to the first collector.
    const inFirst = await (async () => {
      const { CollectDecoder } = await import('./decoder.js');
      let n = 0;
      const d = new CollectDecoder({}, (r) => {
        if (r.type === 'exported_flow') n++;
      });
      d.decode(dgrams[0]!.payload, 0, dgrams[0]!.payload.length, '127.0.0.1', 1, 0);
      return n;
    })();
    assert.equal(totals(got).records, 98 - inFirst);
    await second.stop();
  });

  test('a full queue drops and counts: sent = decoded + dropped', async () => {
    const c = createCollector({ ...LOCAL, maxQueue: 3 }, { sink: () => {} });
    await c.start();
    const d = (await exportDatagrams(fixture('made/softflowd-v5-http-methods.pcap'))).map((x) => x.payload);
    const msgs: Buffer[] = [];
    for (let i = 0; i < 200; i++) msgs.push(d[i % d.length]!);
    const s = dgram.createSocket('udp4');
    const port = c.addresses().udp[0]!;
    await Promise.all(msgs.map((m) => new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()))));
    s.close();
    await until(() => {
      const st = c.stats();
      return st.totals.datagrams + st.totals.drops + st.socketDrops === 200;
    });
    const st = c.stats();
    assert.ok(st.totals.drops > 0, 'queue of 3 must overflow on a burst of 200');
    await c.stop();
  });
});
