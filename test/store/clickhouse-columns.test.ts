import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { silentLogger } from '../../src/common/log.js';
import { ALL_RECORDS } from '../../src/schema/records.js';
import type { AnyRecordDef } from '../../src/schema/registry.js';
import { encoder } from '../../src/store/distributed/codec.js';
import { ColumnsEncoder, recordsToColumnar } from '../../src/store/distributed/columns.js';
import { RowBinary } from '../../src/store/distributed/rowbinary.js';
import { createClickHouseStore } from '../../src/store/distributed/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Rec } from '../../src/store/types.js';
import { isoToMicros } from '../../src/store/values.js';
import { startClickHouseCluster } from '../support/clickhouse.js';
import { fuzzedRecord } from '../support/field-values.js';
import { runs } from '../support/fuzz.js';
import { isMissing } from '../support/peers.js';

/**
 * The column path (RowBinary from Columnar batches) against the record path (RowBinary from
 * record objects, which the conformance suite checks against the embedded store): the same
 * records must give the same bytes, whatever the values, including unusable ones.
 */
const flow = ALL_RECORDS.find((d) => d.type === 'flow')!;

function viaRecords(def: AnyRecordDef, recs: readonly Rec[], seq: number): Buffer {
  const w = new RowBinary(1 << 10);
  const enc = encoder(def);
  for (let i = 0; i < recs.length; i++) enc(w, recs[i]!, seq + i);
  return Buffer.from(w.bytes());
}

function viaColumns(
  def: AnyRecordDef,
  recs: readonly Rec[],
  seq: number,
  enc = new ColumnsEncoder(def),
): Buffer {
  const w = new RowBinary(1 << 10);
  const c = recordsToColumnar(def, recs);
  // In two calls, as a batch split over shards is: numbering continues across them.
  const half = recs.length >> 1;
  enc.encode(w, c, 0, half, seq);
  enc.encode(w, c, half, recs.length, seq + half);
  return Buffer.from(w.bytes());
}

describe('clickhouse column path', () => {
  it('encodes synthetic flows byte for byte as the record path does', () => {
    const recs = syntheticFlows(5000, { seed: 7 }) as unknown as Rec[];
    assert.deepEqual(viaColumns(flow, recs, 100), viaRecords(flow, recs, 100));
  });

  it('encodes every record type the same as the record path (fuzzed values)', () => {
    for (const def of ALL_RECORDS.filter((d) => !d.key)) {
      const rec = fuzzedRecord(def);
      const enc = new ColumnsEncoder(def);
      fc.assert(
        fc.property(fc.array(rec, { maxLength: 12 }), fc.nat({ max: 2 ** 40 }), (recs, seq) => {
          assert.deepEqual(viaColumns(def, recs, seq, enc), viaRecords(def, recs, seq), def.type);
        }),
        { numRuns: runs(40) },
      );
    }
  });
});

const c = await startClickHouseCluster(2);
const cluster = isMissing(c) ? null : c;
after(async () => {
  await cluster?.stop();
});

describe('clickhouse appendColumns on 2 shards', {
  skip: cluster ? false : isMissing(c) ? c.missing : '',
}, () => {
  it('stores exactly what append stores, split over both shards', async () => {
    if (!cluster) return;
    const open = async (db: string) => {
      const s = createClickHouseStore(
        { url: cluster.urls[0]!, shards: cluster.urls, cluster: cluster.cluster, database: db },
        { log: silentLogger },
      );
      await s.start();
      return s;
    };
    const a = await open('cols_a');
    const b = await open('cols_b');
    const recs = syntheticFlows(30_000, { seed: 3 }) as unknown as Rec[];
    await a.append('flow', recs);
    await b.appendColumns('flow', recordsToColumnar(flow, recs));
    const all = async (s: typeof a) => {
      const out: Rec[] = [];
      await s.stream({ type: 'flow', sort: 'flow_id', desc: false }, (r) => {
        out.push(...r);
      });
      return out;
    };
    const [ra, rb] = [await all(a), await all(b)];
    assert.equal(rb.length, 30_000);
    assert.deepEqual(rb, ra);
    assert.deepEqual(
      await b.top({ type: 'flow', by: 'bytes', dim: 'server_ip', limit: 10 }),
      await a.top({ type: 'flow', by: 'bytes', dim: 'server_ip', limit: 10 }),
    );
    // Both shards hold a share (the batch is split, not sent whole to one).
    for (const u of cluster.urls) {
      const r = await fetch(u, { method: 'POST', body: 'SELECT count() FROM cols_b.flow_local' });
      assert.ok(Number(await r.text()) > 10_000, u);
    }
    await a.dropAll();
    await b.dropAll();
  });

  it('ranks from the hourly rollup exactly as from the raw flows, for any range', async () => {
    if (!cluster) return;
    const s = createClickHouseStore(
      { url: cluster.urls[0]!, shards: cluster.urls, cluster: cluster.cluster, database: 'topr' },
      { log: silentLogger },
    );
    await s.start();
    const t0 = Date.UTC(2024, 0, 1) * 1000;
    const recs = syntheticFlows(40_000, {
      seed: 9,
      startUs: t0,
      spanUs: 3 * 86_400_000_000,
    }) as unknown as Rec[];
    // Some flows without a server address: the null key is ranked like any other.
    for (let i = 0; i < recs.length; i += 97) recs[i]!.server_ip = null;
    await s.appendColumns('flow', recordsToColumnar(flow, recs.slice(0, 20_000)));
    await s.append('flow', recs.slice(20_000));
    const truth = (dim: string, after?: number, before?: number) => {
      const m = new Map<string, { bytes: number; packets: number; flows: number }>();
      for (const r of recs) {
        const us = isoToMicros(String(r.first_ts));
        if ((after !== undefined && us < after) || (before !== undefined && us >= before)) continue;
        const k = String(r[dim] ?? null);
        const e = m.get(k) ?? { bytes: 0, packets: 0, flows: 0 };
        e.bytes += Number(r.client_wire_bytes ?? 0) + Number(r.server_wire_bytes ?? 0);
        e.packets += Number(r.client_packets ?? 0) + Number(r.server_packets ?? 0);
        e.flows++;
        m.set(k, e);
      }
      return m;
    };
    const asMap = (rows: Awaited<ReturnType<typeof s.top>>) =>
      new Map(rows.map((r) => [String(r.key), { bytes: r.bytes, packets: r.packets, flows: r.flows }]));
    const H = 3_600_000_000;
    const ranges: [number | undefined, number | undefined][] = [
      [undefined, undefined],
      [t0 + 5 * H + 123_456, t0 + 40 * H + 7],
      [t0 + 2 * H, t0 + 50 * H],
      [t0 + 61 * H + 1, undefined],
      [undefined, t0 + 13 * H - 1],
      [t0 + 3 * H + 10, t0 + 3 * H + 2_000_000_000],
    ];
    for (const dim of ['server_ip', 'client_ip'])
      for (const [after, before] of ranges) {
        const q = {
          type: 'flow',
          by: 'bytes' as const,
          dim,
          limit: 1_000_000,
          ...(after !== undefined ? { after } : {}),
          ...(before !== undefined ? { before } : {}),
        };
        const rolled = await s.top(q);
        const raw = await s.top({ ...q, filter: { kind: 'const', value: true } });
        assert.deepEqual(asMap(rolled), truth(dim, after, before), `${dim} ${after} ${before}`);
        assert.deepEqual(asMap(raw), asMap(rolled));
        const top10 = await s.top({ ...q, limit: 10 });
        assert.deepEqual(
          top10.map((r) => r.bytes),
          rolled.slice(0, 10).map((r) => r.bytes),
        );
      }
    await s.dropAll();
  });
});
