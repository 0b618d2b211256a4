import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { type ClickHouseStore, createClickHouseStore } from '../../src/store/distributed/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import { type ChCluster, type ChdbPeer, startChdb, startClickHouseCluster } from '../support/clickhouse.js';
import { isMissing } from '../support/peers.js';
import { runConformance } from './conformance.js';

/**
 * The ClickHouse backend against the store conformance suite, on a real 2-shard cluster of
 * Debian's clickhouse-server 18.16 (Distributed tables over two MergeTree shards) and on chdb
 * (current ClickHouse). "Compaction" is OPTIMIZE FINAL: parts merged, replaced keys collapsed.
 */
// Started before the suites are declared, so a missing peer skips them (top-level await).
const c = await startClickHouseCluster(2);
const cluster: ChCluster | null = isMissing(c) ? null : c;
const d = await startChdb();
const chdb: ChdbPeer | null = isMissing(d) ? null : d;
const why = [c, d].filter(isMissing).map((m) => m.missing);

after(async () => {
  await cluster?.stop();
  await chdb?.stop();
});

function backend(name: string, cfg: () => Parameters<typeof createClickHouseStore>[0] | null) {
  return {
    name,
    async open(key: string) {
      const c = cfg();
      if (!c) throw new Error('unreachable');
      const s = createClickHouseStore({ ...c, database: `conf_${key}` }, { log: silentLogger });
      await s.start();
      return s;
    },
    compact: (s: unknown) => (s as ClickHouseStore).optimize(),
  };
}

describe('clickhouse 18.16, 2 shards', { skip: cluster ? false : why.join('; ') }, () => {
  runConformance(
    backend('clickhouse 18.16 (2 shards, Distributed)', () =>
      cluster ? { url: cluster.urls[0]!, shards: cluster.urls, cluster: cluster.cluster } : null,
    ),
  );

  it('spreads rows over both shards and retention drops old days on each', async (t) => {
    if (!cluster) return t.skip(why.join('; '));
    const s = createClickHouseStore(
      {
        url: cluster.urls[0]!,
        shards: cluster.urls,
        cluster: cluster.cluster,
        database: 'ret',
        retentionDays: 30,
      },
      { log: silentLogger },
    );
    await s.start();
    await s.append(
      'flow',
      syntheticFlows(1000, { startUs: Date.UTC(2020, 0, 1) * 1000, spanUs: 3 * 86_400_000_000 }),
    );
    await s.append(
      'flow',
      syntheticFlows(500, { startUs: (Date.now() - 3_600_000) * 1000, spanUs: 1_000_000 }),
    );
    for (const u of cluster.urls) {
      const n = Number(
        await (await fetch(u, { method: 'POST', body: 'SELECT count() FROM ret.flow_local' })).text(),
      );
      assert.ok(n > 0 && n < 1500, `shard ${u} holds ${n} rows`);
    }
    assert.equal(await s.enforceRetention(), 3);
    assert.equal(await s.count('flow', {}), 500);
    await s.stop();
  });
});

describe('clickhouse 18.16: a store made before flows carried a weight', {
  skip: cluster ? false : why.join('; '),
}, () => {
  it('gets its rollup views made again, so a flow kept 1 in N counts N', async (t) => {
    if (!cluster) return t.skip(why.join('; '));
    const cfg = { url: cluster.urls[0]!, shards: cluster.urls, cluster: cluster.cluster, database: 'mig' };
    const sql = async (u: string, q: string): Promise<string> => {
      const r = await fetch(u, { method: 'POST', body: q });
      const text = await r.text();
      if (!r.ok) throw new Error(text);
      return text;
    };
    const first = createClickHouseStore(cfg, { log: silentLogger });
    await first.start();
    await first.stop();
    // The views as an older version made them: flows counted, not weighed.
    for (const u of cluster.urls) {
      await sql(u, 'DROP TABLE mig.flow_1m_mv');
      await sql(
        u,
        'CREATE MATERIALIZED VIEW mig.flow_1m_mv TO mig.flow_1m_local AS SELECT intDiv(first_ts, 60000000) * 60000000 AS minute, count() AS flows, sum(ifNull(client_wire_bytes, 0) + ifNull(server_wire_bytes, 0)) AS bytes, sum(ifNull(client_packets, 0) + ifNull(server_packets, 0)) AS packets, sum(ifNull(rtt_ms, 0)) AS rtt_sum, count(rtt_ms) AS rtt_n, sum(ifNull(srt_ms, 0)) AS srt_sum, count(srt_ms) AS srt_n, sum(ifNull(client_retransmissions, 0) + ifNull(server_retransmissions, 0)) AS retrans FROM mig.flow_local GROUP BY minute',
      );
    }
    const s = createClickHouseStore(cfg, { log: silentLogger });
    await s.start();
    t.after(() => s.stop());
    for (const u of cluster.urls) {
      const q = await sql(
        u,
        "SELECT create_table_query FROM system.tables WHERE database = 'mig' AND name = 'flow_1m_mv'",
      );
      assert.match(q, /sampling_rate/, u);
    }
    const start = Date.UTC(2024, 0, 1) * 1000;
    await s.append(
      'flow',
      syntheticFlows(100, { startUs: start, spanUs: 60_000_000 }).map((r) => ({ ...r, sampling_rate: 4 })),
    );
    let rolled = 0;
    for (const u of cluster.urls) rolled += Number(await sql(u, 'SELECT sum(flows) FROM mig.flow_1m_local'));
    assert.equal(rolled, 400);
  });
});

describe('chdb (current ClickHouse)', { skip: chdb ? false : why.join('; ') }, () => {
  runConformance(backend('chdb', () => (chdb ? { url: chdb.url } : null)));
});
