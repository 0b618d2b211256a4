import { parentPort, workerData } from 'node:worker_threads';
import { createCaptureCollector } from '../../collect/capture-hook.js';
import { createSensor, type PacketHook, type SensorRecord } from '../../flow/sensor.js';
import { type CaptureReader, createPacketRecorder } from '../../pcapstore/recorder.js';
import type { Columnar } from '../../store/columnar.js';
import { packColumnar, wireTransfer } from '../../store/columnar-wire.js';
import { type FrameHandler, newFrame } from '../frame.js';
import { FlowSamplingMarks } from '../sampling-marks.js';
import { batchReader, readBatch } from './batch.js';
import { FlowTap, tapTransfer } from './flow-tap.js';
import type { ToMain, ToWorker, WorkerConfig } from './messages.js';
import { PIPE_PROF, PROF_KEEP, threadSched, threadTid, wallMs } from './pipe-prof.js';
import { threadCpuSeconds } from './thread-cpu.js';

/**
 * One shard of the threaded pipeline: a Sensor (with its analyzers, and the packet recorder
 * when asked) fed by packet batches from the main thread. Buffers go back as soon as they are
 * read. Flow and DNS records leave as column batches whose arrays are transferred (no copy,
 * no object per record); other records in one message per packet batch, always posted before
 * a column batch so the main thread sees records in the order the sensor made them.
 */
const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a worker thread');
const cfg = workerData as WorkerConfig;

const post = (m: ToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
let out: SensorRecord[] = [];
const flushRecords = (): void => {
  if (out.length === 0) return;
  post({ type: 'records', records: out });
  out = [];
};
const sink = (rec: SensorRecord): void => {
  out.push(rec);
};
const columns = (rtype: string, c0: Columnar): void => {
  flushRecords();
  const c = marks && rtype === 'flow' ? marks.fillColumns(c0) : c0;
  // No string array or Map of objects is cloned entry by entry: see columnar-wire.ts.
  const w = packColumnar(c);
  post({ type: 'columns', rtype, c: w }, wireTransfer(w));
};

const recorder = cfg.recorder ? createPacketRecorder(cfg.recorder) : null;
const hooks: PacketHook[] = [];
if (recorder) hooks.push(recorder);
if (cfg.collectPorts) hooks.push(createCaptureCollector(sink, { ports: cfg.collectPorts }));
const tap = cfg.flowTap ? new FlowTap() : null;
if (tap) hooks.push(tap);
// The factor of the packet being read (set from the batch's factors before the sensor sees it).
const sampled = { factor: 1 };
const marks = cfg.samplingMarks ? new FlowSamplingMarks(sampled, cfg.columnRows > 0) : null;
if (marks) hooks.push(marks);
const sensor = createSensor(sink, {
  flow: cfg.flow,
  l7: cfg.l7,
  hooks,
  ...(cfg.columnRows > 0 ? { columns, columnRows: cfg.columnRows } : {}),
});
const frame = newFrame();
let factors: Uint16Array | null = null;
let k = 0;
const withFactor: FrameHandler = (f) => {
  sampled.factor = factors !== null && k < factors.length ? factors[k]! : 1;
  k++;
  sensor.onFrame(f);
};

let cur: Extract<ToWorker, { type: 'batch' }> | null = null;
const readOne: CaptureReader = batchReader(() => cur!, frame);
const viaRecorder = recorder ? recorder.reader(readOne) : null;

// With VANTAGE_PIPE_PROF=1: when this thread worked (the rest of its time it waited for a batch).
const busy: number[] | null = PIPE_PROF ? [] : null;
// Run-queue seconds inside those intervals: the rest of the thread's run-queue time fell between
// batches, runnable with a batch waiting but no core (the machine's load, not a lack of work).
let busyRunq = 0;
const sched0 = PIPE_PROF ? threadSched() : { cpu: 0, runq: 0 };

const handle = async (m: ToWorker): Promise<void> => {
  switch (m.type) {
    case 'batch': {
      const t0 = busy !== null ? wallMs() : 0;
      const q0 = busy !== null ? threadSched().runq : 0;
      if (viaRecorder) {
        cur = m;
        await viaRecorder('', sensor.onFrame);
        cur = null;
      } else if (marks) {
        factors = m.factors ?? null;
        // Not sent back with the buffer.
        delete m.factors;
        k = 0;
        readBatch(Buffer.from(m.buf, 0, m.bytes), m.bytes, m.linkType, m.ifIndex, frame, withFactor, m.start);
        factors = null;
      } else {
        readBatch(
          Buffer.from(m.buf, 0, m.bytes),
          m.bytes,
          m.linkType,
          m.ifIndex,
          frame,
          sensor.onFrame,
          m.start,
        );
      }
      if (tap) {
        const t = tap.take();
        post({ ...m, type: 'free', tap: t }, [m.buf, ...tapTransfer(t)]);
      } else post({ ...m, type: 'free' }, [m.buf]);
      // Records go in bunches (a message costs more than a few records' copy); a tick, a
      // column batch or the end takes the rest.
      if (out.length >= cfg.recordBunch) flushRecords();
      if (busy !== null) {
        // Bounded as the main thread's spans are (a live source's worker never ends).
        if (busy.length < 2 * PROF_KEEP) busy.push(t0, wallMs());
        busyRunq += threadSched().runq - q0;
      }
      break;
    }
    case 'tick':
      sensor.flows.tick(m.sec, m.ns);
      sensor.flushColumns();
      flushRecords();
      break;
    case 'weird':
      sensor.fileWeird(m.name, m.detail, 0, 0);
      break;
    case 'finish': {
      const t0 = busy !== null ? wallMs() : 0;
      const cpu0 = threadCpuSeconds();
      const counters = sensor.finish();
      flushRecords();
      await recorder?.stop();
      post({
        type: 'done',
        counters: { ...counters, drops: {} },
        flows: { ...sensor.flows.stats },
        recorder: recorder ? { ...recorder.counters } : null,
        cpuSeconds: threadCpuSeconds(),
        finishCpuSeconds: threadCpuSeconds() - cpu0,
        ...(busy !== null
          ? {
              prof: {
                tid: threadTid(),
                busy: [...busy, t0, wallMs()],
                busyRunq,
                sched0,
                sched: threadSched(),
              },
            }
          : {}),
      });
      break;
    }
  }
};

// Messages are handled one after another, whatever awaits inside (the recorder's start and stop).
let chain: Promise<void> = (async () => {
  await recorder?.start();
  post({ type: 'ready' });
})();
let failed = false;
const fail = (e: unknown): void => {
  if (failed) return;
  failed = true;
  post({ type: 'failed', message: (e as Error)?.stack ?? String(e) });
};
chain = chain.catch(fail);
port.on('message', (m: ToWorker) => {
  chain = chain.then(() => (failed ? undefined : handle(m))).catch(fail);
});
