import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { realFrames, runs } from '../../test/support/fuzz.js';
import { newFrame } from '../capture/frame.js';
import { Sensor } from '../flow/sensor.js';
import { Decoder } from './decoder.js';

const LINK_TYPES = [0, 1, 12, 101, 108, 113, 228, 229, 276, 147];
const SEEDS = [
  'gre-tunnel-sample.pcap',
  'erspan-type2-gre.pcap',
  'erspan-type3-gre.pcap',
  'vxlan-http.pcap',
  'mpls-basic.pcap',
  'qinq-double-vlan-http.pcap',
  'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  'dns-edns-ecs-dnssec-v4v6.pcap',
  'sll2-icmp-arp.pcap',
  'tcp-retransmissions-http.pcap',
];

test('decoder never throws on random bytes of any link type', () => {
  const d = new Decoder();
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom(...LINK_TYPES),
      fc.nat(300),
      (bytes, lt, extra) => {
        const b = Buffer.from(bytes);
        const p = d.decodeBytes(b, 0, b.length, b.length + extra, lt, 0, 0, 0);
        assert.ok(p.weird >= 0);
        if (p.payloadOff >= 0) assert.ok(p.payloadOff + p.payloadCapLen <= b.length);
      },
    ),
    { numRuns: runs(60_000) },
  );
});

test('decoder and flow table never throw on mutated real packets', async () => {
  const seeds = await realFrames(SEEDS, 100);
  const sensor = new Sensor(() => {});
  const f = newFrame();
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(),
      fc.nat(3),
      (i, flips, cut, ts) => {
        const seed = seeds[i]!;
        const b = Buffer.from(seed.data);
        for (const [pos, v] of flips) if (b.length) b[pos % b.length] = v;
        const len = cut % 4 === 0 ? cut % (b.length + 1) : b.length;
        f.buf = b;
        f.off = 0;
        f.caplen = len;
        f.wirelen = b.length;
        f.linkType = seed.linkType;
        f.tsSec = 1_700_000_000 + ts;
        f.tsNs = 0;
        sensor.onFrame(f);
      },
    ),
    { numRuns: runs(50_000) },
  );
  sensor.finish();
});
