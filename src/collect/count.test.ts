import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ExportGen } from '../../bench/collect.js';
import { fixture } from '../../test/support/fixtures.js';
import { runs } from '../../test/support/fuzz.js';
import { readCaptureFile } from '../capture/capture-file.js';
import { countRecords } from './count.js';
import { CollectDecoder } from './decoder.js';

/** The UDP payloads of a capture (Ethernet, Linux cooked or BSD loopback; IPv4 or IPv6). */
async function datagrams(name: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await readCaptureFile(fixture(name), (f) => {
    const b = f.buf.subarray(f.off, f.off + f.caplen);
    let o = f.linkType === 1 ? 14 : f.linkType === 113 ? 16 : f.linkType === 0 ? 4 : -1;
    if (o < 0) return;
    if (f.linkType === 1) while (b.readUInt16BE(o - 2) === 0x8100) o += 4;
    const v = b[o]! >> 4;
    let proto: number;
    if (v === 4) {
      proto = b[o + 9]!;
      o += (b[o]! & 15) * 4;
    } else if (v === 6) {
      proto = b[o + 6]!;
      o += 40;
    } else return;
    if (proto !== 17) return;
    out.push(Buffer.from(b.subarray(o + 8, o + b.readUInt16BE(o + 4))));
  });
  return out;
}

/**
 * The truth is the full decoder: for each datagram, the records its decode emits equal the
 * count from the headers alone, given the templates the decoder knows by then (a datagram's
 * own template sets are learned by decoding it, so it is counted after).
 */
function agree(dgs: Buffer[]): { records: number; counted: number } {
  let emitted = 0;
  const d = new CollectDecoder({}, () => emitted++);
  let records = 0;
  let counted = 0;
  for (const g of dgs) {
    const before = emitted;
    d.decode(g, 0, g.length, '192.0.2.1', 2055, 1_700_000_000_000);
    const n = countRecords(d, g, 0, g.length, '192.0.2.1');
    assert.equal(n, emitted - before, `datagram ${records}: counted ${n}, decoded ${emitted - before}`);
    records += emitted - before;
    counted += n;
  }
  return { records, counted };
}

for (const name of [
  'made/softflowd-v5-http-methods.pcap',
  'made/softflowd-v9-http-methods.pcap',
  'made/softflowd-ipfix-http-methods.pcap',
  'made/softflowd-v9-ipv6-mixed.pcap',
  'made/softflowd-ipfix-ipv6-mixed.pcap',
  'sflow-v5-counter-samples.pcap',
])
  test(`records counted from the headers equal those decoded: ${name}`, async () => {
    const dgs = await datagrams(name);
    assert.ok(dgs.length > 0);
    const r = agree(dgs);
    assert.ok(r.records > 0, 'the capture has records');
  });

test("the load generator's IPFIX: 30 records a datagram, counted as decoded", () => {
  const gen = new ExportGen(10);
  const dgs = Array.from({ length: 200 }, () => Buffer.from(gen.next()));
  const r = agree(dgs);
  assert.equal(r.counted, r.records);
  assert.ok(r.records >= 199 * 30);
});

test('counting never throws on mutated or random bytes, and never counts more than a decode could hold', async () => {
  const seeds = [
    ...(await datagrams('made/softflowd-ipfix-http-methods.pcap')),
    ...(await datagrams('made/softflowd-v9-ipv6-mixed.pcap')),
    ...(await datagrams('sflow-v5-counter-samples.pcap')),
  ];
  const d = new CollectDecoder({}, () => {});
  for (const g of seeds) d.decode(g, 0, g.length, '192.0.2.1', 2055, 0);
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 8 }),
      fc.nat(2000),
      (i, edits, cut) => {
        const g = Buffer.from(seeds[i]!);
        for (const [at, v] of edits) if (g.length > 0) g[at % g.length] = v;
        const len = cut % (g.length + 1);
        const n = countRecords(d, g, 0, len, '192.0.2.1');
        // One byte per record at least (the smallest record a template may declare).
        assert.ok(Number.isInteger(n) && n >= 0 && n <= len);
      },
    ),
    { numRuns: runs(2000) },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
      const n = countRecords(d, bytes, 0, bytes.length, '192.0.2.1');
      assert.ok(n >= 0 && n <= bytes.length);
    }),
    { numRuns: runs(2000) },
  );
});
