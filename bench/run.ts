/**
 * Benchmarks Vantage against peer tools on the same synthetic captures, in one run, warm in the
 * page cache, on two profiles: "realistic" (bench/gen-realistic.ts: 80,000 heavy-tailed flows,
 * DNS-heavy, ~17 packets per flow) and "long" (bench/gen-capture.ts: 3,000 concurrent
 * sessions of ~36 packets). For each: the main job (`ingest --store`: flows + L7 + records
 * stored + packets recorded) beside nfpcapd (flows + pcap), flows only beside softflowd,
 * flows + L7, and tcpdump as the floor. Prints CPU seconds (user + sys, all threads: the figure
 * that survives a shared machine), wall seconds, peak RSS, GC count per million packets
 * (`--trace-gc`), records/s into the store, and each ratio to the peer measured in the same run.
 *
 * usage: npm run bench [-- --profile realistic|long|both] [--packets N] [--runs R] [--tshark]
 *        [--only sensor|store|pcapstore|collect|collect-store|live|events|intel|policy|bus|detect|scale|auth|flow-records|recorder|l7-records]
 *        (stage benches take their own options, e.g. --store-gb 10 for the packet store)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from './gen-capture.js';
import { generateRealistic } from './gen-realistic.js';
import { opt } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}bench/out`;
const args = process.argv.slice(2);
const RUNS = Number(opt('runs', '2'));
const ONLY = opt('only', '');
const PROFILE = opt('profile', 'both');

interface Result {
  tool: string;
  wall: number;
  /** user + sys seconds of the process and its threads. */
  cpu: number;
  rssMb: number;
  /** GC events (scavenges and mark-compacts) and their total pause, with --trace-gc. */
  gc?: { count: number; ms: number };
  stdout?: string;
  note?: string;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const failed = (tool: string, note: string): Result => ({
  tool,
  wall: Number.NaN,
  cpu: Number.NaN,
  rssMb: 0,
  note,
});

/**
 * Run a command under /usr/bin/time `runs` times; keep the run with the least CPU time (the
 * machine is shared, so CPU time is steadier than wall time). `before` runs ahead of each run
 * (a fresh output directory).
 */
function measure(tool: string, cmd: string[], o: { runs?: number; before?: () => void } = {}): Result {
  let best: Result | null = null;
  for (let i = 0; i < (o.runs ?? RUNS); i++) {
    o.before?.();
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...cmd], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m)
      return failed(tool, `failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    const res: Result = {
      tool,
      wall: Number(m[1]),
      cpu: Number(m[2]) + Number(m[3]),
      rssMb: Number(m[4]) / 1024,
      stdout: r.stdout,
    };
    if (cmd.includes('--trace-gc')) {
      let count = 0;
      let ms = 0;
      for (const line of r.stdout.split('\n')) {
        const g = /ms: (?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark)[^,]*, ([\d.]+) \/ /.exec(line);
        if (g) {
          count++;
          ms += Number(g[1]);
        }
      }
      res.gc = { count, ms };
    }
    if (!best || res.cpu < best.cpu) best = res;
  }
  return best!;
}

interface Profile {
  name: string;
  file: string;
  packets: number;
  make: (file: string, packets: number) => void;
}

function sensorBench(p: Profile): void {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(p.file)) {
    process.stdout.write(`generating ${p.file} (${p.packets} packets)...\n`);
    p.make(p.file, p.packets);
  }
  const bytes = statSync(p.file).size;
  execFileSync('sh', ['-c', `cat '${p.file}' > /dev/null`]); // warm the page cache
  const node = process.execPath;
  const vantage = [node, '--trace-gc', `${ROOT}bin/vantage.js`, 'ingest', p.file];
  const dir = `${OUT}/run-store`;
  const fresh = (): void => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(`${dir}/flows`, { recursive: true });
    mkdirSync(`${dir}/pcap`, { recursive: true });
  };
  const missing = (pkg: string): Result => failed(pkg, `not installed (Debian package ${pkg})`);
  const main = measure(
    'vantage ingest --store (flows + L7 + records + packets)',
    [...vantage, '--store', `${dir}/v`],
    {
      before: fresh,
    },
  );
  // The same job with decode, flows and L7 on a worker thread (same rows, same packets).
  const withWorker = measure(
    'vantage ingest --store --workers 1 (decode, flows, L7 on a worker)',
    [...vantage, '--store', `${dir}/v`, '--workers', '1'],
    { before: fresh },
  );
  const nfpcapd = have('nfpcapd')
    ? measure(
        'nfpcapd -r -w -p (flows + pcap, C)',
        ['nfpcapd', '-r', p.file, '-w', `${dir}/flows`, '-p', `${dir}/pcap`],
        {
          before: fresh,
        },
      )
    : missing('nfdump');
  // The same job without the packet recorder: the difference is what recording packets costs.
  const noPackets = measure(
    'vantage ingest --store --no-packets (flows + L7 + records)',
    [...vantage, '--store', `${dir}/v`, '--no-packets'],
    { before: fresh },
  );
  rmSync(dir, { recursive: true, force: true });
  const l7 = measure('vantage ingest --no-records (flows + L7)', [...vantage, '--no-records']);
  const flows = measure('vantage ingest --no-records --no-l7 (flows)', [
    ...vantage,
    '--no-records',
    '--no-l7',
  ]);
  const l7bare = measure('vantage ingest --no-records --no-detect (flows + L7, no detectors)', [
    ...vantage,
    '--no-records',
    '--no-detect',
  ]);
  // The detectors read every flow record; without them the line is flow metering alone.
  const bare = measure('vantage ingest --no-records --no-l7 --no-detect (flow metering alone)', [
    ...vantage,
    '--no-records',
    '--no-l7',
    '--no-detect',
  ]);
  const softflowd = have('softflowd')
    ? measure('softflowd -r -v 9 -c none -m 1000000 (flows, C)', [
        'softflowd',
        '-r',
        p.file,
        '-v',
        '9',
        '-c',
        'none',
        '-m',
        '1000000',
        '-n',
        '127.0.0.1:9',
      ])
    : missing('softflowd');
  const tcpdump = have('tcpdump')
    ? measure('tcpdump -r -w /dev/null', ['tcpdump', '-r', p.file, '-w', '/dev/null'])
    : missing('tcpdump');
  const results = [main, withWorker, nfpcapd, noPackets, l7, l7bare, flows, bare, softflowd, tcpdump];
  if (args.includes('--tshark') && have('tshark'))
    results.push(
      measure('tshark -q -z conv,tcp', ['tshark', '-r', p.file, '-q', '-z', 'conv,tcp'], { runs: 1 }),
    );

  process.stdout.write(
    `\n== ${p.name}: ${p.packets} packets, ${(bytes / 1e9).toFixed(2)} GB, mean ${Math.round(bytes / p.packets)} B/packet; least CPU of ${RUNS} runs, whole process ==\n\n`,
  );
  const rows = [['tool', 'CPU s', 'Mpkt/CPU-s', 'wall s', 'Mpkt/s wall', 'peak MB', 'GC/Mpkt', 'GC ms']];
  for (const r of results) {
    if (Number.isNaN(r.cpu)) {
      rows.push([r.tool, '-', '-', '-', '-', '-', '-', r.note ?? '']);
      continue;
    }
    rows.push([
      r.tool,
      r.cpu.toFixed(2),
      (p.packets / r.cpu / 1e6).toFixed(2),
      r.wall.toFixed(2),
      (p.packets / r.wall / 1e6).toFixed(2),
      r.rssMb.toFixed(0),
      r.gc ? ((r.gc.count * 1e6) / p.packets).toFixed(0) : '',
      r.gc ? r.gc.ms.toFixed(0) : '',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}\n`);

  const ratio = (v: Result, peer: Result, goal: string): string =>
    Number.isNaN(v.cpu) || Number.isNaN(peer.cpu)
      ? '-'
      : `${(peer.cpu / v.cpu).toFixed(2)}× the peer's packets per CPU-second, ${(peer.wall / v.wall).toFixed(2)}× wall (goal ${goal})`;
  process.stdout.write(
    `\nmain job vs nfpcapd: ${ratio(main, nfpcapd, '≥ 1×, and ≥ 1M packets/s, peak < 400 MB')}\n`,
  );
  process.stdout.write(`main job with a worker thread vs nfpcapd: ${ratio(withWorker, nfpcapd, '-')}\n`);
  process.stdout.write(
    `main job, worker path vs one thread: ${ratio(withWorker, main, 'wall roughly halved')}\n`,
  );
  const threads = (r: Result): string => {
    const m = /\{"files".*\}/.exec(r.stdout ?? '');
    const c = m ? (JSON.parse(m[0]) as { cpu_s?: { main: number; workers: number[] } }).cpu_s : undefined;
    return c ? `main thread ${c.main} s, workers ${c.workers.join(' + ')} s` : '-';
  };
  process.stdout.write(
    `main job CPU by thread (during the ingest; GC helpers and I/O threads are the rest): ${threads(withWorker)}\n`,
  );
  process.stdout.write(`flows only vs softflowd: ${ratio(flows, softflowd, '≥ 2×')}\n`);
  process.stdout.write(`flow metering alone (no detectors) vs softflowd: ${ratio(bare, softflowd, '-')}\n`);
  process.stdout.write(`flows + L7 vs softflowd: ${ratio(l7, softflowd, '≥ 1×')}\n`);
  if (![main, noPackets, l7, l7bare, flows, bare].some((r) => Number.isNaN(r.cpu))) {
    const part = (a: Result, b: Result): string => `${(a.cpu - b.cpu).toFixed(2)} s`;
    process.stdout.write(
      `where the main job's CPU goes (differences of the lines above): packet recorder ${part(main, noPackets)}, records into the store ${part(noPackets, l7)}, detectors ${part(l7, l7bare)}, L7 ${part(l7bare, bare)}, reading + decoding + flow metering ${bare.cpu.toFixed(2)} s\n`,
    );
  }
  const summary = /\{"files".*\}/.exec(main.stdout ?? '');
  if (summary) {
    const s = JSON.parse(summary[0]) as { records: Record<string, number>; elapsed_s: number };
    const n = Object.values(s.records).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `records into the store: ${n} in ${s.elapsed_s} s = ${Math.round(n / s.elapsed_s)} records/s wall, ${Math.round(n / main.cpu)} per CPU-second of the whole job\n`,
    );
  }
}

const PROFILES: Profile[] = [
  {
    name: 'realistic',
    packets: Number(opt('packets', '1360000')),
    file: '',
    make: (f, n) => void generateRealistic(f, { packets: n }),
  },
  { name: 'long', packets: Number(opt('packets', '1600000')), file: '', make: (f, n) => void generate(f, n) },
];
for (const p of PROFILES) p.file = `${OUT}/${p.name === 'long' ? 'synthetic' : p.name}-${p.packets}.pcap`;

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
  ['flow-records', 'flow-records.js', 'benchFlowRecords'],
  ['recorder', 'recorder-alone.js', 'benchRecorderAlone'],
  ['l7-records', 'l7-records.js', 'benchL7Records'],
];

async function main(): Promise<void> {
  if (ONLY === '' || ONLY === 'sensor')
    for (const p of PROFILES) if (PROFILE === 'both' || PROFILE === p.name) sensorBench(p);
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
