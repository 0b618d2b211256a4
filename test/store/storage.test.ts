import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { flowRecord } from '../../src/schema/records.js';
import { createEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded/store.js';
import { parseFilter } from '../../src/store/filter.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Metric, Rec } from '../../src/store/types.js';
import { rotationBatch } from './rotation-data.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));

const open = async (key: string): Promise<EmbeddedStore> => {
  const s = createEmbeddedStore({ dataDir: join(root, key), threads: 2 }, { log: silentLogger });
  await s.start();
  return s;
};
const DAY = 86_400_000_000;
const START = Date.UTC(2024, 0, 1) * 1000;

/** Records whose values exercise every storage trick: inline/long strings, float codecs, derivations. */
function tricky(): Rec[] {
  const base = syntheticFlows(8, { startUs: START + 3_600_000_000 });
  const strings = [
    '',
    'a',
    'SAPF',
    'exactly12byt',
    'thirteen_byte',
    'é',
    'ééééééé',
    '日本語のアプリ',
    'x'.repeat(300),
    'ab\u0000c',
  ];
  return base.map((r, i) => ({
    ...r,
    flow_id: 900 + i,
    app: strings[i] ?? null,
    tunnel: strings[(i + 3) % strings.length],
    end_reason: i % 2 ? 'end_of_capture' : 'fin',
    rtt_ms: [0.1 + 0.2, 1.5, null, 1e300, -0.004, 123456.789, Number.MAX_VALUE, 2][i],
    srt_ms: [1 / 3, 0.001, 7, null, 5e-324, 42.5, 1, 0][i],
    // Not derivable from the times for some rows.
    duration_ms: [r.duration_ms, 1.25, 2, r.duration_ms, 0.3333, r.duration_ms, 99, r.duration_ms][i],
  }));
}

describe('embedded storage formats', () => {
  it('round-trips strings, floats and derived fields through the live table and Parquet', async () => {
    const s = await open('roundtrip');
    const recs = tricky();
    await s.append('flow', recs);
    const fields = [
      'flow_id',
      'app',
      'tunnel',
      'end_reason',
      'rtt_ms',
      'srt_ms',
      'duration_ms',
      'client_tcp_flags',
    ];
    const read = async () =>
      (await s.list({ type: 'flow', limit: 100, sort: 'flow_id', desc: false, fields })).items;
    const want = recs.map((r) => Object.fromEntries(fields.map((f) => [f, r[f] ?? null])));
    assert.deepEqual(await read(), want);
    await s.compact(true);
    assert.ok((await s.stats()).partitions > 0);
    assert.deepEqual(await read(), want);
    // Filters see the same values after compaction.
    const f = parseFilter('app = "thirteen_byte" or app = "exactly12byt"', flowRecord);
    assert.equal(await s.count('flow', { filter: f }), 2);
    await s.stop();
  });

  it('series from the rollup equal the series from raw rows, with live rows and unaligned edges', async () => {
    const s = await open('rollup');
    await s.append('flow', syntheticFlows(6000, { startUs: START, spanUs: 2 * DAY }));
    const after = START + 7_777_777;
    const before = START + 2 * DAY - 3_333_333;
    const metrics: Metric[] = ['bps', 'pps', 'flows', 'rtt_ms', 'srt_ms', 'retrans_rate'];
    const raw = [];
    for (const metric of metrics) raw.push(await s.timeseries({ metric, step: 300, after, before }));
    await s.compact(false); // day 1 to Parquet (with its rollup), day 2 stays live
    assert.equal((await s.stats()).partitions, 1);
    for (const [i, metric] of metrics.entries()) {
      const got = await s.timeseries({ metric, step: 300, after, before });
      assert.deepEqual(got, raw[i], metric);
    }
    // A change of the rows is seen at once (the result cache is keyed by the store's state).
    await s.append('flow', syntheticFlows(10, { startUs: START + DAY / 2, spanUs: 1000 }));
    const more = await s.timeseries({ metric: 'flows', step: 300, after, before });
    const sum = (x: typeof more) => x.series[0]!.points.reduce((n, [, v]) => n + (v ?? 0) * 300, 0);
    assert.equal(Math.round(sum(more) - sum(raw[2]!)), 10);
    await s.stop();
    // Rollups survive a restart and are dropped with their partition.
    const t = await open('rollup');
    const again = await t.timeseries({ metric: 'bps', step: 300, after, before });
    assert.equal(again.series[0]!.points.length, raw[0]!.series[0]!.points.length);
    await t.stop();
  });

  it('writes the rollups a compaction made compressed and the live rows uncompressed', async () => {
    // The rollups stay for as long as their partitions: uncompressed, a busy collector's took a
    // 256 KiB block per column segment (4.4 GB of DuckDB file for 48M rows).
    const s = createEmbeddedStore(
      { dataDir: join(root, 'compress'), threads: 2, compactRows: 5000 },
      { log: silentLogger },
    );
    await s.start();
    const w = (s as unknown as { w: import('@duckdb/node-api').DuckDBConnection }).w;
    const checkpoint = () => (s as unknown as { checkpoint(): Promise<void> }).checkpoint();
    const now = Date.now() * 1000;
    for (let b = 0; b < 3; b++)
      await s.append(
        'flow',
        syntheticFlows(4000, { startUs: now, spanUs: 60_000_000, seed: b + 1, idBase: b * 4000 }),
      );
    await s.compactionDone();
    await checkpoint();
    assert.ok((await s.stats()).partitions >= 1);
    // Another type's live rows, persisted by a plain checkpoint.
    await s.append('exported_flow', rotationBatch(0, 2000));
    await checkpoint();
    /** Each column's kinds of compression in the table's segments (constant ones aside). */
    const kinds = async (table: string) => {
      const out: Record<string, string[]> = {};
      const r = await w.runAndReadAll(
        `SELECT column_name, list(DISTINCT compression ORDER BY compression) FROM pragma_storage_info('${table}') WHERE segment_type <> 'VALIDITY' AND compression <> 'Constant' GROUP BY ALL`,
      );
      for (const [c, k] of r.getRows()) out[String(c)] = (k as { items: unknown[] }).items.map(String);
      return out;
    };
    // A partition's path repeats in each of its rollup rows (other columns, few values in this
    // small store, may be stored plain by DuckDB's choice).
    for (const t of ['_rtop_flow__client_ip', '_rtop_flow__server_port', '_rollup_flow']) {
      const k = await kinds(t);
      assert.ok(k.path && !k.path.includes('Uncompressed'), `${t}: ${JSON.stringify(k)}`);
    }
    const gen = Number(
      (await w.runAndReadAll("SELECT max(gen) FROM _live WHERE type = 'exported_flow'")).getRows()[0]![0],
    );
    const live = await kinds(gen === 0 ? 'live_exported_flow' : `live_exported_flow__${gen}`);
    assert.ok(Object.keys(live).length > 0);
    for (const [c, k] of Object.entries(live)) assert.deepEqual(k, ['Uncompressed'], c);
    assert.equal(await s.count('flow', {}), 12_000);
    await s.stop();
  });

  it('reads format-1 partitions and builds their rollups at start', async () => {
    const s = await open('format1');
    await s.append('flow', syntheticFlows(3000, { startUs: START, spanUs: DAY / 2 }));
    const range = { after: START, before: START + DAY };
    const want = await s.timeseries({ metric: 'bps', step: 60, ...range });
    const rows = (await s.list({ type: 'flow', limit: 50, ...range })).items;
    // Rewrite the store's Parquet file in the old layout and forget its rollup.
    await s.compact(true);
    const w = (s as unknown as { w: import('@duckdb/node-api').DuckDBConnection }).w;
    const parts = (await w.runAndReadAll('SELECT path FROM _partitions')).getRows();
    assert.equal(parts.length, 1);
    const abs = join(root, 'format1', String(parts[0]![0]));
    const { columnsOf } = await import('../../src/store/embedded/schema.js');
    const cols = columnsOf(flowRecord)
      .map((c) =>
        c.type === 'ip'
          ? `CAST("${c.name}" >> 64 AS UBIGINT) AS "${c.name}__hi", CAST("${c.name}" & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS "${c.name}__lo"`
          : `"${c.name}"`,
      )
      .join(', ');
    const v2 = `(SELECT * FROM (${(s as unknown as { source: (d: unknown, r: unknown) => string }).source(flowRecord, range)}))`;
    await w.run(`COPY (SELECT ${cols}, _seq FROM ${v2}) TO '${abs}.v1' (FORMAT parquet)`);
    const { renameSync } = await import('node:fs');
    renameSync(`${abs}.v1`, abs);
    await w.run("UPDATE _partitions SET columns = regexp_replace(columns, ',@2$', '')");
    await w.run('DELETE FROM _rollup_flow');
    await s.stop();
    const t = await open('format1');
    assert.deepEqual((await t.list({ type: 'flow', limit: 50, ...range })).items, rows);
    assert.deepEqual(await t.timeseries({ metric: 'bps', step: 60, ...range }), want);
    await t.stop();
  });
});
