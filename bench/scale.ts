/**
 * Scale-out benchmark (part of `npm run bench`; alone: node dist/bench/scale.js).
 *
 * 1. Rows/s into ClickHouse (2 shards of clickhouse-server 18.16 on loopback) through the bus
 *    ingester's write path (ClickHouseStore.appendAt: RowBinary, one insert per shard per
 *    batch), full flow records, batches of 200,000.
 * 2. Top-10 server_ip by bytes over VANTAGE_BENCH_CH_ROWS rows (default 100M) generated inside
 *    ClickHouse (INSERT … SELECT from numbers() on each shard), through the Distributed table.
 * 3. Federated query latency: a central over 3 sensors versus one sensor (same rows per sensor),
 *    top-10 and a count over HTTP, median of 20.
 *
 * Environment: VANTAGE_BENCH_CH_ROWS, VANTAGE_BENCH_CH_APPEND (rows for 1., default 4M).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Product, startProduct } from '../src/cli/start.js';
import { silentLogger } from '../src/common/log.js';
import { ALL_RECORDS } from '../src/schema/records.js';
import { recordsToColumnar } from '../src/store/distributed/columns.js';
import { exec } from '../src/store/distributed/http.js';
import { chColumns } from '../src/store/distributed/schema.js';
import { createClickHouseStore, LOCAL_SEQ_LIMIT } from '../src/store/distributed/store.js';
import { syntheticFlows } from '../src/store/synthetic.js';
import { startClickHouseCluster } from '../test/support/clickhouse.js';
import { isMissing } from '../test/support/peers.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function clickhouse(): Promise<void> {
  const c = await startClickHouseCluster(2);
  if (isMissing(c)) {
    out(`clickhouse: skipped (${c.missing})`);
    return;
  }
  try {
    const store = createClickHouseStore(
      { url: c.urls[0]!, shards: c.urls, cluster: c.cluster, database: 'bench' },
      { log: silentLogger },
    );
    await store.start();
    const total = Number(process.env.VANTAGE_BENCH_CH_APPEND ?? 4_000_000);
    const def = ALL_RECORDS.find((d) => d.type === 'flow')!;
    if (total > 0) {
      const recs = syntheticFlows(200_000, { seed: 1 });
      const cols = recordsToColumnar(def, recs);
      // 1a. The column path (collector, sensor feed): appendColumns of 200k-row batches.
      let cpu = process.cpuUsage();
      let t0 = performance.now();
      let n = 0;
      while (n < total) {
        await store.appendColumns('flow', cols);
        n += recs.length;
      }
      let s = (performance.now() - t0) / 1000;
      let used = process.cpuUsage(cpu);
      const colRate = n / s;
      out(
        `ingest column path (appendColumns): ${n.toLocaleString()} full flow rows (51 columns) in ${s.toFixed(1)} s = ${(colRate / 1e6).toFixed(2)}M rows/s wall, Node ${((used.user + used.system) / 1e6 / (n / 1e6)).toFixed(2)} CPU-s per M rows (goal >= 1M rows/s; 2 shards, batches of 200k)`,
      );
      // 1b. The peer: clickhouse-client inserting the same rows as TabSeparated, one client per
      // shard at once, in the same run (the same tables, materialized views included).
      const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-tsv-'));
      try {
        const names = `${chColumns(def)
          .map((c) => c.name)
          .join(', ')}, _seq`;
        const tsv = join(dir, 'rows.tsv');
        const r = await fetch(c.urls[0]!, {
          method: 'POST',
          body: `SELECT ${names} FROM bench.flow_local LIMIT ${recs.length} FORMAT TabSeparated`,
        });
        writeFileSync(tsv, Buffer.from(await r.arrayBuffer()));
        t0 = performance.now();
        let m = 0;
        const client = (port: number) =>
          new Promise<void>((ok, fail) => {
            const p = spawn(
              'sh',
              [
                '-c',
                `clickhouse-client --port ${port} --query 'INSERT INTO bench.flow_local (${names}) FORMAT TabSeparated' < ${tsv}`,
              ],
              { stdio: ['ignore', 'ignore', 'inherit'] },
            );
            p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`clickhouse-client exited ${code}`))));
          });
        while (m < total) {
          await Promise.all(c.tcpPorts.map((port) => client(port)));
          m += recs.length * c.tcpPorts.length;
        }
        s = (performance.now() - t0) / 1000;
        const peerRate = m / s;
        out(
          `peer clickhouse-client INSERT FORMAT TabSeparated, same rows: ${m.toLocaleString()} in ${s.toFixed(1)} s = ${(peerRate / 1e6).toFixed(2)}M rows/s wall; Vantage/peer = ${(colRate / peerRate).toFixed(2)} (same run)`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // 1c. The bus ingester's object path (appendAt: idempotent, record objects from JSON).
      const busTotal = Math.min(total, 1_000_000);
      // Bus messages of 256 records, as the ingester receives them.
      const messages = (k: number) =>
        Array.from({ length: recs.length / 256 + 1 }, (_, j) => ({
          records: recs.slice(j * 256, j * 256 + 256),
          seqBase: LOCAL_SEQ_LIMIT + (k * 1000 + j) * 4096,
        })).filter((b) => b.records.length > 0);
      try {
        cpu = process.cpuUsage();
        t0 = performance.now();
        n = 0;
        for (let k = 0; n < busTotal; k++) {
          await store.appendAt('flow', messages(k));
          n += recs.length;
        }
        s = (performance.now() - t0) / 1000;
        used = process.cpuUsage(cpu);
        out(
          `ingest bus path (appendAt, record objects): ${n.toLocaleString()} rows in ${s.toFixed(1)} s = ${(n / s / 1e6).toFixed(2)}M rows/s wall, Node ${((used.user + used.system) / 1e6 / (n / 1e6)).toFixed(2)} CPU-s per M rows`,
        );
      } catch (e) {
        out(`ingest bus path (appendAt): failed: ${(e as Error).message.slice(0, 300)}`);
      }
    }
    await store.dropAll();
    await store.start();
    if (process.env.VANTAGE_BENCH_CH_ROWS === '0') return;

    const rows = Number(process.env.VANTAGE_BENCH_CH_ROWS ?? 100_000_000);
    const per = Math.ceil(rows / c.urls.length);
    const t1 = performance.now();
    // In chunks of 10M rows per request (each well within the HTTP client's timeouts), the
    // shards at once; the materialized views (KPI and top-N rollups) fill as in production.
    const CHUNK = 10_000_000;
    await Promise.all(
      c.urls.map(async (u, i) => {
        for (let from = 0; from < per; from += CHUNK) {
          const k = Math.min(CHUNK, per - from);
          // Generated on each shard: 4,000 servers, 7 days, the columns a top-N reads filled.
          const q = `INSERT INTO bench.flow_local (first_ts, last_ts, server_ip, client_ip, client_wire_bytes, server_wire_bytes, client_packets, server_packets, proto, _seq)
            SELECT 1704067200000000 + n * 6048, 1704067200000000 + n * 6048 + 1000,
              toFixedString(concat(unhex('00000000000000000000FFFF'), reverse(reinterpretAsString(toUInt32(167772160 + intHash32(n) % 4000)))), 16),
              toFixedString(concat(unhex('00000000000000000000FFFF'), reverse(reinterpretAsString(toUInt32(3232235520 + n % 65536)))), 16),
              intHash32(n) % 1500, intHash32(n + 1) % 60000, 3, 4, 6, ${i} * ${per} + n
            FROM (SELECT number + ${from} AS n FROM numbers(${k}))`;
          await exec({ url: u }, q, { timeoutMs: 3_600_000 });
        }
      }),
    );
    out(
      `generated ${(per * c.urls.length).toLocaleString()} rows in ${((performance.now() - t1) / 1000).toFixed(0)} s`,
    );
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await store.top({ type: 'flow', by: 'bytes', dim: 'server_ip', limit: 10 });
      times.push(performance.now() - t);
    }
    const day: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await store.top({
        type: 'flow',
        by: 'bytes',
        dim: 'server_ip',
        limit: 10,
        after: Date.UTC(2024, 0, 3) * 1000,
        before: Date.UTC(2024, 0, 4) * 1000,
      });
      day.push(performance.now() - t);
    }
    const total2 = await store.count('flow', {});
    out(
      `top-10 server_ip by bytes over ${total2.toLocaleString()} rows: ${(median(times) / 1000).toFixed(2)} s (all), ${(median(day) / 1000).toFixed(2)} s (one day); median of 5`,
    );
    await store.dropAll();
    await store.stop();
  } finally {
    await c.stop();
  }
}

async function federation(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vantage-bench-fed-'));
  const nodes: { p: Product; token: string }[] = [];
  const start = async (name: string, extra: object = {}) => {
    let token = '';
    const p = await startProduct({
      dataDir: join(root, name),
      host: '127.0.0.1',
      port: 0,
      samples: false,
      packets: false,
      rateLimit: 1e9,
      log: silentLogger,
      print: (s) => {
        token = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? token;
      },
      ...extra,
    });
    nodes.push({ p, token });
    return { p, token };
  };
  try {
    const sensors = [];
    for (let i = 0; i < 3; i++) {
      const s = await start(`s${i}`);
      for (let k = 0; k < 5; k++)
        await s.p.store.append('flow', syntheticFlows(100_000, { seed: i * 10 + k }));
      sensors.push(s);
    }
    const central = await start('central', {
      central: { sensors: sensors.map((s, i) => ({ name: `s${i}`, url: s.p.url, token: s.token })) },
    });
    const time = async (n: { p: Product; token: string }, path: string) => {
      const xs: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const r = await fetch(n.p.url + path, { headers: { authorization: `Bearer ${n.token}` } });
        await r.arrayBuffer();
        xs.push(performance.now() - t);
      }
      return median(xs);
    };
    for (const path of [
      '/api/v1/top?by=bytes&dim=server_ip&limit=10&after=2000-01-01',
      '/api/v1/kpis?metric=bps&step=1h&after=2000-01-01',
      '/api/v1/flows?limit=100&after=2000-01-01',
    ]) {
      const one = await time(sensors[0]!, path);
      const fed = await time(central, path);
      out(
        `${path.split('?')[0]} (${path.split('?')[1]}): one sensor ${one.toFixed(1)} ms, central over 3 ${fed.toFixed(1)} ms`,
      );
    }
  } finally {
    for (const n of nodes.reverse()) await n.p.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

export async function benchScale(): Promise<void> {
  await clickhouse();
  await federation();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScale();
