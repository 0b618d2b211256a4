import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { silentLogger } from '../../common/log.js';
import { exportedFlowRecord } from '../../schema/exported-flow.js';
import { parseFilter } from '../filter.js';
import type { Rec, TopBy, TopRow } from '../types.js';
import { createEmbeddedStore, type EmbeddedStore } from './store.js';
import { MINUTE_US } from './top-rollup.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-top-rollup-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** µs since 1970 as ISO-8601 with six decimals (floor, so times before 1970 are right too). */
function iso(us: number): string {
  const ms = Math.floor(us / 1000);
  const frac = us - ms * 1000;
  return `${new Date(ms).toISOString().slice(0, -1)}${String(frac).padStart(3, '0')}Z`;
}

/** Deterministic pseudo-random numbers, so a failure is reproducible. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

interface Row {
  us: number;
  src: string | null;
  port: number;
  bytes: number;
  packets: number;
}

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0) * 1000;

/** Rows over 12 minutes of 2026, a few before 1970, some without a source address. */
function rows(n: number, seed: number): Row[] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => {
    const early = r() < 0.02;
    return {
      us: early ? -Math.floor(r() * 3 * MINUTE_US) : T0 + Math.floor(r() * 12 * MINUTE_US),
      src: r() < 0.05 ? null : `10.0.${Math.floor(r() * 3)}.${Math.floor(r() * 40)}`,
      port: [53, 80, 443, 8443][Math.floor(r() * 4)]!,
      bytes: Math.floor(r() * 5000),
      packets: 1 + Math.floor(r() * 9),
    };
  });
}

const record = (x: Row): Rec => ({
  source: 'ipfix',
  exporter: '192.0.2.1',
  exporter_port: 2055,
  observation_domain: 1,
  export_ts: iso(x.us),
  first_ts: iso(x.us),
  last_ts: iso(x.us),
  duration_ms: 0,
  src_ip: x.src,
  dst_ip: '192.0.2.9',
  src_port: 40000,
  dst_port: x.port,
  proto: 6,
  packets: x.packets,
  bytes: x.bytes,
  packets_raw: x.packets,
  bytes_raw: x.bytes,
  sampling_rate: 1,
});

/** The independent truth: the generated rows summed per key in JavaScript. */
function truth(
  data: Row[],
  dim: 'src_ip' | 'dst_port',
  range: { after?: number; before?: number },
  where: (x: Row) => boolean = () => true,
): Map<string, Omit<TopRow, 'key'>> {
  const m = new Map<string, Omit<TopRow, 'key'>>();
  for (const x of data) {
    if (range.after !== undefined && x.us < range.after) continue;
    if (range.before !== undefined && x.us >= range.before) continue;
    if (!where(x)) continue;
    const k = String(dim === 'src_ip' ? x.src : x.port);
    const v = m.get(k) ?? { bytes: 0, packets: 0, flows: 0 };
    v.bytes += x.bytes;
    v.packets += x.packets;
    v.flows++;
    m.set(k, v);
  }
  return m;
}

const asMap = (items: TopRow[]): Map<string, Omit<TopRow, 'key'>> =>
  new Map(items.map((r) => [String(r.key), { bytes: r.bytes, packets: r.packets, flows: r.flows }]));

/** Sorted the way the API ranks: by the measure, then flows (ties beyond that in any order). */
const ranked = (m: Map<string, Omit<TopRow, 'key'>>, by: TopBy): [number, number][] =>
  [...m.values()].map((v) => [v[by], v.flows] as [number, number]).sort((x, y) => y[0] - x[0] || y[1] - x[1]);

/** Top-N over random ranges, dimensions and measures equals the truth (returns the cases run). */
async function agreesWithTruth(s: EmbeddedStore, data: Row[], numRuns: number): Promise<number> {
  const lo = -3 * MINUTE_US;
  const hi = T0 + 12 * MINUTE_US;
  const span = fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: lo - MINUTE_US, max: hi + MINUTE_US }),
    fc.integer({ min: 0, max: 13 }).map((k) => T0 + k * MINUTE_US), // on a minute
    fc.integer({ min: T0, max: hi }),
  );
  let rolled = 0;
  await fc.assert(
    fc.asyncProperty(
      span,
      span,
      fc.constantFrom<'src_ip' | 'dst_port'>('src_ip', 'dst_port'),
      fc.constantFrom<TopBy>('bytes', 'packets', 'flows'),
      async (x, y, dim, by) => {
        const range = {
          ...(x !== undefined ? { after: x } : {}),
          ...(y !== undefined ? { before: y } : {}),
        };
        if (range.after !== undefined && range.before !== undefined && range.after > range.before) return;
        const all = await s.top({ type: 'exported_flow', by, dim, limit: 1000, ...range });
        const want = truth(data, dim, range);
        assert.deepEqual(asMap(all), want);
        const ten = await s.top({ type: 'exported_flow', by, dim, limit: 10, ...range });
        assert.deepEqual(
          ten.map((r) => [r[by], r.flows]),
          ranked(want, by).slice(0, 10),
        );
        rolled++;
      },
    ),
    { numRuns },
  );
  return rolled;
}

async function filled(name: string, data: Row[], cfg: object = {}): Promise<EmbeddedStore> {
  const s = createEmbeddedStore(
    { dataDir: join(root, name), threads: 1, compactRows: 700, ...cfg },
    { log: silentLogger },
  );
  await s.start();
  // Three parts: compacted by size as they come, compacted by hand, and left live.
  const third = Math.floor(data.length / 3);
  for (let i = 0; i < third; i += 250)
    await s.append('exported_flow', data.slice(i, Math.min(i + 250, third)).map(record));
  await s.compactionDone();
  await s.append('exported_flow', data.slice(third, 2 * third).map(record));
  await s.compact();
  await s.append('exported_flow', data.slice(2 * third).map(record));
  // Queries below meet no compaction midway: the file list a query reads is taken when its
  // SQL is built, not in DuckDB's snapshot (a known race of every query of this store).
  await s.compactionDone();
  return s;
}

for (const chunk of [100, undefined]) {
  test(`top-N from the per-minute rollups (live chunks of ${chunk ?? 'the default'} rows) equals the rows summed, for any range, and falls back to rows for a filter`, async () => {
    const data = rows(2400, 7);
    const s = await filled(`a${chunk ?? ''}`, data, chunk ? { liveChunkRows: chunk } : {});
    try {
      const st = await s.stats();
      assert.ok(st.partitions >= 2, `compacted partitions: ${st.partitions}`);
      const rolled = await agreesWithTruth(s, data, runs(60));
      assert.ok(rolled > 20);
      // A filter needs the rows: the same answer through them.
      const def = exportedFlowRecord;
      const filter = parseFilter('dst_port = 443 or bytes > 4000', def);
      const range = { after: T0 + 90_000_000 + 17, before: T0 + 7 * MINUTE_US + 5 };
      const got = await s.top({
        type: 'exported_flow',
        by: 'bytes',
        dim: 'src_ip',
        limit: 1000,
        filter,
        ...range,
      });
      assert.deepEqual(
        asMap(got),
        truth(data, 'src_ip', range, (r) => r.port === 443 || r.bytes > 4000),
      );
    } finally {
      await s.stop();
    }
  });
}

test('partitions compacted before a dimension was rolled up get its sums at start; retention drops them with the file', async () => {
  const data = rows(1800, 11);
  const s0 = await filled('b', data, { topRollups: {} });
  await s0.stop();
  const s = createEmbeddedStore({ dataDir: join(root, 'b'), threads: 1 }, { log: silentLogger });
  await s.start();
  try {
    const q = { type: 'exported_flow', by: 'packets' as const, dim: 'src_ip', limit: 1000 };
    assert.deepEqual(asMap(await s.top(q)), truth(data, 'src_ip', {}));
    const range = { after: T0 + 61_000_000, before: T0 + 11 * MINUTE_US - 3 };
    assert.deepEqual(asMap(await s.top({ ...q, ...range })), truth(data, 'src_ip', range));
  } finally {
    await s.stop();
  }
  // Retention past every partition: what is left are the live rows, the last part appended.
  const s2 = createEmbeddedStore(
    { dataDir: join(root, 'b'), threads: 1, retentionBytes: 1 },
    { log: silentLogger },
  );
  await s2.start();
  try {
    assert.ok((await s2.enforceRetention()) >= 2);
    const q = { type: 'exported_flow', by: 'flows' as const, dim: 'src_ip', limit: 1000 };
    assert.deepEqual(
      asMap(await s2.top(q)),
      truth(data.slice(2 * Math.floor(data.length / 3)), 'src_ip', {}),
    );
  } finally {
    await s2.stop();
  }
});

test('live chunks merged past four, then compacted: still the rows summed', async () => {
  const data = rows(2400, 13);
  const s = createEmbeddedStore(
    { dataDir: join(root, 'f'), threads: 1, compactRows: 1_000_000, liveChunkRows: 50 },
    { log: silentLogger },
  );
  await s.start();
  try {
    for (let i = 0; i < data.length; i += 100) {
      await s.append('exported_flow', data.slice(i, i + 100).map(record));
      await s.compactionDone(); // each append its own chunk: merges come every fifth
    }
    assert.ok((await agreesWithTruth(s, data, runs(25))) > 5);
    await s.compact();
    assert.ok((await agreesWithTruth(s, data, runs(15))) > 3);
  } finally {
    await s.stop();
  }
});

test('retention of live rows re-sums their live chunks: the rollups equal the raw rows', async () => {
  const data = rows(2400, 5);
  const s = await filled('d', data, { liveChunkRows: 100, retentionDays: 1 });
  try {
    // Live rows before 1970 go; partitions that also hold 2026 rows stay.
    await s.enforceRetention(T0 / 1000);
    await s.append('exported_flow', rows(300, 6).map(record));
    const raw = parseFilter('bytes >= 0', exportedFlowRecord);
    for (const range of [{}, { after: T0 + 30_000_000, before: T0 + 9 * MINUTE_US + 1 }]) {
      const q = { type: 'exported_flow', by: 'bytes' as const, dim: 'src_ip', limit: 1000, ...range };
      assert.deepEqual(asMap(await s.top(q)), asMap(await s.top({ ...q, filter: raw })));
    }
  } finally {
    await s.stop();
  }
});

test('identical requests share one computation, and none answers with rows older than its request', async () => {
  const data = rows(1500, 3);
  const s = await filled('c', data);
  try {
    const q = { type: 'exported_flow', by: 'bytes' as const, dim: 'src_ip', limit: 1000 };
    const before = s.shared;
    const answers = await Promise.all(Array.from({ length: 8 }, () => s.top(q)));
    assert.ok(s.shared >= 6, `shared ${s.shared - before} of 8`);
    for (const a of answers) assert.deepEqual(asMap(a), truth(data, 'src_ip', {}));
    // A request after a commit never gets the answer computed before it.
    const more = rows(50, 99);
    const q2 = { ...q, limit: 999 };
    const first = s.top(q2);
    await s.append('exported_flow', more.map(record));
    const second = await s.top(q2);
    await first;
    assert.deepEqual(asMap(second), truth([...data, ...more], 'src_ip', {}));
  } finally {
    await s.stop();
  }
});

test('a rolled-up dimension must be a field of a non-keyed record type (the config key is named)', () => {
  assert.throws(
    () => createEmbeddedStore({ dataDir: join(root, 'x'), topRollups: { exported_flow: ['nope'] } }),
    /topRollups\.exported_flow: 'nope' is not a field/,
  );
  assert.throws(
    () => createEmbeddedStore({ dataDir: join(root, 'x'), topRollups: { alert: ['severity'] } }),
    /topRollups\.alert: keyed records/,
  );
});

test('series of bytes, packets and flows, whole or by a rolled-up dimension, from the rollups equal the raw rows', async () => {
  const r = lcg(21);
  const apps = ['dns', 'http', 'tls', null];
  const flows: Rec[] = Array.from({ length: 2400 }, () => {
    const us = T0 + Math.floor(r() * 12 * MINUTE_US);
    return {
      client_ip: `10.1.0.${Math.floor(r() * 30)}`,
      server_ip: `192.0.2.${Math.floor(r() * 5)}`,
      client_port: 50000,
      server_port: [53, 443][Math.floor(r() * 2)]!,
      proto: 6,
      first_ts: iso(us),
      last_ts: iso(us),
      client_packets: 1 + Math.floor(r() * 5),
      server_packets: Math.floor(r() * 5),
      client_wire_bytes: Math.floor(r() * 3000),
      server_wire_bytes: r() < 0.1 ? null : Math.floor(r() * 3000),
      app: apps[Math.floor(r() * apps.length)]!,
    };
  });
  const s = createEmbeddedStore(
    { dataDir: join(root, 'e'), threads: 1, compactRows: 700, liveChunkRows: 150 },
    { log: silentLogger },
  );
  await s.start();
  try {
    for (let i = 0; i < flows.length; i += 200) {
      await s.append('flow', flows.slice(i, i + 200));
      if (i === 1000) await s.compact();
    }
    await s.compactionDone();
    assert.ok((await s.stats()).partitions >= 1);
    const { flowRecord } = await import('../../schema/flow.js');
    const raw = parseFilter('proto >= 0', flowRecord);
    const byGroup = (x: { series: { group: string | null; points: unknown }[] }) =>
      [...x.series].sort((p, q) => String(p.group).localeCompare(String(q.group)));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: T0 - MINUTE_US, max: T0 + 12 * MINUTE_US }),
        fc.integer({ min: 1, max: 13 * MINUTE_US }),
        fc.constantFrom<'bps' | 'pps' | 'flows'>('bps', 'pps', 'flows'),
        fc.constantFrom(60, 120, 300),
        fc.constantFrom(undefined, 'app', 'client_ip', 'server_port'),
        async (after, len, metric, step, groupBy) => {
          const sq = {
            metric,
            step,
            after,
            before: after + len,
            groups: 100,
            ...(groupBy ? { groupBy } : {}),
          };
          assert.deepEqual(
            byGroup(await s.timeseries(sq)),
            byGroup(await s.timeseries({ ...sq, filter: raw })),
          );
        },
      ),
      { numRuns: runs(40) },
    );
  } finally {
    await s.stop();
  }
});
