/**
 * The packet recorder alone (issue 13): the same frames through the flow meter with and
 * without the recorder, passes alternated in one process, so the difference is what recording
 * costs (the copy into the write blocks, the segment index, the writes, the fsyncs), split
 * into user and system CPU of the whole process (the I/O threads included). Beside it, in the
 * same run: `tcpdump -r F -w FILE` (the floor: a plain copy through the page cache), nfpcapd
 * with and without `-p` (the difference is its pcap part), and `strace -c -f` of both
 * recorders for the syscalls. `--base DIST` alternates another build's recorder (an older
 * commit's `dist/`) with this one's, and checks that both store the same bytes.
 *
 * usage: npm run bench -- --only recorder [--rounds N] [--replay-rounds N]
 *        node dist/bench/recorder-alone.js [capture] [--rounds N] [--base DIR/dist] [--no-peers]
 *        [--pass metering|recorder|replay] (one pass, for a profiler)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SegmentIndex } from '../src/pcapstore/segment-index.js';
import { gcCount, opt, settleGc } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}bench/out`;
const args = process.argv.slice(2);
const FILE = args[0] && !args[0].startsWith('--') ? args[0] : `${OUT}/realistic-1360000.pcap`;
const ROUNDS = Number(opt('rounds', '3'));
const BASE = opt('base', '');

interface Build {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: modules of two builds, same shape
  capture: any;
  // biome-ignore lint/suspicious/noExplicitAny: modules of two builds, same shape
  sensor: any;
  // biome-ignore lint/suspicious/noExplicitAny: modules of two builds, same shape
  recorder: any;
  // biome-ignore lint/suspicious/noExplicitAny: modules of two builds, same shape
  packet: any;
}

async function load(name: string, dist: string): Promise<Build> {
  return {
    name,
    capture: await import(`${dist}/src/capture/capture-file.js`),
    sensor: await import(`${dist}/src/flow/sensor.js`),
    recorder: await import(`${dist}/src/pcapstore/recorder.js`),
    packet: await import(`${dist}/src/decode/packet.js`),
  };
}

gcCount();

interface Pass {
  /** CPU seconds of the whole process (every thread). */
  user: number;
  sys: number;
  wall: number;
  gc: number;
  packets: number;
}

/** One pass over the capture: flow metering, and the recorder when `dir` is given. */
async function pass(b: Build, dir: string | null): Promise<Pass> {
  await settleGc();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const g0 = gcCount();
  const sensor = new b.sensor.Sensor(() => {});
  let read = b.capture.readCaptureFile;
  let rec = null;
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
    rec = b.recorder.createPacketRecorder({ dir });
    await rec.start();
    sensor.addHook(rec);
    read = rec.reader(read);
  }
  await read(FILE, sensor.onFrame);
  sensor.finish();
  await rec?.stop();
  const c = process.cpuUsage(c0);
  await settleGc();
  return {
    user: c.user / 1e6,
    sys: c.system / 1e6,
    wall: (performance.now() - w0) / 1000,
    gc: gcCount() - g0,
    packets: sensor.counters.frames,
  };
}

/**
 * What the recorder is handed for each packet, taken once from a real pass (decoder and flow
 * table), so that the recorder alone can be fed the same packets again with nothing else
 * running: the frames stay where they lie in the file (read whole into memory), as they lie in
 * the reader's buffer in a real pass.
 */
interface Trace {
  file: Buffer;
  n: number;
  u32: Record<(typeof U32_FIELDS)[number], Uint32Array>;
  i32: Record<(typeof I32_FIELDS)[number], Int32Array>;
  // biome-ignore lint/suspicious/noExplicitAny: the flow table's contexts, as they were
  ctxs: any[];
}
const U32_FIELDS = [
  'off',
  'caplen',
  'wirelen',
  'tsSec',
  'tsNs',
  'linkType',
  'ipVer',
  'vlan0',
  'tunnelDepth',
  'srcPort',
  'dstPort',
  'gen',
] as const;
const I32_FIELDS = ['proto', 'vni', 'src', 'dst', 'slot', 'ctx'] as const;

async function takeTrace(b: Build): Promise<Trace> {
  const file = readFileSync(FILE);
  // Frame offsets in the file, in order (a classic pcap: 24-byte header, 16-byte records).
  const offs: number[] = [];
  for (let o = 24; o + 16 <= file.length; ) {
    const cap = file.readUInt32LE(o + 8);
    offs.push(o + 16);
    o += 16 + cap;
  }
  const n = offs.length;
  const u32 = Object.fromEntries(U32_FIELDS.map((k) => [k, new Uint32Array(n)])) as Trace['u32'];
  const i32 = Object.fromEntries(I32_FIELDS.map((k) => [k, new Int32Array(n)])) as Trace['i32'];
  const ctxs: unknown[] = [];
  const ctxIdx = new Map<unknown, number>();
  let i = 0;
  const sensor = new b.sensor.Sensor(() => {});
  sensor.addHook({
    name: 'trace',
    // biome-ignore lint/suspicious/noExplicitAny: the build's Packet and FlowLookup
    onPacket(p: any, flows: any, slot: number): void {
      u32.off[i] = offs[i]!;
      u32.caplen[i] = p.caplen;
      u32.wirelen[i] = p.wirelen;
      u32.tsSec[i] = p.tsSec;
      u32.tsNs[i] = p.tsNs;
      u32.linkType[i] = p.linkType;
      u32.ipVer[i] = p.ipVer;
      u32.vlan0[i] = p.vlan0;
      u32.tunnelDepth[i] = p.tunnelDepth;
      u32.srcPort[i] = p.srcPort;
      u32.dstPort[i] = p.dstPort;
      i32.proto[i] = p.proto;
      i32.vni[i] = p.vni;
      i32.src[i] = p.srcOff < 0 ? -1 : p.srcOff - p.frameOff;
      i32.dst[i] = p.dstOff < 0 ? -1 : p.dstOff - p.frameOff;
      i32.slot[i] = slot;
      if (slot >= 0) {
        u32.gen[i] = flows.generation(slot);
        const c = flows.context(slot);
        let k = ctxIdx.get(c);
        if (k === undefined) {
          k = ctxs.length;
          ctxs.push(c);
          ctxIdx.set(c, k);
        }
        i32.ctx[i] = k;
      }
      i++;
    },
  });
  await b.capture.readCaptureFile(FILE, sensor.onFrame);
  sensor.finish();
  if (i !== n) throw new Error(`trace: ${i} packets seen, ${n} records in the file`);
  return { file, n, u32, i32, ctxs };
}

/** The trace fed to one build's recorder (or to nothing when `dir` is null). */
async function replay(b: Build, t: Trace, dir: string | null): Promise<Pass> {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await settleGc();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const g0 = gcCount();
  const p = new b.packet.Packet();
  p.buf = t.file;
  let gen = 0;
  let ctx = 0;
  const flows = { generation: () => gen, context: () => t.ctxs[ctx] };
  const rec = dir ? b.recorder.createPacketRecorder({ dir }) : null;
  await rec?.start();
  const { u32, i32 } = t;
  const frame = { buf: t.file, off: 0, caplen: 0, wirelen: 0, tsSec: 0, tsNs: 0, linkType: 1 };
  const feed = (_path: string, onFrame: (f: typeof frame) => void, between?: () => unknown) => {
    let nextBetween = 4 << 20; // where the file reader would refill its 4 MiB buffer
    for (let i = 0; i < t.n; i++) {
      const off = u32.off[i]!;
      if (off >= nextBetween) {
        between?.();
        nextBetween += 4 << 20;
      }
      frame.off = off;
      onFrame(frame);
      p.frameOff = off;
      p.caplen = u32.caplen[i]!;
      p.wirelen = u32.wirelen[i]!;
      p.tsSec = u32.tsSec[i]!;
      p.tsNs = u32.tsNs[i]!;
      p.linkType = u32.linkType[i]!;
      p.ipVer = u32.ipVer[i]!;
      p.vlan0 = u32.vlan0[i]!;
      p.tunnelDepth = u32.tunnelDepth[i]!;
      p.srcPort = u32.srcPort[i]!;
      p.dstPort = u32.dstPort[i]!;
      p.proto = i32.proto[i]!;
      p.vni = i32.vni[i]!;
      const s = i32.src[i]!;
      const d = i32.dst[i]!;
      p.srcOff = s < 0 ? -1 : off + s;
      p.dstOff = d < 0 ? -1 : off + d;
      const slot = i32.slot[i]!;
      gen = u32.gen[i]!;
      ctx = i32.ctx[i]!;
      rec?.onPacket(p, flows, slot, 0);
    }
    return Promise.resolve({});
  };
  const read = rec ? rec.reader(feed) : feed;
  await read(FILE, () => {}, undefined);
  rec?.finish();
  await rec?.stop();
  const c = process.cpuUsage(c0);
  await settleGc();
  return {
    user: c.user / 1e6,
    sys: c.system / 1e6,
    wall: (performance.now() - w0) / 1000,
    gc: gcCount() - g0,
    packets: t.n,
  };
}

/**
 * SHA-256 of a store: the segments' bytes, and each index's metadata and arrays with flow ids
 * cut to their per-run counter (the flow table starts them at a random prefix each run).
 */
function digest(dir: string): { hash: string; bytes: number } {
  const h = createHash('sha256');
  let bytes = 0;
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.')) continue;
    bytes += statSync(`${dir}/${f}`).size;
    h.update(f);
    if (!f.endsWith('.idx')) {
      h.update(readFileSync(`${dir}/${f}`));
      continue;
    }
    const idx = SegmentIndex.read(`${dir}/${f}`);
    if (!idx) {
      h.update('unreadable');
      continue;
    }
    h.update(JSON.stringify(idx.meta));
    for (const [k, a] of Object.entries(idx.d).sort(([x], [y]) => (x < y ? -1 : 1))) {
      const v = k === 'flowId' ? (a as Float64Array).map((x) => x % 2 ** 31) : a;
      h.update(k).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  }
  return { hash: h.digest('hex').slice(0, 16), bytes };
}

function timed(cmd: string[]): { cpu: number; user: number; sys: number; wall: number; rssMb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...cmd], { encoding: 'utf8' });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) return { cpu: Number.NaN, user: Number.NaN, sys: Number.NaN, wall: Number.NaN, rssMb: 0 };
  return {
    user: Number(m[2]),
    sys: Number(m[3]),
    cpu: Number(m[2]) + Number(m[3]),
    wall: Number(m[1]),
    rssMb: Number(m[4]) / 1024,
  };
}

/** `strace -c -f` summary lines of a command: calls and seconds per syscall, top few. */
function straceSummary(cmd: string[]): string {
  const r = spawnSync('strace', ['-c', '-f', '-o', `${OUT}/strace.txt`, ...cmd], { stdio: 'ignore' });
  if (r.error || !existsSync(`${OUT}/strace.txt`)) return 'strace not installed';
  const lines = readFileSync(`${OUT}/strace.txt`, 'utf8').split('\n');
  const rows: string[] = [];
  for (const l of lines) {
    const m = /^\s*[\d.]+\s+([\d.]+)\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(l);
    if (m && ['read', 'pread64', 'write', 'pwrite64', 'writev', 'pwritev', 'fsync', 'openat'].includes(m[3]!))
      rows.push(`${m[3]} ${m[2]} calls ${m[1]} s`);
  }
  return rows.join(', ');
}

const f2 = (x: number): string => x.toFixed(2);

export async function benchRecorderAlone(): Promise<void> {
  if (!existsSync(FILE)) {
    process.stdout.write(`no capture ${FILE}: run npm run bench -- --only sensor once to generate it\n`);
    return;
  }
  mkdirSync(OUT, { recursive: true });
  spawnSync('sh', ['-c', `cat '${FILE}' > /dev/null`]);
  const builds = [await load('this build', `${ROOT}dist`)];
  const only = opt('pass', '');
  if (only) {
    // One pass, for a profiler: `--pass metering` or `--pass recorder`.
    if (only === 'replay') {
      // The trace is taken first; profile the replay from the output's second line on.
      const t = await takeTrace(builds[0]!);
      process.stdout.write('trace taken\n');
      const r = await replay(builds[0]!, t, `${OUT}/recorder-alone-pass`);
      rmSync(`${OUT}/recorder-alone-pass`, { recursive: true, force: true });
      process.stdout.write(`replay: ${f2(r.user)} user + ${f2(r.sys)} sys, ${r.gc} GC\n`);
      return;
    }
    const p = await pass(builds[0]!, only === 'recorder' ? `${OUT}/recorder-alone-pass` : null);
    rmSync(`${OUT}/recorder-alone-pass`, { recursive: true, force: true });
    process.stdout.write(`${only}: ${f2(p.user)} user + ${f2(p.sys)} sys, ${p.gc} GC\n`);
    return;
  }
  if (BASE) builds.push(await load('base', BASE));
  const size = statSync(FILE).size;
  process.stdout.write(
    `recorder alone on ${FILE} (${(size / 1e6).toFixed(0)} MB), ${ROUNDS} rounds, load ${(await import('node:os')).loadavg().map(f2).join(' ')}\n`,
  );
  // The recorder alone: the same packets replayed from a trace, nothing else running.
  const replayRounds = Number(opt('replay-rounds', '5'));
  if (replayRounds > 0) {
    const t = await takeTrace(builds[0]!);
    const got = new Map<string, Pass[]>();
    for (let r = 0; r < replayRounds; r++) {
      for (const b of builds) {
        const base = await replay(b, t, null);
        const p = await replay(b, t, `${OUT}/recorder-replay`);
        const d = { ...p, user: p.user - base.user, sys: p.sys - base.sys };
        got.set(b.name, [...(got.get(b.name) ?? []), d]);
        process.stdout.write(
          `  replay ${r + 1} ${b.name}: ${f2(d.user)} user + ${f2(d.sys)} sys (${f2(p.wall)} s wall, ${p.gc} GC)\n`,
        );
      }
    }
    rmSync(`${OUT}/recorder-replay`, { recursive: true, force: true });
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    for (const b of builds) {
      const l = got.get(b.name)!;
      const cpu = med(l.map((d) => d.user + d.sys));
      process.stdout.write(
        `${b.name}: recorder fed alone (replayed packets) ${f2(cpu)} CPU-s, median of ${replayRounds} (user ${f2(med(l.map((d) => d.user)))}, sys ${f2(med(l.map((d) => d.sys)))}; least ${f2(Math.min(...l.map((d) => d.user + d.sys)))}), ${(t.n / cpu / 1e6).toFixed(2)}M packets per CPU-s, ${med(l.map((d) => d.gc))} GC events per pass\n`,
      );
    }
  }
  // Per round and build, the recorder's cost is the pass with it less the pass without it,
  // run back to back; the median over rounds is reported (the machine is shared: a least-of
  // figure on each side would pair passes from different moments).
  const diffs = new Map<string, { user: number; sys: number; gc: number; packets: number }[]>();
  const digests = new Map<string, string>();
  await pass(builds[0]!, null); // warm the code
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of builds) {
      const m = await pass(b, null);
      const dir = `${OUT}/recorder-alone-${b.name.replace(/\W/g, '')}`;
      const p = await pass(b, dir);
      if (r === 0) {
        const d = digest(dir);
        digests.set(b.name, d.hash);
        process.stdout.write(`  ${b.name}: store ${d.hash}, ${(d.bytes / 1e6).toFixed(1)} MB written\n`);
      }
      rmSync(dir, { recursive: true, force: true });
      const l = diffs.get(b.name) ?? [];
      l.push({ user: p.user - m.user, sys: p.sys - m.sys, gc: p.gc - m.gc, packets: p.packets });
      diffs.set(b.name, l);
      process.stdout.write(
        `  round ${r + 1} ${b.name}: metering ${f2(m.user)} user + ${f2(m.sys)} sys (${m.gc} GC); with recorder ${f2(p.user)} + ${f2(p.sys)} (${f2(p.wall)} s wall, ${p.gc} GC): recorder ${f2(p.user + p.sys - m.user - m.sys)}\n`,
      );
    }
  }
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  for (const b of builds) {
    const l = diffs.get(b.name);
    if (!l) continue;
    const cpu = med(l.map((d) => d.user + d.sys));
    process.stdout.write(
      `${b.name}: recorder alone ${f2(cpu)} CPU-s, median of ${ROUNDS} (user ${f2(med(l.map((d) => d.user)))}, sys ${f2(med(l.map((d) => d.sys)))}; least ${f2(Math.min(...l.map((d) => d.user + d.sys)))}), ${(l[0]!.packets / cpu / 1e6).toFixed(2)}M packets per CPU-s, ${med(l.map((d) => d.gc))} more GC events per pass\n`,
    );
  }
  if (digests.size > 1)
    process.stdout.write(
      `stores byte-identical across builds: ${new Set(digests.values()).size === 1 ? 'yes' : 'NO'}\n`,
    );
  if (args.includes('--no-peers')) return;
  const tmp = `${OUT}/recorder-peers`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(`${tmp}/flows`, { recursive: true });
  mkdirSync(`${tmp}/flows2`, { recursive: true });
  mkdirSync(`${tmp}/pcap`, { recursive: true });
  const td = timed(['tcpdump', '-r', FILE, '-w', `${tmp}/out.pcap`]);
  rmSync(`${tmp}/out.pcap`, { force: true });
  const nfBoth = timed(['nfpcapd', '-r', FILE, '-w', `${tmp}/flows`, '-p', `${tmp}/pcap`]);
  const nfFlows = timed(['nfpcapd', '-r', FILE, '-w', `${tmp}/flows2`]);
  process.stdout.write(
    `tcpdump -r F -w FILE: ${f2(td.cpu)} CPU-s (${f2(td.user)} user, ${f2(td.sys)} sys)\n` +
      `nfpcapd -w -p: ${f2(nfBoth.cpu)} CPU-s (${f2(nfBoth.user)} + ${f2(nfBoth.sys)}), -w alone ${f2(nfFlows.cpu)} (${f2(nfFlows.user)} + ${f2(nfFlows.sys)}): its pcap part ${f2(nfBoth.cpu - nfFlows.cpu)} CPU-s (${f2(nfBoth.user - nfFlows.user)} user, ${f2(nfBoth.sys - nfFlows.sys)} sys)\n`,
  );
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  process.stdout.write(
    `strace -c, vantage pcap record: ${straceSummary([process.execPath, `${ROOT}bin/vantage.js`, 'pcap', 'record', FILE, '--store', `${tmp}/v`])}\n`,
  );
  process.stdout.write(
    `strace -c, tcpdump -w: ${straceSummary(['tcpdump', '-r', FILE, '-w', `${tmp}/out.pcap`])}\n`,
  );
  rmSync(tmp, { recursive: true, force: true });
  rmSync(`${OUT}/strace.txt`, { force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRecorderAlone();
