import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { eth, ipv4, ipv6, udp } from '../../test/support/packets.js';
import type { FlowLookup } from '../analyze/types.js';
import { newFrame } from '../capture/frame.js';
import type { Packet } from '../decode/packet.js';
import { Sensor } from '../flow/sensor.js';
import { IndexBuilder, type SegmentIndex } from './segment-index.js';

/**
 * The index's flow of each packet, checked against its definition: a flow holds exactly the
 * packets of one 5-tuple, both directions, and only those. The packets are made here from
 * endpoints that often share the first 32 bits of their address (hosts of one IPv6 /64, where an
 * index that compared the first word first took a reply for the other direction's mismatch).
 */

interface Pkt {
  v6: boolean;
  a: number;
  b: number;
  ap: number;
  bp: number;
  fromB: boolean;
}

const v6addr = (host: number): number[] => [
  0xfe,
  0x80,
  0,
  0,
  0,
  0,
  0,
  0,
  0x02,
  0x00,
  0x86,
  0xff,
  0xfe,
  0x05,
  0x80,
  host,
];

function frameOf(p: Pkt): Buffer {
  const sp = p.fromB ? p.bp : p.ap;
  const dp = p.fromB ? p.ap : p.bp;
  const s = p.fromB ? p.b : p.a;
  const d = p.fromB ? p.a : p.b;
  const l4 = udp(sp, dp, [1, 2, 3, 4]);
  return Buffer.from(
    p.v6
      ? eth(0x86dd, ipv6(v6addr(s), v6addr(d), 17, l4))
      : eth(0x0800, ipv4({ src: `10.0.0.${s}`, dst: `10.0.0.${d}`, proto: 17 }, l4)),
  );
}

/** The definition: the unordered pair of (address, port) endpoints and the address family. */
function tupleOf(p: Pkt): string {
  const x = `${p.a}:${p.ap}`;
  const y = `${p.b}:${p.bp}`;
  return `${p.v6 ? 6 : 4}|${x < y ? `${x}|${y}` : `${y}|${x}`}`;
}

/** Index the packets through a sensor's flow table; `lookup` is what the index is given. */
function indexOf(pkts: Pkt[], lookup: (t: FlowLookup) => FlowLookup): SegmentIndex {
  const sensor = new Sensor(() => {});
  const builder = new IndexBuilder(1);
  let off = 24;
  sensor.addHook({
    name: 'index',
    onPacket(p: Packet, flows: FlowLookup, slot: number) {
      builder.add(p, off, 16 + p.caplen, lookup(flows), slot);
      off += 16 + p.caplen;
    },
  });
  const f = newFrame();
  pkts.forEach((p, i) => {
    f.buf = frameOf(p);
    f.off = 0;
    f.caplen = f.wirelen = f.buf.length;
    f.tsSec = 1_700_000_000 + i;
    f.tsNs = 0;
    sensor.onFrame(f);
  });
  sensor.finish();
  return builder.build();
}

/** Packet offsets of each index flow (ordinal 0, packets of no flow, first). */
function flowsOf(ix: SegmentIndex): number[][] {
  const d = ix.d;
  const out: number[][] = [];
  for (let f = 0; f + 1 < d.pktStart.length; f++) {
    const list: number[] = [];
    for (let k = d.pktStart[f]!; k < d.pktStart[f + 1]!; k++) list.push(d.pktOff[k]!);
    out.push(list);
  }
  return out;
}

const pkt = fc.record({
  v6: fc.boolean(),
  a: fc.integer({ min: 1, max: 4 }),
  b: fc.integer({ min: 1, max: 4 }),
  ap: fc.constantFrom(53, 1000, 2000),
  bp: fc.constantFrom(53, 1000, 2000),
  fromB: fc.boolean(),
});

describe('segment index flows', () => {
  it('puts every packet in the flow of its 5-tuple, both directions, and nothing else there', () => {
    fc.assert(
      fc.property(fc.array(pkt, { minLength: 1, maxLength: 40 }), (pkts) => {
        // Packet offsets in the segment, as the hook writes them.
        const offs: number[] = [];
        let o = 24;
        for (const p of pkts) {
          offs.push(o);
          o += 16 + frameOf(p).length;
        }
        const truth = new Map<string, number[]>();
        pkts.forEach((p, i) => {
          const k = tupleOf(p);
          const l = truth.get(k) ?? [];
          l.push(offs[i]!);
          truth.set(k, l);
        });
        const want = [...truth.values()].map((l) => l.join(',')).sort();
        for (const lookup of [
          (t: FlowLookup) => t,
          // A lookup without the id shortcut: the index builds the context instead.
          (t: FlowLookup): FlowLookup => ({
            generation: (s) => t.generation(s),
            context: (s) => t.context(s),
          }),
        ]) {
          const ix = indexOf(pkts, lookup);
          const flows = flowsOf(ix);
          assert.deepEqual(flows[0], [], 'no packet outside a flow');
          assert.deepEqual(
            flows
              .slice(1)
              .map((l) => l.join(','))
              .sort(),
            want,
          );
        }
      }),
      { numRuns: runs(100) },
    );
  });

  it('keeps the replies of an IPv6 flow inside one /64 in the flow (both ends share the first word)', () => {
    const pkts: Pkt[] = [
      { v6: true, a: 0xda, b: 0xea, ap: 1000, bp: 53, fromB: false },
      { v6: true, a: 0xda, b: 0xea, ap: 1000, bp: 53, fromB: true },
      { v6: true, a: 0xda, b: 0xea, ap: 1000, bp: 53, fromB: true },
    ];
    const flows = flowsOf(indexOf(pkts, (t) => t));
    assert.equal(flows.length, 2);
    assert.equal(flows[1]!.length, 3);
  });

  it('a builder restarted for the next segment builds what a new builder builds', () => {
    /** Add every packet to each builder (one flow table for all), as the recorder's hook does. */
    const feed = (pkts: (Pkt | Buffer)[], builders: IndexBuilder[], t0: number): void => {
      const sensor = new Sensor(() => {});
      let off = 24;
      sensor.addHook({
        name: 'index',
        onPacket(p: Packet, flows: FlowLookup, slot: number) {
          for (const b of builders) b.add(p, off, 16 + p.caplen, flows, slot);
          off += 16 + p.caplen;
        },
      });
      const f = newFrame();
      pkts.forEach((p, i) => {
        f.buf = Buffer.isBuffer(p) ? p : frameOf(p);
        f.off = 0;
        f.caplen = f.wirelen = f.buf.length;
        f.tsSec = t0 + i;
        f.tsNs = i * 7;
        sensor.onFrame(f);
      });
      sensor.finish();
    };
    // A first segment with more flows (and slots) than a builder starts with room for, packets
    // of no flow (ARP), and later times than the next segment's.
    const many: (Pkt | Buffer)[] = [];
    for (let i = 0; i < 1500; i++) {
      many.push({ v6: i % 3 === 0, a: 1 + (i % 250), b: 251, ap: 1000 + i, bp: 53, fromB: i % 2 === 1 });
      if (i % 100 === 0) many.push(Buffer.from(eth(0x0806, new Array(28).fill(i & 0xff))));
    }
    const used = new IndexBuilder(1);
    feed(many, [used], 1_800_000_000);
    used.build();
    fc.assert(
      fc.property(
        fc.array(fc.oneof(pkt, fc.constant(Buffer.from(eth(0x0806, new Array(28).fill(1))))), {
          maxLength: 40,
        }),
        (pkts) => {
          used.restart(113);
          const fresh = new IndexBuilder(113);
          feed(pkts, [used, fresh], 1_700_000_000);
          const a = used.build();
          const b = fresh.build();
          assert.deepEqual(a.meta, b.meta);
          for (const k of Object.keys(b.d) as (keyof typeof b.d)[]) assert.deepEqual(a.d[k], b.d[k], k);
        },
      ),
      { numRuns: runs(100) },
    );
  });
});
