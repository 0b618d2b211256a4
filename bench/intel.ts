/**
 * Threat-intel benchmark: load 1,000,000 mixed indicators (10% networks, 30% domains), build
 * the matcher, and time matching records against it next to matching against nothing.
 * Prints figures beside the goals (load < 10 s and < 500 MB; matching costs ≤ 10% of the
 * sensor's packet rate). Measures only; asserts nothing.
 *
 *   npm run bench -- --only intel
 */
import { AlertAggregator, type AnyRecord } from '../src/common/alerts.js';
import { DEFAULT_PARSE } from '../src/intel/feeds/common.js';
import { parseList } from '../src/intel/feeds/list.js';
import { IocStore } from '../src/intel/ioc-store.js';
import { Matcher } from '../src/intel/matcher.js';
import { IntelWatcher } from '../src/intel/watcher.js';

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

export async function benchIntel(): Promise<void> {
  const N = 1_000_000;
  const text = feedText(N);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const parsed = parseList(text, { ...DEFAULT_PARSE, sources: ['bench'] });
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
}
