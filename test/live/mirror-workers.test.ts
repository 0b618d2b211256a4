import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { runVxlanSend, vxlanSendPath } from '../../bench/vxlan-send.js';
import type { Analyzer, FlowLookup } from '../../src/analyze/types.js';
import type { Frame } from '../../src/capture/frame.js';
import { createVxlanReceiver, loadUdpBatchBinding } from '../../src/capture/mirror.js';
import { hasRing, type RingReceiver } from '../../src/capture/mirror-ring.js';
import { startSources } from '../../src/cli/sources.js';
import { mirrorWorkers } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { Metrics } from '../../src/common/metrics.js';
import type { Packet } from '../../src/decode/packet.js';
import { ALL_RECORDS } from '../../src/schema/records.js';
import type { Rec, RecordStore } from '../../src/store/types.js';
import { NO_TIMEOUTS, PCAPS, readFrames, requireOrSkip, sendVxlan, sleep } from './support.js';

/**
 * Mirror sources with their sensor on a worker thread (`mirror.workers`), the receive ring's
 * pause while that worker has no room, and the paced C sender the mirror bench offers its load
 * with. The truth: the sender's frames and counts, and the sensor on the main thread fed the
 * same datagrams.
 */

function needRing(t: TestContext): boolean {
  return requireOrSkip(
    t,
    hasRing(loadUdpBatchBinding())
      ? []
      : ['the vantage-pcap addon with udpRingStart (npm rebuild vantage-pcap)'],
  );
}

/** Inner Ethernet frame of a record the VXLAN ring hands out (outer IPv4 + UDP + VXLAN before it). */
function inner(f: Frame): { vni: number; bytes: Buffer } {
  const o = f.off + 28;
  return {
    vni: (f.buf[o + 4]! << 16) | (f.buf[o + 5]! << 8) | f.buf[o + 6]!,
    bytes: Buffer.from(f.buf.subarray(o + 8, f.off + f.caplen)),
  };
}

describe('vxlan_send (the mirror bench sender)', () => {
  test('sends exactly --count datagrams, byte for byte, a new VNI per pass, never ahead of its rate', async (t) => {
    if (!needRing(t)) return;
    if (!requireOrSkip(t, vxlanSendPath() ? [] : ['vxlan_send (npm rebuild vantage-pcap)'])) return;
    const pcap = `${PCAPS}http-methods-many.pcap`;
    const frames = (await readFrames(pcap)).filter((f) => f.linkType === 1 && f.bytes.length >= 14);
    const got: Array<{ vni: number; bytes: Buffer }> = [];
    const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0, ring: { ringBytes: 16 << 20 } }, (f) => {
      got.push(inner(f));
    }) as RingReceiver;
    await rx.start();
    const count = frames.length * 2 + 7; // two whole passes and the start of a third
    const rate = 20_000;
    const r = await runVxlanSend({ pcap, to: `127.0.0.1:${rx.address().port}`, rate, count, vni: 500 });
    const deadline = Date.now() + 5000;
    while (rx.refreshStats().received < r.sent && Date.now() < deadline) await sleep(20);
    await rx.stop();
    const st = rx.refreshStats();
    assert.equal(r.sent, count);
    assert.equal(r.errors, 0);
    assert.equal(r.frames, frames.length);
    assert.equal(st.received + st.socketDrops, r.sent, 'sent = received + socket drops');
    assert.equal(st.socketDrops, 0);
    assert.equal(got.length, count);
    for (let i = 0; i < count; i++) {
      const want = frames[i % frames.length]!;
      assert.equal(got[i]!.vni, 500 + Math.floor(i / frames.length), `VNI of datagram ${i}`);
      assert.ok(got[i]!.bytes.equals(want.bytes), `bytes of datagram ${i}`);
    }
    // Paced: a batch of 64 goes only once it is due, so the last one left no earlier than this.
    assert.ok(r.seconds >= (count - 64) / rate, `${count} datagrams at ${rate}/s took ${r.seconds} s`);
  });
});

describe('the receive ring waits while its consumer has no room', () => {
  test('frames stay in the ring until resume(), in order and none lost; what overflows is ring_full', async (t) => {
    if (!needRing(t)) return;
    const frames = (await readFrames(`${PCAPS}http-methods-many.pcap`)).filter((f) => f.linkType === 1);
    let room = false;
    const got: Buffer[] = [];
    const rx = createVxlanReceiver(
      // The smallest ring (64 KiB): a few dozen of these frames fill it.
      { host: '127.0.0.1', port: 0, ring: { ringBytes: 256 + 65536 } },
      (f) => {
        got.push(inner(f).bytes);
      },
      { ready: () => room },
    ) as RingReceiver;
    await rx.start();
    const port = rx.address().port;
    // Sent while the consumer says no: nothing may be handed out.
    await sendVxlan(frames, '127.0.0.1', port, 9, () => rx.refreshStats().received, 16);
    await sleep(100);
    assert.equal(got.length, 0, 'nothing handed out while the consumer has no room');
    const c = rx.refreshStats();
    assert.equal(c.received, frames.length);
    assert.ok(c.ringFull > 0, 'a 64 KiB ring cannot hold them all');
    room = true;
    rx.resume();
    await rx.stop();
    const end = rx.refreshStats();
    assert.equal(end.socketDrops, 0);
    assert.equal(got.length + end.ringFull, frames.length, 'received = delivered + ring_full');
    // Those kept are the sender's frames in its order (a full ring refuses what does not fit,
    // and a smaller frame after it may still fit).
    let k = 0;
    for (let j = 0; j < got.length; j++) {
      while (k < frames.length && !got[j]!.equals(frames[k]!.bytes)) k++;
      assert.ok(k < frames.length, `frame ${j} handed out is one the sender sent after the one before it`);
      k++;
    }
  });
});

/** A packet hook as the recorder is one: notes each packet's flow id as its lookup answers it. */
class FlowIdHook implements Analyzer {
  readonly name = 'flow-id-hook';
  readonly seen: Array<{ id: number; cid: string } | null> = [];
  onPacket(_p: Packet, flows: FlowLookup, slot: number): undefined {
    if (slot < 0) this.seen.push(null);
    else {
      const c = flows.context(slot);
      this.seen.push({ id: c.flow_id, cid: c.community_id });
    }
    return;
  }
}

/** What may differ between two receptions of the same datagrams: times, and fields made of them. */
const TIME_FIELD =
  /(^ts$|time|_ts$|start|end|duration|rtt|srt|jitter|ipd|delay|_us$|_ms$|^flow_id$|^first|^last)/;

/**
 * A segment below the highest sequence seen counts as a retransmission or as out of order by the
 * time since that highest one, which is the receive clock's: their sum is what must agree.
 */
const SEQ_SPLIT = /^(client|server)_(retransmissions|out_of_order)$/;

function masked(records: readonly Rec[]): string[] {
  return records
    .map((r) => {
      const kv: Array<[string, unknown]> = Object.keys(r)
        .filter((k) => !TIME_FIELD.test(k) && !SEQ_SPLIT.test(k))
        .sort()
        .map((k) => [k, r[k]]);
      for (const side of ['client', 'server'])
        if (`${side}_retransmissions` in r)
          kv.push([
            `${side}_behind`,
            (r[`${side}_retransmissions`] as number) + (r[`${side}_out_of_order`] as number),
          ]);
      return JSON.stringify(kv);
    })
    .sort();
}

async function runSources(
  workers: number,
  fixtures: string[],
): Promise<{ stored: Map<string, Rec[]>; hook: FlowIdHook; drops: Record<string, number>; sent: number }> {
  const stored = new Map<string, Rec[]>();
  const store = {
    backend: 'test',
    defs: ALL_RECORDS,
    async append(type: string, recs: readonly Rec[]) {
      const l = stored.get(type) ?? [];
      l.push(...recs);
      stored.set(type, l);
    },
  } as unknown as RecordStore;
  const hook = new FlowIdHook();
  const sources = await startSources(
    [{ name: 'mirror.vxlan[0]', kind: 'vxlan', host: '127.0.0.1', port: 0 }],
    {
      store,
      metrics: new Metrics(),
      log: silentLogger,
      hooks: [hook],
      flow: NO_TIMEOUTS,
      mirrorRing: { bytes: 8 << 20, sampling: false },
      mirrorWorkers: workers,
    },
  );
  const port = sources.stats()[0]!.port!;
  let sent = 0;
  for (const [i, name] of fixtures.entries()) {
    const frames = (await readFrames(PCAPS + name)).filter((f) => f.linkType === 1);
    // Each capture under a VNI of its own: their flows stay apart.
    await sendVxlan(frames, '127.0.0.1', port, 100 + i, () => sources.stats()[0]!.packets, 32);
    sent += frames.length;
  }
  // Read before stop (stopped sources report nothing); the worker's batches go on the tick.
  const deadline = Date.now() + 5000;
  while (sources.stats()[0]!.packets < sent && Date.now() < deadline) await sleep(20);
  const drops = sources.stats()[0]!.drops;
  await sources.stop();
  return { stored, hook, drops, sent };
}

describe('mirror source with its sensor on a worker thread', () => {
  const FIXTURES = [
    'dns-udp-many-types-nxdomain.pcap',
    'http-methods-many.pcap',
    'tls12-sni-chrome.pcap',
    'ipv6-mixed-tcp-udp-ssh-dns.pcap',
    'tcp-retransmissions-http.pcap',
  ];

  test('gives the records of the sensor on the main thread (flow ids and times aside); hooks get the worker flow ids', async (t) => {
    if (!needRing(t)) return;
    const main = await runSources(0, FIXTURES);
    const worker = await runSources(1, FIXTURES);
    // The worker path ran: its pipeline's drop counters are there, all zero.
    assert.deepEqual(worker.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
    assert.deepEqual(main.drops, {});
    const types = [...new Set([...main.stored.keys(), ...worker.stored.keys()])].sort();
    assert.ok(
      types.includes('flow') && types.includes('dns') && types.includes('http') && types.includes('tls'),
    );
    for (const type of types) {
      const a = main.stored.get(type) ?? [];
      const b = worker.stored.get(type) ?? [];
      assert.equal(b.length, a.length, `${type} records`);
      assert.deepEqual(masked(b), masked(a), `${type} records, times and flow ids aside`);
    }
    // Every packet reached the hook once on both paths, and on the worker path each packet's
    // flow id is the stored flow record's (the recorder's index links packets to flows by it).
    for (const run of [main, worker]) {
      assert.equal(run.hook.seen.length, run.sent);
      const flows = new Map<number, string>();
      for (const f of run.stored.get('flow') ?? []) flows.set(f.flow_id as number, f.community_id as string);
      const ids = new Set<number>();
      for (const s of run.hook.seen) {
        if (!s) continue;
        ids.add(s.id);
        assert.equal(flows.get(s.id), s.cid, `flow ${s.id}: the hook's Community ID is the record's`);
      }
      assert.equal(ids.size, flows.size, 'every flow record has packets, every packet a flow record');
    }
    assert.equal(
      worker.hook.seen.filter((s) => s === null).length,
      main.hook.seen.filter((s) => s === null).length,
      'packets without a flow',
    );
  });

  test('GRE (raw IP protocol 47) on a worker: the flows of the main thread', async (t) => {
    if (!needRing(t)) return;
    if (!requireOrSkip(t, process.getuid?.() === 0 ? [] : ['root (a raw socket for GRE)'])) return;
    const binding = loadUdpBatchBinding()!;
    const frames = (await readFrames(`${PCAPS}http-methods-many.pcap`)).filter((f) => f.linkType === 1);
    // An address of its own: other tests' GRE receivers are bound to theirs.
    const HOST = '127.0.0.48';
    const run = async (workers: number): Promise<{ flows: string[]; drops: Record<string, number> }> => {
      const flows: string[] = [];
      const store = {
        backend: 'test',
        defs: ALL_RECORDS,
        async append(type: string, recs: readonly Rec[]) {
          if (type !== 'flow') return;
          for (const f of recs)
            flows.push(
              [
                f.tunnel,
                f.client_ip,
                f.client_port,
                f.server_ip,
                f.server_port,
                f.client_packets,
                f.server_packets,
                f.app,
              ].join(' '),
            );
        },
      } as unknown as RecordStore;
      const sources = await startSources([{ name: 'mirror.gre[0]', kind: 'gre', bind: HOST }], {
        store,
        metrics: new Metrics(),
        log: silentLogger,
        hooks: [],
        flow: NO_TIMEOUTS,
        mirrorRing: { bytes: 4 << 20, sampling: false },
        mirrorWorkers: workers,
      });
      const h = binding.rawOpen(47, '', 0);
      for (const [i, f] of frames.entries()) {
        // GRE carrying Ethernet (transparent Ethernet bridging), no key.
        const p = Buffer.alloc(4 + f.bytes.length);
        p.writeUInt16BE(0x6558, 2);
        f.bytes.copy(p, 4);
        binding.rawSend(h, p, HOST);
        if (i % 32 === 31) await sleep(1);
      }
      binding.close(h);
      const deadline = Date.now() + 5000;
      while (sources.stats()[0]!.packets < frames.length && Date.now() < deadline) await sleep(20);
      const st = sources.stats()[0]!;
      assert.equal(st.packets, frames.length);
      await sources.stop();
      return { flows: flows.sort(), drops: st.drops };
    };
    const main = await run(0);
    const worker = await run(1);
    assert.deepEqual(worker.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
    assert.ok(main.flows.length > 20 && main.flows.every((f) => f.startsWith('gre ')));
    assert.deepEqual(worker.flows, main.flows);
  });

  test('mirror.workers defaults to a worker on 2 or more cores', () => {
    assert.equal(mirrorWorkers(undefined, 1), 0);
    assert.equal(mirrorWorkers(undefined, 2), 1);
    assert.equal(mirrorWorkers(0, 8), 0);
    assert.equal(mirrorWorkers(1, 1), 1);
  });
});
