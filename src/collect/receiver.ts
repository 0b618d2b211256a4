/**
 * The collector component: UDP sockets (any export protocol on any port, detected by content),
 * IPFIX over TCP (messages framed by their length field), a bounded queue between the socket
 * callbacks and the decoder, and records handed to the sink in batches.
 *
 * With `decodeInWorker` (the default) the main thread only receives: the socket callback copies
 * the datagram into the current batch (one ArrayBuffer of up to 256 datagrams / 1 MiB), and the
 * batch is transferred to a decode thread (`decode-worker.ts`, which owns the one decoder, its
 * templates and their persistence) when full or `workerBatchLingerMs` (1 ms) after its first
 * datagram. Records
 * come back per batch in columnar form (`columns.ts`) and go to the sink in batches, with the
 * statistics the worker keeps; `stats()` stays synchronous (counters of the last results plus
 * those the main thread owns: received, drops, TCP framing errors).
 *
 * Without it, the socket callback queues the datagram (Node gives each one its own Buffer) and
 * decoding runs in batches on a later turn of the main event loop.
 *
 * Every loss is counted: more than `maxQueue` datagrams received but not yet decoded count
 * `drops` on the exporter (so do the datagrams a crashed decode worker had), a full kernel
 * buffer shows in `socketDrops` (read from /proc/net/udp{,6}). The account is exact at any
 * moment: received = datagrams (decoded) + drops + queueDepth (queued or in flight). A decode
 * thread that dies is logged, counted (`workerCrashes`) and restarted (templates come back
 * from stateDir); after `maxWorkerRestarts` every datagram is dropped and counted.
 *
 * With `spool` (and `receiveInWorker`), what the store cannot take yet waits on disk instead
 * (`spool.ts`): the receiving thread decodes only while fewer than `aheadRecords` records wait
 * for the store, appends the rest to the spool in arrival order, and decodes from its head as
 * `deps.settled` reports results stored; each acknowledgement releases the spool up to that
 * result. A successor of a dead thread resumes after the last result handed on; only what the
 * dead thread had spooled but not yet written (at most 250 ms) is lost uncounted.
 */
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ThreadHeap } from '../common/thread-heap.js';
import type { Columnar } from '../store/columnar.js';
import { columnarOf, decodeColumns } from './columns.js';
import { countRecords } from './count.js';
import type {
  BatchMsg,
  DecodeWorkerData,
  FromWorker,
  ResultMsg,
  SpoolWorkerConfig,
  ToWorker,
} from './decode-worker.js';
import { META, TEMPLATE_FILE } from './decode-worker.js';
import { CollectDecoder, type CollectDecoderConfig, DEFAULT_DECODER_CONFIG } from './decoder.js';
import type { SpoolConfig, SpoolPos, SpoolStats } from './spool.js';
import { type CollectedRecord, type ExporterStats, newExporterStats } from './types.js';

export interface CollectorConfig {
  /** Address to bind: "0.0.0.0", "::" or "127.0.0.1". */
  host: string;
  /** UDP ports (0 = ephemeral; see `addresses()`). NetFlow 2055, IPFIX 4739, sFlow 6343. */
  udpPorts: number[];
  /** TCP ports for IPFIX over TCP (RFC 7011 §10.4). */
  tcpPorts: number[];
  /** SO_RCVBUF asked for each UDP socket (the kernel caps it at net.core.rmem_max). */
  recvBufferSize: number;
  /** Datagrams queued between the socket and the decoder; more are dropped and counted. */
  maxQueue: number;
  /** Datagrams decoded per event-loop turn. */
  decodeBatch: number;
  /** Records per sink call. */
  sinkBatch: number;
  /** Where templates persist across restarts (templates.json); null: not persisted. */
  stateDir: string | null;
  /** How often changed templates are written (ms). */
  stateSaveMs: number;
  decoder: Partial<CollectDecoderConfig>;
  /** Decode on a worker thread; the main thread only receives and copies bytes into batches. */
  decodeInWorker: boolean;
  /** Worker mode: datagrams and bytes per batch handed to the decode thread. */
  workerBatchDatagrams: number;
  workerBatchBytes: number;
  /**
   * Worker mode: how long a batch that is not full waits for more datagrams before it is handed
   * over (ms; 0: on the next turn of the event loop). Fewer, larger messages cost less CPU.
   */
  workerBatchLingerMs: number;
  /**
   * Worker mode: the decode thread also reads the UDP sockets, so a busy main thread (store
   * appends, API queries) never lets the kernel's receive buffer overflow; what the main
   * thread has not taken yet is bounded by `maxQueue` datagrams and counted as drops past it.
   * A decode thread that dies loses, uncounted, what it received since its last result
   * (at most `workerBatchLingerMs` of datagrams); its successor binds the same ports.
   */
  receiveInWorker: boolean;
  /**
   * Worker mode: nice value of the decode thread; 0 (the default) leaves it. Decoding is bulk
   * work that could yield to the thread that answers the API, but with `receiveInWorker` the
   * same thread reads the sockets: niced to 10 on a loaded machine it read them too late and the
   * kernel dropped datagrams a spool would have kept (test/collect/spool-flood.test.ts), so it
   * is off until receiving has a thread of its own.
   */
  workerNice: number;
  /**
   * Worker mode: the decode thread's young generation, MB (V8's `maxYoungGenerationSizeMb`:
   * three times a semi-space); 0 leaves V8's default (16 MiB semi-spaces). Flows are written
   * into columns there, not made as objects, so little is garbage and a small young generation
   * costs the thread little CPU (bench/README.md, 2026-12-07).
   */
  workerYoungMb: number;
  /** Worker mode: how often a crashed decode thread is restarted before giving up. */
  maxWorkerRestarts: number;
  /** Worker mode: how long stop() waits for the decode thread to finish its queue (ms). */
  stopTimeoutMs: number;
  /**
   * With `receiveInWorker`: a disk spool (`spool.ts`) for what the store cannot take yet. The
   * receiving thread appends every datagram it cannot decode at once (more than `aheadRecords`
   * records not yet stored, or datagrams already spooled) and decodes from the spool's head as
   * results are stored (`deps.settled`), in arrival order. Past `maxBytes` on disk datagrams
   * are dropped and counted (`spool.full`). Null: no spool (datagrams past `maxQueue` drop).
   */
  spool: (Partial<SpoolConfig> & { dir: string; aheadRecords: number }) | null;
}

export const DEFAULT_COLLECTOR_CONFIG: CollectorConfig = {
  host: '0.0.0.0',
  udpPorts: [2055, 4739, 6343],
  tcpPorts: [4739],
  // 32 MiB holds about 1 s of 400k IPFIX records/s (13k datagrams of ~1.2 KB, ~2.3 KB each in
  // the kernel's accounting): a decode thread starved for a few hundred milliseconds by other
  // work on the machine drops nothing. 8 MiB (~180 ms at 600k records/s) lost 11% of a 2-s
  // flood at load 7. Kernel memory, outside the process's RSS and its budget; granted past
  // net.core.rmem_max when the process may (SO_RCVBUFFORCE), else capped there.
  recvBufferSize: 32 * 1024 * 1024,
  maxQueue: 65536,
  decodeBatch: 512,
  sinkBatch: 1024,
  stateDir: null,
  stateSaveMs: 5000,
  decoder: {},
  decodeInWorker: true,
  workerBatchDatagrams: 256,
  workerBatchBytes: 1024 * 1024,
  workerBatchLingerMs: 1,
  receiveInWorker: false,
  workerNice: 0,
  workerYoungMb: 12,
  maxWorkerRestarts: 10,
  stopTimeoutMs: 10_000,
  spool: null,
};

export interface CollectorDeps {
  /** Receives records in batches; the array is not reused by the collector. */
  sink: (batch: CollectedRecord[]) => void;
  /**
   * When given, flow records reach this in column form instead of `sink` (other records still
   * go to `sink`): the way to the store without an object per flow.
   */
  sinkColumns?: (flows: Columnar) => void;
  log?: (msg: string) => void;
  /**
   * How many of the records handed to `sink` and `sinkColumns` so far the store has settled
   * (stored, or counted as lost). With a spool, a result is acknowledged to the receiving thread
   * (and its spool space released) only once settled; without this, at once.
   */
  settled?: () => number;
}

export interface CollectorStats {
  exporters: ExporterStats[];
  totals: ExporterStats;
  /** Datagrams that were not NetFlow/IPFIX/sFlow. */
  unknown: number;
  /** Datagrams taken from the sockets (UDP) and framed messages (TCP). */
  received: number;
  /** Datagrams received but not decoded yet (queued, or in flight to the decode thread). */
  queueDepth: number;
  queueHighWater: number;
  /** Datagrams the kernel dropped on our UDP sockets (receive buffer full). */
  socketDrops: number;
  /**
   * Worker mode: datagrams dropped on this thread before the decode thread had them (in
   * `totals.drops` too; their records are unknown, so they count as datagrams).
   */
  mainDrops: number;
  recvBufferSize: number[];
  tcpConnections: number;
  /**
   * Times a TCP exporter's connection was paused because the decode thread or the store was
   * behind: TCP's own flow control then holds its data at the exporter instead of a drop here.
   */
  tcpPauses: number;
  decodeInWorker: boolean;
  /** Decode threads that died (their in-flight datagrams are counted in `drops`). */
  workerCrashes: number;
  /** Batches handed to the decode thread. */
  workerBatches: number;
  /** The disk spool's depth and counters (null without one). */
  spool: SpoolStats | null;
  /** The receiving decode thread's V8 heap, as it last reported it (with a spool; else null). */
  workerHeap: ThreadHeap | null;
}

export interface Collector {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): CollectorStats;
  /** Bound addresses (resolves port 0). */
  addresses(): { udp: number[]; tcp: number[] };
  /**
   * Decode everything queued now and hand pending records to the sink. In worker mode: hand the
   * current batch to the decode thread now (its records reach the sink asynchronously).
   */
  flush(): void;
  /** The decoder, when decoding runs on this thread (null with `decodeInWorker`). */
  readonly decoder: CollectDecoder | null;
  /** The decode thread while it runs (worker mode), for diagnostics and tests. */
  readonly decodeThread: Worker | null;
}

interface Queued {
  buf: Buffer;
  exporter: string;
  port: number;
  ms: number;
}

/** Free batch buffers kept for reuse. */
const POOL_MAX = 16;

interface Source {
  exporter: string;
  port: number;
}

/** A batch being filled for the decode thread. */
interface Filling {
  data: ArrayBuffer;
  u8: Uint8Array;
  meta: Float64Array;
  n: number;
  bytes: number;
  sources: Source[];
  /** Datagrams per source (to count them as drops if the worker dies with them). */
  counts: number[];
  index: Map<string, number>;
  lastExporter: string;
  lastPort: number;
  lastIdx: number;
}

interface InFlight {
  n: number;
  sources: Source[];
  counts: number[];
}

/** Statistics the main thread owns in worker mode (it sees these events, the worker does not). */
interface MainCounts {
  exporter: string;
  port: number;
  drops: number;
  decodeErrors: number;
}

function addStats(into: ExporterStats, s: ExporterStats): void {
  for (const k of Object.keys(into) as (keyof ExporterStats)[]) {
    if (k === 'port') continue;
    const v = s[k];
    if (typeof v === 'number') (into[k] as number) += v;
  }
  if (s.source) into.source = s.source;
}

export function createCollector(config: Partial<CollectorConfig>, deps: CollectorDeps): Collector {
  const cfg: CollectorConfig = { ...DEFAULT_COLLECTOR_CONFIG, ...config };
  const inWorker = cfg.decodeInWorker;
  let batch: CollectedRecord[] = [];
  const decoder = inWorker
    ? null
    : new CollectDecoder(cfg.decoder, (rec) => {
        batch.push(rec);
        if (batch.length >= cfg.sinkBatch) flushBatch();
      });
  const udp: dgram.Socket[] = [];
  const tcp: net.Server[] = [];
  const conns = new Set<net.Socket>();
  let queue: Queued[] = [];
  let qHead = 0;
  let highWater = 0;
  let scheduled = false;
  let saveTimer: NodeJS.Timeout | null = null;
  let running = false;
  /** Socket drops read just before the sockets closed (they vanish from /proc after). */
  let closedDrops = 0;
  let received = 0;

  // ---- worker mode state ----
  let worker: Worker | null = null;
  let stopping = false;
  let crashes = 0;
  let filling: Filling | null = null;
  let postScheduled = false;
  let nextId = 0;
  let inFlight = 0;
  const flights = new Map<number, InFlight>();
  const pool: ArrayBuffer[] = [];
  const metaPool: ArrayBuffer[] = [];
  /** The decode thread's statistics as of its last result, and those of threads that died. */
  const workerStats = new Map<string, ExporterStats>();
  const retired = new Map<string, ExporterStats>();
  let workerUnknown = 0;
  let retiredUnknown = 0;
  const mainCounts = new Map<string, MainCounts>();
  const maxExporters = cfg.decoder.maxExporters ?? DEFAULT_DECODER_CONFIG.maxExporters;
  let onStopped: (() => void) | null = null;
  // ---- receiving on the decode thread ----
  const recvInWorker = inWorker && cfg.receiveInWorker;
  let workerPorts: number[] = [];
  let workerRecvBuf: number[] = [];
  /** Datagrams the current decode thread reported receiving, and those of threads that died. */
  let workerReceived = 0;
  let workerReceivedBase = 0;
  // ---- the spool: results acknowledged once the store has them ----
  const spoolCfg = recvInWorker ? cfg.spool : null;
  /** Records handed to the sinks since start. */
  let handed = 0;
  /** Results of the receiving thread not yet acknowledged, oldest first. */
  const acks: { n: number; rows: number; pos: SpoolPos | undefined; target: number }[] = [];
  let ackTimer: NodeJS.Timeout | null = null;
  /** The spool position of the last result handed to the sinks. */
  let handedPos: SpoolPos | null = null;
  let spoolStats: SpoolStats | null = null;
  let workerHeap: ThreadHeap | null = null;

  function flushBatch(): void {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    deps.sink(b);
  }

  /** Counters of one exporter kept on this thread (bounded like the decoder's: the rest is "other"). */
  function counts(exporter: string, port: number): MainCounts {
    const key = `${exporter}|${port}`;
    let c = mainCounts.get(key);
    if (c) return c;
    if (mainCounts.size >= maxExporters) {
      c = mainCounts.get('other|0');
      if (c) return c;
      c = { exporter: 'other', port: 0, drops: 0, decodeErrors: 0 };
      mainCounts.set('other|0', c);
      return c;
    }
    c = { exporter, port, drops: 0, decodeErrors: 0 };
    mainCounts.set(key, c);
    return c;
  }

  function countDrop(exporter: string, port: number, n = 1): void {
    if (decoder) decoder.stats(exporter, port).drops += n;
    else counts(exporter, port).drops += n;
  }

  function countFramingError(exporter: string, port: number): void {
    if (decoder) decoder.stats(exporter, port).decodeErrors++;
    else counts(exporter, port).decodeErrors++;
  }

  function enqueue(buf: Buffer, exporter: string, port: number): void {
    received++;
    if (inWorker) {
      toBatch(buf, exporter, port);
      return;
    }
    const depth = queue.length - qHead;
    if (depth >= cfg.maxQueue) {
      countDrop(exporter, port);
      decoder!.stats(exporter, port).dropRecords += countRecords(decoder!, buf, 0, buf.length, exporter);
      return;
    }
    queue.push({ buf, exporter, port, ms: Date.now() });
    if (depth + 1 > highWater) highWater = depth + 1;
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }

  function drain(): void {
    scheduled = false;
    const end = Math.min(queue.length, qHead + cfg.decodeBatch);
    for (; qHead < end; qHead++) {
      const q = queue[qHead]!;
      decoder!.decode(q.buf, 0, q.buf.length, q.exporter, q.port, q.ms);
    }
    if (qHead === queue.length) {
      queue = [];
      qHead = 0;
      flushBatch();
    } else {
      if (qHead > 4096) {
        queue = queue.slice(qHead);
        qHead = 0;
      }
      scheduled = true;
      setImmediate(drain);
    }
  }

  // ---- worker mode: the socket path only copies bytes into the current batch ----

  function newFilling(): Filling {
    const data = pool.pop() ?? new ArrayBuffer(cfg.workerBatchBytes);
    const meta = metaPool.pop() ?? new ArrayBuffer(cfg.workerBatchDatagrams * META * 8);
    return {
      data,
      u8: new Uint8Array(data),
      meta: new Float64Array(meta),
      n: 0,
      bytes: 0,
      sources: [],
      counts: [],
      index: new Map(),
      lastExporter: '',
      lastPort: -1,
      lastIdx: -1,
    };
  }

  function toBatch(buf: Buffer, exporter: string, port: number): void {
    if (worker === null || inFlight >= cfg.maxQueue || buf.length > cfg.workerBatchBytes) {
      countDrop(exporter, port);
      return;
    }
    let f = filling;
    if (f !== null && (f.n === cfg.workerBatchDatagrams || f.bytes + buf.length > cfg.workerBatchBytes)) {
      postBatch();
      f = null;
    }
    if (f === null) {
      f = filling = newFilling();
      if (!postScheduled) {
        postScheduled = true;
        if (cfg.workerBatchLingerMs > 0) setTimeout(postLater, cfg.workerBatchLingerMs);
        else setImmediate(postLater);
      }
    }
    let idx = f.lastIdx;
    if (exporter !== f.lastExporter || port !== f.lastPort) {
      const key = `${exporter}|${port}`;
      const known = f.index.get(key);
      if (known === undefined) {
        idx = f.sources.length;
        f.sources.push({ exporter, port });
        f.counts.push(0);
        f.index.set(key, idx);
      } else idx = known;
      f.lastExporter = exporter;
      f.lastPort = port;
      f.lastIdx = idx;
    }
    f.u8.set(buf, f.bytes);
    const o = f.n * META;
    f.meta[o] = f.bytes;
    f.meta[o + 1] = buf.length;
    f.meta[o + 2] = idx;
    f.meta[o + 3] = Date.now();
    f.bytes += buf.length;
    f.n++;
    f.counts[idx]!++;
    inFlight++;
    if (inFlight > highWater) highWater = inFlight;
  }

  function postLater(): void {
    postScheduled = false;
    postBatch();
  }

  /** Hand the batch being filled to the decode thread. */
  function postBatch(): void {
    const f = filling;
    if (f === null || f.n === 0 || worker === null) return;
    filling = null;
    let data = f.data;
    let meta = f.meta.buffer as ArrayBuffer;
    if (f.bytes < cfg.workerBatchBytes / 2) {
      // Copy a batch less than half full out and keep the big buffers for the next one: what
      // is in flight takes at most twice its bytes, whatever the batch sizes.
      data = f.data.slice(0, f.bytes);
      meta = meta.slice(0, f.n * META * 8);
      if (pool.length < POOL_MAX) {
        pool.push(f.data);
        metaPool.push(f.meta.buffer as ArrayBuffer);
      }
    }
    const id = nextId++;
    flights.set(id, { n: f.n, sources: f.sources, counts: f.counts });
    const msg: BatchMsg = { t: 'batch', id, n: f.n, data, meta, sources: f.sources };
    worker.postMessage(msg satisfies ToWorker, [data, meta]);
  }

  function onResult(m: ResultMsg): void {
    const fl = flights.get(m.id);
    if (fl) {
      flights.delete(m.id);
      inFlight -= fl.n;
    }
    if (m.data.byteLength === cfg.workerBatchBytes && pool.length < POOL_MAX) {
      pool.push(m.data);
      metaPool.push(m.meta);
    }
    if (m.received !== undefined) workerReceived = m.received;
    for (const st of m.stats) workerStats.set(`${st.exporter}|${st.port}`, st);
    workerUnknown = m.unknown;
    if (m.records.n > 0 && deps.sinkColumns) {
      const { flows, others } = columnarOf(m.records);
      if (flows.rows.length > 0) deps.sinkColumns(flows);
      if (others.length > 0) deps.sink(others);
    } else if (m.records.n > 0) {
      const recs = decodeColumns(m.records);
      if (recs.length <= cfg.sinkBatch) deps.sink(recs);
      else for (let i = 0; i < recs.length; i += cfg.sinkBatch) deps.sink(recs.slice(i, i + cfg.sinkBatch));
    }
    handed += m.records.n;
    if (m.spoolPos) handedPos = m.spoolPos;
    // Datagrams the decode thread received itself: taken, so it may read more.
    if (m.id !== -2) return;
    if (spoolCfg && deps.settled) {
      acks.push({ n: m.n, rows: m.rows ?? 0, pos: m.spoolPos, target: handed });
      sendAcks();
    } else
      worker?.postMessage({
        t: 'ack',
        n: m.n,
        rows: m.rows ?? 0,
        ...(m.spoolPos ? { spoolPos: m.spoolPos } : {}),
      } satisfies ToWorker);
  }

  /** Acknowledge the results the store has settled, in one message; look again soon if some wait. */
  function sendAcks(): void {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = null;
    if (acks.length === 0) return;
    // Between a dead decode thread and its successor the acknowledgements wait.
    if (worker === null) {
      if (running) ackTimer = setTimeout(sendAcks, 5);
      return;
    }
    const settled = deps.settled!();
    let n = 0;
    let rows = 0;
    let pos: SpoolPos | undefined;
    let k = 0;
    for (; k < acks.length && acks[k]!.target <= settled; k++) {
      const a = acks[k]!;
      n += a.n;
      rows += a.rows;
      if (a.pos) pos = a.pos;
    }
    if (k > 0) {
      acks.splice(0, k);
      worker.postMessage({ t: 'ack', n, rows, ...(pos ? { spoolPos: pos } : {}) } satisfies ToWorker);
    }
    if (acks.length > 0) ackTimer = setTimeout(sendAcks, 5);
  }

  /** Start a decode thread; resolves when its sockets are bound (receiving on it). */
  function spawnWorker(): Promise<void> {
    const wd: DecodeWorkerData = {
      vantageCollectWorker: true,
      decoder: cfg.decoder,
      stateDir: cfg.stateDir,
      stateSaveMs: cfg.stateSaveMs,
      nice: cfg.workerNice,
    };
    let spool: SpoolWorkerConfig | undefined;
    if (spoolCfg) {
      // Results a dead thread handed on are still waiting for the store: its successor counts
      // them as outstanding, and reads on after the last of them.
      let n = 0;
      let rows = 0;
      for (const a of acks) {
        n += a.n;
        rows += a.rows;
      }
      spool = { ...spoolCfg, carried: { n, rows }, skipTo: handedPos };
    }
    if (recvInWorker)
      wd.udp = {
        host: cfg.host,
        // A successor binds the ports its predecessor had (port 0 was resolved).
        ports: workerPorts.length > 0 ? workerPorts : cfg.udpPorts,
        recvBufferSize: cfg.recvBufferSize,
        maxOutstanding: cfg.maxQueue,
        lingerMs: Math.max(1, cfg.workerBatchLingerMs),
        ...(spool ? { spool } : {}),
      };
    const w = new Worker(new URL('./decode-worker.js', import.meta.url), {
      workerData: wd,
      ...(cfg.workerYoungMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: cfg.workerYoungMb } } : {}),
    });
    worker = w;
    let failure = '';
    let bound: (e?: Error) => void = () => {};
    const ready = recvInWorker
      ? new Promise<void>((res, rej) => {
          bound = (e) => (e ? rej(e) : res());
        })
      : Promise.resolve();
    w.on('message', (m: FromWorker) => {
      if (m.t === 'result') onResult(m);
      else if (m.t === 'log') deps.log?.(m.msg);
      else if (m.t === 'stopped') onStopped?.();
      else if (m.t === 'bound') {
        workerPorts = m.ports;
        workerRecvBuf = m.recvBufferSize;
        bound();
      } else if (m.t === 'bindError') bound(new Error(m.msg));
      else if (m.t === 'spool') {
        spoolStats = m.stats;
        workerHeap = m.heap ?? workerHeap;
        // While everything goes to the spool no result comes: the count comes with its stats.
        workerReceived = m.received;
      }
    });
    w.on('error', (e) => {
      failure = e.message;
    });
    w.on('exit', (code) => {
      bound(new Error(`decode thread exited (${failure || `exit code ${code}`})`));
      if (worker !== w) return;
      worker = null;
      workerReceivedBase += workerReceived;
      workerReceived = 0;
      if (stopping) return;
      crashes++;
      // What it had not answered is lost: count it, per exporter.
      let lost = 0;
      for (const fl of flights.values())
        for (let i = 0; i < fl.sources.length; i++) {
          countDrop(fl.sources[i]!.exporter, fl.sources[i]!.port, fl.counts[i]!);
          lost += fl.counts[i]!;
        }
      flights.clear();
      inFlight -= lost;
      for (const [k, st] of workerStats) {
        const r = retired.get(k);
        if (r) addStats(r, st);
        else retired.set(k, { ...st });
      }
      workerStats.clear();
      retiredUnknown += workerUnknown;
      workerUnknown = 0;
      const restart = running && crashes <= cfg.maxWorkerRestarts;
      deps.log?.(
        `collector: decode worker died (${failure || `exit code ${code}`}); ${lost} datagrams lost and counted as drops; ${restart ? 'restarting it' : 'not restarting: further datagrams are dropped and counted'}`,
      );
      if (restart)
        spawnWorker().catch((e: unknown) =>
          deps.log?.(`collector: decode worker restart failed: ${(e as Error).message}`),
        );
      else if (filling) {
        const f = filling;
        filling = null;
        for (let i = 0; i < f.sources.length; i++)
          countDrop(f.sources[i]!.exporter, f.sources[i]!.port, f.counts[i]!);
        inFlight -= f.n;
      }
    });
    return ready;
  }

  function flush(): void {
    if (inWorker) {
      postBatch();
      return;
    }
    while (qHead < queue.length) {
      const q = queue[qHead++]!;
      decoder!.decode(q.buf, 0, q.buf.length, q.exporter, q.port, q.ms);
    }
    queue = [];
    qHead = 0;
    flushBatch();
  }

  /** Stop the decode thread after it has answered every batch (or after the timeout). */
  async function stopWorker(): Promise<void> {
    const w = worker;
    if (w === null) return;
    postBatch();
    const done = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), cfg.stopTimeoutMs);
      onStopped = () => {
        clearTimeout(timer);
        resolve(true);
      };
      w.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    w.postMessage({ t: 'stop' } satisfies ToWorker);
    const clean = await done;
    onStopped = null;
    if (!clean && worker === w) {
      // Whatever it still had is lost: counted.
      for (const fl of flights.values())
        for (let i = 0; i < fl.sources.length; i++)
          countDrop(fl.sources[i]!.exporter, fl.sources[i]!.port, fl.counts[i]!);
      flights.clear();
      inFlight = 0;
      deps.log?.('collector: decode worker did not finish in time; its queue is counted as drops');
    }
    stopping = true;
    worker = null;
    await w.terminate();
    stopping = false;
    workerReceivedBase += workerReceived;
    workerReceived = 0;
    workerPorts = [];
    // The stopped thread marked everything it handed on as stored (the owner drains the store).
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = null;
    acks.length = 0;
    handedPos = null;
  }

  function statePath(): string | null {
    return cfg.stateDir ? join(cfg.stateDir, TEMPLATE_FILE) : null;
  }

  function saveState(): void {
    const p = statePath();
    if (!p || !decoder?.dirty) return;
    try {
      mkdirSync(cfg.stateDir!, { recursive: true });
      writeFileSync(`${p}.tmp`, JSON.stringify(decoder.saveTemplates()));
      renameSync(`${p}.tmp`, p);
    } catch (e) {
      deps.log?.(`collector: cannot save templates to ${p}: ${(e as Error).message}`);
    }
  }

  function loadState(): void {
    const p = statePath();
    if (!p || !decoder) return;
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      return;
    }
    try {
      const n = decoder.loadTemplates(JSON.parse(text));
      deps.log?.(`collector: ${n} templates restored from ${p}`);
    } catch (e) {
      deps.log?.(`collector: ignoring damaged ${p}: ${(e as Error).message}`);
    }
  }

  function bindUdp(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({
        type: cfg.host.includes(':') ? 'udp6' : 'udp4',
        recvBufferSize: cfg.recvBufferSize,
      });
      s.once('error', reject);
      s.on('message', (msg, rinfo) => enqueue(msg, rinfo.address, rinfo.port));
      s.bind(port, cfg.host, () => {
        s.off('error', reject);
        s.on('error', (e) => deps.log?.(`collector: udp ${port}: ${e.message}`));
        try {
          s.setRecvBufferSize(cfg.recvBufferSize);
        } catch {
          // the kernel keeps its own cap; the figure is in stats()
        }
        udp.push(s);
        resolve();
      });
    });
  }

  // ---- TCP: back-pressure to the exporter instead of drops ----
  const held = new Set<net.Socket>();
  let holdTimer: NodeJS.Timeout | null = null;
  let tcpPauses = 0;

  /**
   * Reading more from a TCP exporter now would only queue or drop it: the decode thread has
   * four batches in hand (or half the queue is taken), or (with a spool) more records wait for the store than the receiving thread decodes
   * ahead of it. UDP cannot be told to wait; TCP can.
   */
  function behind(): boolean {
    if (!inWorker) return queue.length - qHead >= cfg.maxQueue / 2;
    // A few batches in flight keep the decode thread busy; more would only wait in memory.
    if (inFlight >= Math.min(cfg.maxQueue / 2, cfg.workerBatchDatagrams * 4)) return true;
    const ahead = cfg.spool?.aheadRecords;
    return ahead !== undefined && deps.settled !== undefined && handed - deps.settled() > ahead;
  }

  function hold(sock: net.Socket): void {
    if (held.has(sock)) return;
    sock.pause();
    held.add(sock);
    tcpPauses++;
    holdTimer ??= setInterval(release, 10);
  }

  function release(): void {
    if (running && behind()) return;
    for (const s of held) s.resume();
    held.clear();
    if (holdTimer) clearInterval(holdTimer);
    holdTimer = null;
  }

  function onTcp(sock: net.Socket): void {
    conns.add(sock);
    const exporter = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    const port = sock.remotePort ?? 0;
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let o = 0;
      while (pending.length - o >= 4) {
        const ver = pending.readUInt16BE(o);
        const len = pending.readUInt16BE(o + 2);
        if (ver !== 10 || len < 16) {
          // Framing lost: nothing after this point can be trusted.
          countFramingError(exporter, port);
          sock.destroy();
          return;
        }
        if (pending.length - o < len) break;
        enqueue(pending.subarray(o, o + len), exporter, port);
        o += len;
      }
      pending = o === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(o));
      if (behind()) hold(sock);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      conns.delete(sock);
      held.delete(sock);
    });
  }

  function bindTcp(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer(onTcp);
      srv.once('error', reject);
      srv.listen(port, cfg.host, () => {
        srv.off('error', reject);
        tcp.push(srv);
        resolve();
      });
    });
  }

  function socketDrops(): number {
    const ports = new Set([...udp.map((s) => s.address().port), ...workerPorts]);
    let drops = 0;
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        const local = cols[1];
        if (!local) continue;
        const port = Number.parseInt(local.split(':')[1] ?? '', 16);
        if (ports.has(port)) drops += Number(cols[cols.length - 1]) || 0;
      }
    }
    return drops;
  }

  function workerModeStats(): Pick<CollectorStats, 'exporters' | 'totals' | 'unknown'> {
    const all = new Map<string, ExporterStats>();
    const get = (exporter: string, port: number): ExporterStats => {
      const k = `${exporter}|${port}`;
      let st = all.get(k);
      if (!st) {
        st = newExporterStats(exporter, port);
        all.set(k, st);
      }
      return st;
    };
    for (const st of retired.values()) addStats(get(st.exporter, st.port), st);
    for (const st of workerStats.values()) addStats(get(st.exporter, st.port), st);
    for (const c of mainCounts.values()) {
      const st = get(c.exporter, c.port);
      st.drops += c.drops;
      st.decodeErrors += c.decodeErrors;
    }
    const exporters = [...all.values()];
    const totals = newExporterStats('all', 0);
    for (const st of exporters) addStats(totals, st);
    totals.source = '';
    return { exporters, totals, unknown: retiredUnknown + workerUnknown };
  }

  return {
    decoder,
    get decodeThread() {
      return worker;
    },
    async start(): Promise<void> {
      if (running) return;
      loadState();
      try {
        if (!recvInWorker) for (const p of cfg.udpPorts) await bindUdp(p);
        for (const p of cfg.tcpPorts) await bindTcp(p);
      } catch (e) {
        for (const s of udp.splice(0)) s.close();
        for (const s of tcp.splice(0)) s.close();
        throw e;
      }
      running = true;
      if (inWorker) {
        try {
          await spawnWorker();
        } catch (e) {
          running = false;
          for (const s of tcp.splice(0)) s.close();
          stopping = true;
          await worker?.terminate();
          stopping = false;
          worker = null;
          throw e;
        }
      } else if (cfg.stateDir) {
        saveTimer = setInterval(saveState, cfg.stateSaveMs);
        saveTimer.unref();
      }
    },
    async stop(): Promise<void> {
      if (!running) return;
      running = false;
      if (saveTimer) clearInterval(saveTimer);
      closedDrops += socketDrops();
      await Promise.all(udp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
      release();
      for (const c of conns) c.destroy();
      await Promise.all(tcp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
      if (inWorker) await stopWorker();
      else {
        flush();
        saveState();
      }
    },
    flush,
    addresses() {
      return {
        udp: [...udp.map((s) => s.address().port), ...workerPorts],
        tcp: tcp.map((s) => (s.address() as net.AddressInfo).port),
      };
    },
    stats(): CollectorStats {
      const own = decoder
        ? {
            exporters: [...decoder.exporters.values()].map((s) => ({ ...s })),
            totals: decoder.totals(),
            unknown: decoder.unknown,
          }
        : workerModeStats();
      return {
        ...own,
        received: received + workerReceivedBase + workerReceived,
        queueDepth: inWorker ? inFlight : queue.length - qHead,
        queueHighWater: highWater,
        socketDrops: closedDrops + socketDrops(),
        mainDrops: [...mainCounts.values()].reduce((n, c) => n + c.drops, 0),
        recvBufferSize: [...udp.map((s) => s.getRecvBufferSize()), ...workerRecvBuf],
        tcpConnections: conns.size,
        tcpPauses,
        decodeInWorker: inWorker,
        workerCrashes: crashes,
        workerBatches: nextId,
        spool: spoolStats,
        workerHeap,
      };
    },
  };
}
