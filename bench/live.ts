/**
 * Live benchmarks (each part ≤ 30 s):
 *  1. mirror → broker → 2 targets on loopback: a generator thread sends VXLAN-mirrored packets
 *     as fast as it can, the receiver feeds the broker, the broker delivers to two VXLAN sinks
 *     (filter 'tcp'; everything sliced to 128 B). Exact accounting at every hop:
 *       generator sent     = receiver got + receiver socket drops + loopback backlog drops
 *       target matched     = target sent + target drops (counted by the broker)
 *       target sent        = sink got + sink socket drops + loopback backlog drops
 *  2. live capture packets/s, single thread vs the worker pipeline: tcpreplay at top speed on
 *     a veth pair inside a namespace made for the bench; also the pipeline alone from a file.
 *
 * usage: node dist/bench/live.js      (or through bench/run.ts)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createBroker } from '../src/broker/index.js';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { pcapAvailable } from '../src/capture/live.js';
import {
  createVxlanReceiver,
  loadUdpBatchBinding,
  type MirrorReceiver,
  udpSocketDrops,
} from '../src/capture/mirror.js';
import { RingReceiver } from '../src/capture/mirror-ring.js';
import { FlowSamplingMarks } from '../src/capture/sampling-marks.js';
import { createInlinePipeline, type Pipeline } from '../src/capture/workers/pipeline.js';
import { createThreadedPipeline, type ThreadedPipeline } from '../src/capture/workers/threaded.js';
import { createSensor, type RecordSink } from '../src/flow/sensor.js';
import { generate } from './gen-capture.js';
import { runVxlanSend, vxlanSendPath } from './vxlan-send.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}bench/out/`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Packets the kernel dropped from per-CPU receive backlogs (loopback goes through them). */
function softnetDrops(): number {
  try {
    return readFileSync('/proc/net/softnet_stat', 'latin1')
      .trim()
      .split('\n')
      .reduce((s, l) => s + Number.parseInt(l.split(/\s+/)[1] ?? '0', 16), 0);
  } catch {
    return 0;
  }
}

/** Frames of a capture, for the generator. */

/** Run the paced VXLAN sender on its own thread until it has sent; what it sent and failed. */
async function sendFrom(
  workerData: Record<string, unknown>,
): Promise<{ sent: number; errors: number; cpu?: number }> {
  const gen = new Worker(GENERATOR, { eval: true, workerData });
  const g = await new Promise<{ sent: number; errors: number; cpu?: number }>((r) => gen.once('message', r));
  await gen.terminate();
  return g;
}

/** Until the receiver has taken what its socket holds: its count stops moving. */
async function untilQuiet(rx: { counters: { received: number } }): Promise<void> {
  let last = -1;
  while (rx.counters.received !== last) {
    last = rx.counters.received;
    await sleep(200);
  }
}

async function loadFrames(path: string, max: number): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  await readCaptureFile(path, (f) => {
    if (frames.length < max && f.linkType === 1)
      frames.push(Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)));
  });
  return frames;
}

const GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { frames, port, seconds, vni, addon, pps, vniPerLoop } = workerData;
const pkts = frames.map((f) => { const b = Buffer.alloc(8 + f.length); b.writeUInt32BE(0x08000000, 0); b.writeUInt32BE(vni << 8, 4); Buffer.from(f).copy(b, 8); return b; });
const end = Date.now() + seconds * 1000;
if (addon) {
  // Batched: every frame once in one buffer, sendmmsg of 256 datagrams per call.
  const b = require(addon);
  const h = b.udpOpen(4, '', -1, 0, 4 << 20);
  b.connect(h, '127.0.0.1', port);
  const total = pkts.reduce((s, p) => s + p.length, 0);
  const buf = Buffer.allocUnsafeSlow(total);
  const table = new Uint32Array(2 * pkts.length);
  let o = 0;
  pkts.forEach((p, i) => { p.copy(buf, o); table[2 * i] = o; table[2 * i + 1] = p.length; o += p.length; });
  let sent = 0, errors = 0, i = 0, loop = 0;
  const t0 = Date.now();
  const pump = () => {
    if (Date.now() >= end) { b.close(h); const st = require('node:fs').readFileSync('/proc/thread-self/stat', 'latin1'); const x = st.slice(st.lastIndexOf(')') + 2).split(' '); parentPort.postMessage({ sent, errors, cpu: (Number(x[11]) + Number(x[12])) / 100 }); return; }
    const sent0 = sent;
    // Paced (pps > 0): never ahead of pps × elapsed, so the offered rate is the one asked for.
    const due = pps > 0 ? Math.floor((pps * (Date.now() - t0)) / 1000) - sent : 256;
    for (let k = 0; k < (pps > 0 ? 64 : 1) && due > 0; k++) {
      const count = Math.min(256, pkts.length - i, pps > 0 ? due - (sent - sent0) : 256);
      if (count <= 0) break;
      let n = 0;
      try { n = b.sendBatch(h, buf, table, i, count); } catch { errors++; n = 1; sent--; }
      sent += n;
      i = (i + n) % pkts.length;
      // Each pass over the capture under a VNI of its own: new flows, as a network makes them,
      // rather than the same 5-tuples again (which overload sampling would decide only once).
      if (i === 0 && vniPerLoop) {
        loop++;
        for (let k = 0; k < pkts.length; k++) buf.writeUIntBE((vni + loop) & 0xffffff, table[2 * k] + 4, 3);
      }
      if (n === 0) break;
    }
    setImmediate(pump);
  };
  pump();
} else {
  const s = dgram.createSocket('udp4');
  let sent = 0, errors = 0, inflight = 0, i = 0;
  s.connect(port, '127.0.0.1', () => {
    try { s.setSendBufferSize(4 << 20); } catch {}
    const cb = (e) => { inflight--; if (e) errors++; else sent++; };
    const pump = () => {
      if (Date.now() >= end) { const wait = () => inflight > 0 ? setTimeout(wait, 5) : (s.close(), parentPort.postMessage({ sent, errors })); wait(); return; }
      while (inflight < 512) { inflight++; s.send(pkts[i++ % pkts.length], cb); }
      setImmediate(pump);
    };
    pump();
  });
}
`;

const SINK = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { addon } = workerData;
let got = 0;
if (addon) {
  const b = require(addon);
  const h = b.udpOpen(4, '127.0.0.1', 0, 4 << 20, 0);
  const buf = Buffer.allocUnsafeSlow(2048 * 512), meta = new Uint32Array(12 * 512);
  b.poll(h, () => { for (let r = 0; r < 64; r++) { const n = b.recvBatch(h, buf, meta, 2048, 0); got += n; if (n < 512) break; } });
  parentPort.postMessage({ port: b.address(h).port });
  parentPort.on('message', () => { b.close(h); parentPort.postMessage({ got }); });
} else {
  const s = dgram.createSocket('udp4');
  s.on('message', () => { got++; });
  s.bind(0, '127.0.0.1', () => {
    try { s.setRecvBufferSize(4 << 20); } catch {}
    parentPort.postMessage({ port: s.address().port });
  });
  parentPort.on('message', () => { s.close(); parentPort.postMessage({ got }); });
}
`;

/** The addon's path for the bench threads when it has batched UDP I/O, else null. */
function addonPath(): string | null {
  return loadUdpBatchBinding() ? `${ROOT}native/pcap` : null;
}

interface Sink {
  port: number;
  stop(): Promise<number>;
}

async function startSink(addon: string | null): Promise<Sink> {
  const w = new Worker(SINK, { eval: true, workerData: { addon } });
  const port = await new Promise<number>((r) => w.once('message', (m: { port: number }) => r(m.port)));
  return {
    port,
    async stop() {
      w.postMessage('stop');
      const got = await new Promise<number>((r) => w.once('message', (m: { got: number }) => r(m.got)));
      await w.terminate();
      return got;
    },
  };
}

export interface BrokerBenchResult {
  /** How the receiver reads and the targets send: 'recvmmsg/sendmmsg' or 'dgram'. */
  io: string;
  seconds: number;
  generatorSent: number;
  received: number;
  receiverSocketDrops: number;
  receivePps: number;
  targets: Array<{
    name: string;
    matched: number;
    sent: number;
    brokerDrops: Record<string, number>;
    delivered: number;
    sinkSocketDrops: number;
  }>;
  backlogDrops: number;
  balanced: boolean;
}

/**
 * One run; `dgram` forces the node:dgram receiver and deliveries (VANTAGE_DGRAM=1) so before
 * and after are measured in the same process. The generator and the sinks use the addon's
 * batched I/O whenever it is there, so the offered load is the same for both.
 */
export async function benchBroker(frames: Buffer[], seconds = 8, dgram = false): Promise<BrokerBenchResult> {
  const prevEnv = process.env.VANTAGE_DGRAM;
  if (dgram) process.env.VANTAGE_DGRAM = '1';
  try {
    return await benchBrokerRun(frames, seconds);
  } finally {
    if (prevEnv === undefined) delete process.env.VANTAGE_DGRAM;
    else process.env.VANTAGE_DGRAM = prevEnv;
  }
}

async function benchBrokerRun(frames: Buffer[], seconds: number): Promise<BrokerBenchResult> {
  const io = loadUdpBatchBinding() ? 'recvmmsg/sendmmsg' : 'dgram';
  const prevEnv = process.env.VANTAGE_DGRAM;
  delete process.env.VANTAGE_DGRAM;
  const addon = addonPath();
  if (prevEnv !== undefined) process.env.VANTAGE_DGRAM = prevEnv;
  const sa = await startSink(addon);
  const sb = await startSink(addon);
  const broker = createBroker();
  await broker.addTarget({
    name: 'tcp-only',
    filter: 'tcp',
    deliver: { type: 'vxlan', host: '127.0.0.1', port: sa.port, vni: 1 },
  });
  await broker.addTarget({
    name: 'all-sliced',
    snaplen: 128,
    deliver: { type: 'vxlan', host: '127.0.0.1', port: sb.port, vni: 2 },
  });
  await broker.start();
  const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0 }, broker.onFrame);
  await rx.start();
  const port = rx.address().port;
  const backlog0 = softnetDrops();
  const t0 = performance.now();
  const g = await sendFrom({ frames, port, seconds, vni: 77, addon });
  // Let the receiver drain its socket, then the targets their queues.
  await untilQuiet(rx);
  const secs = (performance.now() - t0) / 1000;
  const rxDrops = udpSocketDrops(port, '127.0.0.1');
  await rx.stop();
  await broker.stop();
  await sleep(200);
  const sinkDropsA = udpSocketDrops(sa.port, '127.0.0.1');
  const sinkDropsB = udpSocketDrops(sb.port, '127.0.0.1');
  const gotA = await sa.stop();
  const gotB = await sb.stop();
  const backlog = softnetDrops() - backlog0;
  const st = broker.stats();
  const targets = st.targets.map((t, i) => ({
    name: t.name,
    matched: t.matched,
    sent: t.sent,
    brokerDrops: t.dropReasons,
    delivered: i === 0 ? gotA : gotB,
    sinkSocketDrops: i === 0 ? sinkDropsA : sinkDropsB,
  }));
  const lostAfterSend =
    g.sent -
    rx.counters.received -
    rxDrops +
    targets.reduce((s, t) => s + t.sent - t.delivered - t.sinkSocketDrops, 0);
  const balanced =
    lostAfterSend === backlog &&
    st.targets.every((t) => t.matched === t.sent + t.dropped + t.deduplicated && t.pending === 0);
  return {
    io,
    seconds: Math.round(secs * 100) / 100,
    generatorSent: g.sent,
    received: rx.counters.received,
    receiverSocketDrops: rxDrops,
    receivePps: Math.round(rx.counters.received / secs),
    targets,
    backlogDrops: backlog,
    balanced,
  };
}

export interface MirrorSensorRun {
  offeredPps: number;
  /** The generator's own count (sendmmsg accepted), and its real rate. */
  sent: number;
  sentPps: number;
  received: number;
  socketDrops: number;
  backlogDrops: number;
  /** Flow and L7 records the sensor emitted. */
  records: number;
  /** CPU seconds of this thread (receiver, and the sensor when inline; not the generator's). */
  cpuSeconds: number;
  seconds: number;
  rcvbufGranted: number;
  /** Frames the threaded pipeline dropped for want of a free batch buffer, by reason. */
  pipelineDrops: Record<string, number>;
  /** With the receive thread: datagrams its ring had no room for, and those sampling left out. */
  ringFull: number;
  sampledOut: number;
  /** Highest sampling factor N seen during the run (polled every 100 ms), and at the end. */
  maxSampling: number;
  /** CPU seconds of the receive thread (0 without it). */
  rxCpuSeconds: number;
  /** Ring bytes used at most, of its data area. */
  ringHighWater: number;
  ringSize: number;
  /** CPU seconds of the sender's thread (sendmmsg; on loopback the kernel's delivery into the socket is in them). */
  senderCpuSeconds: number;
  /** Whether the receive thread runs at its raised priority (nice -5; needs root). */
  niceApplied: boolean;
  realtimeApplied: boolean;
  /** Which sender ran: 'c' (vxlan_send process) or 'js' (worker thread). */
  sender: string;
  /** CPU seconds of the pipeline worker threads (workers > 0). */
  workerCpuSeconds: number;
  balanced: boolean;
}

/** How the mirror is read in a run: this thread (recvmmsg), or the receive thread and a ring. */
export interface MirrorMode {
  ring?: { bytes: number; sampling: boolean; realtime?: number };
  /**
   * The capture `frames` came from: the C sender (vxlan_send, a process of its own) sends its
   * first `frames.length` frames; without it (or MIRROR_SENDER=js) the JavaScript sender thread.
   */
  pcap?: string;
}

/**
 * The mirror path of `vantage start`: VXLAN datagrams of the realistic capture, paced at
 * `pps` by a generator thread, into the receiver and the inline sensor (decode → flows → L7) on
 * this thread. Exact: sent = received + socket drops + loopback backlog drops.
 */
export async function benchMirrorSensor(
  frames: Buffer[],
  pps: number,
  seconds: number,
  rcvbuf = 8 << 20,
  workers = 0,
  mode: MirrorMode = {},
): Promise<MirrorSensorRun> {
  const addon = addonPath();
  let records = 0;
  const sink = (): void => {
    records++;
  };
  // Flow, DNS, TLS and HTTP records as column batches, as `vantage start`'s sources hand them to
  // the store (from a worker they come by transfer, not by structured clone); MIRROR_COLUMNS=0
  // for objects.
  const cols =
    process.env.MIRROR_COLUMNS === '0'
      ? {}
      : {
          columns: (_t: string, c: { rows: ArrayLike<number> }): void => {
            records += c.rows.length;
          },
          columnRows: 4096,
        };
  // The receiver's per-packet sampling factor goes on the flow records as in `vantage start`.
  let rx: (MirrorReceiver & Partial<RingReceiver>) | null = null;
  const marks = mode.ring?.sampling
    ? new FlowSamplingMarks(
        {
          get factor() {
            return rx?.factor ?? 1;
          },
        },
        false,
      )
    : null;
  // workers > 0: the receiver on this thread hands batches to the threaded pipeline (decode,
  // flows and L7 on worker threads), as a capture source with `workers` does.
  // With a worker, as `vantage start`'s mirror sources: frames wait in the ring while the
  // worker has no free batch buffer.
  let resume: () => void = () => {};
  const threaded =
    workers > 0
      ? createThreadedPipeline(sink, {
          flow: {},
          l7: true,
          workers,
          onRoom: () => resume(),
          ...cols,
          ...(marks ? { samplingFactor: () => rx?.factor ?? 1 } : {}),
          // MIRROR_BATCH=BYTES,PACKETS,BUFFERS: the batches between this thread and the worker.
          ...batchShape(),
        })
      : null;
  const pipeline: Pipeline = threaded
    ? threaded
    : marks
      ? inlineWithHook(sink, marks)
      : createInlinePipeline(sink, { flow: {}, l7: true, ...cols });
  await pipeline.ready;
  rx = createVxlanReceiver(
    {
      host: '127.0.0.1',
      port: 0,
      rcvbuf,
      ...(mode.ring
        ? {
            ring: {
              ringBytes: mode.ring.bytes,
              sampling: mode.ring.sampling,
              maxSampling: 64,
              realtime: mode.ring.realtime ?? 0,
            },
          }
        : {}),
    },
    pipeline.onFrame,
    threaded ? { ready: () => threaded.hasRoom() } : {},
  ) as MirrorReceiver & Partial<RingReceiver>;
  await rx.start();
  const ringRx = rx instanceof RingReceiver ? rx : null;
  if (ringRx) resume = ringRx.resume;
  if (mode.ring && !ringRx) throw new Error('the addon has no receive thread (npm rebuild vantage-pcap)');
  const port = rx.address().port;
  const granted = socketRcvbuf(port);
  const backlog0 = softnetDrops();
  const cpu0 = mainThreadCpu();
  const tid = ringRx?.threadId ?? 0;
  const rxCpu0 = tid ? threadCpu(tid) : 0;
  let maxN = 1;
  const poll = setInterval(() => {
    if (ringRx) maxN = Math.max(maxN, ringRx.refreshStats().sampling);
  }, 100);
  const t0 = performance.now();
  const useC = mode.pcap !== undefined && vxlanSendPath() !== null && process.env.MIRROR_SENDER !== 'js';
  let g: { sent: number; errors: number; cpu?: number };
  let sendSecs: number;
  if (useC) {
    const r = await runVxlanSend({
      pcap: mode.pcap!,
      to: `127.0.0.1:${port}`,
      rate: pps,
      seconds,
      frames: frames.length,
      vni: 77,
      ownSession: true,
    });
    g = { sent: r.sent, errors: r.errors, cpu: r.cpuUser + r.cpuSys };
    sendSecs = r.seconds;
  } else {
    g = await sendFrom({ frames, port, seconds, vni: 77, addon, pps, vniPerLoop: true });
    sendSecs = (performance.now() - t0) / 1000;
  }
  await untilQuiet(rx);
  if (ringRx) while (ringRx.ringUsed > 0) await sleep(100);
  clearInterval(poll);
  const secs = (performance.now() - t0) / 1000;
  const drops = udpSocketDrops(port, '127.0.0.1');
  const rxCpu = tid ? threadCpu(tid) - rxCpu0 : 0;
  await rx.stop();
  const pc = await pipeline.finish();
  const cpu = mainThreadCpu() - cpu0;
  let workerCpu = 0;
  for (const d of (pipeline as Partial<ThreadedPipeline>).reports ?? []) workerCpu += d.cpuSeconds;
  const backlog = softnetDrops() - backlog0;
  const c = rx.counters as MirrorReceiver['counters'] & Partial<RingReceiver['counters']>;
  const ringFull = c.ringFull ?? 0;
  const sampledOut = c.sampledOut ?? 0;
  let malformed = 0;
  for (const n of Object.values(c.malformed)) malformed += n;
  return {
    offeredPps: pps,
    sent: g.sent,
    sentPps: Math.round(g.sent / sendSecs),
    received: rx.counters.received,
    socketDrops: drops,
    backlogDrops: backlog,
    records,
    cpuSeconds: cpu,
    seconds: Math.round(secs * 100) / 100,
    rcvbufGranted: granted,
    pipelineDrops: pc.drops,
    ringFull,
    sampledOut,
    maxSampling: maxN,
    rxCpuSeconds: rxCpu,
    ringHighWater: ringRx?.ringCounters().highWater ?? 0,
    ringSize: ringRx?.ringSize ?? 0,
    niceApplied: ringRx?.niceApplied ?? false,
    realtimeApplied: ringRx?.realtimeApplied ?? false,
    senderCpuSeconds: g.cpu ?? 0,
    sender: useC ? 'c' : 'js',
    workerCpuSeconds: workerCpu,
    balanced:
      g.sent === c.received + drops + backlog &&
      (!ringRx || c.received === c.delivered + ringFull + sampledOut + malformed),
  };
}

function batchShape(): { batchBytes?: number; batchPackets?: number; buffersPerWorker?: number } {
  const v = process.env.MIRROR_BATCH?.split(',').map(Number);
  if (v?.length !== 3) return {};
  return { batchBytes: v[0]!, batchPackets: v[1]!, buffersPerWorker: v[2]! };
}

/** The inline pipeline with one more packet hook (the sampling marks). */
function inlineWithHook(sink: RecordSink, hook: FlowSamplingMarks): Pipeline {
  const sensor = createSensor(sink, { flow: {}, l7: true, hooks: [hook] });
  return {
    onFrame: sensor.onFrame,
    ready: Promise.resolve(),
    tick: (sec, ns) => sensor.flows.tick(sec, ns),
    async finish() {
      return { ...sensor.finish(), drops: {} };
    },
  };
}

/** CPU seconds of one thread of this process (utime + stime, 100 ticks/s). */
function threadCpu(tid: number): number {
  try {
    const f = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of the main thread alone (utime + stime of /proc/self/task/PID, 100 ticks/s). */
function mainThreadCpu(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The receive buffer the kernel granted a bound UDP socket (ss's skmem rb), bytes; 0 if unknown. */
function socketRcvbuf(port: number): number {
  const r = spawnSync('ss', ['-u', '-a', '-n', '-m', `sport = :${port}`], { encoding: 'utf8' });
  return Number(/rb(\d+)/.exec(r.stdout ?? '')?.[1] ?? 0);
}

/** Pipeline alone: frames from a file through the inline Sensor vs N workers. */
async function benchPipelineFile(
  path: string,
  workers: number,
): Promise<{ pps: number; drops: Record<string, number> }> {
  const recs = { n: 0 };
  const sink = (): void => {
    recs.n++;
  };
  const opts = { flow: {}, l7: true };
  const p: Pipeline =
    workers > 0
      ? createThreadedPipeline(sink, { ...opts, workers, buffersPerWorker: 64 })
      : createInlinePipeline(sink, opts);
  await p.ready;
  // A file offers packets faster than any pipeline takes them; with workers, what does not fit
  // in the batch buffers is dropped and counted (the figure shows how much the workers kept up).
  const t0 = performance.now();
  const s = await readCaptureFile(path, p.onFrame);
  const c = await p.finish();
  const secs = (performance.now() - t0) / 1000;
  return { pps: Math.round(s.packets / secs), drops: c.drops };
}

interface LiveRun {
  workers: number;
  offered: number;
  captured: number;
  processed: number;
  kernelDropped: number;
  pipelineDrops: Record<string, number>;
  pps: number;
}

const CAPTURE_SCRIPT = `
const [root, iface, workers] = JSON.parse(process.argv[1]);
const { createLiveCapture } = await import(root + 'dist/src/capture/live.js');
const { createInlinePipeline } = await import(root + 'dist/src/capture/workers/pipeline.js');
const { createThreadedPipeline } = await import(root + 'dist/src/capture/workers/threaded.js');
const opts = { flow: {}, l7: true };
const p = workers > 0 ? createThreadedPipeline(() => {}, { ...opts, workers }) : createInlinePipeline(() => {}, opts);
await p.ready;
let first = 0, last = 0, n = 0;
const live = createLiveCapture({ iface, bufferSize: 256 << 20 }, (f) => { if (n++ === 0) first = performance.now(); last = performance.now(); p.onFrame(f); }, { onTick: (s, ns) => p.tick(s, ns) });
await live.start();
process.stderr.write('ready\\n');
const t = setInterval(async () => {
  if (n > 0 && performance.now() - last > 1500) {
    clearInterval(t);
    await live.stop();
    const c = await p.finish();
    const k = live.refreshStats();
    process.stdout.write(JSON.stringify({ captured: k.packets, processed: c.frames, kernelDropped: k.kernelDropped, pipelineDrops: c.drops, secs: (last - first) / 1000 }) + '\\n');
  }
}, 100);
`;

async function liveRun(ns: string, file: string, workers: number): Promise<LiveRun | string> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--input-type=module',
      '-e',
      CAPTURE_SCRIPT,
      JSON.stringify([ROOT, 'vb', workers]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) resolve();
    });
    child.once('exit', () => resolve());
  });
  const r = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '-i', 'va', '--topspeed', file], {
    encoding: 'utf8',
  });
  const offered = Number(/Successful packets:\s+(\d+)/.exec(r.stdout)?.[1] ?? -1);
  await new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  if (!out.trim()) return `capture failed: ${err.trim()}`;
  const j = JSON.parse(out.trim()) as Omit<LiveRun, 'workers' | 'offered' | 'pps'> & { secs: number };
  return {
    workers,
    offered,
    captured: j.captured,
    processed: j.processed,
    kernelDropped: j.kernelDropped,
    pipelineDrops: j.pipelineDrops,
    pps: Math.round(j.processed / j.secs),
  };
}

function liveMissing(): string[] {
  const miss: string[] = [];
  if (process.getuid?.() !== 0) miss.push('root');
  if (spawnSync('sh', ['-c', 'command -v tcpreplay'], { stdio: 'ignore' }).status !== 0)
    miss.push('tcpreplay');
  if (!pcapAvailable()) miss.push('the vantage-pcap addon');
  return miss;
}

/**
 * The VXLAN mirror into the sensor at rising offered rates (the realistic bench capture when it
 * is there), read three ways: by this thread (recvmmsg between sensor work, as before), by the
 * addon's receive thread into a ring (what cannot wait is `ring_full`), and the same with
 * whole-flow overload sampling. Per mode: where socket drops begin, where any drop begins, and
 * with sampling the highest rate without a socket drop and the N it took. `MIRROR_MODES`
 * (inline,ring,sampling) picks modes; `MIRROR_RING` the ring's bytes (default 30 MiB, the
 * mirror share of a 768 MiB budget).
 */
export async function benchMirror(
  rates = [50_000, 100_000, 200_000, 300_000, 500_000, 700_000],
  seconds = 5,
): Promise<void> {
  if (!loadUdpBatchBinding()) {
    process.stdout.write('\n## live: mirror → sensor skipped (the vantage-pcap addon is not built)\n');
    return;
  }
  const realistic = `${OUT}realistic-1360000.pcap`;
  const file = existsSync(realistic) ? realistic : `${OUT}live-200k.pcap`;
  if (!existsSync(file)) generate(file, 200_000);
  const frames = await loadFrames(file, 100_000);
  const rcvbuf = Number(process.env.MIRROR_RCVBUF) || 8 << 20;
  const ringBytes = Number(process.env.MIRROR_RING) || Math.floor(768 * 2 ** 20 * 0.04);
  const modes = (process.env.MIRROR_MODES ?? 'inline,ring,sampling').split(',');
  process.stdout.write(
    `\n## live: VXLAN mirror → sensor (decode, flows, L7) on this thread, ${frames.length} frames of ${file.replace(OUT, 'bench/out/')} (a new VNI each pass), SO_RCVBUF asked ${rcvbuf >> 20} MiB, ring ${(ringBytes / 2 ** 20).toFixed(1)} MiB; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n`,
  );
  const workers = Number(process.env.MIRROR_WORKERS) || 0;
  // SCHED_FIFO priority of the receive thread (0: off).
  const realtime = Number(process.env.MIRROR_RT) || 0;
  for (const name of modes) {
    const mode: MirrorMode =
      name === 'inline'
        ? { pcap: file }
        : { pcap: file, ring: { bytes: ringBytes, sampling: name === 'sampling', realtime } };
    const runs: MirrorSensorRun[] = [];
    for (const pps of rates) {
      const r = await benchMirrorSensor(frames, pps, seconds, rcvbuf, workers, mode);
      runs.push(r);
      const pct = (n: number): string => `${((100 * n) / Math.max(1, r.sent)).toFixed(2)}%`;
      process.stdout.write(
        `  ${name}${workers > 0 ? ` +${workers} worker` : ''}: offered ${pps / 1e3}k/s: sender (${r.sender}) ${r.sentPps / 1e3}k/s (${r.sent}; ${r.senderCpuSeconds.toFixed(2)} CPU-s), received ${r.received}, socket drops ${r.socketDrops} (${pct(r.socketDrops)}), backlog drops ${r.backlogDrops}` +
          (mode.ring
            ? `, ring_full ${r.ringFull} (${pct(r.ringFull)}), sampled out ${r.sampledOut} (${pct(r.sampledOut)}), N max ${r.maxSampling}, ring high water ${(r.ringHighWater / 2 ** 20).toFixed(1)} of ${(r.ringSize / 2 ** 20).toFixed(0)} MiB; receive thread${r.niceApplied ? ' (nice -5)' : ''}${r.realtimeApplied ? ' (SCHED_FIFO)' : ''} ${r.rxCpuSeconds.toFixed(2)} CPU-s (${(r.received / Math.max(0.01, r.rxCpuSeconds) / 1e6).toFixed(2)}M datagrams per CPU-s)`
            : '') +
          `; ${r.records} records;${workers > 0 ? ` pipeline worker(s) ${r.workerCpuSeconds.toFixed(2)} CPU-s, pipeline drops ${JSON.stringify(r.pipelineDrops)};` : ''} ${workers > 0 ? 'main thread' : 'sensor thread'} ${r.cpuSeconds.toFixed(2)} CPU-s in ${r.seconds} s wall (${((r.received - r.ringFull - r.sampledOut) / Math.max(0.01, r.cpuSeconds) / 1e3).toFixed(0)}k packets per CPU-s); rcvbuf granted ${(r.rcvbufGranted / 2 ** 20).toFixed(0)} MiB; exact ${r.balanced}\n`,
      );
    }
    const first = (p: (r: MirrorSensorRun) => boolean): string => {
      const r = runs.find(p);
      return r
        ? `${r.offeredPps / 1e3}k/s offered (${r.sentPps / 1e3}k/s sent)`
        : 'none up to the highest rate';
    };
    const clean = runs.filter((r) => r.socketDrops + r.backlogDrops === 0);
    const best = clean.length > 0 ? clean[clean.length - 1]! : null;
    process.stdout.write(
      `  ${name}: socket drops begin at ${first((r) => r.socketDrops > 0)}; any drop begins at ${first((r) => r.socketDrops + r.ringFull > 0)}` +
        (best
          ? `; highest rate without a socket drop ${best.sentPps / 1e3}k/s sent (N max ${best.maxSampling}, ring_full ${best.ringFull})\n`
          : '\n'),
    );
  }
}

const JS_RECEIVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { addon, ringBytes } = workerData;
const b = require(addon);
const cpu = () => { const f = readFileSync('/proc/thread-self/stat', 'latin1'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return (Number(x[11]) + Number(x[12])) / 100; };
const h = b.udpOpen(4, '127.0.0.1', 0, 8 << 20, 0);
const slot = 16384, n = 64;
const rbuf = Buffer.allocUnsafeSlow(slot * n), meta = new Uint32Array(12 * n);
const sab = new SharedArrayBuffer(ringBytes + 64);
const ctl = new Int32Array(sab, 0, 16);
const ring = Buffer.from(sab, 64, ringBytes);
let head = 0, received = 0, full = 0;
const c0 = cpu();
b.poll(h, () => {
  for (let r = 0; r < 64; r++) {
    const got = b.recvBatch(h, rbuf, meta, slot, 0);
    const tail = Atomics.load(ctl, 1);
    for (let i = 0; i < got; i++) {
      const len = meta[i * 12 + 1];
      received++;
      const need = 8 + ((len + 3) & ~3);
      let off = head % ringBytes;
      if (ringBytes - off < need) { head += ringBytes - off; off = 0; }
      if (ringBytes - (head - tail) < need) { full++; continue; }
      ring.writeUInt32LE(len, off);
      rbuf.copy(ring, off + 8, meta[i * 12], meta[i * 12] + len);
      head += need;
    }
    Atomics.store(ctl, 0, head);
    Atomics.store(ctl, 1, head); // the consumer is instant: this measures the receive side only
    if (got < n) break;
  }
});
parentPort.postMessage({ port: b.address(h).port });
parentPort.on('message', () => { const c = cpu() - c0; b.close(h); parentPort.postMessage({ received, full, cpu: c }); });
`;

/**
 * The cost of the two ways of taking the receive off the sensor's thread, per datagram of the
 * receiving thread, at the same offered rate: the addon's native thread (recvmmsg, outer header,
 * copy into the ring) against a worker thread on the addon's recvBatch copying into a
 * SharedArrayBuffer ring. The consumer takes everything at once in both.
 */
export async function benchReceiveThreads(frames: Buffer[], pps: number, seconds: number): Promise<void> {
  const addon = addonPath();
  if (!addon) return;
  const rx = createVxlanReceiver(
    { host: '127.0.0.1', port: 0, ring: { ringBytes: 32 << 20 } },
    () => {},
  ) as RingReceiver;
  await rx.start();
  const tid = rx.threadId;
  const c0 = threadCpu(tid);
  const g = await sendFrom({ frames, port: rx.address().port, seconds, vni: 9, addon, pps });
  await untilQuiet(rx);
  const native = {
    cpu: threadCpu(tid) - c0,
    received: rx.refreshStats().received,
    drops: rx.counters.socketDrops,
  };
  await rx.stop();
  const w = new Worker(JS_RECEIVER, { eval: true, workerData: { addon, ringBytes: 32 << 20 } });
  const port = await new Promise<number>((r) => w.once('message', (m: { port: number }) => r(m.port)));
  const g2 = await sendFrom({ frames, port, seconds, vni: 9, addon, pps });
  await sleep(500);
  const drops2 = udpSocketDrops(port, '127.0.0.1');
  w.postMessage('stop');
  const js = await new Promise<{ received: number; full: number; cpu: number }>((r) => w.once('message', r));
  await w.terminate();
  const per = (n: number, c: number): string =>
    `${(n / Math.max(0.01, c) / 1e6).toFixed(2)}M datagrams per CPU-s`;
  process.stdout.write(
    `  receive thread, native (recvmmsg → ring): ${native.received} of ${g.sent} received, socket drops ${native.drops}, ${native.cpu.toFixed(2)} CPU-s: ${per(native.received, native.cpu)}\n` +
      `  receive thread, worker (recvBatch → SharedArrayBuffer ring): ${js.received} of ${g2.sent} received, socket drops ${drops2}, ${js.cpu.toFixed(2)} CPU-s: ${per(js.received, js.cpu)}\n`,
  );
}

export async function benchLive(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const file = `${OUT}live-200k.pcap`;
  if (!existsSync(file)) generate(file, 200_000);
  const frames = await loadFrames(file, 20_000);

  process.stdout.write('\n## live: mirror (VXLAN) → broker → 2 targets on loopback\n');
  const runs = [await benchBroker(frames, 8, true)];
  if (loadUdpBatchBinding()) runs.push(await benchBroker(frames, 8, false));
  else
    process.stdout.write(
      '  (batched run skipped: the vantage-pcap addon with recvmmsg/sendmmsg is not built)\n',
    );
  for (const b of runs) {
    process.stdout.write(
      `${b.io}: received ${b.received} of ${b.generatorSent} sent in ${b.seconds} s: ${b.receivePps} packets/s ` +
        `(receiver socket drops ${b.receiverSocketDrops}, loopback backlog drops ${b.backlogDrops})\n`,
    );
    for (const t of b.targets)
      process.stdout.write(
        `  target ${t.name}: matched ${t.matched}, sent ${t.sent}, broker drops ${JSON.stringify(t.brokerDrops)}, ` +
          `delivered ${t.delivered}, sink socket drops ${t.sinkSocketDrops}\n`,
      );
    process.stdout.write(
      `  accounting exact (sent = delivered + counted drops at every hop): ${b.balanced}\n`,
    );
  }
  if (runs.length === 2)
    process.stdout.write(
      `  batched / dgram receive rate: ${(runs[1]!.receivePps / Math.max(1, runs[0]!.receivePps)).toFixed(1)}×\n`,
    );

  await benchMirror();
  if (existsSync(`${OUT}realistic-1360000.pcap`)) {
    process.stdout.write('\n## live: receive threads compared (the mirror ring: native thread vs worker)\n');
    await benchReceiveThreads(await loadFrames(`${OUT}realistic-1360000.pcap`, 100_000), 300_000, 4);
  }

  process.stdout.write('\n## live: pipeline alone (file → decode/flow/L7), inline vs workers\n');
  for (const w of [0, 2]) {
    const r = await benchPipelineFile(file, w);
    process.stdout.write(`  workers ${w}: ${r.pps} packets/s, drops ${JSON.stringify(r.drops)}\n`);
  }

  process.stdout.write('\n## live: capture on a veth (tcpreplay --topspeed), inline vs workers\n');
  const miss = liveMissing();
  if (miss.length > 0) {
    process.stdout.write(`  skipped: needs ${miss.join(', ')}\n`);
    return;
  }
  const ns = `vbench-${process.pid}`;
  const ip = (...a: string[]): void => {
    spawnSync('ip', ['netns', 'exec', ns, ...a], { stdio: 'ignore' });
  };
  spawnSync('ip', ['netns', 'add', ns]);
  try {
    ip('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
    ip('ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    for (const i of ['va', 'vb']) {
      ip('ip', 'link', 'set', i, 'mtu', '9000');
      ip('ip', 'link', 'set', i, 'up');
    }
    for (const w of [0, 2]) {
      const r = await liveRun(ns, file, w);
      if (typeof r === 'string') process.stdout.write(`  workers ${w}: ${r}\n`);
      else
        process.stdout.write(
          `  workers ${w}: ${r.pps} packets/s processed; offered ${r.offered}, captured ${r.captured}, ` +
            `processed ${r.processed}, kernel drops ${r.kernelDropped}, pipeline drops ${JSON.stringify(r.pipelineDrops)}, ` +
            `lost before capture (veth backlog) ${r.offered - r.captured - r.kernelDropped}\n`,
        );
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

if (process.argv[1]?.endsWith('live.js')) {
  if (process.argv[2] === 'receive') {
    const frames = await loadFrames(`${OUT}realistic-1360000.pcap`, 100_000);
    process.stdout.write(
      `\n## live: receive threads compared, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}\n`,
    );
    for (const pps of (process.argv[3] ?? '100000,300000').split(',').map(Number))
      await benchReceiveThreads(frames, pps, Number(process.argv[4]) || 4);
  } else if (process.argv[2] === 'mirror')
    await benchMirror(process.argv[3]?.split(',').map(Number) ?? undefined, Number(process.argv[4]) || 5);
  else await benchLive();
}
