import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { realFrames, runs } from '../../../test/support/fuzz.js';
import { newFrame } from '../../capture/frame.js';
import { Sensor } from '../../flow/sensor.js';
import { dnsRecord } from '../../schema/dns.js';
import { type Columnar, columnarToRecords } from '../../store/columnar.js';
import { RecordColumnBuilder } from '../record-columns.js';
import { createDnsAnalyzer } from './analyzer.js';

const CAPTURES = [
  'dns-udp-many-types-nxdomain.pcap',
  'dns-tcp-multirequest-nxdomain.pcap',
  'dns-edns-ecs-dnssec-v4v6.pcap',
  'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  'icmpv6-mixed-types.pcap',
  'pcapng-two-interfaces-dns.pcapng',
];

/** (seconds, ns) of a record's text time, as the analyzer had them. */
function timeOf(ts: string): [number, number] {
  const dot = ts.indexOf('.');
  const sec = Date.parse(`${ts.slice(0, dot)}Z`) / 1000;
  return [sec, Number(ts.slice(dot + 1, -1).padEnd(9, '0'))];
}

interface Frame {
  data: Buffer;
  linkType: number;
  sec: number;
}

/**
 * The frames through two sensors: the DNS analyzer in object mode, its records then copied into
 * columns by the builder's general path (the reference), and in column mode, where it writes
 * its columns itself. Both batch sequences, read back as records.
 */
function bothWays(frames: readonly Frame[], capacity: number): { want: unknown[]; got: unknown[] } {
  const ref: Columnar[] = [];
  const refCols = new RecordColumnBuilder(dnsRecord, capacity, (_t, c) => ref.push(c));
  const objects = new Sensor(() => {});
  objects.addHook(
    createDnsAnalyzer((r) => {
      if (r.type !== 'dns') return;
      const [sec, ns] = timeOf(r.ts as string);
      refCols.add(r as Record<string, unknown>, sec, ns);
    }),
  );
  const direct: Columnar[] = [];
  const cols = new RecordColumnBuilder(dnsRecord, capacity, (_t, c) => direct.push(c));
  const columns = new Sensor(() => {});
  columns.addHook(createDnsAnalyzer(() => {}, { columns: cols }));
  for (const s of [objects, columns]) {
    const f = newFrame();
    for (const fr of frames) {
      f.buf = fr.data;
      f.off = 0;
      f.caplen = fr.data.length;
      f.wirelen = fr.data.length;
      f.linkType = fr.linkType;
      f.tsSec = fr.sec;
      f.tsNs = (fr.sec * 7919) % 1e9;
      s.onFrame(f);
    }
    s.finish();
  }
  refCols.flush();
  cols.flush();
  // Flow ids are drawn per sensor: the same flow's id differs between the two.
  const read = (bs: Columnar[]): unknown[] =>
    bs.flatMap((c) => columnarToRecords(c, 'dns')).map((r) => ({ ...r, flow_id: 0 }));
  return { want: read(ref), got: read(direct) };
}

test('DNS written into its columns directly: the same rows as the general copy of its records', async () => {
  const seeds = await realFrames(CAPTURES, 400);
  const frames = seeds.map((s, i) => ({ ...s, sec: 1_700_000_000 + i }));
  for (const capacity of [1, 3, 64, 4096]) {
    const { want, got } = bothWays(frames, capacity);
    assert.ok(want.length > 100, `${want.length} records`);
    assert.deepEqual(got, want, `capacity ${capacity}`);
  }
});

test('DNS written into its columns directly: the same rows on mutated packets', async () => {
  const seeds = await realFrames(CAPTURES, 100);
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.nat(seeds.length - 1),
          fc.array(fc.tuple(fc.nat(600), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
          fc.nat(20),
        ),
        { minLength: 1, maxLength: 60 },
      ),
      fc.integer({ min: 1, max: 16 }),
      (picks, capacity) => {
        let sec = 1_700_000_000;
        const frames = picks.map(([si, muts, dt]) => {
          const seed = seeds[si]!;
          const data = Buffer.from(seed.data);
          for (const [i, v] of muts) if (i < data.length) data[i] = v;
          sec += dt;
          return { data, linkType: seed.linkType, sec };
        });
        const { want, got } = bothWays(frames, capacity);
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: runs(300) },
  );
});
