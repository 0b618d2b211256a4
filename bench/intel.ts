/**
 * Threat-intel benchmark: load 1,000,000 mixed indicators (10% networks, 30% domains), build
 * the matcher, and time matching records against it next to matching against nothing.
 * Prints figures beside the goals (load < 10 s and < 500 MB; matching costs ≤ 10% of the
 * sensor's packet rate). Measures only; asserts nothing.
 *
 * The packet-rate figure runs the real sensor (decode, flows, L7) in this process over a
 * capture from gen-capture.ts, once with the intel watcher holding no indicators and once with
 * the million (plus a few planted ones the capture hits), alternating runs and keeping the best
 * CPU time of each: CPU time, because the benchmark machine is shared and wall time is noise.
 * The retro-hunt figure hunts 1,000 indicators over flows generated inside DuckDB.
 *
 *   npm run bench -- --only intel [--packets N] [--hunt-rows N]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertAggregator, type AnyRecord } from '../src/common/alerts.js';
import { silentLogger } from '../src/common/log.js';
import { DEFAULT_PARSE } from '../src/intel/feeds/common.js';
import { parseList } from '../src/intel/feeds/list.js';
import { IocStore } from '../src/intel/ioc-store.js';
import { Matcher } from '../src/intel/matcher.js';
import { makeIoc } from '../src/intel/model.js';
import { retroHunt } from '../src/intel/retro.js';
import { IntelWatcher } from '../src/intel/watcher.js';
import { flowRecord } from '../src/schema/records.js';
import type { SightingRecord } from '../src/schema/sighting.js';
import { columnsOf, liveTable } from '../src/store/embedded/schema.js';
import { createEmbeddedStore } from '../src/store/embedded/store.js';
import { generate } from './gen-capture.js';
import { costLine, watchCost } from './watch-cost.js';

function feedText(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = i % 10;
    const a = (i * 2654435761) >>> 0;
    if (r === 0) out.push(`${(a >>> 24) | 1}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`);
    else if (r <= 3) out.push(`host${i}.bad${i % 5000}.example`);
    else if (r <= 8) out.push(`${(a >>> 24) | 1}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`);
    else out.push(`${a.toString(16).padStart(8, '0').repeat(4)}`);
  }
  return out.join('\n');
}

function records(n: number): AnyRecord[] {
  const out: AnyRecord[] = [];
  for (let i = 0; i < n; i++) {
    const a = (i * 40503) >>> 0;
    out.push(
      i % 3 === 0
        ? {
            type: 'dns',
            ts: '2024-01-18T00:00:00Z',
            client_ip: '10.0.0.1',
            query: `www${i}.site${i % 977}.com`,
            answers: [],
          }
        : {
            type: 'flow',
            client_ip: `10.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
            server_ip: `${(a >>> 24) | 1}.${(a >>> 8) & 255}.${(a >>> 16) & 255}.${a & 255}`,
            first_ts: '2024-01-18T00:00:00Z',
            last_ts: '2024-01-18T00:00:01Z',
          },
    );
  }
  return out;
}

const argv = process.argv.slice(2);
const opt = (name: string, d: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : d;
};
const cpuS = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;

async function packetRate(m: Matcher): Promise<void> {
  const packets = Number(opt('packets', '400000'));
  const dir = join(process.cwd(), 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `synthetic-${packets}.pcap`);
  if (!existsSync(file)) generate(file, packets);
  const sink = (_: SightingRecord): void => {};
  const agg = new AlertAggregator(() => {}, { mode: 'final' });
  let hits = 0;
  const cost = await watchCost(file, () => {
    const w = new IntelWatcher(m, agg, (s) => {
      hits++;
      sink(s);
    });
    return w;
  });
  process.stdout.write(costLine(`intel (${m.size.toLocaleString()} indicators)`, cost, 10));
  process.stdout.write(`  (${hits} sightings over all passes)\n`);
}

/**
 * Flows made inside DuckDB straight into the live table (as bench/store.ts does), only the
 * columns a hunt reads filled, then compacted to Parquet as the store does with closed days
 * (`--hunt-compact no` keeps them all in the live table, where DuckDB scans 128-bit address
 * columns far slower than it reads Parquet's two 64-bit halves).
 */
async function huntSpeed(): Promise<void> {
  const rows = Number(opt('hunt-rows', '10000000'));
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-hunt-'));
  const store = createEmbeddedStore({ dataDir: dir, compactRows: 1e12 }, { log: silentLogger });
  try {
    await store.start();
    const endUs = Date.UTC(2024, 5, 8) * 1000;
    const span = 7 * 86_400_000_000;
    const expr: Record<string, string> = {
      flow_id: 'i',
      community_id: "'1:' || substr(md5(CAST(i AS VARCHAR)), 1, 27) || '='",
      proto: 'CASE WHEN i % 5 = 0 THEN 17 ELSE 6 END',
      client_ip: 'CAST(281470681743360 + 167772160 + hash(i) % 65536 AS UHUGEINT)',
      client_port: '32768 + i % 28000',
      server_ip: 'CAST(281470681743360 + 3325256704 + hash(i * 7) % 1000000 AS UHUGEINT)',
      server_port: 'CASE WHEN i % 5 = 0 THEN 53 ELSE 443 END',
      first_ts: `make_timestamp(CAST(${endUs - span} + i * ${Math.floor(span / rows)} AS BIGINT))`,
      last_ts: `make_timestamp(CAST(${endUs - span} + i * ${Math.floor(span / rows)} + hash(i) % 5000000 AS BIGINT))`,
    };
    const sel = columnsOf(flowRecord).map((c) => {
      if (expr[c.name]) return expr[c.name];
      if (c.nullable) return `CAST(NULL AS ${c.sqlType})`;
      return c.sqlType === 'VARCHAR' ? "''" : c.sqlType === 'BOOLEAN' ? 'false' : `CAST(0 AS ${c.sqlType})`;
    });
    const db = (store as unknown as { w: import('@duckdb/node-api').DuckDBConnection }).w;
    await db.run(
      `INSERT INTO ${liveTable(flowRecord)} SELECT ${sel.join(', ')}, i + 1000000000 FROM range(0, ${rows}) t(i)`,
    );
    // History is stored as the store keeps it: closed days compacted to Parquet, today live.
    if (opt('hunt-compact', 'yes') === 'yes') {
      const tc = performance.now();
      await store.compact(true);
      process.stdout.write(
        `(${rows.toLocaleString()} flows generated and compacted to Parquet in ${((performance.now() - tc) / 1000).toFixed(0)} s)\n`,
      );
    }
    // 1,000 indicators: server addresses in 198.51.0.0/16 .. (every 1000th of the million used), networks and domains
    const src = Object.freeze(['bench']);
    const iocs = [];
    for (let k = 0; k < 900; k++) {
      const v = 3325256704 + k * 1111;
      iocs.push(makeIoc('ipv4', `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, src));
    }
    for (let k = 0; k < 50; k++) iocs.push(makeIoc('cidr', `203.0.${k}.0/24`, src));
    for (let k = 0; k < 50; k++) iocs.push(makeIoc('domain', `bad${k}.example`, src));
    // the store-side join, then the scan that stores without one get (an IN list of the
    // addresses sent as a filter), on the same rows in the same run
    const scanOnly = new Proxy(store, {
      get: (t, p) => (p === 'hunt' ? undefined : (Reflect.get(t, p) as unknown)),
    });
    const ways = opt('hunt-ways', 'join,scan').split(',');
    for (const [label, s] of [
      ['store join', store],
      ['scan with an address filter', scanOnly],
    ] as const) {
      if (!ways.includes(label === 'store join' ? 'join' : 'scan')) continue;
      let sightings = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await retroHunt(s, iocs, {}, { sighting: () => sightings++ });
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuS(process.cpuUsage(c0));
      process.stdout.write(
        `retro-hunt (${label}) of ${iocs.length} indicators over ${rows.toLocaleString()} flows: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU of this process incl. DuckDB's threads ` +
          `(${res.progress.scanned.toLocaleString()} rows read, ${sightings} sightings, ${res.findings.length} indicators found); ` +
          `10M flows: ${((wall * 1e7) / rows).toFixed(1)} s wall (goal < 10 s)\n`,
      );
    }
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchIntel(): Promise<void> {
  // --intel-part hunt: only the retro-hunt (it needs no indicators loaded in this process)
  if (opt('intel-part', 'all') === 'hunt') return huntSpeed();
  const N = 1_000_000;
  const text = feedText(N);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const parsed = parseList(`${text}\n198.51.100.77\n198.51.100.78\n198.51.101.0/28\n`, {
    ...DEFAULT_PARSE,
    sources: ['bench'],
  });
  const store = new IocStore(null);
  store.replaceFeed('bench', parsed.iocs, false);
  const m = Matcher.over(store);
  const loadS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const loadCpuS = (cpu.user + cpu.system) / 1e6;
  const rss1 = process.memoryUsage().rss;
  process.stdout.write(
    `load ${store.size.toLocaleString()} indicators (parse + store + matcher): ${loadS.toFixed(2)} s (goal < 10 s; CPU ${loadCpuS.toFixed(2)} s), ` +
      `RSS +${((rss1 - rss0) / 1e6).toFixed(0)} MB, total ${(rss1 / 1e6).toFixed(0)} MB (goal < 500 MB)\n`,
  );
  const recs = records(300_000);
  const agg = new AlertAggregator(() => {}, { mode: 'final' });
  const run = (w: IntelWatcher): number => {
    const t = performance.now();
    for (const r of recs) w.onRecord(r);
    return recs.length / ((performance.now() - t) / 1000);
  };
  const empty = new IntelWatcher(new Matcher(), agg, null);
  const full = new IntelWatcher(m, agg, null);
  run(full);
  const r0 = run(empty);
  const r1 = run(full);
  process.stdout.write(
    `match: ${(r1 / 1e6).toFixed(2)} M records/s with 1M indicators (${(r0 / 1e6).toFixed(1)} M/s with none); ` +
      `${((1 / r1) * 1e9).toFixed(0)} ns a record, hits ${full.counters.hits}\n`,
  );
  const t1 = performance.now();
  full.setMatcher(Matcher.over(store));
  process.stdout.write(
    `rebuild + swap of the matcher: ${((performance.now() - t1) / 1000).toFixed(2)} s (off the record path)\n`,
  );
  await packetRate(m);
  if (opt('intel-part', 'all') === 'all') await huntSpeed();
}
