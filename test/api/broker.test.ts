import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PCAPS, readFrames, sendVxlan } from '../live/support.js';
import { api, type LiveHarness, startLive, until } from '../start/support.js';

/**
 * The broker through the API (admin): add a pcap-over-TCP target on loopback, watch its
 * counters move while mirrored traffic flows, delete it; and GET /api/v1/stream (analyst).
 */
describe('broker API and live pcap stream', () => {
  let h: LiveHarness;
  let sink: Server;
  let sinkPort = 0;
  let received = 0;
  before(async () => {
    h = await startLive();
    sink = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        received += d.length;
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    sinkPort = (sink.address() as { port: number }).port;
  });
  after(async () => {
    await h?.close();
    await new Promise<void>((r) => sink.close(() => r()));
  });

  const traffic = async (name = 'http-methods-many.pcap', vni = 7): Promise<number> => {
    const frames = await readFrames(PCAPS + name);
    const base = h.received();
    await sendVxlan(frames, '127.0.0.1', h.vxlanPort, vni, () => h.received() - base);
    return frames.length;
  };

  test('viewer and analyst get 403 on the broker routes', async () => {
    for (const tok of [h.viewer, h.analyst]) {
      const r = await api(h, '/api/v1/broker/targets', tok);
      assert.equal(r.status, 403);
      assert.match(r.json.error!.message, /needs the admin role/);
      const p = await api(h, '/api/v1/broker/targets', tok, { method: 'POST', body: { name: 'x' } });
      assert.equal(p.status, 403);
    }
  });

  test('a bad target is refused naming the key', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'bad name!' }, 'target.name'],
      [{ name: 'a', deliver: { type: 'pcap-tcp', host: '127.0.0.1', port: 'x' } }, 'target.deliver.port'],
      [{ name: 'a', deliver: { type: 'smoke-signal' } }, 'target.deliver.type'],
      [{ name: 'a', filter: 'tcp port', deliver: { type: 'vxlan', host: '127.0.0.1' } }, 'target.filter'],
      [
        { name: 'a', rules: { cidr: ['10.0.0.0/99'] }, deliver: { type: 'vxlan', host: '127.0.0.1' } },
        'target.rules.cidr[0]',
      ],
      [{ name: 'a', snaplenn: 64, deliver: { type: 'vxlan', host: '127.0.0.1' } }, 'target.snaplenn'],
      [{ name: 'a' }, 'target.deliver'],
    ];
    for (const [body, key] of cases) {
      const r = await api(h, '/api/v1/broker/targets', h.admin, { method: 'POST', body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.ok(r.json.error!.message.startsWith(`${key}: `), r.json.error!.message);
    }
  });

  test('add a pcap-tcp target, see its counters move, delete it', async () => {
    const add = await api(h, '/api/v1/broker/targets', h.admin, {
      method: 'POST',
      body: {
        name: 'tool1',
        filter: 'tcp',
        snaplen: 128,
        deliver: { type: 'pcap-tcp', host: '127.0.0.1', port: sinkPort },
      },
    });
    assert.equal(add.status, 201, add.text);
    assert.equal(add.json.name, 'tool1');
    assert.equal(add.json.delivery, 'pcap-tcp');
    const dup = await api(h, '/api/v1/broker/targets', h.admin, {
      method: 'POST',
      body: { name: 'tool1', deliver: { type: 'pcap-tcp', host: '127.0.0.1', port: sinkPort } },
    });
    assert.equal(dup.status, 409);

    const n = await traffic();
    const t = await until(
      async () => {
        const r = await api(h, '/api/v1/broker/targets', h.admin);
        const items = r.json.items as Array<{ name: string; matched: number; sent: number; dropped: number }>;
        const x = items.find((i) => i.name === 'tool1');
        return x && x.matched > 0 && x.sent === x.matched ? x : null;
      },
      10_000,
      'tool1 counters',
    );
    assert.ok(t.matched <= n);
    assert.equal(t.dropped, 0);
    await until(() => received >= 24 + t.sent * 16, 5000, 'bytes at the tool');

    const m = await (
      await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.viewer}` } })
    ).text();
    assert.match(
      m,
      new RegExp(`vantage_broker_target_sent\\{target="tool1",delivery="pcap-tcp"\\} ${t.sent}\\n`),
    );

    const del = await api(h, '/api/v1/broker/targets/tool1', h.admin, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(del.json.sent, t.sent);
    const list = await api(h, '/api/v1/broker/targets', h.admin);
    assert.deepEqual(list.json.items, []);
    assert.equal((await api(h, '/api/v1/broker/targets/tool1', h.admin, { method: 'DELETE' })).status, 404);
    const audit = readFileSync(join(h.dir, 'data', 'audit.log'), 'utf8');
    assert.match(audit, /"action":"broker.target_add"/);
    assert.match(audit, /"action":"broker.target_remove"/);
  });

  test('GET /api/v1/stream: a bad filter is a 400 before any byte', async () => {
    const r = await api(h, `/api/v1/stream?filter=${encodeURIComponent('tcp port')}`, h.analyst);
    assert.equal(r.status, 400);
    assert.match(r.json.error!.message, /^filter: /);
    assert.equal((await api(h, '/api/v1/stream', h.viewer)).status, 403);
  });

  test('GET /api/v1/stream receives the packets of live traffic', async () => {
    // node:http rather than fetch: destroying the request closes the socket, as curl does.
    const chunks: Buffer[] = [];
    let total = 0;
    const u = new URL(`${h.base}/api/v1/stream?filter=tcp&snaplen=96`);
    const req = httpGet(u, { headers: { authorization: `Bearer ${h.analyst}` } });
    const res = await new Promise<IncomingMessage>((r, j) => req.once('response', r).once('error', j));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.tcpdump.pcap');
    res.on('data', (d: Buffer) => {
      chunks.push(d);
      total += d.length;
    });
    res.on('error', () => {});
    req.on('error', () => {});
    await until(() => total >= 24, 5000, 'the pcap header');
    const stream = () =>
      h.product.broker!.stats().targets.find((x) => x.name.startsWith('stream-')) as
        | { sent: number }
        | undefined;
    await traffic('http-methods-many.pcap', 9);
    await until(() => (stream()?.sent ?? 0) > 0, 5000, 'packets on the stream');
    const sent = stream()!.sent;
    const records = (b: Buffer): number => {
      let o = 24;
      let n = 0;
      while (o + 16 <= b.length && o + 16 + b.readUInt32LE(o + 8) <= b.length) {
        o += 16 + b.readUInt32LE(o + 8);
        n++;
      }
      return n;
    };
    await until(() => records(Buffer.concat(chunks)) >= sent, 5000, 'the streamed packets');
    req.destroy();
    const buf = Buffer.concat(chunks);
    assert.equal(buf.readUInt32LE(0), 0xa1b23c4d); // nanosecond pcap
    assert.equal(buf.readUInt32LE(20), 1); // Ethernet: the VXLAN carrier is taken off
    // Walk the records: every one is TCP (the filter) and sliced to 96 bytes.
    let o = 24;
    let packets = 0;
    while (o + 16 <= buf.length && o + 16 + buf.readUInt32LE(o + 8) <= buf.length) {
      const cap = buf.readUInt32LE(o + 8);
      assert.ok(cap <= 96);
      const etherType = buf.readUInt16BE(o + 16 + 12);
      const proto = etherType === 0x0800 ? buf[o + 16 + 23] : buf[o + 16 + 20];
      assert.equal(proto, 6);
      o += 16 + cap;
      packets++;
    }
    assert.ok(packets >= sent, `${packets} packets streamed, ${sent} sent`);
    // The stream's target goes away with the client; the download is audited.
    await until(() => stream() === undefined, 5000, 'the stream target to go');
    const audit = await until(
      () => {
        const a = readFileSync(join(h.dir, 'data', 'audit.log'), 'utf8');
        return /"action":"stream.end"/.test(a) ? a : null;
      },
      5000,
      'the stream.end audit event',
    );
    assert.match(audit, /"action":"stream.start","actor":"test-analyst"/);
  });
});
