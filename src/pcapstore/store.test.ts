import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fixture } from '../../test/support/fixtures.js';
import { readCaptureFile } from '../capture/capture-file.js';
import { ipBytesToString } from '../common/addr.js';
import { Decoder } from '../decode/decoder.js';
import { Sensor } from '../flow/sensor.js';
import { presence } from './presence.js';
import { recordFiles } from './record-files.js';
import { createPacketRecorder } from './recorder.js';
import { searchToStream } from './search.js';
import { PcapStore } from './store.js';

const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(tmp, `s${n++}`);

async function collect(
  store: PcapStore,
  q: Parameters<typeof searchToStream>[1],
  format: 'pcap' | 'pcapng' = 'pcap',
) {
  const pass = new PassThrough();
  const chunks: Buffer[] = [];
  pass.on('data', (c: Buffer) => chunks.push(c));
  const res = await searchToStream(store, q, pass, { format });
  pass.end();
  const file = join(tmp, `out-${n++}.${format}`);
  writeFileSync(file, Buffer.concat(chunks));
  const pkts: { sec: number; ns: number; data: Buffer }[] = [];
  await readCaptureFile(file, (f) =>
    pkts.push({ sec: f.tsSec, ns: f.tsNs, data: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)) }),
  );
  return { res, pkts };
}

const MIX = [
  'http-methods-many.pcap',
  'dns-edns-ecs-dnssec-v4v6.pcap',
  'vlan-8021q-icmp-arp.pcap',
  'vxlan-http.pcap',
  'tcp-retransmissions-http.pcap',
];

describe('packet store', () => {
  it('removes a segment a crash left before its header was written, and keeps the rest', async () => {
    const dir = fresh();
    await recordFiles([fixture('icmp-echo-pings.pcap')], { dir });
    const before = readdirSync(dir).filter((f) => f.endsWith('.pcap'));
    assert.equal(before.length, 1);
    const empty = join(dir, 'seg-000000000099.pcap');
    writeFileSync(empty, Buffer.alloc(0));
    const store = await PcapStore.open(dir, { writable: true });
    assert.equal(store.counters.segmentsRecovered, 1);
    assert.equal(existsSync(empty), false);
    assert.equal(store.segments.length, 1);
    assert.equal(store.segments[0]!.meta.packets, 10);
  });

  it('finds by decoded fields exactly what a full decode finds', async () => {
    const dir = fresh();
    await recordFiles(MIX.map(fixture), { dir, fsync: false, segmentBytes: 64 * 1024 });
    const store = await PcapStore.open(dir);
    assert.ok(store.segments.length > 3, 'rotated by size');
    // Brute force over the stored segments.
    const dec = new Decoder();
    const all: { ip: string[]; ports: number[]; proto: number; vlan: number; data: Buffer }[] = [];
    for (const s of store.segments) {
      await readCaptureFile(s.path, (f) => {
        const p = dec.decode(f);
        const ok = p.ipVer !== 0 && p.srcOff >= 0;
        all.push({
          ip: ok
            ? [ipBytesToString(p.buf, p.srcOff, p.ipVer), ipBytesToString(p.buf, p.dstOff, p.ipVer)]
            : [],
          ports: p.l4Off >= 0 ? [p.srcPort, p.dstPort] : [],
          proto: p.proto,
          vlan: p.vlan0,
          data: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)),
        });
      });
    }
    const some = all.find((x) => x.ip.length === 2 && x.ports.length === 2)!;
    const queries: [Parameters<typeof searchToStream>[1], (x: (typeof all)[0]) => boolean][] = [
      [{ ip: [some.ip[0]!] }, (x) => x.ip.includes(some.ip[0]!)],
      [{ ip: [some.ip[1]!, some.ip[0]!] }, (x) => x.ip.includes(some.ip[0]!) && x.ip.includes(some.ip[1]!)],
      [{ port: some.ports[1]! }, (x) => x.ports.includes(some.ports[1]!)],
      [{ proto: 17 }, (x) => x.proto === 17],
      [{ vlan: 32 }, (x) => x.vlan === 32],
      [{ cidr: '192.168.0.0/16' }, (x) => x.ip.some((a) => a.startsWith('192.168.'))],
      [{ proto: 6, filter: 'port 80' }, (x) => x.proto === 6],
    ];
    for (const [q, pred] of queries) {
      const { pkts } = await collect(store, q);
      const want = all.filter(pred);
      if (q.filter) {
        assert.ok(pkts.length > 0 && pkts.length <= want.length, JSON.stringify(q));
        continue;
      }
      assert.equal(pkts.length, want.length, JSON.stringify(q));
      for (let i = 0; i < want.length; i++)
        assert.ok(pkts[i]!.data.equals(want[i]!.data), `${JSON.stringify(q)} #${i}`);
    }
  });

  it('finds a flow by flow id and by Community ID', async () => {
    const dir = fresh();
    const f = fixture('http-methods-many.pcap');
    const flows: { flow_id: number; community_id: string }[] = [];
    // Flow ids are unique per sensor run: take them from the run that recorded the packets.
    const rec = createPacketRecorder({ dir, fsync: false });
    await rec.start();
    const sensor = new Sensor((r) => {
      if (r.type === 'flow') flows.push(r as unknown as (typeof flows)[0]);
    });
    sensor.addHook(rec);
    await readCaptureFile(f, sensor.onFrame);
    sensor.finish();
    await rec.stop();
    const store = rec.store;
    const fl = flows.find((x) => {
      const r = x as unknown as { client_packets: number; server_packets: number };
      return r.client_packets + r.server_packets > 3;
    })!;
    const byCid = await collect(store, { communityId: fl.community_id });
    const byId = await collect(store, { flowId: fl.flow_id });
    assert.ok(byCid.pkts.length > 0);
    assert.equal(byId.pkts.length, byCid.pkts.length);
  });

  it('honours time windows, limits, count-only and pcapng', async () => {
    const dir = fresh();
    await recordFiles([fixture('tcp-bulk-transfer-timestamps.pcap')], { dir, fsync: false });
    const store = await PcapStore.open(dir);
    const everything = await collect(store, {});
    assert.ok(everything.pkts.length > 20);
    const mid = everything.pkts[10]!;
    const afterUs = mid.sec * 1e6 + Math.floor(mid.ns / 1000);
    const w = await collect(store, { after: afterUs });
    assert.equal(
      w.pkts.length,
      everything.pkts.filter((p) => p.sec * 1e6 + Math.floor(p.ns / 1000) >= afterUs).length,
    );
    const lim = await collect(store, { maxPackets: 5 });
    assert.equal(lim.pkts.length, 5);
    assert.equal(lim.res.truncated, true);
    const cnt = await searchToStream(store, { filter: 'tcp' }, null, { countOnly: true });
    assert.equal(cnt.packets, everything.pkts.length);
    const ng = await collect(store, { filter: 'tcp' }, 'pcapng');
    assert.equal(ng.pkts.length, everything.pkts.length);
    assert.ok(
      ng.pkts.every((p, i) => p.data.equals(everything.pkts[i]!.data) && p.ns === everything.pkts[i]!.ns),
    );
  });

  it('makes packets searchable while the segment is still being written', async () => {
    const dir = fresh();
    const rec = createPacketRecorder({ dir, fsync: false, flushMs: 1 });
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    await readCaptureFile(fixture('dns-udp-many-types-nxdomain.pcap'), sensor.onFrame);
    rec.flush();
    const live = await searchToStream(rec.store, { filter: 'udp port 53' }, null, { countOnly: true });
    assert.ok(live.packets > 0);
    // Another process (the CLI) sees the unindexed live segment by rebuilding its index.
    const other = await PcapStore.open(dir);
    const seen = await searchToStream(other, { filter: 'udp port 53' }, null, { countOnly: true });
    assert.equal(seen.packets, live.packets);
    await rec.stop();
  });

  it('keeps to the disk budget, oldest first, over by at most one segment', async () => {
    const dir = fresh();
    const segmentBytes = 64 * 1024;
    const maxBytes = 256 * 1024;
    let max = 0;
    const rec = createPacketRecorder({ dir, fsync: false, segmentBytes, maxBytes });
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    const check = (): void => {
      let total = 0;
      for (const f of readdirSync(dir)) total += statSync(join(dir, f)).size;
      max = Math.max(max, total);
    };
    for (let i = 0; i < 4; i++) {
      await readCaptureFile(fixture('http-206-zero-window.pcap'), sensor.onFrame);
      check();
    }
    await rec.stop();
    check();
    assert.ok(rec.store.counters.segmentsDeleted > 0);
    assert.ok(max <= maxBytes + segmentBytes + 65536, `peak ${max}`);
    const seqs = rec.store.segments.map((s) => s.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.ok(!existsSync(join(dir, 'seg-000000000001.pcap')), 'oldest deleted');
  });

  it('deletes segments past the age budget', async () => {
    const dir = fresh();
    await recordFiles([fixture('http-methods-many.pcap')], { dir, fsync: false, segmentBytes: 32 * 1024 });
    const now = Date.now() + 10 * 3600 * 1000;
    const rec = createPacketRecorder({ dir, fsync: false, maxAgeSeconds: 3600 }, { now: () => now });
    await rec.start();
    assert.equal(rec.store.segments.length, 0);
    await rec.stop();
  });

  it('answers presence from the index with last-seen times', async () => {
    const dir = fresh();
    await recordFiles([fixture('tcp-retransmissions-http.pcap')], { dir, fsync: false });
    const store = await PcapStore.open(dir);
    const dec = new Decoder();
    let a = '';
    let b = '';
    let lastUs = 0;
    await readCaptureFile(fixture('tcp-retransmissions-http.pcap'), (f) => {
      const p = dec.decode(f);
      if (p.ipVer !== 4) return;
      if (!a) {
        a = ipBytesToString(p.buf, p.srcOff, 4);
        b = ipBytesToString(p.buf, p.dstOff, 4);
      }
      const s = ipBytesToString(p.buf, p.srcOff, 4);
      const d = ipBytesToString(p.buf, p.dstOff, 4);
      if ((s === a && d === b) || (s === b && d === a))
        lastUs = Math.max(lastUs, f.tsSec * 1e6 + Math.floor(f.tsNs / 1000));
    });
    const ans = presence(store, a, b, 0);
    assert.equal(ans.lastSeenUs, lastUs);
    assert.ok(ans.flows >= 1);
    assert.equal(presence(store, a, b, lastUs + 1).lastSeenUs, null);
    assert.equal(presence(store, '203.0.113.77', null, 0).lastSeenUs, null);
  });
});
