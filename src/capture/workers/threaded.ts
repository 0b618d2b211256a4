import { Worker } from 'node:worker_threads';
import { Decoder } from '../../decode/decoder.js';
import type { RecordSink } from '../../flow/sensor.js';
import type { Frame } from '../frame.js';
import { BatchWriter, recordSize } from './batch.js';
import type { ToMain, ToWorker } from './messages.js';
import type { Pipeline, PipelineCounters, PipelineOptions } from './pipeline.js';
import { symmetricFlowHash } from './shard.js';

export interface ThreadedOptions extends PipelineOptions {
  /** Bytes of one batch buffer. */
  batchBytes: number;
  /** Packets after which a batch is sent even if it has room left. */
  batchPackets: number;
  /** Batch buffers per worker; when all are in flight, packets for that worker are dropped. */
  buffersPerWorker: number;
}

export const DEFAULT_THREADED = { batchBytes: 256 << 10, batchPackets: 512, buffersPerWorker: 16 };

interface Shard {
  worker: Worker;
  free: ArrayBuffer[];
  cur: BatchWriter | null;
  inFlight: number;
  done: Promise<PipelineCounters>;
  ready: Promise<void>;
}

/**
 * Decode/flow work sharded over worker threads. The main thread decodes each frame only far
 * enough to hash its flow symmetrically (both directions land on the same worker), copies it
 * into that worker's batch and transfers full batches (never one message per packet). Buffers
 * come back when the worker has read them; when a worker has none left the packet is dropped
 * and counted under `drops.worker_queue_full`.
 */
export function createThreadedPipeline(
  sink: RecordSink,
  opts: PipelineOptions & Partial<ThreadedOptions>,
): Pipeline {
  const o = { ...DEFAULT_THREADED, ...opts };
  const n = o.workers;
  const decoder = new Decoder();
  const drops = { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 };
  const shards: Shard[] = [];
  const failed: boolean[] = [];
  const workerData = { flow: opts.flow, l7: opts.l7 };
  for (let i = 0; i < n; i++) {
    // Flags such as --input-type (node -e) are not valid for a worker's entry file.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData, execArgv });
    const free: ArrayBuffer[] = [];
    for (let k = 0; k < o.buffersPerWorker; k++) free.push(new ArrayBuffer(o.batchBytes));
    let resolveDone: (c: PipelineCounters) => void = () => {};
    const done = new Promise<PipelineCounters>((r) => {
      resolveDone = r;
    });
    let resolveReady: () => void = () => {};
    const ready = new Promise<void>((r) => {
      resolveReady = r;
    });
    const shard: Shard = { worker, free, cur: null, inFlight: 0, done, ready };
    worker.on('message', (m: ToMain) => {
      if (m.type === 'ready') resolveReady();
      else if (m.type === 'free') {
        shard.inFlight--;
        shard.free.push(m.buf);
      } else if (m.type === 'records') {
        for (const r of m.records) sink(r);
      } else if (m.type === 'done') resolveDone(m.counters);
    });
    worker.on('error', (e) => {
      // Its packets from now on are counted as dropped; finish() must not wait for it.
      failed[i] = true;
      resolveReady();
      process.stderr.write(`pipeline worker ${i} failed: ${e.message}\n`);
      resolveDone({
        frames: 0,
        bytes: 0,
        ipPackets: 0,
        nonIpPackets: 0,
        weird: 0,
        weirdByName: {},
        drops: {},
      });
    });
    shards.push(shard);
  }

  const send = (s: Shard): void => {
    const w = s.cur;
    if (!w || w.packets === 0) return;
    s.cur = null;
    s.inFlight++;
    const msg: ToWorker = { type: 'batch', buf: w.ab, bytes: w.used, packets: w.packets };
    s.worker.postMessage(msg, [w.ab]);
  };

  const onFrame = (f: Frame): void => {
    if (recordSize(f.caplen) > o.batchBytes) {
      drops.frame_too_large++;
      return;
    }
    const p = decoder.decode(f);
    const si = n === 1 ? 0 : symmetricFlowHash(p) % n;
    if (failed[si]) {
      drops.worker_failed++;
      return;
    }
    const s = shards[si]!;
    let w = s.cur;
    if (w && !w.append(f)) {
      send(s);
      w = null;
    } else if (w) {
      if (w.packets >= o.batchPackets) send(s);
      return;
    }
    const ab = s.free.pop();
    if (!ab) {
      drops.worker_queue_full++;
      return;
    }
    w = new BatchWriter(ab);
    s.cur = w;
    w.append(f);
  };

  return {
    onFrame,
    ready: Promise.all(shards.map((s) => s.ready)).then(() => {}),
    tick(sec, ns) {
      for (const s of shards) {
        send(s);
        s.worker.postMessage({ type: 'tick', sec, ns } satisfies ToWorker);
      }
    },
    async finish() {
      for (const s of shards) {
        send(s);
        s.worker.postMessage({ type: 'finish' } satisfies ToWorker);
      }
      const all = await Promise.all(shards.map((s) => s.done));
      await Promise.all(shards.map((s) => s.worker.terminate()));
      const total: PipelineCounters = {
        frames: 0,
        bytes: 0,
        ipPackets: 0,
        nonIpPackets: 0,
        weird: 0,
        weirdByName: {},
        drops: { ...drops },
      };
      for (const c of all) {
        total.frames += c.frames;
        total.bytes += c.bytes;
        total.ipPackets += c.ipPackets;
        total.nonIpPackets += c.nonIpPackets;
        total.weird += c.weird;
        for (const [k, v] of Object.entries(c.weirdByName))
          total.weirdByName[k] = (total.weirdByName[k] ?? 0) + v;
      }
      return total;
    },
  };
}
