/**
 * Scale-out benchmark (part of `npm run bench`; alone: node dist/bench/scale.js).
 *
 * 1. Rows/s into ClickHouse (2 shards of clickhouse-server 18.16 on loopback), full flow rows
 *    (51 columns): the column path in Native and RowBinary, 1M rows per insert, through a
 *    Distributed table, the bus ingester's record path, and the peer clickhouse-client with
 *    Native, RowBinary and TabSeparated files of the same rows; CPU time of every process.
 * 2. Top-10 server_ip by bytes over VANTAGE_BENCH_CH_ROWS rows (default 100M) generated inside
 *    ClickHouse (INSERT … SELECT from numbers() on each shard), through the Distributed table.
 * 3. Federated query latency: a central over 3 sensors versus one sensor (same rows per sensor),
 *    top-10 and a count over HTTP, median of 20.
 *
 * Environment: VANTAGE_BENCH_CH_ROWS, VANTAGE_BENCH_CH_APPEND (rows per variant of 1., default 2M).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Product, startProduct } from '../src/cli/start.js';
import { silentLogger } from '../src/common/log.js';
import { ALL_RECORDS } from '../src/schema/records.js';
import { ColumnsEncoder, recordsToColumnar } from '../src/store/distributed/columns.js';
import { exec, insertBody } from '../src/store/distributed/http.js';
import { NativeColumnsEncoder } from '../src/store/distributed/native.js';
import { RowBinary } from '../src/store/distributed/rowbinary.js';
import { chColumns } from '../src/store/distributed/schema.js';
import { createClickHouseStore, LOCAL_SEQ_LIMIT } from '../src/store/distributed/store.js';
import { syntheticFlows } from '../src/store/synthetic.js';
import { startClickHouseCluster } from '../test/support/clickhouse.js';
import { isMissing } from '../test/support/peers.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** utime + stime of a process in seconds (clock ticks of 1/100 s). */
function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(x[11]) + Number(x[12])) / 100;
  } catch {
    return 0;
  }
}

interface Cost {
  rows: number;
  wall: number;
  node: number;
  server: number;
  client: number;
}

async function measure(
  pids: number[],
  f: () => Promise<number | { rows: number; client: number }>,
): Promise<Cost> {
  const cpu = process.cpuUsage();
  const s0 = pids.reduce((a, p) => a + procCpu(p), 0);
  const t0 = performance.now();
  const r = await f();
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  const server = pids.reduce((a, p) => a + procCpu(p), 0) - s0;
  const rows = typeof r === 'number' ? r : r.rows;
  const client = typeof r === 'number' ? 0 : r.client;
  return { rows, wall, node: (used.user + used.system) / 1e6, server, client };
}

function line(label: string, c: Cost, base?: Cost): string {
  const m = c.rows / 1e6;
  const parts = [
    `${label}: ${c.rows.toLocaleString()} rows in ${c.wall.toFixed(1)} s = ${(c.rows / c.wall / 1e6).toFixed(3)}M rows/s wall`,
    `CPU-s per M rows: server ${(c.server / m).toFixed(2)}`,
  ];
  if (c.node > 0.05 * c.wall || !c.client) parts.push(`Vantage ${(c.node / m).toFixed(2)}`);
  if (c.client) parts.push(`clickhouse-client ${(c.client / m).toFixed(2)}`);
  const cpuRate = c.rows / (c.server + c.node * (c.client ? 0 : 1) + c.client);
  parts.push(`${(cpuRate / 1e6).toFixed(2)}M rows per CPU-s (all processes)`);
  if (base)
    parts.push(
      `wall ratio to ${base === c ? 'itself' : 'the peer'} ${(c.rows / c.wall / (base.rows / base.wall)).toFixed(2)}`,
    );
  return parts.join('; ');
}

/**
 * Rows/s into 2-shard ClickHouse: the store's column path (Native and RowBinary, 100k and 1M
 * rows per insert), the bus ingester's record path, an insert through a Distributed table,
 * and the peer clickhouse-client fed the same rows as Native, RowBinary and TabSeparated
 * files, all in one run; wall-clock beside the CPU time of Vantage, of the two servers (from
 * /proc/PID/stat) and of the clients. Each variant starts from empty tables (the views and
 * the background merges of its own inserts count, none of the previous one's).
 */
async function clickhouse(): Promise<void> {
  const c = await startClickHouseCluster(2);
  if (isMissing(c)) {
    out(`clickhouse: skipped (${c.missing})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-ch-'));
  try {
    const cfg = { url: c.urls[0]!, shards: c.urls, cluster: c.cluster, database: 'bench' };
    const store = createClickHouseStore(cfg, { log: silentLogger });
    await store.start();
    const total = Number(process.env.VANTAGE_BENCH_CH_APPEND ?? 2_000_000);
    const def = ALL_RECORDS.find((d) => d.type === 'flow')!;
    if (total > 0) {
      out(
        `load average at start: ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')} (2 cores shared)`,
      );
      const recs = syntheticFlows(200_000, { seed: 1 });
      const cols = recordsToColumnar(def, recs);
      const fresh = async (o: Partial<Parameters<typeof createClickHouseStore>[0]> = {}) => {
        await store.dropAll();
        const s = createClickHouseStore({ ...cfg, ...o }, { log: silentLogger });
        await s.start();
        return s;
      };
      const columns = async (o: Partial<Parameters<typeof createClickHouseStore>[0]>, batch = cols) => {
        const s = await fresh(o);
        return measure(c.pids, async () => {
          let n = 0;
          while (n < total) {
            await s.appendColumns('flow', batch);
            n += batch.rows.length;
          }
          return n;
        });
      };
      // 0. Encoding alone, no server: what one core of Vantage can feed.
      {
        const nat = new NativeColumnsEncoder(def);
        const rbEnc = new ColumnsEncoder(def);
        const rb = new RowBinary(1 << 26);
        let pooled: Buffer | undefined;
        for (const label of ['Native', 'RowBinary']) {
          // One pass first: the batch's dictionary is converted once, and buffers reach size.
          let cpu = process.cpuUsage();
          for (let k = -1; k < 10; k++) {
            if (k === 0) cpu = process.cpuUsage();
            if (label === 'Native') pooled = nat.encode(cols, 0, cols.rows.length, k, pooled);
            else {
              rb.reset();
              rbEnc.encode(rb, cols, 0, cols.rows.length, k);
            }
          }
          const u = process.cpuUsage(cpu);
          out(
            `encode only, ${label} from column batches: ${((u.user + u.system) / 1e6 / 2).toFixed(3)} CPU-s per M rows (10 x 200k rows after one warm pass, no server)`,
          );
        }
      }
      const results: Record<string, Cost> = {};
      results.native = await columns({ insertFormat: 'native' });
      results.rowbinary = await columns({ insertFormat: 'rowbinary' });
      // 1M rows per insert: a batch of 2M rows (the 200k rows selected ten times over).
      const big = { ...cols, rows: Uint32Array.from({ length: 2_000_000 }, (_, i) => i % cols.rows.length) };
      results.native1m = await columns({ insertFormat: 'native', insertRows: 1_000_000 }, big);
      // The peer files, made by the server from the rows just stored (same rows, same columns).
      const names = `${chColumns(def)
        .map((x) => x.name)
        .join(', ')}, _seq`;
      const files: Record<string, string> = {};
      for (const f of ['Native', 'RowBinary', 'TabSeparated']) {
        const r = await fetch(c.urls[0]!, {
          method: 'POST',
          body: `SELECT ${names} FROM bench.flow_local LIMIT ${recs.length} FORMAT ${f}`,
        });
        files[f] = join(dir, `rows.${f}`);
        writeFileSync(files[f], Buffer.from(await r.arrayBuffer()));
      }
      for (const f of ['Native', 'RowBinary', 'TabSeparated']) {
        await fresh();
        results[`peer${f}`] = await measure(c.pids, async () => {
          let m = 0;
          let client = 0;
          while (m < total) {
            const cpu = await Promise.all(
              c.tcpPorts.map((port) =>
                clientInsert(port, `INSERT INTO bench.flow_local (${names}) FORMAT ${f}`, files[f]!),
              ),
            );
            client += cpu.reduce((a, b) => a + b, 0);
            m += recs.length * c.tcpPorts.length;
          }
          return { rows: m, client };
        });
      }
      // Through a Distributed table on one node (sharded by rand(), insert_distributed_sync=1):
      // that node re-sends the other shard's half; the store writes each shard's own half.
      {
        await fresh();
        await exec(
          { url: c.urls[0]! },
          `CREATE TABLE bench.flow_dist AS bench.flow_local ENGINE = Distributed(${c.cluster}, bench, flow_local, rand())`,
        );
        const enc = new NativeColumnsEncoder(def);
        results.distributed = await measure(c.pids, async () => {
          let n = 0;
          while (n < total) {
            const body = enc.encode(cols, 0, cols.rows.length, n + 1);
            await insertBody({ url: c.urls[0]! }, `bench.flow_dist (${names})`, 'Native', body, {
              settings: { insert_distributed_sync: '1' },
            });
            n += cols.rows.length;
          }
          return n;
        });
      }
      // Each shard its half straight from the encoder: the body gzipped (level 1,
      // Content-Encoding: gzip; on loopback the bytes may cost less to send than to compress and
      // inflate), and, to split the server's cost, into a MergeTree without the three rollup
      // views and into a Null table (parse only, nothing kept).
      const direct = async (table: string, gzip: boolean) => {
        const enc = new NativeColumnsEncoder(def);
        const half = cols.rows.length / 2;
        return measure(c.pids, async () => {
          let n = 0;
          while (n < total) {
            await Promise.all(
              c.urls.map((u, i) => {
                const body = enc.encode(cols, i * half, (i + 1) * half, n + 1 + i * half);
                return insertBody(
                  { url: u },
                  `${table} (${names})`,
                  'Native',
                  gzip ? gzipSync(body, { level: 1 }) : body,
                  gzip ? { contentEncoding: 'gzip' } : {},
                );
              }),
            );
            n += cols.rows.length;
          }
          return n;
        });
      };
      await fresh();
      results.gzip = await direct('bench.flow_local', true);
      await fresh();
      for (const u of c.urls) {
        await exec({ url: u }, 'CREATE TABLE bench.flow_plain AS bench.flow_local');
        await exec({ url: u }, 'CREATE TABLE bench.flow_null AS bench.flow_local ENGINE = Null');
      }
      results.plain = await direct('bench.flow_plain', false);
      results.null = await direct('bench.flow_null', false);
      // The bus ingester's record path (appendAt: objects decoded from bus messages of 256).
      const busTotal = Math.min(total, 1_000_000);
      const messages = (k: number) =>
        Array.from({ length: Math.ceil(recs.length / 256) }, (_, j) => ({
          records: recs.slice(j * 256, j * 256 + 256),
          seqBase: LOCAL_SEQ_LIMIT + (k * 1000 + j) * 4096,
        }));
      for (const fmt of ['native', 'rowbinary'] as const) {
        const s = await fresh({ insertFormat: fmt });
        results[`bus${fmt}`] = await measure(c.pids, async () => {
          let n = 0;
          for (let k = 0; n < busTotal; k++) {
            await s.appendAt('flow', messages(k));
            n += recs.length;
          }
          return n;
        });
      }
      const peer = results.peerNative!;
      out(line('Vantage column path, Native (100k rows per insert, 2 shards)', results.native!, peer));
      out(line('Vantage column path, RowBinary (100k rows per insert)', results.rowbinary!, peer));
      out(line('Vantage column path, Native, 1M rows per insert', results.native1m!, peer));
      out(
        line(
          'Vantage Native through a Distributed table (insert_distributed_sync=1)',
          results.distributed!,
          peer,
        ),
      );
      out(line('Vantage Native, gzip level 1 body (Content-Encoding: gzip)', results.gzip!, peer));
      out(line('Vantage Native into a MergeTree without the rollup views', results.plain!, peer));
      out(line('Vantage Native into a Null table (the server parses, keeps nothing)', results.null!, peer));
      out(line('Vantage bus ingester path (appendAt, records), Native', results.busnative!, peer));
      out(line('Vantage bus ingester path (appendAt, records), RowBinary', results.busrowbinary!, peer));
      out(line('peer clickhouse-client FORMAT Native (file from SELECT … FORMAT Native)', peer));
      out(line('peer clickhouse-client FORMAT RowBinary', results.peerRowBinary!, peer));
      out(line('peer clickhouse-client FORMAT TabSeparated', results.peerTabSeparated!, peer));
      out(
        `goal >= 1M rows/s; server CPU per M rows (Native, store path): ${(results.native!.server / (results.native!.rows / 1e6)).toFixed(2)} s, so the two servers alone need that many cores for 1M rows/s; load average at end: ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
      );
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
    rmSync(dir, { recursive: true, force: true });
  }
}

/** clickhouse-client inserting a file; resolves with its CPU seconds (user + sys). */
function clientInsert(port: number, query: string, file: string): Promise<number> {
  return new Promise((ok, fail) => {
    const p = spawn(
      'sh',
      ['-c', `/usr/bin/time -f '%U %S' clickhouse-client --port ${port} --query '${query}' < ${file}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    p.on('exit', (code) => {
      const m = /([\d.]+) ([\d.]+)\s*$/.exec(err);
      if (code === 0 && m) ok(Number(m[1]) + Number(m[2]));
      else fail(new Error(`clickhouse-client exited ${code}: ${err.slice(0, 500)}`));
    });
  });
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
