import type { Analyzer, FlowLookup } from '../analyze/types.js';
import type { Broker } from '../broker/index.js';
import type { FrameHandler } from '../capture/frame.js';
import { createLiveCapture, type LiveCapture, wallClock } from '../capture/live.js';
import {
  createGreReceiver,
  createTzspReceiver,
  createVxlanReceiver,
  type MirrorReceiver,
  parseHostPort,
  TZSP_PORT,
  VXLAN_PORT,
} from '../capture/mirror.js';
import type { RingReceiver } from '../capture/mirror-ring.js';
import { FlowSamplingMarks } from '../capture/sampling-marks.js';
import type { Pipeline } from '../capture/workers/pipeline.js';
import { createThreadedPipeline } from '../capture/workers/threaded.js';
import { youngMbFromEnv } from '../common/budget.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { LossLedger } from '../common/loss.js';
import type { Metrics } from '../common/metrics.js';
import { Decoder } from '../decode/decoder.js';
import type { FlowConfig } from '../flow/flow-table.js';
import { createSensor, type Sensor, type SensorRecord } from '../flow/sensor.js';
import { type Columnar, columnarToRecords } from '../store/columnar.js';
import type { Rec, RecordStore } from '../store/types.js';
import type { CaptureSourceConfig, MirrorSourcesConfig } from './config-file.js';

/**
 * The live sources of `vantage start`: interfaces (libpcap) and mirror receivers (VXLAN, TZSP,
 * GRE/ERSPAN). Each feeds its own Sensor (own flow table) with the product's packet hooks (the
 * packet recorder, the broker); records go to the store in batches, flushed at least every
 * `flushMs`, and the flow clocks advance on the same timer so idle flows end without packets.
 */

export type SourceSpec =
  | { name: string; kind: 'capture'; capture: CaptureSourceConfig }
  | { name: string; kind: 'vxlan' | 'tzsp'; host: string; port: number }
  | { name: string; kind: 'gre'; bind: string };

export interface SourceStats {
  /** The config key of the source, e.g. `capture[0]` or `mirror.vxlan[1]`. */
  name: string;
  kind: 'capture' | 'vxlan' | 'tzsp' | 'gre';
  /** Interface name or bound address. */
  address: string;
  port: number | null;
  packets: number;
  bytes: number;
  /** Packets dropped inside the pipeline, by stage. */
  drops: Record<string, number>;
  /** libpcap: dropped by the kernel for lack of buffer space / by the interface. */
  kernelDrops: number;
  ifDrops: number;
  /** UDP receivers: datagrams the kernel dropped on the socket. */
  socketDrops: number;
  /** VXLAN and TZSP receivers with a receive thread: datagrams its ring had no room for. */
  ringFull: number;
  /** VXLAN receivers sampling under overload: datagrams of flows left out, and N now. */
  sampledOut: number;
  sampling: number;
  /** Mirror receivers: datagrams that were not of the encapsulation, by reason. */
  malformed: Record<string, number>;
  /** Flows currently in the source's flow table (inline sensors). */
  activeFlows: number;
  /** Errors after start (e.g. the interface went away). */
  errors: number;
}

/** The sources a config describes, named by their config key. */
export function sourceSpecs(
  capture: CaptureSourceConfig[] = [],
  mirror: MirrorSourcesConfig = {},
): SourceSpec[] {
  const specs: SourceSpec[] = [];
  capture.forEach((c, i) => {
    specs.push({ name: `capture[${i}]`, kind: 'capture', capture: c });
  });
  for (const kind of ['vxlan', 'tzsp'] as const) {
    (mirror[kind] ?? []).forEach((s, i) => {
      const hp = parseHostPort(s, kind === 'vxlan' ? VXLAN_PORT : TZSP_PORT);
      specs.push({ name: `mirror.${kind}[${i}]`, kind, ...hp });
    });
  }
  (mirror.gre ?? []).forEach((s, i) => {
    specs.push({ name: `mirror.gre[${i}]`, kind: 'gre', bind: s === '0.0.0.0' ? '' : s });
  });
  return specs;
}

/** What one record object of a live source weighs while it waits for the store (bytes). */
const RECORD_COST = 1000;

/**
 * Batches records per type into `store.append`, in order, one append at a time. Records
 * buffered or being appended are bounded (`maxPendingBytes`): past it a source's records are
 * dropped at its sink and counted as `store_behind` on that source.
 */
export class StoreBatcher {
  private readonly buffers = new Map<string, Rec[]>();
  private readonly known: Set<string>;
  private pending: Promise<void> = Promise.resolve();
  /** Records buffered or handed to the store and not acknowledged yet. */
  private waiting = 0;
  private readonly maxWaiting: number;
  private readonly batchSize: number;
  private readonly ledger: LossLedger | null;

  constructor(
    private readonly store: RecordStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: { batchSize?: number; maxPendingBytes?: number; ledger?: LossLedger | null } = {},
  ) {
    this.known = new Set(store.defs.map((d) => d.type));
    this.maxWaiting = Math.floor((opts.maxPendingBytes ?? Number.POSITIVE_INFINITY) / RECORD_COST);
    // Several batches fit in the bound, so one can fill while another is stored.
    this.batchSize = Math.max(256, Math.min(opts.batchSize ?? 50_000, Math.floor(this.maxWaiting / 4)));
    this.ledger = opts.ledger ?? null;
  }

  /** Records waiting for the store now. */
  get pendingRecords(): number {
    return this.waiting;
  }

  readonly sink = (rec: SensorRecord): void => this.put(rec, 'live');

  /** A sink that counts its drops on `source`. */
  sinkFor(source: string): (rec: SensorRecord) => void {
    return (rec) => this.put(rec, source);
  }

  /** Whether `n` records of `type` fit; those that do not are counted (unknown type, store behind). */
  private admits(type: string, n: number, source: string): boolean {
    if (!this.known.has(type)) {
      this.metrics.inc(
        'vantage_live_unstored_records_total',
        'Records of live sources of a type the store does not know.',
        { type },
        n,
      );
      return false;
    }
    if (this.waiting + n > this.maxWaiting) {
      this.ledger?.add(source, 'store_behind', n);
      return false;
    }
    return true;
  }

  private put(rec: SensorRecord, source: string): void {
    const type = rec.type;
    if (!this.admits(type, 1, source)) return;
    this.waiting++;
    let buf = this.buffers.get(type);
    if (!buf) {
      buf = [];
      this.buffers.set(type, buf);
    }
    buf.push(rec as Rec);
    if (buf.length >= this.batchSize) this.flushType(type);
  }

  /**
   * Sensor options that hand its flow and DNS records over as column batches (no object per
   * record); a batch closes at `columnRows` rows or on the flush timer (`Sensor.flushColumns`).
   */
  columnSink(source: string): { columns: (type: string, c: Columnar) => void; columnRows: number } {
    return { columns: this.columnsFor(source), columnRows: Math.max(256, Math.min(4096, this.batchSize)) };
  }

  /** A column sink that counts its drops on `source` (flow and DNS records of a sensor). */
  columnsFor(source: string): (type: string, c: Columnar) => void {
    return (type, c) => this.putColumns(type, c, source);
  }

  private putColumns(type: string, c: Columnar, source: string): void {
    const n = c.rows.length;
    if (n === 0) return;
    if (!this.admits(type, n, source)) return;
    this.waiting += n;
    // Records of this type buffered as objects go first: the store keeps arrival order.
    this.flushType(type);
    const cols = (this.store as { appendColumns?: (type: string, c: Columnar) => Promise<void> })
      .appendColumns;
    this.settle(type, n, () =>
      cols ? cols.call(this.store, type, c) : this.store.append(type, columnarToRecords(c, type)),
    );
  }

  private flushType(type: string): void {
    const buf = this.buffers.get(type);
    if (!buf || buf.length === 0) return;
    this.buffers.set(type, []);
    this.settle(type, buf.length, () => this.store.append(type, buf));
  }

  /** Queue one append after those before it; count it when it is stored or refused. */
  private settle(type: string, n: number, append: () => Promise<void>): void {
    this.pending = this.pending.then(() =>
      append()
        .finally(() => {
          this.waiting -= n;
        })
        .then(
          () =>
            this.metrics.inc('vantage_live_records_total', 'Records of live sources stored.', { type }, n),
          (e: unknown) => {
            this.metrics.inc(
              'vantage_live_store_errors_total',
              'Batches of live-source records the store refused.',
              { type },
            );
            this.log.error('storing live records failed', { type, records: n, error: String(e) });
          },
        ),
    );
  }

  flush(): void {
    for (const type of this.buffers.keys()) this.flushType(type);
  }

  /** Flush and wait until every batch handed over so far is stored (or failed). */
  async drain(): Promise<void> {
    this.flush();
    await this.pending;
  }
}

export interface SourceDeps {
  store: RecordStore;
  metrics: Metrics;
  log: Logger;
  /** Packet hooks every source's sensor runs after its analyzers (recorder, broker). */
  hooks: Analyzer[];
  /** Called after each flush period (e.g. to make recorded packets searchable). */
  onFlush?: () => void;
  flow: Partial<FlowConfig>;
  /** Longest time a record waits before it is appended (default 1000 ms). */
  flushMs?: number;
  /** Where drops are counted by source and reason. */
  ledger?: LossLedger;
  /** Bytes of records waiting for the store at most (the live sources' share of the budget). */
  maxPendingBytes?: number;
  /**
   * VXLAN and TZSP receivers: a receive thread fills a ring of `bytes` (the budget's mirror
   * share, split among them); with `sampling`, whole flows are kept 1 in N under overload (N on the records).
   */
  mirrorRing?: { bytes: number; sampling: boolean; realtime?: number };
  /**
   * Mirror receivers (VXLAN, TZSP, GRE/ERSPAN): decode, flows and L7 on a worker thread of their
   * own (1) or on this thread (0). With a worker this thread takes the frames from the ring into
   * batches and runs the packet hooks on each batch as it comes back (with the worker's flow
   * ids); with overload sampling each packet's factor goes to the worker with its batch.
   */
  mirrorWorkers?: number;
}

export interface RunningSources {
  stats(): SourceStats[];
  /** Stop every source, end every flow, store every record. */
  stop(): Promise<void>;
}

interface Running {
  spec: SourceSpec;
  stats(): SourceStats;
  tick(sec: number, ns: number): void;
  stop(): Promise<void>;
  errors: number;
}

/**
 * A live source's pipeline worker's young generation, MB (three 8 MiB semi-spaces). Left to
 * V8, a mirror's worker grew its semi-spaces from 1 to 16 MiB over the soak's first minutes
 * (its young generation 1 -> 34 MB, the largest part of the steady soak's climb); at 24 it stays
 * at 16 MB from the first minute, for the same CPU: the realistic capture's flows and L7 on the
 * worker took 3.66-3.94 CPU-s against 3.89-4.05 with V8's default (12: 4.01-4.07), three
 * alternated rounds at load 10 (bench/README.md, 2026-12-07). VANTAGE_PIPE_YOUNG_MB sets
 * another (0: V8's default), to measure one against another on the same build.
 */
export const LIVE_PIPE_YOUNG_MB = 24;

function liveYoungMb(v = process.env.VANTAGE_PIPE_YOUNG_MB): number {
  return v === undefined ? LIVE_PIPE_YOUNG_MB : youngMbFromEnv('VANTAGE_PIPE_YOUNG_MB', v);
}

/** A flow lookup for hooks that run beside a threaded pipeline: no flow slots on this thread. */
const NO_FLOWS: FlowLookup = {
  generation: () => 0,
  context: () => {
    throw new Error('no flow table on this thread');
  },
};

/**
 * Start every source; if one fails, stop those already started and throw a ConfigError naming
 * the failing source (`config: capture[0]: live capture on eth9: no such interface...`).
 */
export async function startSources(specs: SourceSpec[], deps: SourceDeps): Promise<RunningSources> {
  const batcher = new StoreBatcher(deps.store, deps.metrics, deps.log, {
    ledger: deps.ledger ?? null,
    ...(deps.maxPendingBytes !== undefined ? { maxPendingBytes: deps.maxPendingBytes } : {}),
  });
  const running: Running[] = [];
  const clock = { sec: 0, ns: 0 };
  let timer: NodeJS.Timeout | null = null;
  const stopAll = async (): Promise<void> => {
    if (timer) clearInterval(timer);
    timer = null;
    for (const r of running.splice(0)) {
      try {
        await r.stop();
      } catch (e) {
        deps.log.error('stopping a source failed', { source: r.spec.name, error: String(e) });
      }
    }
    await batcher.drain();
    deps.onFlush?.();
  };
  try {
    for (const spec of specs) {
      const r =
        spec.kind === 'capture'
          ? captureSource(spec, batcher, deps)
          : mirrorSource(spec, batcher, deps, Math.max(1, specs.filter((x) => x.kind !== 'capture').length));
      try {
        await r.start();
      } catch (e) {
        throw new ConfigError(spec.name, (e as Error).message);
      }
      running.push(r.running);
      deps.log.info('source started', { source: spec.name, ...addressOf(r.running.stats()) });
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const ledger = deps.ledger;
  ledger?.poll(() => {
    for (const r of running) {
      const st = r.stats();
      ledger.observe(st.name, 'socket', st.socketDrops + st.kernelDrops + st.ifDrops);
      ledger.observe(st.name, 'ring_full', st.ringFull);
      ledger.observe(st.name, 'sampled', st.sampledOut);
      let q = 0;
      for (const n of Object.values(st.drops)) q += n;
      ledger.observe(st.name, 'queue_full', q);
    }
  });
  timer = setInterval(() => {
    wallClock(clock);
    for (const r of running) r.tick(clock.sec, clock.ns);
    batcher.flush();
    deps.onFlush?.();
  }, deps.flushMs ?? 1000);
  timer.unref();
  let stopped: Promise<void> | null = null;
  return {
    stats: () => running.map((r) => r.stats()),
    stop: () => {
      stopped ??= stopAll();
      return stopped;
    },
  };
}

function addressOf(s: SourceStats): { address: string; port?: number } {
  return s.port === null ? { address: s.address } : { address: s.address, port: s.port };
}

function baseStats(spec: SourceSpec, address: string, port: number | null): SourceStats {
  return {
    name: spec.name,
    kind: spec.kind,
    address,
    port,
    packets: 0,
    bytes: 0,
    drops: {},
    kernelDrops: 0,
    ifDrops: 0,
    socketDrops: 0,
    ringFull: 0,
    sampledOut: 0,
    sampling: 1,
    malformed: {},
    activeFlows: 0,
    errors: 0,
  };
}

function captureSource(
  spec: Extract<SourceSpec, { kind: 'capture' }>,
  batcher: StoreBatcher,
  deps: SourceDeps,
): { start(): Promise<void>; running: Running } {
  const c = spec.capture;
  const workers = c.workers ?? 0;
  let sensor: Sensor | null = null;
  let pipeline: Pipeline | null = null;
  let onFrame: FrameHandler;
  if (workers > 0) {
    // Decode/flow work on worker threads; the packet hooks (recorder, broker) stay on this
    // thread and see each packet decoded once more here, without a flow slot.
    const p = createThreadedPipeline(batcher.sinkFor(spec.name), {
      flow: deps.flow,
      l7: true,
      workers,
      youngMb: liveYoungMb(),
      // Flow and DNS records come back from the workers as column batches (transferred).
      ...batcher.columnSink(spec.name),
    });
    pipeline = p;
    const decoder = new Decoder();
    const hooks = deps.hooks;
    onFrame = (f) => {
      p.onFrame(f);
      if (hooks.length === 0) return;
      const pkt = decoder.decode(f);
      for (const h of hooks) h.onPacket(pkt, NO_FLOWS, -1, 0);
    };
  } else {
    sensor = createSensor(batcher.sinkFor(spec.name), {
      flow: deps.flow,
      hooks: deps.hooks,
      ...batcher.columnSink(spec.name),
    });
    onFrame = sensor.onFrame;
  }
  let droppedAtStop: Record<string, number> = {};
  const running: Running = {
    spec,
    errors: 0,
    tick: (s, ns) => {
      if (!sensor) return pipeline!.tick(s, ns);
      sensor.flows.tick(s, ns);
      sensor.flushColumns();
    },
    stats: () => {
      const st = baseStats(spec, c.interface, null);
      const lc = live.refreshStats();
      st.packets = lc.packets;
      st.bytes = lc.bytes;
      st.kernelDrops = lc.kernelDropped;
      st.ifDrops = lc.ifDropped;
      st.activeFlows = sensor?.flows.activeFlows ?? 0;
      st.drops = { ...droppedAtStop };
      st.errors = running.errors;
      return st;
    },
    async stop() {
      await live.stop();
      if (sensor) sensor.finish();
      else {
        const counters = await pipeline!.finish();
        droppedAtStop = counters.drops;
      }
    },
  };
  const live: LiveCapture = createLiveCapture(
    {
      iface: c.interface,
      ...(c.filter !== undefined ? { filter: c.filter } : {}),
      ...(c.snaplen !== undefined ? { snaplen: c.snaplen } : {}),
      ...(c.promisc !== undefined ? { promisc: c.promisc } : {}),
    },
    onFrame,
    {
      onError: (e) => {
        running.errors++;
        deps.log.error('live capture failed', { source: spec.name, error: e.message });
      },
    },
  );
  return {
    running,
    async start() {
      if (pipeline) await pipeline.ready;
      await live.start();
    },
  };
}

/**
 * One mirror receiver's part of the budget's mirror share: the ring, and with sampling a quarter
 * of it for the table that remembers each flow's decision (8 bytes a flow).
 */
export function ringShare(
  bytes: number,
  sampling: boolean,
): { ringBytes: number; sampling: boolean; samplingFlows: number } {
  const share = Math.max(1 << 20, bytes);
  const table = sampling ? Math.floor(share / 4) : 0;
  return {
    ringBytes: share - table,
    sampling,
    samplingFlows: Math.max(4096, Math.min(1 << 26, Math.floor(table / 8))),
  };
}

function mirrorSource(
  spec: Exclude<SourceSpec, { kind: 'capture' }>,
  batcher: StoreBatcher,
  deps: SourceDeps,
  ringCount: number,
): { start(): Promise<void>; running: Running } {
  const ring = deps.mirrorRing;
  // The receiver gives each packet its flow's sampling factor; the marks put it on the records.
  let rx: MirrorReceiver | null = null;
  const marks = ring?.sampling
    ? new FlowSamplingMarks({
        get factor() {
          return (rx as RingReceiver | null)?.factor ?? 1;
        },
      })
    : null;
  const cols = batcher.columnSink(spec.name);
  const onWorker = (deps.mirrorWorkers ?? 0) > 0;
  const sensor = onWorker
    ? null
    : createSensor(batcher.sinkFor(spec.name), {
        flow: deps.flow,
        hooks: marks ? [...deps.hooks, marks] : deps.hooks,
        columnRows: cols.columnRows,
        columns: marks
          ? (type, c) => cols.columns(type, type === 'flow' ? marks.fillColumns(c) : c)
          : cols.columns,
      });
  // The receiver goes on only while the worker has a free batch buffer: a busy worker leaves
  // frames in the ring (the budget's mirror share), which counts what overflows it.
  let resume: () => void = () => {};
  const pipeline = onWorker
    ? createThreadedPipeline(batcher.sinkFor(spec.name), {
        flow: deps.flow,
        l7: true,
        workers: 1,
        youngMb: liveYoungMb(),
        ...cols,
        mainHooks: deps.hooks,
        onRoom: () => resume(),
        // Each packet's sampling factor goes to the worker with its batch (the marks run there).
        ...(marks ? { samplingFactor: () => (rx as RingReceiver | null)?.factor ?? 1 } : {}),
      })
    : null;
  let droppedAtStop: Record<string, number> = {};
  const hooks = {
    onError: (e: Error) => {
      running.errors++;
      deps.log.error('mirror receiver failed', { source: spec.name, error: e.message });
    },
    ...(pipeline ? { ready: () => pipeline.hasRoom() } : {}),
  };
  const onFrame = pipeline ? pipeline.onFrame : sensor!.onFrame;
  const share = ring
    ? {
        ring: {
          ...ringShare(Math.floor(ring.bytes / ringCount), ring.sampling),
          ...(ring.realtime !== undefined ? { realtime: ring.realtime } : {}),
        },
      }
    : {};
  rx =
    spec.kind === 'gre'
      ? createGreReceiver({ bindIp: spec.bind, ...share }, onFrame, hooks)
      : (spec.kind === 'vxlan' ? createVxlanReceiver : createTzspReceiver)(
          { host: spec.host, port: spec.port, ...share },
          onFrame,
          hooks,
        );
  const receiver = rx;
  const ringRx = receiver as Partial<RingReceiver>;
  if (typeof ringRx.resume === 'function') resume = ringRx.resume;
  const running: Running = {
    spec,
    errors: 0,
    tick: (s, ns) => {
      if (pipeline) return pipeline.tick(s, ns);
      sensor!.flows.tick(s, ns);
      sensor!.flushColumns();
    },
    stats: () => {
      const a = receiver.address();
      const st = baseStats(spec, a.address, spec.kind === 'gre' ? null : a.port);
      const mc = receiver.refreshStats() as Partial<RingReceiver['counters']> & MirrorReceiver['counters'];
      st.packets = mc.received;
      st.bytes = mc.bytes;
      st.socketDrops = mc.socketDrops;
      st.ringFull = mc.ringFull ?? 0;
      st.sampledOut = mc.sampledOut ?? 0;
      st.sampling = mc.sampling ?? 1;
      st.malformed = { ...mc.malformed };
      st.activeFlows = sensor?.flows.activeFlows ?? 0;
      st.drops = pipeline ? { ...pipeline.drops, ...droppedAtStop } : {};
      st.errors = running.errors;
      return st;
    },
    async stop() {
      await receiver.stop();
      if (sensor) sensor.finish();
      else droppedAtStop = (await pipeline!.finish()).drops;
    },
  };
  return {
    running,
    async start() {
      if (pipeline) {
        await pipeline.ready;
        try {
          await receiver.start();
        } catch (e) {
          // The worker thread would keep the process alive.
          await pipeline.finish();
          throw e;
        }
      } else await receiver.start();
      const asked = ring?.realtime ?? 0;
      if (asked > 0 && ringRx.realtimeApplied === false)
        deps.log.warn(
          'mirror receive thread under the fair scheduler: SCHED_FIFO needs root or CAP_SYS_NICE',
          {
            source: spec.name,
            realtime: asked,
          },
        );
    },
  };
}

/** Register the Prometheus gauges of the sources and the broker. */
export function sourceMetrics(metrics: Metrics, stats: () => SourceStats[], broker: Broker | null): void {
  metrics.collect(() => {
    for (const s of stats()) {
      const l = { source: s.name, kind: s.kind };
      metrics.set('vantage_source_packets', 'Packets received by a live source.', l, s.packets);
      metrics.set('vantage_source_bytes', 'Bytes received by a live source.', l, s.bytes);
      metrics.set(
        'vantage_source_kernel_drops',
        'Packets the kernel dropped for lack of buffer space (libpcap).',
        l,
        s.kernelDrops,
      );
      metrics.set('vantage_source_if_drops', 'Packets the interface dropped (libpcap).', l, s.ifDrops);
      metrics.set(
        'vantage_source_socket_drops',
        'Datagrams the kernel dropped on a mirror receiver socket.',
        l,
        s.socketDrops,
      );
      metrics.set(
        'vantage_source_ring_full',
        'Datagrams a mirror receiver ring had no room for (the sensor was behind).',
        l,
        s.ringFull,
      );
      metrics.set(
        'vantage_source_sampled_out',
        'Datagrams of flows left out by overload sampling.',
        l,
        s.sampledOut,
      );
      metrics.set(
        'vantage_source_sampling',
        'Overload sampling factor N in force (1: every flow kept).',
        l,
        s.sampling,
      );
      metrics.set('vantage_source_active_flows', 'Flows open in the source flow table.', l, s.activeFlows);
      metrics.set('vantage_source_errors', 'Errors of a live source after it started.', l, s.errors);
      for (const [stage, n] of Object.entries(s.drops))
        metrics.set(
          'vantage_source_drops',
          'Packets dropped inside the pipeline, by stage.',
          { ...l, stage },
          n,
        );
      for (const [reason, n] of Object.entries(s.malformed))
        metrics.set(
          'vantage_source_malformed',
          'Datagrams that were not of the receiver encapsulation, by reason.',
          { ...l, reason },
          n,
        );
    }
    if (!broker) return;
    const b = broker.stats();
    metrics.set('vantage_broker_packets', 'Packets offered to the packet broker.', {}, b.packets);
    metrics.set(
      'vantage_broker_undeliverable',
      'Packets no broker target could take (no link layer to rebuild).',
      {},
      b.undeliverable,
    );
    for (const t of b.targets) {
      const l = { target: t.name, delivery: t.delivery };
      metrics.set('vantage_broker_target_matched', 'Packets a broker target selected.', l, t.matched);
      metrics.set(
        'vantage_broker_target_deduplicated',
        'Packets a broker target skipped as duplicates.',
        l,
        t.deduplicated,
      );
      metrics.set('vantage_broker_target_sent', 'Packets a broker target delivered.', l, t.sent);
      metrics.set('vantage_broker_target_bytes', 'Bytes a broker target delivered.', l, t.bytes);
      metrics.set('vantage_broker_target_pending', 'Packets waiting in a broker target queue.', l, t.pending);
      metrics.set('vantage_broker_target_dropped', 'Packets a broker target dropped.', l, t.dropped);
      for (const [reason, n] of Object.entries(t.dropReasons))
        metrics.set(
          'vantage_broker_target_drops',
          'Packets a broker target dropped, by reason.',
          { ...l, reason },
          n,
        );
    }
  });
}
