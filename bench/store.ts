/**
 * Store and API benchmark (part of `npm run bench`; alone: node dist/bench/store.js).
 *
 * 1. Append rate of full flow records (every registry field), object and column paths.
 * 2. Bytes on disk per flow record (live DuckDB table, then compacted zstd Parquet).
 * 3. Top-10 talkers latency over 1 h and 24 h windows at 10M rows (100M with
 *    VANTAGE_BENCH_100M=1), rows generated inside DuckDB over 7 days and compacted.
 * 4. API KPI requests/s and p99 with autocannon, 50 connections.
 *
 * Environment: VANTAGE_BENCH_ROWS (default 10000000), VANTAGE_BENCH_100M=1, VANTAGE_BENCH_DIR,
 * VANTAGE_BENCH_STORE=append (only 1.: a quick append-rate run), VANTAGE_BENCH_APPEND_ROWS
 * (default 2000000), VANTAGE_BENCH_APPEND_PATHS (default objects,appender,columns).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startProduct } from '../src/cli/start.js';
import { silentLogger } from '../src/common/log.js';
import { flowRecord } from '../src/schema/records.js';
import type { Columnar } from '../src/store/columnar.js';
import { columnsOf, liveTable } from '../src/store/embedded/schema.js';
import { createEmbeddedStore, type EmbeddedStore } from '../src/store/embedded/store.js';
import { syntheticFlows } from '../src/store/synthetic.js';
import type { Rec } from '../src/store/types.js';
import { isoToMicros, microsToIso } from '../src/store/values.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU time of this process's main thread so far, seconds (the event loop's own share). */
function mainThreadCpu(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

function peakRss(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
}

/** Flow records in column form, as a columnar flow table hands them over (times as ms). */
export function flowColumns(recs: readonly Rec[]): Columnar {
  const cols = columnsOf(flowRecord);
  const num = cols.filter((c) => ['int', 'float', 'bool', 'ts'].includes(c.type)).map((c) => c.name);
  const str = cols.filter((c) => !num.includes(c.name)).map((c) => c.name);
  const isTs = new Set(cols.filter((c) => c.type === 'ts').map((c) => c.name));
  const f = new Float64Array(recs.length * num.length);
  const si = new Int32Array(recs.length * str.length);
  const dict: string[] = [];
  const at = new Map<string, number>();
  recs.forEach((r, i) => {
    num.forEach((k, j) => {
      const v = r[k];
      f[i * num.length + j] =
        v == null ? Number.NaN : isTs.has(k) ? isoToMicros(String(v)) / 1000 : v === true ? 1 : Number(v);
    });
    str.forEach((k, j) => {
      const v = r[k];
      if (v == null) si[i * str.length + j] = -1;
      else {
        const t = String(v);
        let d = at.get(t);
        if (d === undefined) {
          d = dict.length;
          dict.push(t);
          at.set(t, d);
        }
        si[i * str.length + j] = d;
      }
    });
  });
  return { num, str, f, s: si, dict, rows: Uint32Array.from(recs.keys()) };
}

/**
 * Full flow rows (every registry field) into the store, in appends of one DuckDB row group,
 * through the object path (`append`, the ingest of records) and the column path
 * (`appendColumns`, a columnar flow table). Wall rate, rows per CPU-second of the whole process
 * (all threads: ours and DuckDB's), the main thread's CPU per million rows (what an ingest
 * thread pays), peak RSS.
 */
async function appendRate(dir: string): Promise<void> {
  const rows = Number(process.env.VANTAGE_BENCH_APPEND_ROWS ?? 2_000_000);
  const batch = 122_880;
  const pool = syntheticFlows(batch * 2, { spanUs: 86_400_000_000 });
  const cpool = [flowColumns(pool.slice(0, batch)), flowColumns(pool.slice(batch))];
  const ncols = columnsOf(flowRecord).length;
  out(
    `load average before: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (2 cores; wall rates are noisy when it is high)`,
  );
  // `columns`: the column path as the store runs it (`insertFeed`); `appender`: the same
  // batches through the appender's synchronous flush, the column path before it.
  const paths = (process.env.VANTAGE_BENCH_APPEND_PATHS ?? 'objects,appender,columns').split(',');
  for (const path of paths) {
    const d = join(dir, path);
    const store = createEmbeddedStore(
      { dataDir: d, compactRows: 1e12, ...(path === 'appender' ? { insertFeed: false } : {}) },
      { log: silentLogger },
    );
    await store.start();
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m0 = mainThreadCpu();
    for (let k = 0; n < rows; k++) {
      if (path === 'objects') await store.append('flow', pool.slice((k & 1) * batch, ((k & 1) + 1) * batch));
      else await store.appendColumns('flow', cpool[k & 1]!);
      n += batch;
    }
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    const main = mainThreadCpu() - m0;
    const st = await store.stats();
    await store.stop();
    out(
      `append, ${path.padEnd(7)} (${n} full flow rows, ${ncols} fields, ${batch} per commit): ${(n / wall / 1e3).toFixed(0)}k rows/s wall, ${(n / cpu / 1e3).toFixed(0)}k rows per CPU-s (whole process, ${cpu.toFixed(2)} CPU-s), main thread ${((main / n) * 1e6).toFixed(2)} CPU-s per 1M rows; live table ${(st.bytesOnDisk / n).toFixed(0)} B/row on disk; goal ≥ 1M rows/s`,
    );
    rmSync(d, { recursive: true, force: true });
  }
  out(
    `peak RSS of the bench process: ${(peakRss() / 1e6).toFixed(0)} MB; load average after: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}

/** Generate N flows over `days` inside DuckDB (fast), straight into the live table. */
async function generate(store: EmbeddedStore, n: number, endUs: number, days: number): Promise<void> {
  const span = days * 86_400_000_000;
  const start = endUs - span;
  const expr: Record<string, string> = {
    flow_id: 'i',
    community_id: "'1:' || substr(md5(CAST(i AS VARCHAR)), 1, 27) || '='",
    proto: 'CASE WHEN i % 5 = 0 THEN 17 ELSE 6 END',
    client_ip: 'CAST(281470681743360 + 167772160 + hash(i) % 4096 AS UHUGEINT)',
    client_port: '32768 + i % 28000',
    server_ip: 'CAST(281470681743360 + 3232235520 + hash(i * 7) % 256 AS UHUGEINT)',
    server_port: 'CASE WHEN i % 5 = 0 THEN 53 ELSE [443, 80, 22, 8443][i % 4 + 1] END',
    first_ts: `make_timestamp(CAST(${start} + i * ${Math.floor(span / n)} AS BIGINT))`,
    last_ts: `make_timestamp(CAST(${start} + i * ${Math.floor(span / n)} + hash(i) % 5000000 AS BIGINT))`,
    duration_ms: 'CAST(hash(i) % 5000000 AS DOUBLE) / 1000',
    client_packets: '1 + hash(i) % 40',
    server_packets: '1 + hash(i + 1) % 60',
    client_ip_bytes: '(1 + hash(i) % 40) * 80',
    server_ip_bytes: '(1 + hash(i + 1) % 60) * 900',
    client_wire_bytes: '(1 + hash(i) % 40) * 94',
    server_wire_bytes: '(1 + hash(i + 1) % 60) * 914',
    client_payload_bytes: '(1 + hash(i) % 40) * 28',
    server_payload_bytes: '(1 + hash(i + 1) % 60) * 848',
    client_tcp_flags: "CASE WHEN i % 5 = 0 THEN NULL ELSE 'SAPF' END",
    server_tcp_flags: "CASE WHEN i % 5 = 0 THEN NULL ELSE 'SAPF' END",
    rtt_ms: 'CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(hash(i) % 32000 AS DOUBLE) / 1000 END',
    srt_ms: 'CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(hash(i + 2) % 80000 AS DOUBLE) / 1000 END',
    client_retransmissions: 'CASE WHEN hash(i) % 10 = 0 THEN 1 ELSE 0 END',
    client_mac: 'CAST(2199023255552 + hash(i) % 4096 AS UBIGINT)',
    server_mac: 'CAST(2199023320833 AS UBIGINT)',
    vlan: 'CASE WHEN i % 2 = 0 THEN 100 ELSE NULL END',
    end_reason: "CASE WHEN i % 5 = 0 THEN 'idle' ELSE 'fin' END",
    interim: 'false',
    app: "['https', 'dns', 'google', 'ssh', 'http', NULL, 'microsoft', 'zoom'][CAST(hash(i) % 8 AS BIGINT) + 1]",
  };
  const sel = columnsOf(flowRecord).map((c) => {
    if (expr[c.name]) return expr[c.name];
    if (c.nullable) return `CAST(NULL AS ${c.sqlType})`;
    return c.sqlType === 'VARCHAR' ? "''" : c.sqlType === 'BOOLEAN' ? 'false' : `CAST(0 AS ${c.sqlType})`;
  });
  const db = (store as unknown as { w: import('@duckdb/node-api').DuckDBConnection }).w;
  const chunk = 10_000_000;
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(n, from + chunk);
    await db.run(
      `INSERT INTO ${liveTable(flowRecord)} SELECT ${sel.join(', ')}, i + 1000000000 FROM range(${from}, ${to}) t(i)`,
    );
  }
}

async function queries(dir: string, rows: number): Promise<{ endUs: number }> {
  const store = createEmbeddedStore({ dataDir: dir, compactRows: 1e12 }, { log: silentLogger });
  await store.start();
  const endUs = Date.UTC(2024, 5, 8) * 1000;
  let t = performance.now();
  await generate(store, rows, endUs, 7);
  out(`generated ${rows} flows over 7 days in DuckDB: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  await store.stop();
  const s2 = createEmbeddedStore({ dataDir: dir, compactRows: 1e12 }, { log: silentLogger });
  await s2.start();
  await s2.compact(true);
  const st = await s2.stats();
  const pq = s2.parquetBytes('flow');
  out(
    `compacted to Parquet in ${((performance.now() - t) / 1000).toFixed(1)} s: ${(pq / rows).toFixed(1)} B/flow in Parquet (${(pq / 2 ** 20).toFixed(0)} MiB, ${st.partitions} partitions; whole data dir ${(st.bytesOnDisk / 2 ** 20).toFixed(0)} MiB)`,
  );
  for (const [label, hours] of [
    ['1 h', 1],
    ['24 h', 24],
    ['7 d (all)', 168],
  ] as const) {
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      await s2.top({
        type: 'flow',
        by: 'bytes',
        dim: 'server_ip',
        limit: 10,
        after: endUs - hours * 3_600_000_000,
        before: endUs,
      });
      times.push(performance.now() - t0);
    }
    out(
      `top-10 server_ip by bytes over ${label} of ${rows} flows: median ${median(times).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)})`,
    );
  }
  await s2.stop();
  return { endUs };
}

async function api(dir: string, endUs: number): Promise<void> {
  const product = await startProduct({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    samples: false,
    log: silentLogger,
    print: () => {},
    rateLimit: 1e9,
  });
  const token = product.tokens.create('viewer', 'bench').token;
  const after = encodeURIComponent(microsToIso(endUs - 3_600_000_000));
  const before = encodeURIComponent(microsToIso(endUs));
  const url = `${product.url}/api/v1/kpis?metric=bps&step=1m&after=${after}&before=${before}`;
  const r = await autocannon({
    url,
    connections: 50,
    duration: 10,
    headers: { authorization: `Bearer ${token}` },
  });
  out(
    `API /kpis (bps, 1 m step, 1 h window, 50 connections, 10 s): ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
  );
  await product.stop();
}

export async function benchStore(): Promise<void> {
  const rows =
    process.env.VANTAGE_BENCH_100M === '1'
      ? 100_000_000
      : Number(process.env.VANTAGE_BENCH_ROWS ?? 10_000_000);
  const root = process.env.VANTAGE_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'vantage-bench-store-'));
  out('\n## Store (embedded DuckDB) and API\n');
  try {
    await appendRate(join(root, 'append'));
    if (process.env.VANTAGE_BENCH_STORE === 'append') return;
    const { endUs } = await queries(join(root, 'query'), rows);
    await api(join(root, 'query'), endUs);
  } finally {
    if (!process.env.VANTAGE_BENCH_DIR) rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchStore();
