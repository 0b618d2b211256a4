import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  collectCapture,
  type FieldSpec,
  ipfix,
  netflow9,
  set,
  templateRecord,
  totals,
  u16,
  u32,
} from '../../test/collect/build.js';
import { fixture } from '../../test/support/fixtures.js';
import { ColumnWriter } from './column-writer.js';
import { decodeColumns } from './columns.js';
import { CollectDecoder } from './decoder.js';
import type { CollectedRecord, ExportedFlowRecord } from './types.js';

const MADE_PORTS = [29990, 29991, 29992, 29993, 29994];

const collectFile = (name: string) => collectCapture(fixture(name), MADE_PORTS);

// Golden values: tshark 4.0 `-d udp.port==PORT,cflow -T fields -e cflow.packets -e cflow.octets`
// on the captures made by test/fixtures/pcaps/made/make-exports.sh.
const GOLDEN: [string, number, number, number][] = [
  ['made/softflowd-v5-http-methods.pcap', 98, 655, 219155],
  ['made/softflowd-v9-http-methods.pcap', 98, 655, 219155],
  ['made/softflowd-ipfix-http-methods.pcap', 98, 655, 219155],
  ['made/softflowd-v9-ipv6-mixed.pcap', 71, 161, 23397],
  ['made/softflowd-ipfix-ipv6-mixed.pcap', 71, 161, 23397],
];

const BASIC: FieldSpec[] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [2, 4],
  [1, 4],
];
function basicRecord(i: number): number[] {
  return [10, 0, 0, 1, 10, 0, 0, 2, ...u16(1000 + i), ...u16(80), 6, ...u32(i + 1), ...u32(100 * (i + 1))];
}

function decoder(cfg = {}): { d: CollectDecoder; recs: CollectedRecord[] } {
  const recs: CollectedRecord[] = [];
  return { d: new CollectDecoder(cfg, (r) => recs.push(r)), recs };
}
const flows = (recs: CollectedRecord[]): ExportedFlowRecord[] =>
  recs.filter((r): r is ExportedFlowRecord => r.type === 'exported_flow');

describe('collector decoders on made captures (softflowd exports)', () => {
  for (const [name, records, packets, bytes] of GOLDEN) {
    test(`${name}: ${records} records, ${packets} packets, ${bytes} bytes as tshark`, async () => {
      const recs = await collectFile(name);
      assert.deepEqual(totals(recs), { records, packets, bytes });
      const f = recs.filter((r) => r.type === 'exported_flow');
      assert.ok(f.every((r) => r.src_ip && r.dst_ip && String(r.community_id).startsWith('1:')));
    });
  }

  test('sflow-v5-counter-samples.pcap: 144 counter samples, as tshark counts them', async () => {
    const recs = await collectCapture(fixture('sflow-v5-counter-samples.pcap'), []);
    const c = recs.filter((r) => r.type === 'sflow_counters');
    assert.equal(c.length, 144);
    const withIf = c.filter((r) => r.if_index !== null);
    assert.equal(withIf.length, 142);
    assert.ok(withIf.every((r) => typeof r.in_octets === 'number' && typeof r.agent === 'string'));
  });
});

describe('templates (NetFlow v9 and IPFIX)', () => {
  test('data before its template is held, then decoded when the template arrives', () => {
    const { d, recs } = decoder();
    const data = ipfix(1, 0, [set(300, [...basicRecord(0), ...basicRecord(1)])]);
    d.decode(data, 0, data.length, '192.0.2.1', 4000, 1000);
    assert.equal(flows(recs).length, 0);
    const m = ipfix(1, 2, [set(2, templateRecord(300, BASIC))]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 2000);
    const f = flows(recs);
    assert.equal(f.length, 2);
    assert.equal(f[1]!.src_port, 1001);
    assert.equal(f[1]!.bytes, 200);
    const st = d.totals();
    assert.equal(st.pendingSets, 1);
    assert.equal(st.noTemplateSets, 0);
  });

  test('held data is given up after the age limit, and counted', () => {
    const { d, recs } = decoder({ pendingMaxAgeMs: 1000 });
    const data = ipfix(1, 0, [set(300, basicRecord(0))]);
    d.decode(data, 0, data.length, '192.0.2.1', 4000, 1000);
    const t = ipfix(1, 1, [set(2, templateRecord(301, BASIC))]);
    d.decode(t, 0, t.length, '192.0.2.1', 4000, 5000);
    assert.equal(d.totals().noTemplateSets, 1);
    d.decode(data, 0, data.length, '192.0.2.1', 4000, 6000);
    d.finish();
    assert.equal(d.totals().noTemplateSets, 2);
    assert.equal(flows(recs).length, 0);
  });

  test('the held-data buffer is bounded', () => {
    const { d } = decoder({ maxPendingSets: 4 });
    for (let i = 0; i < 100; i++) {
      const m = ipfix(1, i, [set(300 + (i % 7), basicRecord(i))]);
      d.decode(m, 0, m.length, '192.0.2.1', 4000, 1000);
    }
    const scope = [...d.scopes.values()][0]!;
    assert.equal(scope.pending.length, 4);
    assert.equal(d.totals().noTemplateSets, 96);
  });

  test('template withdrawal (IPFIX) and refresh with a new layout', () => {
    const { d, recs } = decoder();
    const send = (m: Buffer): void => {
      d.decode(m, 0, m.length, '192.0.2.1', 4000, 1000);
    };
    send(ipfix(1, 0, [set(2, templateRecord(300, BASIC)), set(300, basicRecord(0))]));
    send(ipfix(1, 1, [set(2, [...u16(300), ...u16(0)])]));
    send(ipfix(1, 1, [set(300, basicRecord(1))]));
    assert.equal(flows(recs).length, 1);
    assert.equal(d.totals().templateWithdrawals, 1);
    // Refresh with the ports swapped in the layout.
    const swapped: FieldSpec[] = [BASIC[0]!, BASIC[1]!, [11, 2], [7, 2], BASIC[4]!, BASIC[5]!, BASIC[6]!];
    send(ipfix(1, 1, [set(2, templateRecord(300, swapped)), set(300, basicRecord(2))]));
    const f = flows(recs);
    // The held record (1) and the new one (2) are decoded with the new layout.
    assert.equal(f.length, 3);
    assert.equal(f[2]!.dst_port, 1002);
    assert.equal(f[2]!.src_port, 80);
  });

  test('templates are scoped per exporter and observation domain', () => {
    const { d, recs } = decoder();
    const other: FieldSpec[] = [[12, 4], [8, 4], ...BASIC.slice(2)];
    for (const [dom, tmpl] of [
      [1, BASIC],
      [2, other],
    ] as const) {
      const m = ipfix(dom, 0, [set(2, templateRecord(300, tmpl))]);
      d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    }
    for (const dom of [1, 2]) {
      const m = ipfix(dom, 0, [set(300, basicRecord(0))]);
      d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    }
    const m = ipfix(1, 0, [set(300, basicRecord(0))]);
    d.decode(m, 0, m.length, '192.0.2.99', 4000, 0);
    const f = flows(recs);
    assert.equal(f.length, 2);
    assert.equal(f[0]!.src_ip, '10.0.0.1');
    assert.equal(f[1]!.src_ip, '10.0.0.2');
    assert.equal(d.totals().pendingSets, 1);
  });

  test('variable-length fields and enterprise elements (kept raw)', () => {
    const { d, recs } = decoder();
    const tmpl: FieldSpec[] = [...BASIC, [82, 0xffff], [7, 0xffff, 9], [1, 2, 29305]];
    const name = Buffer.from('Gi0/0/1');
    const long = Buffer.alloc(300, 0xab);
    const rec = [...basicRecord(0), name.length, ...name, 255, ...u16(long.length), ...long, ...u16(77)];
    const m = ipfix(5, 0, [set(2, templateRecord(400, tmpl)), set(400, rec)]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    const f = flows(recs);
    assert.equal(f.length, 1);
    const x = f[0]!.extra as Record<string, unknown>;
    assert.equal(x.interfaceName, 'Gi0/0/1');
    assert.equal(x['9:7'], long.toString('hex'));
    assert.equal(x.reverseOctetDeltaCount, 77);
  });

  test('sampling from options records scales counts, raw counts kept', () => {
    const { d, recs } = decoder();
    // v9 options template: scope = system (1, 4 bytes); options: samplerId (48), samplingInterval (34)
    const opt = [
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
    const optData = [...u32(0), 7, ...u32(100)];
    const tmpl: FieldSpec[] = [...BASIC, [48, 1]];
    const m = netflow9(3, 0, [
      set(1, [...opt, 0, 0]),
      set(0, templateRecord(300, tmpl)),
      set(260, [...optData, 0, 0, 0]),
      set(300, [...basicRecord(0), 7, ...basicRecord(1), 9]),
    ]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    const f = flows(recs);
    assert.equal(f.length, 2);
    assert.deepEqual(
      [f[0]!.packets, f[0]!.packets_raw, f[0]!.sampling_rate, f[0]!.bytes],
      [100, 1, 100, 10000],
    );
    assert.equal(f[1]!.sampling_rate, 1);
    assert.equal(d.totals().optionsRecords, 1);
  });

  test('sequence gaps: IPFIX counts records, v9 counts datagrams', () => {
    const { d } = decoder();
    const t = ipfix(1, 0, [
      set(2, templateRecord(300, BASIC)),
      set(300, [...basicRecord(0), ...basicRecord(1)]),
    ]);
    d.decode(t, 0, t.length, '192.0.2.1', 4000, 0);
    const next = ipfix(1, 7, [set(300, basicRecord(2))]);
    d.decode(next, 0, next.length, '192.0.2.1', 4000, 0);
    let st = d.totals();
    assert.deepEqual([st.seqGaps, st.seqLost], [1, 5]);
    for (const seq of [10, 11, 14]) {
      const m = netflow9(1, seq, [set(0, templateRecord(300, BASIC))]);
      d.decode(m, 0, m.length, '192.0.2.2', 4000, 0);
    }
    st = d.totals();
    assert.deepEqual([st.seqGaps, st.seqLost], [2, 7]);
  });

  test('templates persist: a restarted decoder decodes data without waiting', () => {
    const a = decoder();
    const t = ipfix(1, 0, [set(2, templateRecord(300, BASIC))]);
    a.d.decode(t, 0, t.length, '192.0.2.1', 4000, 0);
    const saved = JSON.parse(JSON.stringify(a.d.saveTemplates()));
    const b = decoder();
    assert.equal(b.d.loadTemplates(saved), 1);
    const m = ipfix(1, 0, [set(300, basicRecord(0))]);
    b.d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    assert.equal(flows(b.recs).length, 1);
    assert.equal(b.d.loadTemplates({ version: 1, scopes: { x: { templates: [{ id: 'bad' }] } } }), 0);
  });

  test('hostile templates are refused and counted: zero-length records, no fields, too many', () => {
    const { d, recs } = decoder();
    const zero: FieldSpec[] = [
      [8, 0],
      [12, 0],
    ];
    const many: FieldSpec[] = Array.from({ length: 600 }, () => [1, 1] as FieldSpec);
    const m = ipfix(1, 0, [
      set(2, [...templateRecord(300, zero), ...templateRecord(301, many)]),
      set(300, [0, 0, 0, 0]),
    ]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    assert.equal(d.totals().templatesRejected, 2);
    assert.equal(flows(recs).length, 0);
  });

  test('a data set that lies about its length is an error, not a crash', () => {
    const { d } = decoder();
    const m = ipfix(1, 0, [set(2, templateRecord(300, BASIC))]);
    const bad = Buffer.concat([m, Buffer.from([...u16(300), ...u16(200), 1, 2, 3])]);
    bad.writeUInt16BE(bad.length, 2);
    d.decode(bad, 0, bad.length, '192.0.2.1', 4000, 0);
    assert.equal(d.totals().decodeErrors, 1);
  });

  test('caps: templates per scope', () => {
    const { d } = decoder({ maxTemplatesPerScope: 10 });
    const body: number[] = [];
    for (let i = 0; i < 50; i++) body.push(...templateRecord(300 + i, BASIC));
    const m = ipfix(1, 0, [set(2, body)]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    assert.equal([...d.scopes.values()][0]!.templates.size, 10);
    assert.equal(d.totals().templatesRejected, 40);
  });
});

describe('record times', () => {
  test('NetFlow v9 uptime-relative times become ISO timestamps (ms precision)', () => {
    const { d, recs } = decoder();
    // sysUptime 100000 ms at export 1700000000 s; the flow ran at uptime 90000..99500 ms.
    const tmpl: FieldSpec[] = [...BASIC, [22, 4], [21, 4]];
    const m = netflow9(0, 0, [
      set(0, templateRecord(300, tmpl)),
      set(300, [...basicRecord(0), ...u32(90_000), ...u32(99_500)]),
    ]);
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    const f = flows(recs)[0]!;
    assert.equal(f.first_ts, '2023-11-14T22:13:10.000000000Z');
    assert.equal(f.last_ts, '2023-11-14T22:13:19.500000000Z');
    assert.equal(f.duration_ms, 9500);
  });

  test('a time outside the four-digit years is replaced by the export time, on both paths', () => {
    const u64 = (v: bigint): number[] => [...Buffer.from(new BigUint64Array([v]).buffer).reverse()];
    const tmpl: FieldSpec[] = [...BASIC, [152, 8], [153, 8]];
    const okEnd = 1_700_000_005_250n;
    const m = ipfix(1, 0, [
      set(2, templateRecord(300, tmpl)),
      set(300, [
        // a start in the year 292,000,000, a valid end: the start takes the end
        ...basicRecord(0),
        ...u64(2n ** 63n - 1n),
        ...u64(okEnd),
        // both past the year 9999 (and an end before the start): both take the export time
        ...basicRecord(1),
        ...u64(300_000_000_000_000n),
        ...u64(253_402_300_800_000n),
        // the last ms of 9999 is a time
        ...basicRecord(2),
        ...u64(253_402_300_799_999n),
        ...u64(253_402_300_799_999n),
      ]),
    ]);
    const { d, recs } = decoder();
    d.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    const w = new ColumnWriter(16);
    const d2 = new CollectDecoder({}, () => assert.fail('no object records'), w);
    d2.decode(m, 0, m.length, '192.0.2.1', 4000, 0);
    const byColumns = decodeColumns(w.finish());
    for (const f of [flows(recs), flows(byColumns)]) {
      assert.equal(f.length, 3);
      assert.deepEqual(
        f.map((r) => [r.first_ts, r.last_ts, r.duration_ms]),
        [
          ['2023-11-14T22:13:25.250000000Z', '2023-11-14T22:13:25.250000000Z', 0],
          ['2023-11-14T22:13:20.000000000Z', '2023-11-14T22:13:20.000000000Z', 0],
          ['9999-12-31T23:59:59.999000000Z', '9999-12-31T23:59:59.999000000Z', 0],
        ],
      );
    }
  });
});
