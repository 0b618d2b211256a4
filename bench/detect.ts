/**
 * Detection benchmark.
 *  1. Cost: the bench capture (bench/gen-capture.ts, 400k packets by default) through the sensor
 *     alone and with every detector on, and the detectors alone over the sensor's records as
 *     objects and as column batches, in CPU time (bench/watch-cost.ts; goal ≤ 15%).
 *  2. A spoofed SYN flood of 1,000,000 sources against one victim, plus 1,000,000 one-packet
 *     flows between random hosts, fed as flow records: records/s, peak RSS and heap, the
 *     entries the detectors hold and what they evicted (memory must stay bounded).
 *
 * usage (wired from bench/run.ts): npm run bench -- --only detect [--detect-packets N]
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AnyRecord } from '../src/common/alerts.js';
import { createDetectors } from '../src/detect/index.js';
import { generate } from './gen-capture.js';
import { costLine, watchCost } from './watch-cost.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function opt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

function floodRecords(i: number, out: AnyRecord): AnyRecord {
  // One reused object: the bench measures the detectors, not the allocation of its input.
  const spoofed = i % 2 === 0;
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const g = Math.imul(i + 7, 40503) >>> 0;
  const src = `${(h >>> 24) | 1}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`;
  const ms = Date.parse('2026-03-02T10:00:00Z') + i / 20;
  out.client_ip = src;
  out.server_ip = spoofed ? '10.0.0.80' : `10.${(g >>> 16) & 255}.${(g >>> 8) & 255}.${g & 255}`;
  out.client_port = 1024 + (h % 60000);
  out.server_port = spoofed ? 80 : g % 65536;
  out.proto = spoofed || i % 3 ? 6 : 17;
  out.first_ts = new Date(ms).toISOString();
  out.last_ts = out.first_ts;
  return out;
}

export async function benchDetect(): Promise<void> {
  const n = opt('detect-packets', 400_000);
  const dir = `${ROOT}bench/out`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/detect-${n}.pcap`;
  if (!existsSync(file)) generate(file, n);
  process.stdout.write(`capture ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB)\n`);
  const cost = await watchCost(file, () => createDetectors({}, { emitter: { raise() {} } }));
  process.stdout.write(costLine('all detectors', cost, 15));

  const total = opt('flood-records', 2_000_000);
  const set = createDetectors({}, { emitter: { raise() {} } });
  const rec: AnyRecord = {
    type: 'flow',
    client_packets: 1,
    server_packets: 0,
    client_ip_bytes: 60,
    server_ip_bytes: 0,
    client_payload_bytes: 0,
    client_tcp_flags: 'S',
    server_tcp_flags: null,
    flow_id: 1,
  };
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  let peakHeap = 0;
  let peakEntries = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    set.onRecord(floodRecords(i, rec));
    if (i % 100_000 === 0) {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakEntries = Math.max(
        peakEntries,
        set.detectors.reduce((a, d) => a + d.size(), 0),
      );
    }
  }
  set.finish();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const ev = set.detectors.map((d) => `${d.name} ${d.counters.evicted ?? 0}`).join(', ');
  process.stdout.write(
    `spoofed flood: ${total / 2} sources against one victim + ${total / 2} random one-packet flows: ` +
      `${(total / secs / 1e3).toFixed(0)}k records/s; peak RSS ${(peakRss / 1e6).toFixed(0)} MB ` +
      `(+${((peakRss - rss0) / 1e6).toFixed(0)} MB), peak heap ${(peakHeap / 1e6).toFixed(0)} MB, ` +
      `peak entries held ${peakEntries}; evicted: ${ev}\n`,
  );
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))) {
  await benchDetect();
}
