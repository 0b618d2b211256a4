import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { realFrames, runs } from '../../../test/support/fuzz.js';
import { eth, ipv4, udp } from '../../../test/support/packets.js';
import { newFrame } from '../../capture/frame.js';
import { Sensor } from '../../flow/sensor.js';
import { createDnsAnalyzer } from './analyzer.js';
import { dnsMessage, optEcs, PTR_QNAME, rr } from './testing.js';
import { DnsHeader, parseHeader, parseSections, readName } from './wire.js';

const SEEDS = [
  'dns-udp-many-types-nxdomain.pcap',
  'dns-tcp-multirequest-nxdomain.pcap',
  'dns-edns-ecs-dnssec-v4v6.pcap',
  'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  'icmpv6-mixed-types.pcap',
];

const SAMPLE = Buffer.from(
  dnsMessage({
    id: 1,
    flags: 0x8180,
    qd: [['www.example.com', 1]],
    an: [
      rr({ name: PTR_QNAME, type: 5, rdata: [3, 0x77, 0x77, 0x77, ...PTR_QNAME] }),
      rr({ name: PTR_QNAME, type: 1, rdata: [1, 2, 3, 4] }),
      rr({ name: PTR_QNAME, type: 65, rdata: [0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32] }),
    ],
    ar: [optEcs(1232, true, [10, 1, 2], 24)],
  }),
);

function parseAll(b: Buffer): void {
  const h = new DnsHeader();
  parseHeader(b, 0, b.length, h);
  const s = parseSections(h, 64);
  assert.ok(s.answers.length <= 64 && s.authority.length <= 64);
  for (let i = 0; i < Math.min(b.length, 64); i++) {
    const n = readName(b, 0, b.length, i);
    assert.ok(n === null || n.length <= 4 * 255);
  }
}

test('DNS parser never throws on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => parseAll(Buffer.from(bytes))),
    { numRuns: runs(20_000) },
  );
});

test('DNS parser never throws on mutated messages', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(SAMPLE.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(SAMPLE.length),
      (muts, cut) => {
        const b = Buffer.from(SAMPLE.subarray(0, Math.max(cut, 1)));
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        parseAll(b);
      },
    ),
    { numRuns: runs(20_000) },
  );
});

test('DNS analyzer never throws on mutated real packets and stays bounded', async () => {
  const seeds = await realFrames(SEEDS, 100);
  const sensor = new Sensor(() => {});
  const dns = createDnsAnalyzer(
    () => {},
    {},
    { maxPending: 50, reassembly: { maxDatagrams: 4, maxBytes: 65535, timeoutSec: 30 } },
  );
  sensor.addHook(dns);
  const f = newFrame();
  let t = 1_600_000_000;
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(1500), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(1500),
      (si, muts, cut) => {
        const seed = seeds[si]!;
        const b = Buffer.from(seed.data);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        const len = Math.min(b.length, Math.max(cut, 14));
        f.buf = b;
        f.off = 0;
        f.caplen = len;
        f.wirelen = b.length;
        f.linkType = seed.linkType;
        f.tsSec = t++;
        f.tsNs = 0;
        sensor.onFrame(f);
        assert.ok(dns.pendingQueries <= 50);
      },
    ),
    { numRuns: runs(5_000) },
  );
  sensor.finish();
  assert.equal(dns.pendingQueries, 0);
});

test('random IPv4 fragments to port 53 keep the reassembler bounded', () => {
  const sensor = new Sensor(() => {});
  const dns = createDnsAnalyzer(
    () => {},
    {},
    { reassembly: { maxDatagrams: 8, maxBytes: 65535, timeoutSec: 30 } },
  );
  sensor.addHook(dns);
  const f = newFrame();
  fc.assert(
    fc.property(
      fc.nat(50),
      fc.nat(8191),
      fc.boolean(),
      fc.uint8Array({ minLength: 8, maxLength: 64 }),
      (id, off, mf, pl) => {
        const payload = off === 0 ? udp(53, 5000, Array.from(pl)) : Array.from(pl);
        const b = Buffer.from(eth(0x0800, ipv4({ proto: 17, id, mf, fragOffset: off * 8 }, payload)));
        f.buf = b;
        f.off = 0;
        f.caplen = b.length;
        f.wirelen = b.length;
        f.linkType = 1;
        f.tsSec = 1_600_000_000;
        f.tsNs = 0;
        sensor.onFrame(f);
      },
    ),
    { numRuns: runs(5_000) },
  );
  sensor.finish();
});
