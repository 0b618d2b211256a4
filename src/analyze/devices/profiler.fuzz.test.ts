import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { realFrames, runs } from '../../../test/support/fuzz.js';
import { newFrame } from '../../capture/frame.js';
import { createSensor } from '../../flow/sensor.js';
import { parseMdns, parseNbns, readDnsName, reverseNameIp } from './names.js';
import { SynSignature, userAgentGuess } from './os-signatures.js';
import { createHostProfiler } from './profiler.js';

const noName = () => {};
const src = () => '10.0.0.1';

/** An mDNS response header with one A record, then whatever the fuzzer appends. */
const MDNS_HEAD = Buffer.from('000084000000000100000000056c6f63616c00000180010000007800040a000001', 'hex');
/** A NetBIOS registration (opcode 5) header; the fuzzer writes the rest. */
const NBNS_HEAD = Buffer.from('00012910000100000000000120', 'hex');

test('mDNS, NetBIOS and DNS name readers never throw and never loop on random or mutated bytes', () => {
  const pos = new Int32Array(1);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(0, 1, 2),
      fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      (bytes, seed, muts) => {
        const b = Buffer.concat([seed === 0 ? Buffer.alloc(0) : seed === 1 ? MDNS_HEAD : NBNS_HEAD, bytes]);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        parseMdns(b, 0, b.length, src, noName);
        parseNbns(b, 0, b.length, noName);
        readDnsName(b, 0, b.length, Math.min(12, b.length), pos);
      },
    ),
    { numRuns: runs(20_000) },
  );
});

test('reverse names and User-Agents: any string gives an answer or null, never a throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 40 }), (s, t) => {
      reverseNameIp(s);
      reverseNameIp(`${t}.in-addr.arpa`);
      userAgentGuess(s);
    }),
    { numRuns: runs(5_000) },
  );
});

test('SYN option reader never throws and never reads past the options', () => {
  const sig = new SynSignature();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(255), fc.nat(65535), (opts, ttl, win) => {
      const b = Buffer.from(opts);
      sig.read(b, 0, b.length, 4, ttl, true, win);
      assert.ok(sig.layoutLen <= 40);
      sig.guess();
      sig.text();
    }),
    { numRuns: runs(10_000) },
  );
});

test('the profiler on mutated real packets: never throws, memory stays within its caps', async () => {
  const seeds = await realFrames(
    ['dhcp-dora.pcap', 'dns-udp-many-types-nxdomain.pcap', 'tls12-sni-chrome.pcap', 'http-methods-many.pcap'],
    60,
  );
  let records = 0;
  const profiler = createHostProfiler(() => records++, {
    maxHosts: 8,
    maxAttrsPerHost: 3,
    maxPendingDhcp: 4,
  });
  const sensor = createSensor((r) => profiler.onRecord(r));
  sensor.addHook(profiler);
  const f = newFrame();
  let t = 1_600_000_000;
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      (si, muts) => {
        const seed = seeds[si]!;
        const b = Buffer.from(seed.data);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        f.buf = b;
        f.off = 0;
        f.caplen = b.length;
        f.wirelen = b.length;
        f.linkType = seed.linkType;
        f.tsSec = t++;
        f.tsNs = 0;
        sensor.onFrame(f);
        assert.ok(profiler.size <= 8);
      },
    ),
    { numRuns: runs(3_000) },
  );
  sensor.finish();
});
