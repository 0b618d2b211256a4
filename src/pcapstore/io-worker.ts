/**
 * A file-writing thread for the packet recorder. The main thread fills blocks that live in
 * SharedArrayBuffers and hands them over with one message per block (never per packet); this
 * thread does the positional writes (and, on a second instance, the fsync of finished
 * segments) so disk waits overlap packet processing. Completion is published through an
 * Int32Array counter the main thread can read without its event loop, or block on with
 * Atomics.wait when every block is in flight (back-pressure).
 *
 * The same file is the worker entry point (run in a worker thread) and the main-side handle.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
  workerData,
} from 'node:worker_threads';

/** Indexes into the control Int32Array. */
const SUBMITTED = 0;
const DONE = 1;
const ERRORS = 2;

export type IoJob =
  /** Write `len` bytes of block `slot`, from byte `start` of the block, at file offset `off`. */
  | { op: 'write'; fd: number; slot: number; start: number; len: number; off: number }
  /**
   * fsync a finished segment and its index file, by path: the thread opens and closes its own
   * descriptors, because a worker closing a descriptor the main thread opened makes Node warn
   * "File descriptor NN closed but not opened in unmanaged mode".
   */
  | { op: 'sync'; path: string; idxPath: string }
  | { op: 'exit' };

interface WorkerInit {
  ctl: SharedArrayBuffer;
  blocks: SharedArrayBuffer[];
  port: MessagePort;
  /** Test hook: sleep this long before each job. */
  delayMs: number;
}

/** Main-thread handle of one I/O thread. */
export class IoWorker {
  private readonly ctl: Int32Array;
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private submitted = 0;
  private errorsSeen = 0;
  private exited: Promise<void>;

  constructor(blocks: SharedArrayBuffer[], delayMs = 0) {
    const ctlBuf = new SharedArrayBuffer(16);
    this.ctl = new Int32Array(ctlBuf);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const init: WorkerInit = { ctl: ctlBuf, blocks, port: port2, delayMs };
    this.worker = new Worker(new URL(import.meta.url), { workerData: init, transferList: [port2] });
    this.worker.unref();
    this.port.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Jobs handed over so far. */
  get submittedJobs(): number {
    return this.submitted;
  }

  /** Jobs finished so far (failed ones included; see `takeError`). */
  get doneJobs(): number {
    return Atomics.load(this.ctl, DONE);
  }

  /** Jobs handed over and not finished. */
  get inFlight(): number {
    return this.submitted - this.doneJobs;
  }

  submit(job: IoJob): void {
    this.port.postMessage(job);
    this.submitted++;
    Atomics.store(this.ctl, SUBMITTED, this.submitted);
    Atomics.notify(this.ctl, SUBMITTED);
  }

  /** Block the calling thread until at least `n` jobs are done; returns ms waited. */
  waitDone(n: number): number {
    let d = Atomics.load(this.ctl, DONE);
    if (d >= n) return 0;
    const t0 = performance.now();
    while (d < n) {
      Atomics.wait(this.ctl, DONE, d, 1000);
      d = Atomics.load(this.ctl, DONE);
    }
    return performance.now() - t0;
  }

  /** The next error the thread reported, if any. */
  takeError(): string | null {
    if (Atomics.load(this.ctl, ERRORS) === this.errorsSeen) return null;
    this.errorsSeen++;
    const m = receiveMessageOnPort(this.port);
    return m ? String(m.message) : 'pcap write failed';
  }

  /** Finish every job handed over, then end the thread. */
  async close(): Promise<void> {
    this.worker.ref(); // keep the process alive until the last write is done
    this.submit({ op: 'exit' });
    await this.exited;
    this.port.close();
  }
}

/** fsync a file by path; a file the disk budget deleted meanwhile has nothing to make durable. */
function fsyncPath(path: string): void {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function runWorker(init: WorkerInit): void {
  const ctl = new Int32Array(init.ctl);
  const blocks = init.blocks.map((b) => Buffer.from(b));
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let done = 0;
  for (;;) {
    while (Atomics.load(ctl, SUBMITTED) === done) Atomics.wait(ctl, SUBMITTED, done);
    const m = receiveMessageOnPort(init.port);
    if (!m) {
      Atomics.wait(sleeper, 0, 0, 1); // posted but not yet visible: look again shortly
      continue;
    }
    const job = m.message as IoJob;
    if (job.op === 'exit') return;
    if (init.delayMs > 0) Atomics.wait(sleeper, 0, 0, init.delayMs);
    try {
      if (job.op === 'write') {
        const b = blocks[job.slot]!;
        let o = 0;
        while (o < job.len) o += writeSync(job.fd, b, job.start + o, job.len - o, job.off + o);
      } else {
        fsyncPath(job.path);
        fsyncPath(job.idxPath);
      }
    } catch (e) {
      init.port.postMessage(String(e));
      Atomics.add(ctl, ERRORS, 1);
    }
    done++;
    Atomics.store(ctl, DONE, done);
    Atomics.notify(ctl, DONE);
  }
}

if (!isMainThread && workerData && (workerData as WorkerInit).ctl instanceof SharedArrayBuffer) {
  runWorker(workerData as WorkerInit);
}
