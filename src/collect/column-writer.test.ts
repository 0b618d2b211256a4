import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { type FieldSpec, ipfix, netflow9, set, templateRecord, u16, u32 } from '../../test/collect/build.js';
import { mutated, seeds } from '../../test/collect/fuzz-seeds.js';
import { columnarToRecords } from '../store/columnar.js';
import { ColumnWriter } from './column-writer.js';
import { type ColumnBatch, columnarOf, decodeColumns, encodeColumns } from './columns.js';
import { CollectDecoder } from './decoder.js';
import type { CollectedRecord } from './types.js';

const FILES = [
  'made/softflowd-v5-http-methods.pcap',
  'made/softflowd-v9-http-methods.pcap',
  'made/softflowd-v9-ipv6-mixed.pcap',
  'made/softflowd-ipfix-http-methods.pcap',
  'made/softflowd-ipfix-ipv6-mixed.pcap',
  'sflow-v5-counter-samples.pcap',
];

// Several 32-bit words.
const w32 = (...v: number[]): number[] => v.flatMap(u32);
const ip4 = (a: number, b: number, c: number, d: number): number[] => [a, b, c, d];
const ip6 = (last: number): number[] => [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), last];
const ntp = (sec: number, frac: number): number[] => [...u32(sec + 2208988800), ...u32(frac)];

/** sFlow v5 with one flow sample (1 in 100) of one sampled IPv4 or IPv6 record. */
function sflow(format: number, body: number[]): Buffer {
  const record = [...w32(format, body.length), ...body];
  const sample = [...w32(7, 1, 100, 1000, 0, 3, 4, 1), ...record];
  return Buffer.from([
    ...w32(5, 1),
    192,
    0,
    2,
    1,
    ...w32(0, 42, 123456, 1),
    ...w32(1, sample.length),
    ...sample,
  ]);
}

/**
 * Hand-made exports that reach every column and every kind of time: IPFIX with IPv4 and IPv6,
 * MACs, next hops, varlen strings and enterprise fields (`extra`), NTP and delta times, ICMP in
 * the port, a template with no addresses, options with sampling, data before its template,
 * a withdrawal; NetFlow v9 with uptime times and sampling; sFlow flow samples.
 */
function handMade(): Buffer[] {
  const full: FieldSpec[] = [
    [8, 4],
    [12, 4],
    [7, 2],
    [11, 2],
    [4, 1],
    [6, 2],
    [2, 8],
    [1, 8],
    [5, 1],
    [10, 4],
    [14, 4],
    [16, 4],
    [17, 4],
    [9, 1],
    [13, 1],
    [15, 4],
    [18, 4],
    [56, 6],
    [80, 6],
    [58, 2],
    [61, 1],
    [136, 1],
    [152, 8],
    [153, 8],
  ];
  const fullRec = (i: number): number[] => [
    ...ip4(10, 0, i >> 8, i & 255),
    ...ip4(192, 168, 1, i & 3),
    ...u16(40000 + i),
    ...u16(443),
    6,
    ...u16(i % 64),
    ...u32(0),
    ...u32(10 + i),
    ...u32(0),
    ...u32(1500 * (i + 1)),
    i & 255,
    ...u32(3),
    ...u32(4),
    ...u32(65001),
    ...u32(65002),
    24,
    16,
    ...ip4(10, 255, 0, 1),
    ...ip4(10, 255, 0, 2),
    0,
    0x11,
    0x22,
    0x33,
    0x44,
    i & 7,
    0,
    0xaa,
    0xbb,
    0xcc,
    0xdd,
    0xee,
    ...u16(100 + (i & 3)),
    i & 1,
    1 + (i % 5),
    ...u32(0x18b),
    ...u32(0xcfee5c00 + i * 7),
    ...u32(0x18b),
    ...u32(0xcfee5c00 + i * 7 + 2500),
  ];
  const v6: FieldSpec[] = [
    [27, 16],
    [28, 16],
    [4, 1],
    [32, 2],
    [2, 4],
    [1, 4],
    [62, 16],
    [63, 16],
    [156, 8],
    [157, 8],
  ];
  const v6Rec = (i: number): number[] => [
    ...ip6(i),
    ...ip6(200 + (i & 1)),
    58,
    ...u16((128 << 8) | 0),
    ...u32(1),
    ...u32(84),
    ...ip6(254),
    ...ip6(253),
    ...ntp(1_700_000_000, 0x12345678 * (i + 1)),
    ...ntp(1_700_000_001, 0x9abcdef0),
  ];
  const strs: FieldSpec[] = [
    [8, 4],
    [12, 4],
    [4, 1],
    [82, 0xffff],
    [7, 0xffff, 9],
    [1, 2, 29305],
    [158, 4],
    [159, 4],
  ];
  const strRec = (name: string): number[] => {
    const b = Buffer.from(name);
    return [
      ...ip4(172, 16, 0, 1),
      ...ip4(172, 16, 0, 2),
      17,
      b.length,
      ...b,
      3,
      1,
      2,
      3,
      ...u16(77),
      ...u32(5000),
      ...u32(1000),
    ];
  };
  // Only counters: no addresses, ports or times in the record.
  const bare: FieldSpec[] = [
    [2, 4],
    [1, 4],
  ];
  // IPFIX options: scope observation domain; selectorId (302), samplingPacketInterval (305).
  const opts = templateRecord(
    270,
    [
      [149, 4],
      [302, 2],
      [305, 4],
    ],
    1,
  );
  const sampled: FieldSpec[] = [
    [8, 4],
    [12, 4],
    [302, 2],
    [2, 4],
    [1, 4],
  ];
  const out: Buffer[] = [];
  out.push(ipfix(1, 0, [set(2, templateRecord(300, full)), set(300, [0, 1, 2, 3, 4].flatMap(fullRec))]));
  out.push(ipfix(1, 5, [set(300, [5, 6, 7].flatMap(fullRec)), set(301, v6Rec(9))]));
  out.push(ipfix(1, 8, [set(2, templateRecord(301, v6)), set(301, [1, 2, 3].flatMap(v6Rec))]));
  out.push(
    ipfix(2, 0, [
      set(2, templateRecord(302, strs)),
      set(302, [...strRec('Gi0/0/1'), ...strRec('xe-1/2/3.0')]),
    ]),
  );
  out.push(ipfix(2, 2, [set(2, templateRecord(303, bare)), set(303, [...u32(4), ...u32(400)])]));
  out.push(
    ipfix(3, 0, [
      set(3, opts),
      set(270, [...u32(3), ...u16(5), ...u32(64)]),
      set(2, templateRecord(304, sampled)),
      set(304, [...ip4(1, 1, 1, 1), ...ip4(2, 2, 2, 2), ...u16(5), ...u32(2), ...u32(200)]),
      set(304, [...ip4(1, 1, 1, 1), ...ip4(2, 2, 2, 3), ...u16(6), ...u32(2), ...u32(200)]),
    ]),
  );
  // Withdrawn, then data for it is held (and never decoded).
  out.push(ipfix(2, 3, [set(2, [...u16(303), ...u16(0)]), set(303, [...u32(4), ...u32(400)])]));
  // Refreshed with another layout: the same id now describes counters only.
  out.push(
    ipfix(1, 11, [
      set(2, templateRecord(300, bare)),
      set(300, [...u32(7), ...u32(700), ...u32(8), ...u32(800)]),
    ]),
  );
  const v9: FieldSpec[] = [
    [8, 4],
    [12, 4],
    [7, 2],
    [11, 2],
    [4, 1],
    [6, 1],
    [2, 4],
    [1, 4],
    [22, 4],
    [21, 4],
    [48, 1],
  ];
  const v9opt = [
    ...u16(260),
    ...u16(4),
    ...u16(8),
    ...u16(1),
    ...u16(4),
    ...u16(48),
    ...u16(1),
    ...u16(34),
    ...u16(4),
  ];
  const v9rec = (i: number, sampler: number): number[] => [
    ...ip4(10, 1, 0, i),
    ...ip4(10, 2, 0, 1),
    ...u16(1000 + i),
    ...u16(53),
    17,
    0,
    ...u32(1),
    ...u32(80),
    ...u32(90_000 + i),
    ...u32(99_500 + i),
    sampler,
  ];
  out.push(
    netflow9(3, 0, [
      set(1, [...v9opt, 0, 0]),
      set(0, templateRecord(300, v9)),
      set(260, [...u32(0), 7, ...u32(100), 0, 0, 0]),
      set(300, [...v9rec(1, 7), ...v9rec(2, 9), ...v9rec(3, 7)]),
    ]),
  );
  out.push(sflow(3, w32(1500, 6, 0x0a000001, 0x0a000002, 40000, 443, 0x12, 0)));
  out.push(sflow(4, w32(1280, 17, 0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2, 5353, 53, 0, 0)));
  return out;
}

/** Decode `dgs` both ways; the writer's batches are cut after the datagram indexes in `cuts`. */
function bothWays(
  dgs: Buffer[],
  cuts: ReadonlySet<number>,
  capacity: number,
): { objects: CollectedRecord[]; batches: ColumnBatch[] } {
  const objects: CollectedRecord[] = [];
  const a = new CollectDecoder({}, (r) => objects.push(r));
  const w = new ColumnWriter(capacity);
  const b = new CollectDecoder({}, (r) => w.other(r), w);
  const batches: ColumnBatch[] = [];
  const cut = (): void => {
    const x = w.finish();
    // As it travels to the main thread: the buffer transferred, the rest cloned.
    batches.push(structuredClone(x, { transfer: [x.buf] }));
  };
  dgs.forEach((d, i) => {
    const exporter = i % 7 === 3 ? '2001:db8::7' : '192.0.2.7';
    a.decode(d, 0, d.length, exporter, 9999, 1_700_000_000_000 + i);
    b.decode(d, 0, d.length, exporter, 9999, 1_700_000_000_000 + i);
    if (cuts.has(i)) cut();
  });
  cut();
  assert.deepEqual(b.totals(), a.totals());
  return { objects, batches };
}

function assertSame(objects: CollectedRecord[], batches: ColumnBatch[]): void {
  // What the main thread rebuilds, and what the store and the column watchers read.
  assert.deepEqual(batches.flatMap(decodeColumns), objects);
  // A batch without any `extra` has no JSON column: its rows read without the key.
  const rows = (b: ColumnBatch) =>
    columnarToRecords(columnarOf(b).flows, 'exported_flow').map((r) => ({ ...r, extra: r.extra ?? null }));
  const want = rows(encodeColumns(objects));
  const got = batches.flatMap(rows);
  assert.deepEqual(got, want);
}

describe('column writer', () => {
  test('the batch equals the one made from record objects: fixtures and hand-made exports, any batch cut', async () => {
    const dgs = [...(await seeds(FILES)), ...handMade()];
    const { objects, batches } = bothWays(dgs, new Set([0, 3, 40, 41, 100, dgs.length - 4]), 8192);
    const flows = objects.filter((r) => r.type === 'exported_flow');
    assert.ok(flows.length > 400);
    // The corpus reaches what it is meant to.
    const has = (p: (r: Record<string, unknown>) => boolean): boolean =>
      flows.some((r) => p(r as unknown as Record<string, unknown>));
    assert.ok(has((r) => r.source === 'netflow5') && has((r) => r.source === 'netflow9'));
    assert.ok(has((r) => r.source === 'ipfix') && has((r) => r.source === 'sflow'));
    assert.ok(has((r) => String(r.src_ip).includes(':')) && has((r) => String(r.next_hop).includes(':')));
    assert.ok(has((r) => r.src_mac === '00:11:22:33:44:00') && has((r) => r.bgp_next_hop === '10.255.0.2'));
    assert.ok(has((r) => (r.extra as { interfaceName?: string } | null)?.interfaceName === 'xe-1/2/3.0'));
    assert.ok(has((r) => r.sampling_rate === 64) && has((r) => r.sampling_rate === 100));
    assert.ok(has((r) => r.icmp_type === 128) && has((r) => r.src_ip === null));
    assert.ok(has((r) => r.template_id === 300 && r.bytes === 800 && r.src_ip === null));
    assert.ok(has((r) => /\.\d{6}[1-9]\d*Z$|\.\d{7}[1-9]\d*Z$/.test(String(r.first_ts))));
    assert.ok(objects.some((r) => r.type === 'sflow_counters'));
    assertSame(objects, batches);
  });

  test('small buffers: growth, the buffer handed on whole and copied out, caches across batches', async () => {
    const dgs = [...(await seeds(FILES.slice(0, 5))), ...handMade()];
    const cuts = new Set<number>();
    for (let i = 0; i < dgs.length; i += 1 + (i % 5)) cuts.add(i);
    const all: ColumnBatch[] = [];
    for (const cap of [16, 40, 64]) {
      const { objects, batches } = bothWays(dgs, cuts, cap);
      assertSame(objects, batches);
      all.push(...batches);
    }
    assert.ok(all.some((b) => b.sOff !== undefined) && all.some((b) => b.sOff === undefined));
  });

  test('mutated exports: the same records and counters both ways (never a throw)', async () => {
    const seedList = [...(await seeds(FILES)), ...handMade()];
    fc.assert(
      fc.property(fc.array(mutated(seedList), { minLength: 1, maxLength: 30 }), (dgs) => {
        const { objects, batches } = bothWays(dgs, new Set([dgs.length >> 1]), 64);
        assertSame(objects, batches);
      }),
      { numRuns: 150 },
    );
  });

  test('the decode path makes no object per record: young-generation collections over 150k records', async (t) => {
    // A thread with a 1 MiB young generation: what each path allocates shows as scavenges.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { PerformanceObserver } = require('node:perf_hooks');
      (async () => {
        const { CollectDecoder } = await import(workerData.dir + '/decoder.js');
        const { ColumnWriter } = await import(workerData.dir + '/column-writer.js');
        const { encodeColumns } = await import(workerData.dir + '/columns.js');
        const dgs = workerData.dgs.map((u) => Buffer.from(u.buffer, u.byteOffset, u.length));
        const run = (columns) => {
          let out = [];
          const w = new ColumnWriter();
          const d = columns
            ? new CollectDecoder({ communityId: false }, (r) => w.other(r), w)
            : new CollectDecoder({ communityId: false }, (r) => out.push(r));
          const step = (g) => {
            d.decode(g, 0, g.length, '192.0.2.1', 2055, 0);
            if (columns ? w.n >= 8192 : out.length >= 8192) {
              if (columns) w.finish(); else { encodeColumns(out); out = []; }
            }
          };
          // Warmed up first (45k records, then a pause for the optimising compiler's background
          // jobs to land): on a busy machine one pass left the measured loop unoptimised, where
          // temporaries are allocated that optimised code does not make (7 scavenges in a CI run).
          for (let k = 0; k < 3; k++) for (const g of dgs) step(g);
          return () => { for (let k = 0; k < 10; k++) for (const g of dgs) step(g); };
        };
        const res = {};
        for (const mode of ['columns', 'objects']) {
          const go = run(mode === 'columns');
          await new Promise((r) => setTimeout(r, 300));
          let n = 0;
          const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === 1) n++; });
          obs.observe({ entryTypes: ['gc'] });
          go();
          await new Promise((r) => setTimeout(r, 200));
          obs.disconnect();
          res[mode] = n;
        }
        parentPort.postMessage(res);
      })();`;
    const dir = new URL('.', import.meta.url).pathname;
    // 500 datagrams of 30 flows among 64 sources and 16 destinations (every flow its own ports
    // and counts), as traffic is: addresses repeat, flows do not.
    const tmpl: FieldSpec[] = [
      [8, 4],
      [12, 4],
      [7, 2],
      [11, 2],
      [4, 1],
      [6, 1],
      [2, 4],
      [1, 4],
      [22, 4],
      [21, 4],
    ];
    const dgs: Buffer[] = [];
    for (let d = 0; d < 500; d++) {
      const recs: number[] = [];
      for (let i = 0; i < 30; i++) {
        const k = d * 30 + i;
        recs.push(...ip4(10, 0, 0, k % 64), ...ip4(192, 168, 0, (k >> 6) % 16), ...u16(1024 + (k % 60000)));
        recs.push(...u16(443), 6, 0x18, ...u32(1 + (k % 97)), ...u32(60 * (1 + (k % 97))));
        recs.push(...u32(990_000 + k), ...u32(999_000 + k));
      }
      const sets = d === 0 ? [set(2, templateRecord(256, tmpl)), set(256, recs)] : [set(256, recs)];
      dgs.push(ipfix(1, d * 30, sets));
    }
    const w = new Worker(code, {
      eval: true,
      workerData: { dir, dgs },
      resourceLimits: { maxYoungGenerationSizeMb: 1 },
    });
    const res = await new Promise<{ columns: number; objects: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    t.diagnostic(`scavenges: columns ${res.columns}, objects ${res.objects}`);
    // 150,000 records (the 500 datagrams 10 times over, after three passes to warm up): as objects
    // (~0.5 KB each and their strings) they fill a 1 MiB young generation well over fifty
    // times; in columns what is left is per datagram, per batch and per distinct address.
    assert.ok(res.objects >= 50, `objects path: ${res.objects} scavenges (the measure sees garbage)`);
    assert.ok(res.columns <= 6, `columns path: ${res.columns} scavenges over 150k records`);
  });
});
