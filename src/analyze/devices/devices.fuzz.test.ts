import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { realFrames, runs } from '../../../test/support/fuzz.js';
import { newFrame } from '../../capture/frame.js';
import { Sensor } from '../../flow/sensor.js';
import { createArpAnalyzer } from '../arp/analyzer.js';
import { createDhcpAnalyzer, parseDhcp } from '../dhcp/analyzer.js';
import { createDeviceInventory } from './inventory.js';

const SEEDS = ['dhcp-dora.pcap', 'vlan-8021q-icmp-arp.pcap', 'sll2-icmp-arp.pcap', 'icmpv6-mixed-types.pcap'];

test('DHCP parser never throws on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 200, maxLength: 400 }), fc.boolean(), (bytes, magic) => {
      const b = Buffer.from(bytes);
      if (magic && b.length >= 240) b.writeUInt32BE(0x63825363, 236);
      parseDhcp(b, 0, b.length);
    }),
    { numRuns: runs(5_000) },
  );
});

test('ARP, ND, DHCP and the inventory never throw on mutated real packets and stay bounded', async () => {
  const seeds = await realFrames(SEEDS, 100);
  const sensor = new Sensor(() => {});
  const inventory = createDeviceInventory(() => {}, { maxDevices: 20 });
  sensor.addHook(createArpAnalyzer({ inventory }));
  sensor.addHook(createDhcpAnalyzer(() => {}, { inventory }));
  sensor.addHook(inventory);
  const f = newFrame();
  let t = 1_600_000_000;
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(600), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(600),
      (si, muts, cut) => {
        const seed = seeds[si]!;
        const b = Buffer.from(seed.data);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        f.buf = b;
        f.off = 0;
        f.caplen = Math.min(b.length, Math.max(cut, 14));
        f.wirelen = b.length;
        f.linkType = seed.linkType;
        f.tsSec = t++;
        f.tsNs = 0;
        sensor.onFrame(f);
        assert.ok(inventory.size <= 20);
      },
    ),
    { numRuns: runs(5_000) },
  );
  sensor.finish();
});
