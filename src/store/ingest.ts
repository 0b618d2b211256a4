import { writeFileSync } from 'node:fs';
import { type CaptureSummary, readCaptureFile } from '../capture/capture-file.js';
import type { FrameHandler } from '../capture/frame.js';
import { mark, pipeReport, processSched, spans, wallMs } from '../capture/workers/pipe-prof.js';
import { threadCpuSeconds } from '../capture/workers/thread-cpu.js';
import { createThreadedPipeline, sumReports } from '../capture/workers/threaded.js';
import { createCaptureCollector } from '../collect/capture-hook.js';
import type { Metrics } from '../common/metrics.js';
import type { ThreadHeap } from '../common/thread-heap.js';
import type { FlowConfig } from '../flow/flow-table.js';
import { createSensor, type PacketHook, type SensorRecord } from '../flow/sensor.js';
import { createPacketRecorder, type RecorderConfig } from '../pcapstore/recorder.js';
import { type Columnar, columnarToRecords } from './columnar.js';
import type { Rec, RecordStore } from './types.js';

export interface IngestSummary {
  files: number;
  packets: number;
  bytes: number;
  records: Record<string, number>;
  /** Records of types the store does not know (counted, not stored). */
  unstored: Record<string, number>;
  weirds: number;
  errors: { file: string; message: string }[];
  elapsed_s: number;
  /** State the flow table dropped at its caps: fragments never attributed to a flow, trains evicted. */
  dropped?: { fragments_orphaned: number; fragment_trains_evicted: number };
  /** Set when a limit or a cancel ended the ingest early; what was read before it is stored. */
  stopped?: { code: string; message: string };
  /** Packets written to the packet store (with the `recorder` option). */
  packets_recorded?: number;
  /** Pipeline worker threads the ingest ran on (0: the calling thread). */
  workers?: number;
  /**
   * CPU seconds of the calling thread during the ingest and of each pipeline worker; `tail`:
   * what ran after the last packet (the workers' end of input, then this thread's last appends).
   */
  cpu_s?: { main: number; workers: number[]; tail: { workers: number[]; main: number } };
}

import { DEFAULT_INGEST_WORKERS } from './ingest-defaults.js';

export { DEFAULT_INGEST_WORKERS };

/** Thrown by a reader or a frame handler to end an ingest early, keeping what was read. */
export class IngestStop extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'IngestStop';
  }
}

/** How an upload job steers an ingest: its own reader (with limits) and a view of the counts. */
export interface IngestControl {
  /** A reader of its own (upload limits); `between` is awaited between blocks (store back-pressure). */
  read?: (
    file: string,
    onFrame: FrameHandler,
    between?: () => Promise<void> | undefined,
  ) => Promise<CaptureSummary>;
  /** Called once with the summary object, which fills as records arrive. */
  live?: (s: IngestSummary) => void;
  /**
   * Run between the reader's blocks, after any wait for the store (a memory trace's samples:
   * the synchronous reader holds the event loop, so timers alone do not see the read).
   */
  tick?: () => Promise<void> | undefined;
  /** Given once the pipeline runs (workers ≥ 1): its workers' V8 heaps as last reported. */
  workerHeap?: (get: () => ThreadHeap | null) => void;
}

/**
 * Decode captures through a Sensor and append its records to a store in batches. Resolves
 * when every batch is durable.
 */
export async function ingestCaptures(
  store: RecordStore,
  files: readonly string[],
  opts: {
    batch?: number;
    metrics?: Metrics;
    names?: readonly string[];
    /** More packet hooks for the sensor (the packet recorder). */
    hooks?: PacketHook[];
    /** Decode NetFlow/IPFIX/sFlow datagrams inside the captures into collected-flow records. */
    collect?: boolean;
    /** Flow table settings (timeouts, keys). */
    flow?: Partial<FlowConfig>;
    /**
     * Record every packet into this packet store (opened, written and closed by the ingest;
     * on the pipeline worker when there is one). A recorder shared with others goes in `hooks`.
     */
    recorder?: Partial<RecorderConfig> & { dir: string };
    /**
     * Threads that decode, meter flows, parse L7 (and record packets) while this thread reads
     * the files and feeds the store: 0 runs everything here. Default `DEFAULT_INGEST_WORKERS`.
     * Function `hooks` can only run here: with any, the ingest runs inline. With one worker the
     * store gets exactly the rows of the inline path; with more, flows are sharded by a
     * symmetric hash (records of a flow keep their order; rows of different flows interleave
     * differently and weird sampling is per worker).
     */
    workers?: number;
    /**
     * Where the packet recorder runs with a pipeline worker: on this thread (default: the batches
     * come back with their flow slots, and recording them here balances the two threads) or on
     * the worker.
     */
    recorderOn?: 'main' | 'worker';
    /**
     * The store is still opening: nothing is read, recorded or appended before this resolves
     * (a store that cannot open, e.g. held by a running server, must not see packets written
     * beside it), but the pipeline worker starts meanwhile. A rejection is thrown.
     */
    after?: Promise<unknown>;
  } & IngestControl = {},
): Promise<IngestSummary> {
  const t0 = performance.now();
  // Large batches: a DuckDB commit of at least a row group (122,880 rows) costs about half as
  // much per row as smaller ones, and a flow batch of this size is ~40 MB of columns.
  const batchSize = opts.batch ?? 131_072;
  const known = new Set(store.defs.map((d) => d.type));
  const buffers = new Map<string, Rec[]>();
  const summary: IngestSummary = {
    files: files.length,
    packets: 0,
    bytes: 0,
    records: {},
    unstored: {},
    weirds: 0,
    errors: [],
    elapsed_s: 0,
    workers: 0,
  };
  opts.live?.(summary);
  const read = opts.read ?? readCaptureFile;
  let pending: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  // Batches handed to the store and not yet durable. Reading a file is synchronous, so without
  // a pause the appends would only start at the end of the file with every record held.
  let queued = 0;
  const flush = (type: string): void => {
    const buf = buffers.get(type);
    if (!buf || buf.length === 0) return;
    buffers.set(type, []);
    queued++;
    pending = pending.then(() =>
      store
        .append(type, buf)
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => {
          queued--;
          wakeStore();
        }),
    );
  };
  // Flow, DNS, TLS and HTTP records come as column batches (no object per record); a store
  // without a column path is given them as records.
  const colStore = store as RecordStore & { appendColumns?: (type: string, c: Columnar) => Promise<void> };
  const columns = (type: string, c: Columnar): void => {
    const n = c.rows.length;
    if (!known.has(type)) {
      summary.unstored[type] = (summary.unstored[type] ?? 0) + n;
      return;
    }
    summary.records[type] = (summary.records[type] ?? 0) + n;
    queued++;
    pending = pending.then(() => {
      if (spans) {
        spans.begin('store');
        if (queuedAtWorker) spans.note('batches at the worker when a commit began', queuedAtWorker());
      }
      return (
        colStore.appendColumns
          ? colStore.appendColumns(type, c)
          : store.append(type, columnarToRecords(c, type))
      )
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => {
          spans?.end('store');
          queued--;
          wakeStore();
        });
    });
  };
  const storeWait = (): Promise<void> | undefined => (queued > 0 ? pending : undefined);
  const tick = opts.tick;
  const between = tick ? (): Promise<void> | undefined => thenTick(storeWait(), tick) : storeWait;
  // With VANTAGE_PIPE_PROF: the worker path's count of batches sent and not yet back.
  let queuedAtWorker: (() => number) | null = null;
  // The worker path lets the reader run while up to this many appends wait: the worker goes on
  // with the packets already read while this thread commits.
  let storeWaiters: (() => void)[] = [];
  function wakeStore(): void {
    if (queued > 1 || storeWaiters.length === 0) return;
    const w = storeWaiters;
    storeWaiters = [];
    for (const r of w) r();
  }
  const storeBehind0 = (): Promise<void> | undefined =>
    queued > 1 ? new Promise<void>((r) => storeWaiters.push(r)) : undefined;
  const storeBehind = tick ? (): Promise<void> | undefined => thenTick(storeBehind0(), tick) : storeBehind0;
  const sink = (rec: SensorRecord): void => {
    const type = rec.type;
    if (!known.has(type)) {
      summary.unstored[type] = (summary.unstored[type] ?? 0) + 1;
      opts.metrics?.inc(
        'vantage_ingest_unstored_records_total',
        'Records of a type the store does not know.',
        { type },
      );
      return;
    }
    summary.records[type] = (summary.records[type] ?? 0) + 1;
    let buf = buffers.get(type);
    if (!buf) {
      buf = [];
      buffers.set(type, buf);
    }
    buf.push(rec as Rec);
    if (buf.length >= batchSize) flush(type);
  };
  const workers = opts.hooks && opts.hooks.length > 0 ? 0 : (opts.workers ?? DEFAULT_INGEST_WORKERS);
  if (!(Number.isInteger(workers) && workers >= 0 && workers <= 64))
    throw new Error(`workers must be an integer 0-64 (got ${workers})`);
  if (workers > 0) {
    await runThreaded(
      files,
      opts,
      read,
      summary,
      sink,
      columns,
      storeBehind,
      workers,
      () => pending,
      (f) => {
        queuedAtWorker = f;
      },
    );
    for (const type of buffers.keys()) flush(type);
    await pending;
    if (failure) throw failure;
  } else {
    await opts.after;
    const cpu0 = threadCpuSeconds();
    let cpuDone = cpu0;
    const hooks = [...(opts.hooks ?? [])];
    const recorder = opts.recorder ? createPacketRecorder(opts.recorder) : null;
    if (recorder) {
      await recorder.start();
      hooks.push(recorder);
    }
    if (opts.collect) hooks.push(createCaptureCollector(sink, { ports: [] }));
    const sensor = createSensor(sink, {
      hooks,
      columns,
      columnRows: batchSize,
      ...(opts.flow ? { flow: opts.flow } : {}),
    });
    // The recorder copies whole runs of records straight from the reader's buffer.
    const readVia = recorder ? recorder.reader(read) : read;
    try {
      for (let i = 0; i < files.length; i++) {
        const file = files[i]!;
        const name = opts.names?.[i] ?? file;
        try {
          const s = await readVia(file, sensor.onFrame, between);
          if (s.error) {
            summary.errors.push({ file: name, message: s.error.message });
            sensor.fileWeird('capture_file_damaged', `${name}: ${s.error.message}`, 0, 0);
          }
        } catch (e) {
          if (e instanceof IngestStop) {
            summary.stopped = { code: e.code, message: `${name}: ${e.message}` };
            await pending;
            break;
          }
          summary.errors.push({ file: name, message: (e as Error).message });
        }
        await pending;
      }
      cpuDone = threadCpuSeconds();
      mark('read');
      const c = sensor.finish();
      for (const type of buffers.keys()) flush(type);
      await pending;
      if (failure) throw failure;
      summary.packets = c.frames;
      summary.bytes = c.bytes;
      summary.weirds = c.weird;
      const fs = sensor.flows.stats;
      summary.dropped = {
        fragments_orphaned: fs.fragmentsOrphaned,
        fragment_trains_evicted: fs.fragmentTrainsEvicted,
      };
    } finally {
      await recorder?.stop();
    }
    if (recorder) summary.packets_recorded = recorder.counters.packets;
    // The same account as the worker path's, so the two can be set side by side.
    const cpuEnd = threadCpuSeconds();
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    summary.cpu_s = {
      main: r2(cpuEnd - cpu0),
      workers: [],
      tail: { workers: [], main: r2(cpuEnd - cpuDone) },
    };
  }
  summary.elapsed_s = Math.round(performance.now() - t0) / 1000;
  const m = opts.metrics;
  if (m) {
    m.inc('vantage_ingest_packets_total', 'Packets read from captures.', {}, summary.packets);
    m.inc('vantage_ingest_bytes_total', 'Bytes read from captures (wire length).', {}, summary.bytes);
    m.inc('vantage_ingest_weird_total', 'Malformed or unexpected packets.', {}, summary.weirds);
    m.inc('vantage_ingest_files_total', 'Capture files ingested.', {}, files.length);
    m.inc(
      'vantage_ingest_errors_total',
      'Capture files that were damaged or unreadable.',
      {},
      summary.errors.length,
    );
    for (const [type, n] of Object.entries(summary.records)) {
      m.inc('vantage_ingest_records_total', 'Records stored from captures.', { type }, n);
    }
  }
  return summary;
}

function thenTick(
  wait: Promise<void> | undefined,
  tick: () => Promise<void> | undefined,
): Promise<void> | undefined {
  return wait ? wait.then(() => tick()) : tick();
}

/**
 * The worker path: this thread reads the files and copies packets into batches for the
 * pipeline worker(s), which decode, meter, parse and build column batches; those come back by
 * transfer to `columns` (and the rare object records to `sink`) in the order the worker made
 * them, while this thread appends to the store and runs its watchers.
 */
async function runThreaded(
  files: readonly string[],
  opts: Parameters<typeof ingestCaptures>[2] & {},
  read: NonNullable<IngestControl['read']>,
  summary: IngestSummary,
  sink: (rec: SensorRecord) => void,
  columns: (type: string, c: Columnar) => void,
  storeBetween: () => Promise<void> | undefined,
  workers: number,
  pending: () => Promise<void>,
  showQueue: (f: () => number) => void,
): Promise<void> {
  const batchSize = opts.batch ?? 131_072;
  const onMain = opts.recorder && opts.recorderOn !== 'worker' ? createPacketRecorder(opts.recorder) : null;
  // A recorder on the worker starts with it: the store is open first then.
  if (!onMain && opts.recorder) await opts.after;
  const p = createThreadedPipeline(sink, {
    flow: opts.flow ?? {},
    l7: true,
    workers,
    columns,
    // Column batches smaller than a store commit's best size: records that are made during the
    // file are stored (and seen by the detectors) while the worker goes on, instead of after
    // the last packet while the worker has nothing left to do. Each of the worker's record
    // types (flow, DNS, TLS, HTTP...) holds a batch until it is full, so the size decides how
    // much waits for the end: on the realistic capture this thread's CPU after the last packet
    // was 0.67 s at 32,768 rows, 0.42 at 16,384, 0.31 at 8,192 and 0.22 at 4,096, for a store
    // CPU of 0.87, 0.88, 0.93 and 1.05 s (7, 11, 20 and 38 commits; VANTAGE_PIPE_PROF,
    // bench/README.md 2026-12-07).
    columnRows: Math.min(batchSize, 8192),
    lossless: true,
    // Large batches: fewer messages, and each the size of a few of the reader's records runs.
    batchBytes: 1 << 20,
    batchPackets: 1 << 16,
    ...(onMain ? { mainRecorder: onMain } : opts.recorder ? { recorder: opts.recorder } : {}),
    ...(opts.collect ? { collectPorts: [] } : {}),
  });
  summary.workers = workers;
  showQueue(() => p.inFlight);
  opts.workerHeap?.(() => p.workerHeap);
  const cpu0 = threadCpuSeconds();
  mark('pipeline made');
  // The worker loads its modules while the store opens.
  try {
    await opts.after;
    await onMain?.start();
  } catch (e) {
    await p.finish().catch(() => undefined);
    throw e;
  }
  await p.ready;
  mark('pipeline ready');
  const prof0 = spans ? { t: wallMs(), sched: processSched() } : null;
  // The reader waits for the workers' buffers, then for the store when it is behind.
  const between = (): Promise<void> | undefined => {
    if (spans) return profiledBetween();
    const w = p.between();
    if (w) return w.then(() => storeBetween());
    return storeBetween();
  };
  const profiledBetween = async (): Promise<void> => {
    spans!.end('read');
    const w = p.between();
    if (w) {
      spans!.begin('read paused: worker has no room');
      await w;
      spans!.end('read paused: worker has no room');
    }
    const st = storeBetween();
    if (st) {
      spans!.begin('read paused: store behind');
      await st;
      spans!.end('read paused: store behind');
    }
    spans!.begin('read');
  };
  let finished = false;
  try {
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      const name = opts.names?.[i] ?? file;
      try {
        // A plain pcap file goes straight into the worker's batches (no copy); others, and an
        // upload's own reader, through frames.
        spans?.begin('read');
        const direct = opts.read === undefined ? await p.readFile(file, between) : null;
        const s = direct ?? (await read(file, p.onFrame, between).finally(() => p.endOfFile()));
        spans?.end('read');
        if (s.error) {
          summary.errors.push({ file: name, message: s.error.message });
          p.fileWeird('capture_file_damaged', `${name}: ${s.error.message}`);
        }
      } catch (e) {
        if (e instanceof IngestStop) {
          summary.stopped = { code: e.code, message: `${name}: ${e.message}` };
          break;
        }
        summary.errors.push({ file: name, message: (e as Error).message });
      }
    }
    const cpuDone = threadCpuSeconds();
    mark('read');
    spans?.begin('end: worker finishing');
    const c = await p.finish();
    spans?.end('end: worker finishing');
    finished = true;
    spans?.begin('end: recorder stop');
    await onMain?.stop();
    spans?.end('end: recorder stop');
    spans?.begin('end: store drain');
    await pending();
    spans?.end('end: store drain');
    if (prof0 && spans) {
      const rep = pipeReport({
        from: prof0.t,
        to: wallMs(),
        before: prof0.sched,
        after: processSched(),
        main: spans,
        worker: p.reports[0]?.prof,
      });
      process.stderr.write(
        `PIPEPROF ${JSON.stringify({ ...rep, recorder_backpressure_ms: onMain?.counters.backpressureMs })}\n`,
      );
      // Every interval, for a timeline (VANTAGE_PIPE_PROF_RAW=FILE).
      const rawTo = process.env.VANTAGE_PIPE_PROF_RAW;
      if (rawTo) {
        const sp = spans;
        const raw = Object.fromEntries(sp.names().map((k) => [k, sp.raw(k)]));
        writeFileSync(rawTo, JSON.stringify({ from: prof0.t, main: raw, worker: p.reports[0]?.prof?.busy }));
      }
    }
    if (p.failures.length > 0) throw new Error(p.failures.join('; '));
    summary.packets = c.frames;
    summary.bytes = c.bytes;
    summary.weirds = c.weird;
    const r = sumReports(p.reports);
    summary.dropped = {
      fragments_orphaned: r.flows.fragmentsOrphaned,
      fragment_trains_evicted: r.flows.fragmentTrainsEvicted,
    };
    if (r.recorder) summary.packets_recorded = r.recorder.packets;
    if (onMain) summary.packets_recorded = onMain.counters.packets;
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    const cpuEnd = threadCpuSeconds();
    summary.cpu_s = {
      main: r2(cpuEnd - cpu0),
      workers: p.reports.map((x) => x.cpuSeconds),
      tail: { workers: p.reports.map((x) => r2(x.finishCpuSeconds)), main: r2(cpuEnd - cpuDone) },
    };
  } finally {
    // An error above leaves the workers running: finish them (and close the recorder's segment).
    if (!finished) {
      await p.finish().catch(() => undefined);
      await onMain?.stop();
    }
  }
}
