/**
 * Benchmarks Vantage against peer tools on the same synthetic capture, in one run, warm in the
 * page cache. Prints packets/s, Gbit/s-equivalent, peak memory and Vantage's ratio to each peer.
 *
 * usage: npm run bench [-- --packets N] [--skip-tshark] [--runs R] [--only sensor|store|pcapstore|collect|collect-store|live|events|intel|policy|bus|detect|scale|auth]
 *        (stage benches take their own options, e.g. --store-gb 10 for the packet store)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from './gen-capture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const PACKETS = Number(opt('packets', '1600000'));
const RUNS = Number(opt('runs', '3'));
const ONLY = opt('only', '');
const FILE = `${ROOT}bench/out/synthetic-${PACKETS}.pcap`;

interface Result {
  tool: string;
  seconds: number;
  rssMb: number;
  note?: string;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Run a command under /usr/bin/time; the best (lowest) wall time of `runs`, with its peak RSS. */
function measure(tool: string, cmd: string[], runs = RUNS): Result {
  let best: Result | null = null;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', ...cmd], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m) {
      return {
        tool,
        seconds: Number.NaN,
        rssMb: 0,
        note: `failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`,
      };
    }
    const res = { tool, seconds: Number(m[1]), rssMb: Number(m[2]) / 1024 };
    if (!best || res.seconds < best.seconds) best = res;
  }
  return best!;
}

function sensorBench(): void {
  mkdirSync(`${ROOT}bench/out`, { recursive: true });
  if (!existsSync(FILE)) {
    process.stdout.write(`generating ${FILE} (${PACKETS} packets)...\n`);
    generate(FILE, PACKETS);
  }
  const bytes = statSync(FILE).size;
  execFileSync('sh', ['-c', `cat '${FILE}' > /dev/null`]); // warm the page cache
  const node = process.execPath;
  const vantage = `${ROOT}bin/vantage.js`;
  const results: Result[] = [];
  results.push(
    measure('vantage ingest (decode + flows + L7)', [node, vantage, 'ingest', FILE, '--no-records']),
  );
  results.push(
    measure('vantage ingest --no-l7 (decode + flows)', [
      node,
      vantage,
      'ingest',
      FILE,
      '--no-records',
      '--no-l7',
    ]),
  );
  if (have('softflowd')) {
    results.push(
      measure('softflowd -r (flow metering, C)', [
        'softflowd',
        '-r',
        FILE,
        '-v',
        '9',
        '-c',
        'none',
        '-m',
        '1000000',
        '-n',
        '127.0.0.1:9',
      ]),
    );
  } else
    results.push({
      tool: 'softflowd',
      seconds: Number.NaN,
      rssMb: 0,
      note: 'not installed (Debian package softflowd)',
    });
  if (have('tcpdump'))
    results.push(measure('tcpdump -r -w /dev/null', ['tcpdump', '-r', FILE, '-w', '/dev/null']));
  else
    results.push({
      tool: 'tcpdump',
      seconds: Number.NaN,
      rssMb: 0,
      note: 'not installed (Debian package tcpdump)',
    });
  if (args.includes('--skip-tshark'))
    results.push({ tool: 'tshark', seconds: Number.NaN, rssMb: 0, note: 'skipped' });
  else if (have('tshark'))
    results.push(measure('tshark -q -z conv,tcp', ['tshark', '-r', FILE, '-q', '-z', 'conv,tcp'], 1));
  else
    results.push({
      tool: 'tshark',
      seconds: Number.NaN,
      rssMb: 0,
      note: 'not installed (Debian package tshark)',
    });

  const v = results[0]!;
  const flowOnly = results[1]!;
  process.stdout.write(
    `\ncapture: ${PACKETS} packets, ${(bytes / 1e9).toFixed(2)} GB, mean ${Math.round(bytes / PACKETS)} B/packet; best of ${RUNS} runs, whole process (start-up included)\n\n`,
  );
  const rows = [['tool', 'packets/s', 'Gbit/s', 'peak MB', 'Vantage (full) ×']];
  for (const r of results) {
    if (Number.isNaN(r.seconds)) {
      rows.push([r.tool, '-', '-', '-', r.note ?? '']);
      continue;
    }
    const pps = PACKETS / r.seconds;
    rows.push([
      r.tool,
      `${(pps / 1e6).toFixed(2)}M`,
      ((bytes * 8) / r.seconds / 1e9).toFixed(2),
      r.rssMb.toFixed(0),
      (r.seconds / v.seconds).toFixed(2),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}\n`);
  if (!Number.isNaN(flowOnly.seconds) && !Number.isNaN(v.seconds)) {
    const cost = 1 - flowOnly.seconds / v.seconds;
    process.stdout.write(
      `\nL7 parsing costs ${(cost * 100).toFixed(1)}% of the flow-only packet rate (goal < 30%).\n`,
    );
  }
}

/** Benchmarks of the other stages, each in its own module; run when built. */
const STAGES: [name: string, module: string, fn: string][] = [
  ['store', 'store.js', 'benchStore'],
  ['pcapstore', 'pcapstore.js', 'benchPcapStore'],
  ['collect', 'collect.js', 'benchCollect'],
  ['collect-store', 'collect-store.js', 'benchCollectStore'],
  ['live', 'live.js', 'benchLive'],
  ['intel', 'intel.js', 'benchIntel'],
  ['policy', 'policy.js', 'benchPolicyCompliance'],
  ['bus', 'bus.js', 'benchBus'],
  ['events', 'events.js', 'benchEvents'],
  ['detect', 'detect.js', 'benchDetect'],
  ['scale', 'scale.js', 'benchScale'],
  ['auth', 'auth.js', 'benchAuth'],
];

async function main(): Promise<void> {
  if (ONLY === '' || ONLY === 'sensor') sensorBench();
  for (const [name, module, fn] of STAGES) {
    if (ONLY !== '' && ONLY !== name) continue;
    const path = `${ROOT}dist/bench/${module}`;
    if (!existsSync(path)) continue;
    process.stdout.write(`\n== ${name} ==\n`);
    const mod = (await import(path)) as Record<string, (() => Promise<void>) | undefined>;
    await mod[fn]?.();
  }
}

await main();
