/**
 * Flow collector benchmark.
 *  1. Decode + sink rate on one core: synthetic NetFlow v9 / IPFIX / v5 datagrams (30 records
 *     each) decoded in a loop into a batching sink, records per second.
 *  2. Loopback load: a sender thread offers `rate` records/s (30 per datagram) to Vantage's
 *     collector on 127.0.0.1 for `seconds`, then the same load to nfcapd; an exact account:
 *     records sent = records delivered + drops counted (queue and kernel socket drops).
 *
 * usage (wired from bench/run.ts): benchCollect({ seconds: 20, rate: 400_000 })
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CollectDecoder } from '../src/collect/decoder.js';
import { createCollector } from '../src/collect/receiver.js';

const PER_DATAGRAM = 30;

/** Fields of the synthetic template: [id, length]. */
const FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [6, 1],
  [2, 4],
  [1, 4],
  [22, 4],
  [21, 4],
  [10, 2],
  [14, 2],
];
const REC = FIELDS.reduce((a, f) => a + f[1], 0);

/** A generator of synthetic export datagrams with correct sequence numbers. */
export class ExportGen {
  private seq = 0;
  private n = 0;
  constructor(
    private readonly version: 5 | 9 | 10,
    private readonly templateEvery = 64,
  ) {}

  next(): Buffer {
    const v = this.version;
    if (v === 5) return this.v5();
    const withT = this.n % this.templateEvery === 0;
    const hdr = v === 9 ? 20 : 16;
    const tlen = withT ? 8 + FIELDS.length * 4 : 0;
    const dlen = 4 + PER_DATAGRAM * REC;
    const b = Buffer.alloc(hdr + tlen + dlen);
    const now = Math.floor(Date.now() / 1000);
    b.writeUInt16BE(v, 0);
    if (v === 9) {
      b.writeUInt16BE(PER_DATAGRAM + (withT ? 1 : 0), 2);
      b.writeUInt32BE(1_000_000, 4);
      b.writeUInt32BE(now, 8);
      b.writeUInt32BE(this.seq, 12);
      b.writeUInt32BE(1, 16);
      this.seq = (this.seq + 1) >>> 0;
    } else {
      b.writeUInt16BE(b.length, 2);
      b.writeUInt32BE(now, 4);
      b.writeUInt32BE(this.seq, 8);
      b.writeUInt32BE(1, 12);
      this.seq = (this.seq + PER_DATAGRAM) >>> 0;
    }
    let o = hdr;
    if (withT) {
      b.writeUInt16BE(v === 9 ? 0 : 2, o);
      b.writeUInt16BE(tlen, o + 2);
      b.writeUInt16BE(256, o + 4);
      b.writeUInt16BE(FIELDS.length, o + 6);
      o += 8;
      for (const [id, len] of FIELDS) {
        b.writeUInt16BE(id, o);
        b.writeUInt16BE(len, o + 2);
        o += 4;
      }
    }
    b.writeUInt16BE(256, o);
    b.writeUInt16BE(dlen, o + 2);
    o += 4;
    for (let i = 0; i < PER_DATAGRAM; i++) {
      const k = this.n * PER_DATAGRAM + i;
      b.writeUInt32BE((0x0a000000 + (k & 0xffff)) >>> 0, o);
      b.writeUInt32BE((0xc0a80000 + ((k >>> 4) & 0xffff)) >>> 0, o + 4);
      b.writeUInt16BE(1024 + (k % 60000), o + 8);
      b.writeUInt16BE(443, o + 10);
      b[o + 12] = 6;
      b[o + 13] = 0x18;
      b.writeUInt32BE(10, o + 14);
      b.writeUInt32BE(5000, o + 18);
      b.writeUInt32BE(990_000, o + 22);
      b.writeUInt32BE(999_000, o + 26);
      b.writeUInt16BE(1, o + 30);
      b.writeUInt16BE(2, o + 32);
      o += REC;
    }
    this.n++;
    return b;
  }

  private v5(): Buffer {
    const b = Buffer.alloc(24 + PER_DATAGRAM * 48);
    b.writeUInt16BE(5, 0);
    b.writeUInt16BE(PER_DATAGRAM, 2);
    b.writeUInt32BE(1_000_000, 4);
    b.writeUInt32BE(Math.floor(Date.now() / 1000), 8);
    b.writeUInt32BE(this.seq, 16);
    this.seq = (this.seq + PER_DATAGRAM) >>> 0;
    for (let i = 0; i < PER_DATAGRAM; i++) {
      const o = 24 + i * 48;
      const k = this.n * PER_DATAGRAM + i;
      b.writeUInt32BE((0x0a000000 + (k & 0xffff)) >>> 0, o);
      b.writeUInt32BE(0xc0a80001, o + 4);
      b.writeUInt32BE(10, o + 16);
      b.writeUInt32BE(5000, o + 20);
      b.writeUInt32BE(990_000, o + 24);
      b.writeUInt32BE(999_000, o + 28);
      b.writeUInt16BE(1024 + (k % 60000), o + 32);
      b.writeUInt16BE(443, o + 34);
      b[o + 38] = 6;
    }
    this.n++;
    return b;
  }
}

export interface DecodeResult {
  protocol: string;
  communityId: boolean;
  records: number;
  seconds: number;
  recordsPerSec: number;
}

/** Decode + sink on one core (the main thread), `datagrams` of 30 records each. */
export function benchDecode(version: 5 | 9 | 10, communityId: boolean, datagrams = 40_000): DecodeResult {
  const gen = new ExportGen(version);
  const msgs: Buffer[] = [];
  for (let i = 0; i < 2000; i++) msgs.push(gen.next());
  let n = 0;
  let batch: unknown[] = [];
  const d = new CollectDecoder({ communityId }, (r) => {
    batch.push(r);
    if (batch.length >= 1024) {
      n += batch.length;
      batch = [];
    }
  });
  // warm up
  for (const m of msgs) d.decode(m, 0, m.length, '192.0.2.1', 2055, 0);
  n = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < datagrams; i++) {
    const m = msgs[i % msgs.length]!;
    d.decode(m, 0, m.length, '192.0.2.1', 2055, 0);
  }
  n += batch.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const protocol = version === 5 ? 'netflow5' : version === 9 ? 'netflow9' : 'ipfix';
  return { protocol, communityId, records: n, seconds: s, recordsPerSec: Math.round(n / s) };
}

// ---- loopback load --------------------------------------------------------------------------

interface SenderResult {
  datagrams: number;
  records: number;
  errors: number;
  seconds: number;
}

function runSender(): void {
  const { port, rate, seconds, version } = workerData as {
    port: number;
    rate: number;
    seconds: number;
    version: 9 | 10;
  };
  const gen = new ExportGen(version);
  const pool: Buffer[] = [];
  for (let i = 0; i < 4096; i++) pool.push(gen.next());
  // Sequence numbers must continue: regenerate datagrams lazily beyond the pool.
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  const perSec = rate / PER_DATAGRAM;
  let sent = 0;
  let ok = 0;
  let errors = 0;
  const t0 = Date.now();
  const tick = (): void => {
    const el = (Date.now() - t0) / 1000;
    const target = Math.min(Math.floor(perSec * el), Math.floor(perSec * seconds));
    while (sent < target) {
      const m = sent < pool.length ? pool[sent]! : gen.next();
      sent++;
      s.send(m, port, '127.0.0.1', (e) => {
        if (e) errors++;
        else ok++;
        if (ok + errors === Math.floor(perSec * seconds)) done();
      });
    }
    if (el < seconds) setTimeout(tick, 2);
  };
  const done = (): void => {
    s.close();
    const r: SenderResult = {
      datagrams: ok,
      records: ok * PER_DATAGRAM,
      errors,
      seconds: (Date.now() - t0) / 1000,
    };
    parentPort!.postMessage(r);
  };
  tick();
}

if (!isMainThread && (workerData as { collectSender?: boolean } | null)?.collectSender) runSender();

function send(port: number, rate: number, seconds: number, version: 9 | 10): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { collectSender: true, port, rate, seconds, version },
    });
    w.once('message', (r: SenderResult) => {
      resolve(r);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

export interface LoadResult {
  peer: string;
  protocol: string;
  offeredPerSec: number;
  seconds: number;
  sent: number;
  received: number;
  queueDrops: number;
  socketDrops: number;
  unaccounted: number;
  cpuSeconds: number | null;
  /** Vantage: share of the time the main event loop was busy (eventLoopUtilization). */
  mainLoopBusy?: number;
  /** Vantage with the decode thread: share of the time it was busy. */
  decodeThreadBusy?: number;
  /** Vantage: most datagrams waiting to be decoded at once. */
  queueHighWater?: number;
  /** Vantage with the decode thread: batches handed to it. */
  batches?: number;
}

async function loadVantage(
  rate: number,
  seconds: number,
  version: 9 | 10,
  decodeInWorker: boolean,
  communityId: boolean,
  linger?: number,
): Promise<LoadResult> {
  let received = 0;
  const c = createCollector(
    {
      host: '127.0.0.1',
      udpPorts: [0],
      tcpPorts: [],
      recvBufferSize: 32 * 1024 * 1024,
      decoder: { communityId },
      decodeInWorker,
      ...(linger !== undefined ? { workerBatchLingerMs: linger } : {}),
    },
    {
      sink: (b) => {
        received += b.length;
      },
    },
  );
  await c.start();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const wElu0 = c.decodeThread?.performance.eventLoopUtilization();
  const r = await send(c.addresses().udp[0]!, rate, seconds, version);
  // Until every datagram is received (or counted as dropped by the kernel) and decoded.
  const t0 = Date.now();
  for (;;) {
    c.flush();
    const st = c.stats();
    if ((st.received + st.socketDrops >= r.datagrams && st.queueDepth === 0) || Date.now() - t0 > 10_000)
      break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const elu = performance.eventLoopUtilization(elu0);
  const wElu = wElu0 ? c.decodeThread?.performance.eventLoopUtilization(wElu0) : undefined;
  const cpu = process.cpuUsage(cpu0);
  const st = c.stats();
  await c.stop();
  const queueDrops = st.totals.drops * PER_DATAGRAM;
  const socketDrops = st.socketDrops * PER_DATAGRAM;
  return {
    peer: `vantage ${decodeInWorker ? 'worker' : 'main  '} cid ${communityId ? 'on ' : 'off'}`,
    protocol: version === 9 ? 'netflow9' : 'ipfix',
    offeredPerSec: rate,
    seconds: r.seconds,
    sent: r.records,
    received,
    queueDrops,
    socketDrops,
    unaccounted: r.records - received - queueDrops - socketDrops,
    // includes the sender thread, which runs in this process
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    mainLoopBusy: elu.utilization,
    ...(wElu ? { decodeThreadBusy: wElu.utilization } : {}),
    queueHighWater: st.queueHighWater,
    ...(decodeInWorker ? { batches: st.workerBatches } : {}),
  };
}

function udpDrops(port: number): number {
  let drops = 0;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (Number.parseInt(cols[1]?.split(':')[1] ?? '', 16) === port)
          drops += Number(cols[cols.length - 1]) || 0;
      }
    } catch {
      // not Linux
    }
  }
  return drops;
}

async function loadNfcapd(rate: number, seconds: number, version: 9 | 10): Promise<LoadResult | null> {
  if (spawnSync('sh', ['-c', 'command -v nfcapd && command -v nfdump']).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'bench-nfcapd-'));
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const p: ChildProcess = spawn(
    'nfcapd',
    ['-B', '4194304', '-w', dir, '-b', '127.0.0.1', '-p', String(port)],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((r) => setTimeout(r, 800));
  const r = await send(port, rate, seconds, version);
  await new Promise((res) => setTimeout(res, 1000));
  const socketDrops = udpDrops(port) * PER_DATAGRAM;
  const exited = new Promise((res) => p.once('exit', res));
  p.kill('SIGTERM');
  await exited;
  // -I: the file's statistics block (Flows: N), without listing millions of records.
  const info = spawnSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8' }).stdout;
  const received = Number(/^Flows: (\d+)/m.exec(info)?.[1] ?? Number.NaN);
  rmSync(dir, { recursive: true, force: true });
  return {
    peer: 'nfcapd -B 4194304',
    protocol: version === 9 ? 'netflow9' : 'ipfix',
    offeredPerSec: rate,
    seconds: r.seconds,
    sent: r.records,
    received,
    queueDrops: 0,
    socketDrops,
    unaccounted: r.records - received - socketDrops,
    cpuSeconds: null,
  };
}

export interface CollectBenchOptions {
  /** Loopback load duration per run (s). */
  seconds?: number;
  /** Offered records/s. */
  rate?: number;
  /** Skip the nfcapd runs. */
  skipNfcapd?: boolean;
  /** Vantage runs under load: decode thread on and/or off, community_id on and/or off. */
  workerModes?: boolean[];
  communityIdModes?: boolean[];
  /** Only these protocols under load. */
  versions?: (9 | 10)[];
  /** Decode thread: workerBatchLingerMs (default: the collector's). */
  lingerMs?: number;
  /** Skip the decode-rate part. */
  skipDecode?: boolean;
  log?: (s: string) => void;
}

export async function benchCollect(
  opts: CollectBenchOptions = {},
): Promise<{ decode: DecodeResult[]; load: LoadResult[] }> {
  const log = opts.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const seconds = opts.seconds ?? 20;
  const rate = opts.rate ?? 400_000;
  const decode: DecodeResult[] = [];
  if (!opts.skipDecode) {
    log('collector decode + sink, one core (30 records/datagram):');
    for (const v of [5, 9, 10] as const)
      for (const cid of [false, true]) {
        const r = benchDecode(v, cid);
        decode.push(r);
        log(
          `  ${r.protocol.padEnd(9)} community_id ${cid ? 'on ' : 'off'}  ${(r.recordsPerSec / 1e6).toFixed(2)}M records/s`,
        );
      }
  }
  const load: LoadResult[] = [];
  log(`loopback load: ${rate} records/s offered for ${seconds} s:`);
  for (const v of opts.versions ?? ([9, 10] as const)) {
    const runs: LoadResult[] = [];
    for (const w of opts.workerModes ?? [true, false])
      for (const cid of opts.communityIdModes ?? [true])
        runs.push(await loadVantage(rate, seconds, v, w, cid, opts.lingerMs));
    if (!opts.skipNfcapd) {
      const n = await loadNfcapd(rate, seconds, v);
      if (n) runs.push(n);
    }
    for (const r of runs) {
      load.push(r);
      log(
        `  ${r.peer.padEnd(26)} ${r.protocol.padEnd(9)} sent ${r.sent} = received ${r.received} + queue drops ${r.queueDrops} + socket drops ${r.socketDrops} (unaccounted ${r.unaccounted})${r.cpuSeconds !== null ? `, cpu ${r.cpuSeconds.toFixed(1)} s` : ''}${r.mainLoopBusy !== undefined ? `, main loop busy ${(r.mainLoopBusy * 100).toFixed(0)}%${r.decodeThreadBusy !== undefined ? `, decode thread busy ${(r.decodeThreadBusy * 100).toFixed(0)}%` : ''}, queue high water ${r.queueHighWater}` : ''}${r.batches !== undefined ? `, ${(r.sent / PER_DATAGRAM / r.batches).toFixed(0)} datagrams/batch` : ''}`,
      );
    }
  }
  return { decode, load };
}

// `node dist/bench/collect.js [seconds] [rate]` runs it alone (COLLECT_BENCH_CID=both: also
// the load with community_id off; COLLECT_BENCH_LOAD_ONLY=1: skip the decode rates).
if (isMainThread && process.argv[1]?.endsWith('bench/collect.js')) {
  const [sec, rate] = process.argv.slice(2).map(Number);
  await benchCollect({
    ...(sec ? { seconds: sec } : {}),
    ...(rate ? { rate } : {}),
    ...(process.env.COLLECT_BENCH_CID === 'both' ? { communityIdModes: [true, false] } : {}),
    ...(process.env.COLLECT_BENCH_LOAD_ONLY ? { skipDecode: true } : {}),
    ...(process.env.COLLECT_BENCH_LINGER ? { lingerMs: Number(process.env.COLLECT_BENCH_LINGER) } : {}),
    ...(process.env.COLLECT_BENCH_WORKER_ONLY ? { workerModes: [true], skipNfcapd: true } : {}),
  });
}
