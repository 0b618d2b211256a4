import { parentPort, workerData } from 'node:worker_threads';
import { newFrame } from '../frame.js';
import { readBatch } from './batch.js';
import type { ToMain, ToWorker } from './messages.js';
import { createInlinePipeline, type PipelineOptions } from './pipeline.js';

/**
 * One shard of the threaded pipeline: a Sensor (with its analyzers) fed by packet batches from
 * the main thread. Buffers go back to the main thread as soon as they are read; records leave
 * in one message per batch.
 */
const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a worker thread');
const opts = workerData as Omit<PipelineOptions, 'workers'>;
let out: Array<{ type: string; [k: string]: unknown }> = [];
const pipeline = createInlinePipeline((rec) => {
  out.push(rec);
}, opts);
const frame = newFrame();

const post = (m: ToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const flushRecords = (): void => {
  if (out.length === 0) return;
  post({ type: 'records', records: out });
  out = [];
};

post({ type: 'ready' });
port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'batch': {
      readBatch(Buffer.from(m.buf, 0, m.bytes), m.bytes, frame, pipeline.onFrame);
      post({ type: 'free', buf: m.buf, packets: m.packets }, [m.buf]);
      flushRecords();
      break;
    }
    case 'tick':
      pipeline.tick(m.sec, m.ns);
      flushRecords();
      break;
    case 'finish':
      void pipeline.finish().then((counters) => {
        flushRecords();
        post({ type: 'done', counters });
      });
      break;
  }
});
