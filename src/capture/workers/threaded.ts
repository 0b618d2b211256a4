import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Analyzer } from '../../analyze/types.js';
import { forgetThreadHeap, type HeapReport, recordThreadHeap } from '../../common/thread-heap.js';
import { Decoder } from '../../decode/decoder.js';
import type { FlowTableStats } from '../../flow/flow-table.js';
import type { RecordSink } from '../../flow/sensor.js';
import type {
  CaptureReader,
  PacketRecorder,
  RecorderConfig,
  RecorderCounters,
} from '../../pcapstore/recorder.js';
import { unpackColumnar } from '../../store/columnar-wire.js';
import { CaptureError, type CaptureSummary, MAX_RECORD } from '../capture-file.js';
import { type Frame, type FrameHandler, newFrame } from '../frame.js';
import {
  BATCH_RECORD_HEADER,
  type BatchView,
  BatchWriter,
  batchReader,
  readBatch,
  recordSize,
} from './batch.js';
import { FlowMirror, type FlowTapBatch } from './flow-tap.js';
import type { ToMain, ToWorker, WorkerConfig, WorkerDone } from './messages.js';
import { spans } from './pipe-prof.js';
import type { Pipeline, PipelineCounters, PipelineOptions } from './pipeline.js';
import { symmetricFlowHash } from './shard.js';

export interface ThreadedOptions extends PipelineOptions {
  /** Bytes of one batch buffer. */
  batchBytes: number;
  /** Packets after which a batch is sent even if it has room left. */
  batchPackets: number;
  /** Batch buffers per worker; when all are in flight, packets for that worker are dropped. */
  buffersPerWorker: number;
  /**
   * File input: nothing is dropped. The reader waits in `between()` until every worker has
   * room for a whole read block, and a packet that still finds no free buffer gets a new one
   * (counted in `buffersGrown`; the pool shrinks back as they return).
   */
  lossless: boolean;
  /** Record every packet into this packet store, on the worker (one worker only). */
  recorder?: Partial<RecorderConfig> & { dir: string };
  /**
   * Record every packet with this recorder on the calling thread (one worker only): each batch
   * comes back with its packets' flow slots, and the recorder copies its runs and indexes it
   * here, while the worker goes on with the next batches.
   */
  mainRecorder?: PacketRecorder;
  /** Decode NetFlow/IPFIX/sFlow datagrams inside the packets (ports besides the standard ones). */
  collectPorts?: number[];
  /**
   * Packet hooks that stay on the calling thread (the packet recorder, the broker; one worker
   * only): each batch comes back with its packets' flow slots and every hook sees every packet
   * of it, in order, with a flow lookup that answers the flow's id and Community ID as the
   * worker's table had them. A hook's `false` does not stop its packets here.
   */
  mainHooks?: Analyzer[];
  /** Called when a batch buffer comes back (a live source paused by `hasRoom` may go on). */
  onRoom?: () => void;
  /**
   * The overload-sampling factor of the frame being handed over (a mirror receiver's, read once
   * per frame): it travels with the batch, and the worker puts it on the flow records as
   * `sampling_rate`, as FlowSamplingMarks does on the calling thread. One worker only.
   */
  samplingFactor?: () => number;
  /**
   * The workers' young generation, MB (V8's `maxYoungGenerationSizeMb`: three times a
   * semi-space); unset leaves V8's default, whose semi-spaces grow to 16 MiB under load.
   */
  youngMb?: number;
}

export const DEFAULT_THREADED = {
  batchBytes: 256 << 10,
  batchPackets: 512,
  buffersPerWorker: 16,
  lossless: false,
};

/**
 * Where records start in a batch read straight from a file: a read() into a large buffer's
 * first bytes (16 past a page boundary) runs 3x slower on this class of machine (PERF.md).
 */
const READ_AT = 48;

/** Bytes a file reader hands over between two `between()` calls: readCaptureFile reads 4 MiB blocks into a buffer that doubles to 8 MiB once a record straddles a block. */
const READ_BLOCK = 8 << 20;

export interface ThreadedPipeline extends Pipeline {
  /** File input: a promise while any worker lacks room for the next read block. */
  between(): Promise<void> | undefined;
  /** A file ended: its reader's buffer is no longer valid (the pending run is taken). */
  endOfFile(): void;
  /**
   * Read a classic pcap file straight into batch buffers (one worker, lossless input), waiting
   * in `between` after each; null when the file is of another kind (read it through `onFrame`).
   */
  readFile(path: string, between?: () => Promise<void> | undefined): Promise<CaptureSummary | null>;
  /** A damaged file: the weird is recorded by the first worker, after the packets before it. */
  fileWeird(name: string, detail: string): void;
  /** What the workers reported at finish (flow-table and recorder counters), one per worker. */
  readonly reports: WorkerDone[];
  /** Worker failures (each worker's packets after one are counted as dropped). */
  readonly failures: string[];
  /** Batch buffers allocated beyond the pool (lossless input only). */
  readonly buffersGrown: number;
  /** Batch buffers per worker. */
  readonly pool: number;
  /** Batches sent to the workers and not yet back. */
  readonly inFlight: number;
  /** The workers' V8 heaps summed, as they last reported them (at most once a second; null before the first). */
  readonly workerHeap: HeapReport | null;
  /** The most batch buffers of one worker out of its pool at once (being filled, queued, with the worker, or back and not yet recycled). */
  readonly peakInFlight: number;
  /**
   * Whether the next frame is sure to find room (one worker: a batch buffer is free). A live
   * source with a queue of its own (the mirror ring) leaves frames there while this is false,
   * instead of having them dropped here as `worker_queue_full`.
   */
  hasRoom(): boolean;
  /** Packets dropped here so far, by reason (the same object finish() copies). */
  readonly drops: Readonly<Record<string, number>>;
}

interface Shard {
  worker: Worker;
  free: ArrayBuffer[];
  cur: BatchWriter | null;
  inFlight: number;
  done: Promise<WorkerDone | null>;
  ready: Promise<void>;
  /** Resolves the current `between()` wait when a buffer comes back. */
  wake: (() => void) | null;
}

/**
 * Decode/flow work sharded over worker threads. With more than one worker the main thread
 * decodes each frame only far enough to hash its flow symmetrically (both directions land on
 * the same worker); it copies the frame into that worker's batch and transfers full batches
 * (never one message per packet). Buffers come back when the worker has read them; when a
 * worker has none left the packet is dropped and counted under `drops.worker_queue_full`,
 * except with `lossless` (file input), where the reader waits instead.
 */
export function createThreadedPipeline(
  sink: RecordSink,
  opts: PipelineOptions & Partial<ThreadedOptions>,
): ThreadedPipeline {
  const o = { ...DEFAULT_THREADED, ...opts };
  const n = o.workers;
  if ((o.recorder || o.mainRecorder) && n !== 1)
    throw new Error('the packet recorder takes the packets of one pipeline worker only');
  if (o.recorder && o.mainRecorder) throw new Error('one packet recorder, on the worker or here');
  const hooked = o.mainHooks && o.mainHooks.length > 0 ? o.mainHooks : null;
  if (hooked && n !== 1)
    throw new Error('packet hooks on this thread take the packets of one pipeline worker only');
  if (hooked && o.mainRecorder) throw new Error('packet hooks here, or a recorder here, not both');
  const factorOf = o.samplingFactor ?? null;
  if (factorOf && (n !== 1 || o.lossless))
    throw new Error('sampling factors travel with the batches of one live pipeline worker only');
  const main = o.mainRecorder ? mainRecording(o.mainRecorder) : null;
  const runHooks = hooked ? mainHooking(hooked) : null;
  let mainChain: Promise<void> = Promise.resolve();
  const decoder = n > 1 ? new Decoder() : null;
  const drops = { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 };
  const shards: Shard[] = [];
  const failed: boolean[] = [];
  const failures: string[] = [];
  const reports: WorkerDone[] = [];
  const heaps: (HeapReport | undefined)[] = [];
  let grown = 0;
  let peak = 0;
  // A file reader hands over a whole block before it can wait: keep room for one per worker
  // (a batch is at least half full when the next record does not fit, for records up to half
  // a batch; larger ones may take a grown buffer).
  const needFree = Math.ceil((2 * READ_BLOCK) / o.batchBytes) + 2;
  // Beyond that, a queue deep enough that the worker does not run dry while this thread reads
  // the next block or records the batches that came back: when the reader goes on, as much
  // again is still queued (measured on the loaded machine: the worker's idle time while the
  // reader waited went from 7.8 s to 2.1 s of a 30 s run with 8 instead of 26 buffers spare).
  const poolSize = o.lossless ? Math.max(o.buffersPerWorker, 2 * needFree + 8) : o.buffersPerWorker;
  // A file read straight into batches (`readFile`) hands over one batch at a time and holds the
  // next: it waits for two free buffers, not a read block's worth, so the same pool queues 42
  // batches ahead of the worker instead of 26 (the worker starved less while this thread
  // committed to the store: VANTAGE_PIPE_PROF, bench/README.md 2026-12-07).
  const DIRECT_FREE = 2;
  let need = needFree;
  const workerData: WorkerConfig = {
    flow: opts.flow,
    l7: opts.l7,
    columnRows: opts.columns ? (opts.columnRows ?? 4096) : 0,
    recordBunch: o.lossless ? 4096 : 1,
    ...(o.recorder ? { recorder: o.recorder } : {}),
    ...(o.collectPorts ? { collectPorts: o.collectPorts } : {}),
    ...(main || runHooks ? { flowTap: true } : {}),
    ...(o.samplingFactor ? { samplingMarks: true } : {}),
  };
  // Column batches arrive with fresh layout arrays each time: hand the sink one array per
  // layout, so caches keyed by a layout's identity (value kinds, field positions) keep working.
  const layouts = new Map<string, readonly string[]>();
  const intern = (a: readonly string[]): readonly string[] => {
    const k = a.join('\u0000');
    let v = layouts.get(k);
    if (!v) {
      v = a;
      layouts.set(k, a);
    }
    return v;
  };
  const columns = opts.columns;
  for (let i = 0; i < n; i++) {
    const worker = startWorker(workerData, o.youngMb);
    const heapName = `pipeline ${worker.threadId}`;
    worker.once('exit', () => forgetThreadHeap(heapName));
    const free: ArrayBuffer[] = [];
    for (let k = 0; k < poolSize; k++) free.push(new ArrayBuffer(o.batchBytes));
    let resolveDone: (c: WorkerDone | null) => void = () => {};
    const done = new Promise<WorkerDone | null>((r) => {
      resolveDone = r;
    });
    let resolveReady: () => void = () => {};
    const ready = new Promise<void>((r) => {
      resolveReady = r;
    });
    const shard: Shard = { worker, free, cur: null, inFlight: 0, done, ready, wake: null };
    const fail = (message: string): void => {
      if (failed[i]) return;
      // Its packets from now on are counted as dropped; finish() must not wait for it.
      failed[i] = true;
      failures.push(`pipeline worker ${i}: ${message}`);
      resolveReady();
      resolveDone(null);
      shard.wake?.();
    };
    worker.on('message', (m: ToMain) => {
      switch (m.type) {
        case 'ready':
          resolveReady();
          break;
        case 'free': {
          shard.inFlight--;
          if (m.heap) {
            recordThreadHeap(heapName, m.heap);
            heaps[shards.indexOf(shard)] = m.heap;
          }
          const recycle = (): void => {
            if (shard.free.length < poolSize) shard.free.push(m.buf);
            shard.wake?.();
            o.onRoom?.();
          };
          if (main && m.tap) {
            const tap = m.tap;
            // In order, and the buffer is reused only once the recorder took its runs.
            mainChain = mainChain
              .then(() => {
                spans?.begin('recorder');
                return main.record(m, tap).finally(() => spans?.end('recorder'));
              })
              .catch((e: unknown) => {
                failures.push(`packet recorder: ${(e as Error).message}`);
              })
              .then(recycle);
          } else {
            if (runHooks && m.tap) runHooks(m, m.tap);
            recycle();
          }
          break;
        }
        case 'records':
          for (const r of m.records) sink(r);
          break;
        case 'columns': {
          spans?.begin('columns message');
          const c = unpackColumnar(m.c);
          c.num = intern(c.num);
          c.str = intern(c.str);
          if (columns) columns(m.rtype, c);
          spans?.end('columns message');
          break;
        }
        case 'failed':
          fail(m.message);
          break;
        case 'done':
          resolveDone({
            counters: m.counters,
            flows: m.flows,
            recorder: m.recorder,
            cpuSeconds: m.cpuSeconds,
            finishCpuSeconds: m.finishCpuSeconds,
            ...(m.prof ? { prof: m.prof } : {}),
          });
          break;
      }
    });
    worker.on('error', (e) => {
      process.stderr.write(`pipeline worker ${i} failed: ${e.message}\n`);
      fail(e.message);
    });
    shards.push(shard);
  }

  const send = (s: Shard): void => {
    if (runBuf !== null) takeRun();
    const w = s.cur;
    if (!w || w.packets === 0) return;
    s.cur = null;
    s.inFlight++;
    const msg: ToWorker = {
      type: 'batch',
      buf: w.ab,
      bytes: w.used,
      packets: w.packets,
      linkType: w.linkType,
      ifIndex: w.ifIndex,
    };
    if (factors !== null) {
      // One array per batch (it is transferred), never one per packet.
      const fs = factors.slice(0, w.packets);
      msg.factors = fs;
      s.worker.postMessage(msg, [w.ab, fs.buffer as ArrayBuffer]);
      return;
    }
    s.worker.postMessage(msg, [w.ab]);
  };

  // File input to one worker: records that lie back to back in the reader's buffer as pcap
  // records (the batch's own layout) are copied into the batch as whole runs, one copy per run
  // instead of one per packet (microsecond fractions scaled after the copy). A file reader
  // leaves its buffer alone until it calls `between` or returns, where the run is taken.
  let runBuf: Buffer | null = null;
  let runStart = 0;
  let runEnd = 0;
  let runUs = false;
  let runPackets = 0;
  function takeRun(): void {
    const src = runBuf;
    if (src === null) return;
    runBuf = null;
    const w = shards[0]!.cur!;
    const b = w.buf;
    const at = w.used;
    const len = runEnd - runStart;
    src.copy(b, at, runStart, runEnd);
    if (runUs) {
      for (let q = at; q < at + len; q += BATCH_RECORD_HEADER + b.readUInt32LE(q + 8))
        b.writeUInt32LE(b.readUInt32LE(q + 4) * 1000, q + 4);
    }
    w.used = at + len;
    w.packets += runPackets;
    runPackets = 0;
  }

  /** A fresh batch for shard `s`, or null when none is free (counted). */
  const open = (s: Shard, f: Frame): BatchWriter | null => {
    let ab = s.free.pop();
    if (poolSize - s.free.length > peak) peak = poolSize - s.free.length;
    if (!ab) {
      if (!o.lossless) {
        drops.worker_queue_full++;
        return null;
      }
      grown++;
      ab = new ArrayBuffer(o.batchBytes);
    }
    const w = new BatchWriter(ab);
    w.linkType = f.linkType;
    w.ifIndex = f.ifIndex;
    s.cur = w;
    return w;
  };

  // The factors of the batch being filled (one worker): index = the packet's place in it.
  const factors = factorOf ? new Uint16Array(o.batchPackets) : null;
  const onFrame = (f: Frame): void => {
    const need = recordSize(f.caplen);
    if (need > o.batchBytes) {
      drops.frame_too_large++;
      return;
    }
    const si = decoder === null ? 0 : symmetricFlowHash(decoder.decode(f)) % n;
    if (failed[si]) {
      drops.worker_failed++;
      return;
    }
    const s = shards[si]!;
    let w = s.cur;
    // Live sources promise their buffer only for the callback: no runs there.
    if (decoder !== null || !o.lossless) {
      if (w) {
        if (w.append(f)) {
          if (factors !== null) factors[w.packets - 1] = factorOf!();
          if (w.packets >= o.batchPackets) send(s);
          return;
        }
        send(s);
      }
      const nw = open(s, f);
      if (nw?.append(f) && factors !== null) factors[0] = factorOf!();
      return;
    }
    const pending = runBuf === null ? 0 : runEnd - runStart;
    if (
      w &&
      (w.used + pending + need > w.buf.length ||
        w.packets + runPackets >= o.batchPackets ||
        f.linkType !== w.linkType ||
        f.ifIndex !== w.ifIndex)
    ) {
      send(s);
      w = null;
    }
    if (!w) {
      if (runBuf !== null) takeRun();
      w = open(s, f);
      if (!w) return;
    }
    const b = f.buf;
    const h = f.off - BATCH_RECORD_HEADER;
    if (
      h >= 0 &&
      b.readUInt32LE(h + 8) === f.caplen &&
      b.readUInt32LE(h + 12) === f.wirelen &&
      b.readUInt32LE(h) === f.tsSec
    ) {
      const frac = b.readUInt32LE(h + 4);
      const us = frac !== f.tsNs;
      if (!us || frac * 1000 === f.tsNs) {
        if (b === runBuf && h === runEnd && (us === runUs || frac === 0)) {
          runEnd = h + need;
          runPackets++;
          return;
        }
        if (runBuf !== null) takeRun();
        runBuf = b;
        runStart = h;
        runEnd = h + need;
        runUs = us;
        runPackets = 1;
        return;
      }
    }
    if (runBuf !== null) takeRun();
    w.append(f);
  };

  const between = (): Promise<void> | undefined => {
    // The reader is about to reuse its buffer.
    if (runBuf !== null) takeRun();
    for (const s of shards) {
      if (failed[shards.indexOf(s)] || s.free.length >= need) continue;
      // Whatever is half full goes now: the worker may be idle, waiting for it.
      send(s);
      return new Promise<void>((resolve) => {
        s.wake = () => {
          if (s.free.length >= need || failed[shards.indexOf(s)] || s.inFlight === 0) {
            s.wake = null;
            resolve();
          }
        };
        s.wake();
      }).then(between);
    }
    return undefined;
  };

  /**
   * A classic little-endian pcap file read straight into batch buffers (one worker, file
   * input): the records already lie as a batch holds them, so each read lands in the buffer that
   * is sent, with no frame handed over and no copy; only the record headers are walked, to cut
   * the batch at its last whole record (the unfinished one starts the next buffer) and to write
   * the times in nanoseconds. Null when the file is not such a pcap (the frame path reads it).
   */
  const readFile = async (
    path: string,
    between?: () => Promise<void> | undefined,
  ): Promise<CaptureSummary | null> => {
    if (n !== 1 || !o.lossless || factorOf !== null || failed[0]) return null;
    const s = shards[0]!;
    const fd = openSync(path, 'r');
    need = DIRECT_FREE;
    try {
      const head = Buffer.alloc(24);
      if (readSync(fd, head, 0, 24, 0) !== 24) return null;
      const magic = head.readUInt32LE(0);
      // Big-endian, pcapng and gzip files take the frame path.
      if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) return null;
      const us = magic === 0xa1b2c3d4;
      const snap = head.readUInt32LE(16);
      const linkType = head.readUInt32LE(20) & 0x0fffffff;
      const maxRec = snap > MAX_RECORD ? snap : MAX_RECORD;
      // What an earlier file left goes first.
      if (runBuf !== null) takeRun();
      send(s);
      let pos = 24;
      let packets = 0;
      let bytes = 0;
      let error: CaptureError | null = null;
      let ab = take(s);
      let buf = Buffer.from(ab);
      let tail = 0;
      let skip = 0;
      // File offset of buf[READ_AT].
      let at0 = 24;
      for (;;) {
        const got = readSync(fd, buf, READ_AT + tail, buf.length - READ_AT - tail, pos);
        pos += got;
        const end = READ_AT + tail + got;
        let p = READ_AT;
        if (skip > 0) {
          const k = Math.min(skip, end - p);
          skip -= k;
          p += k;
        }
        const first = p;
        let cnt = 0;
        while (end - p >= BATCH_RECORD_HEADER) {
          const incl = buf.readUInt32LE(p + 8);
          if (incl > maxRec) {
            error = new CaptureError(
              `corrupt pcap record: captured length ${incl} exceeds the maximum ${maxRec}`,
              at0 + (p - READ_AT),
            );
            break;
          }
          const need = BATCH_RECORD_HEADER + incl;
          if (end - p < need) {
            if (need > buf.length - READ_AT) {
              // It could never fit a batch: dropped as the frame path drops a frame that large.
              drops.frame_too_large++;
              skip = need - (end - p);
              p = end;
            }
            break;
          }
          // The record as a batch holds it: nanoseconds, the wire length at least the captured.
          const frac = buf.readUInt32LE(p + 4);
          let ns = us ? frac * 1000 : frac;
          if (ns >= 1e9) {
            buf.writeUInt32LE((buf.readUInt32LE(p) + Math.floor(ns / 1e9)) >>> 0, p);
            ns %= 1e9;
          }
          if (ns !== frac) buf.writeUInt32LE(ns, p + 4);
          if (buf.readUInt32LE(p + 12) < incl) buf.writeUInt32LE(incl, p + 12);
          cnt++;
          bytes += incl;
          p += need;
        }
        packets += cnt;
        const rest: number = error === null ? end - p : 0;
        if (error === null && got === 0 && (rest > 0 || skip > 0)) {
          error = new CaptureError(
            `file truncated: ${rest} trailing bytes do not form a whole pcap record`,
            at0 + (p - READ_AT),
          );
        }
        const last = error !== null || got === 0;
        // The unfinished record starts the next buffer, taken before this one is sent.
        const next = last ? null : take(s);
        if (next !== null && rest > 0) buf.copy(Buffer.from(next), READ_AT, p, end);
        if (cnt > 0) {
          s.inFlight++;
          s.worker.postMessage(
            {
              type: 'batch',
              buf: ab,
              start: first,
              bytes: p,
              packets: cnt,
              linkType,
              ifIndex: 0,
            } satisfies ToWorker,
            [ab],
          );
        } else if (s.free.length < poolSize) s.free.push(ab);
        if (next === null) break;
        at0 += p - READ_AT;
        ab = next;
        buf = Buffer.from(ab);
        tail = rest;
        const w = between?.();
        if (w) await w;
        if (failed[0]) break;
      }
      return { format: 'pcap', packets, bytes, error };
    } finally {
      need = needFree;
      closeSync(fd);
    }
  };

  /** A free buffer of shard `s` (file input: a new one when none is, counted). */
  const take = (s: Shard): ArrayBuffer => {
    const ab = s.free.pop();
    if (poolSize - s.free.length > peak) peak = poolSize - s.free.length;
    if (ab) return ab;
    grown++;
    return new ArrayBuffer(o.batchBytes);
  };

  return {
    onFrame,
    between,
    readFile,
    reports,
    failures,
    get buffersGrown() {
      return grown;
    },
    pool: poolSize,
    get inFlight() {
      let k = 0;
      for (const s of shards) k += s.inFlight;
      return k;
    },
    get peakInFlight() {
      return peak;
    },
    get workerHeap() {
      if (heaps.length === 0) return null;
      const sum: Required<HeapReport> = {
        used: 0,
        total: 0,
        young: 0,
        old: 0,
        code: 0,
        large: 0,
        external: 0,
        cpu: 0,
      };
      for (const h of heaps) {
        if (!h) continue;
        for (const k of Object.keys(sum) as (keyof HeapReport)[]) sum[k] += h[k] ?? 0;
      }
      return sum;
    },
    drops,
    hasRoom() {
      const s = shards[0];
      return n !== 1 || s === undefined || failed[0] === true || s.free.length > 0;
    },
    ready: Promise.all(shards.map((s) => s.ready)).then(() => {}),
    // A live source's records are due within a tick: the worker flushes them there.
    tick(sec, ns) {
      for (const s of shards) {
        send(s);
        s.worker.postMessage({ type: 'tick', sec, ns } satisfies ToWorker);
      }
    },
    endOfFile() {
      if (runBuf !== null) takeRun();
    },
    fileWeird(name, detail) {
      const s = shards[0];
      if (!s) return;
      send(s);
      s.worker.postMessage({ type: 'weird', name, detail } satisfies ToWorker);
    },
    async finish() {
      for (const s of shards) {
        send(s);
        s.worker.postMessage({ type: 'finish' } satisfies ToWorker);
      }
      const all = await Promise.all(shards.map((s) => s.done));
      await Promise.all(shards.map((s) => s.worker.terminate()));
      await mainChain;
      const total: PipelineCounters = {
        frames: 0,
        bytes: 0,
        ipPackets: 0,
        nonIpPackets: 0,
        weird: 0,
        weirdByName: {},
        drops: { ...drops },
      };
      for (const d of all) {
        if (!d) continue;
        reports.push(d);
        const c = d.counters;
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

/** Flow-table and recorder counters summed over the workers' reports. */
export function sumReports(reports: readonly WorkerDone[]): {
  flows: Pick<FlowTableStats, 'fragmentsOrphaned' | 'fragmentTrainsEvicted'>;
  recorder: Pick<RecorderCounters, 'packets'> | null;
} {
  let orphaned = 0;
  let evicted = 0;
  let recorded = -1;
  for (const r of reports) {
    orphaned += r.flows.fragmentsOrphaned;
    evicted += r.flows.fragmentTrainsEvicted;
    if (r.recorder) recorded = Math.max(recorded, 0) + r.recorder.packets;
  }
  return {
    flows: { fragmentsOrphaned: orphaned, fragmentTrainsEvicted: evicted },
    recorder: recorded < 0 ? null : { packets: recorded },
  };
}

/** Packet hooks on the calling thread, fed each batch as it comes back from the worker. */
function mainHooking(
  hooks: readonly Analyzer[],
): (
  b: { buf: ArrayBuffer; bytes: number; start?: number; linkType: number; ifIndex: number },
  tap: FlowTapBatch,
) => void {
  const decoder = new Decoder();
  const mirror = new FlowMirror();
  const frame = newFrame();
  let tap: FlowTapBatch | null = null;
  let k = 0;
  const onFrame: FrameHandler = (f) => {
    const slot = mirror.at(tap!, k++);
    const p = decoder.decode(f);
    for (const h of hooks) h.onPacket(p, mirror, slot, 0);
  };
  return (b, t) => {
    if (hooks.every((h) => h.idle?.() === true)) {
      mirror.applyAll(t);
      for (const h of hooks) h.skipped?.(t.slots.length);
      return;
    }
    tap = t;
    k = 0;
    mirror.begin();
    readBatch(Buffer.from(b.buf, 0, b.bytes), b.bytes, b.linkType, b.ifIndex, frame, onFrame, b.start);
    tap = null;
  };
}

/** The packet recorder on the calling thread, fed each batch as it comes back from the worker. */
function mainRecording(recorder: PacketRecorder): {
  record(b: BatchView, tap: FlowTapBatch): Promise<void>;
} {
  const decoder = new Decoder();
  const mirror = new FlowMirror();
  const frame = newFrame();
  let cur: BatchView | null = null;
  let tap: FlowTapBatch | null = null;
  let k = 0;
  const onFrame: FrameHandler = (f) => {
    const slot = mirror.at(tap!, k++);
    recorder.onPacket(decoder.decode(f), mirror, slot, 0);
  };
  const readOne: CaptureReader = batchReader(() => cur!, frame);
  const via = recorder.reader(readOne);
  return {
    async record(b, t) {
      cur = b;
      tap = t;
      k = 0;
      mirror.begin();
      try {
        await via('', onFrame);
      } finally {
        cur = null;
        tap = null;
      }
    },
  };
}

function startWorker(workerData: WorkerConfig, youngMb?: number): Worker {
  const url = new URL('./worker.js', import.meta.url);
  // Flags such as --input-type (node -e) are not valid for a worker's entry file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const limits = youngMb && youngMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: youngMb } } : {};
  try {
    return new Worker(url, { workerData, execArgv, ...limits });
  } catch (e) {
    // Process-wide V8 flags (--trace-gc, --max-old-space-size...) are refused for a worker: it
    // runs with the environment's defaults then (those flags still apply to the whole process).
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(url, { workerData, execArgv: [], ...limits });
  }
}
