import { existsSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { Analyzer } from '../analyze/types.js';
import { createAuditLog } from '../api/audit.js';
import { type AuthConfig, DEFAULT_AUTH } from '../api/auth/config.js';
import { type Auth, createAuth } from '../api/auth/index.js';
import { TokenStore } from '../api/auth.js';
import { flowPresence } from '../api/flow-presence.js';
import { createApiServer } from '../api/server.js';
import { type Broker, type BrokerConfig, createBroker } from '../broker/index.js';
import { createBus } from '../bus/bus.js';
import { AlertHub } from '../bus/hub.js';
import type { SinkSpec } from '../bus/types.js';
import { readCaptureFile } from '../capture/capture-file.js';
import { parseHostPort } from '../capture/mirror.js';
import { createBusIngester, createRecordPublisher, publishingStore } from '../central/bus-ingest.js';
import { Central } from '../central/central.js';
import type { CentralConfig, PublishConfig } from '../central/config.js';
import { exportingStore } from '../collect/exporter/exporting-store.js';
import { createIpfixExporter } from '../collect/exporter/ipfix-exporter.js';
import { type SnmpConfig, SnmpInterfaces } from '../collect/snmp/interfaces.js';
import { AlertAggregator, type AnyRecord, type RecordWatcher } from '../common/alerts.js';
import {
  capMallocArenas,
  describeBudget,
  holdHeapToBudget,
  type MemoryBudget,
  memoryBudget,
  parseBytes,
  trimMallocEvery,
} from '../common/budget.js';
import { DEFAULT_CONFIG, diskBudgets, parseListen, parseNumber } from '../common/config.js';
import { ConfigError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { LossLedger } from '../common/loss.js';
import { Metrics } from '../common/metrics.js';
import { loadDemo } from '../demo/run.js';
import { type DetectConfig, parseDetectConfig } from '../detect/config.js';
import { Monitors } from '../detect/monitors/monitors.js';
import { type EventsConfig, parseEventsConfig } from '../events/config.js';
import { createEventSources, IdentityMap } from '../events/index.js';
import type { FlowConfig } from '../flow/flow-table.js';
import { type IntelConfig, parseIntelConfig } from '../intel/config.js';
import { createIntel } from '../intel/intel.js';
import type { UploadLimits } from '../jobs/limits.js';
import { createPacketRecorder } from '../pcapstore/recorder.js';
import { PolicyRepo } from '../policy/repo.js';
import { PolicyWatcher } from '../policy/watcher.js';
import type { ResponderConfig } from '../respond/config.js';
import { pcapEvidence } from '../respond/evidence.js';
import { createResponder, type Responder } from '../respond/responder.js';
import type { Columnar } from '../store/columnar.js';
import type { StoreConfig } from '../store/distributed/config.js';
import { ClickHouseStore, createClickHouseStore } from '../store/distributed/store.js';
import { createEmbeddedStore } from '../store/embedded/store.js';
import { type IngestControl, ingestCaptures } from '../store/ingest.js';
import type { Rec, RecordStore } from '../store/types.js';
import { watchingStore } from '../store/watching-store.js';
import { createTelemetry, type LakeConfig, LakeExporter, type TelemetryConfig } from '../telemetry/index.js';
import {
  type CaptureSourceConfig,
  DEFAULT_PACKETS,
  type FileConfig,
  loadConfigFile,
  type MirrorSourcesConfig,
  type PacketsConfig,
  parseSpool,
} from './config-file.js';
import { type CollectorFeed, lossReporting, startCollectorFeed, withBacklog } from './load-control.js';
import {
  type RunningSources,
  type SourceStats,
  sourceMetrics,
  sourceSpecs,
  startSources,
} from './sources.js';
import { createWatchers } from './watchers.js';

const HELP = `usage: vantage start [options]

Run the product: embedded record store, REST API and console; with a config file also live
capture from interfaces, mirror receivers (VXLAN, TZSP, GRE/ERSPAN) and the packet broker.

options:
  --config FILE            JSON config file (every key: docs/config.md); the flags below
                           override it. A bad key stops the start with exit code 2.
  --data DIR               data directory (default ./data)
  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080)
  --retention-days N       drop data older than N days (default 0: keep)
  --retention-bytes N      keep the store under N bytes, oldest data first (default 0: a quarter
                           of the free disk space at start; -1: no limit)
  --rate-limit N           requests per minute per token (default 6000)
  --cors-origin LIST       browser origins allowed to call the API, comma-separated
                           (https://soar.example.com); CORS is off without it
  --no-samples             load nothing on first start (by default the first start loads the
                           demo: 90 minutes of a generated company network with incidents)
  --samples-dir DIR        on first start ingest the captures in DIR instead of the demo
                           (test/fixtures/pcaps holds the bundled ones)
  --collect-udp PORTS      receive NetFlow/IPFIX/sFlow on these UDP ports (default 2055,4739,6343;
                           'none' turns the collector off)
  --collect-tcp PORTS      receive IPFIX over TCP on these ports (default none)
  --export-ipfix LIST      export Vantage's own flows as IPFIX to HOST:PORT[,HOST:PORT...]
  --collect-host ADDR      address the collector binds (default: the --listen host)
  --collect-spool SIZE     disk the collector may fill with backlog while the store catches up,
                           e.g. 2GiB, or 'off' (default 5% of the free disk, 256MiB..8GiB)
  --memory-budget SIZE     memory the process may use, e.g. 768MB or 2GiB (default 1/32 of RAM,
                           512MiB..4GiB); queues, the store's memory and threads are sized from it
  --overload-sampling      under overload keep 1 record in N (collector) or whole flows 1 in
                           N (VXLAN/TZSP mirrors), N on the records, instead of dropping

sources (config file only; see docs/config.md):
  "capture": [{"interface": "eth0", "filter": "not port 22"}]       live capture (root/CAP_NET_RAW)
  "mirror": {"vxlan": ["0.0.0.0:4789"], "tzsp": [...], "gre": [...]} mirror receivers
  "broker": {"targets": [...]}                                     replicate packets to tools
  "packets": {"maxBytes": 100000000000, "maxAgeHours": 72}          packet recording limits

  e.g. vantage start --config /etc/vantage.json --listen 0.0.0.0:8080
`;

/**
 * SCHED_FIFO priority of the mirror receive threads unless configured: low among real-time
 * threads, above every fair-scheduled one (bench/README.md, 2026-12-06, issue 21: the first
 * setting that kept 0 socket drops at 500k packets/s on the shared machine).
 */
const MIRROR_REALTIME = 10;

/**
 * Worker threads of each mirror receiver: as configured, else one when the machine has a second
 * core for it (the API's thread then only moves frames from the ring into batches).
 */
export function mirrorWorkers(configured: number | undefined, cores = availableParallelism()): number {
  return configured ?? (cores >= 2 ? 1 : 0);
}

/** The package root (two levels above dist/src/cli). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PRODUCT_VERSION = String(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0',
);

export interface ProductOptions {
  dataDir: string;
  /** Upload limits (config key uploads). */
  uploads?: Partial<UploadLimits>;
  host: string;
  port: number;
  retentionDays?: number;
  retentionBytes?: number;
  rateLimit?: number;
  samples?: boolean;
  /** Record packets in DIR/pcap (default true), with limits when an object. */
  packets?: boolean | Partial<PacketsConfig>;
  /** Live interfaces to capture from. */
  capture?: CaptureSourceConfig[];
  /** Mirror receivers. */
  mirror?: MirrorSourcesConfig;
  /**
   * The packet broker. Created when given, and whenever a live source is configured (so
   * GET /api/v1/stream has packets to stream); its targets are managed at /api/v1/broker.
   */
  broker?: BrokerConfig;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  corsOrigins?: string[];
  /** Flow timeouts of the live sources' flow tables. */
  flow?: Partial<FlowConfig>;
  /** Longest time a live record waits before it is stored (default 1000 ms). */
  flushMs?: number;
  /** Flow collector (NetFlow/IPFIX/sFlow) listening on these ports; none by default. */
  collect?: { host: string; udpPorts: number[]; tcpPorts: number[]; spoolBytes?: number };
  /** Export Vantage's own flows as IPFIX to these collectors. */
  export?: { ipfix: { host: string; port: number }[]; observationDomain?: number };
  /** The process's memory budget, bytes (default: `defaultBudgetBytes()`). */
  memoryBudget?: number;
  /** Keep 1-in-N under overload instead of dropping batches. */
  overloadSampling?: boolean;
  /** Name of this sensor on its alerts (default: the host name). */
  sensor?: string;
  /** Behaviour detectors (on by default with their defaults). */
  detect?: DetectConfig;
  /** Third-party security events in (EVE, syslog CEF/LEEF/Firepower, RADIUS identities). */
  events?: EventsConfig;
  /** Alert sinks; sinks added over the API are kept in DIR/bus too. */
  sinks?: SinkSpec[];
  /** Threat-intel feeds (the IOC store in DIR/intel keeps feeds added over the API too). */
  intel?: IntelConfig;
  /** Response playbooks, adapters and approvers (config key respond). */
  respond?: ResponderConfig;
  /** The record store (default: embedded in dataDir). */
  store?: StoreConfig;
  /** Run as a central over these sensors. */
  central?: CentralConfig;
  /** Network KPIs to Prometheus and InfluxDB (config key telemetry). */
  telemetry?: TelemetryConfig;
  /** Every record type as Parquet in Hive partitions to a directory or S3 (config key lake). */
  lake?: LakeConfig;
  /** Interface names and counters of exporters and devices over SNMP (config key snmp). */
  snmp?: SnmpConfig;
  /** Users, sessions, lockout, OIDC (config key auth). */
  auth?: AuthConfig;
  /** Publish every stored record and alert to Kafka (a sensor of a central). */
  publish?: PublishConfig;
  /** Sample capture directory (default test/fixtures/pcaps of the package). */
  samplesDir?: string;
  /**
   * First start: load the generated demo network instead of the sample captures (what
   * `vantage start` does unless told --samples-dir); a given `samplesDir` wins.
   */
  demo?: boolean;
  log?: Logger;
  /** Print the first-start admin token here (default stdout). */
  print?: (s: string) => void;
}

export interface Product {
  app: FastifyInstance;
  store: RecordStore & { readonly dataDir: string };
  tokens: TokenStore;
  /** Users, sessions and sign-in. */
  auth: Auth;
  url: string;
  /** Resolves when the first-start sample ingest is done (at once when there is none). */
  samplesDone: Promise<void>;
  /** The packet broker, when there is one. */
  broker: Broker | null;
  /** Counters of the live sources (interfaces, mirror receivers). */
  sources(): SourceStats[];
  /** Where every stage raises alerts (live aggregation), and the hub that stores and publishes them. */
  alerts: AlertAggregator;
  alertHub: AlertHub;
  monitors: Monitors;
  /** The memory budget and its split (stated at start). */
  budget: MemoryBudget;
  /** Response playbooks, when configured. */
  responder: Responder | null;
  stop(): Promise<void>;
}

/** Start store + API; the building block of `vantage start` and of the API tests. */
export async function startProduct(o: ProductOptions): Promise<Product> {
  const log = o.log ?? createLogger('vantage');
  const print = o.print ?? ((s: string) => process.stdout.write(s));
  const dataDir = resolve(o.dataDir);
  await mkdir(dataDir, { recursive: true });
  const tmpDir = join(dataDir, 'tmp');
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const metrics = new Metrics();
  const pk: PacketsConfig =
    typeof o.packets === 'object'
      ? { ...DEFAULT_PACKETS, ...o.packets }
      : { ...DEFAULT_PACKETS, enabled: o.packets !== false };
  const fs = statfsSync(dataDir);
  const budgets = diskBudgets(fs.bavail * fs.bsize, o.retentionBytes ?? 0, pk.maxBytes);
  const gb = (n: number) => (n === 0 ? 'no limit' : `${(n / 1e9).toFixed(1)} GB`);
  log.info('disk budgets', {
    records: `${gb(budgets.records)}${budgets.derived.records ? ' (a quarter of the free space; --retention-bytes changes it)' : ''}`,
    packets: `${gb(budgets.packets)}${budgets.derived.packets ? ' (half of the free space; packets.maxBytes changes it)' : ''}`,
  });
  const budget = memoryBudget(o.memoryBudget);
  holdHeapToBudget();
  const arenas = capMallocArenas();
  log.info('malloc arenas', { max: arenas ?? 'glibc default (the vantage-pcap addon is not built)' });
  const stopTrim = trimMallocEvery();
  const ledger = new LossLedger();
  const base =
    o.store?.backend === 'clickhouse'
      ? createClickHouseStore({ retentionDays: o.retentionDays ?? 0, ...o.store, dataDir }, { log })
      : createEmbeddedStore(
          {
            dataDir,
            retentionDays: o.retentionDays ?? 0,
            retentionBytes: budgets.records,
            memoryLimit: budget.duckdb,
            threads: budget.duckdbThreads,
            // The API answers on this thread. Column commits leave it free without a staging
            // table: they are INSERTs over a table function on DuckDB's threads (`insertFeed`),
            // and this thread only fills each chunk when asked. Staging them while the API was
            // asked cost a second copy of every row: in the steady soak of 2026-12-07 the store
            // then took less than 100k records/s and the spool grew (bench/README.md).
            stagedAppend: false,
          },
          { log },
        );
  // A central answers from its sensors (and its own records): the store fans out and merges.
  const central = o.central ? new Central(o.central, base, dataDir, log) : null;
  // A sensor with `publish` sends what it stores to Kafka; a central with `central.ingest`
  // consumes it into its store (at-least-once, written once: ClickHouseStore.appendAt).
  const publisher = o.publish
    ? createRecordPublisher({ ...o.publish.kafka, sensor: o.sensor ?? hostname() })
    : null;
  const store = publisher
    ? publishingStore(central ? central.store : base, publisher)
    : central
      ? central.store
      : base;
  try {
    await store.start();
  } catch (e) {
    const msg = (e as Error).message;
    if (/lock/i.test(msg)) {
      throw new Error(`the store in ${dataDir} is in use by another vantage process (${msg.split('\n')[0]})`);
    }
    throw e;
  }
  const ingester =
    o.central?.ingest && base instanceof ClickHouseStore
      ? createBusIngester(o.central.ingest, { store: base, log })
      : null;
  await ingester?.start();
  const tokens = new TokenStore(dataDir);
  const admin = tokens.ensureAdmin('admin');
  if (admin) {
    print(
      `\nFirst start: created an admin token (shown once; also in ${join(dataDir, 'admin-token')}, mode 0600):\n\n  ${admin}\n\n`,
    );
  }
  metrics.collect(async () => {
    const s = await store.stats();
    for (const [type, n] of Object.entries(s.rows))
      metrics.set('vantage_store_rows', 'Rows stored per record type.', { type }, n);
    for (const [type, n] of Object.entries(s.appended)) {
      metrics.set('vantage_store_appended_rows', 'Rows appended since start per record type.', { type }, n);
    }
    metrics.set('vantage_store_batches', 'Batches acknowledged since start.', {}, s.batches);
    metrics.set('vantage_store_bytes', 'Bytes on disk of the record store.', {}, s.bytesOnDisk);
    metrics.set('vantage_store_partitions', 'Compacted Parquet partitions.', {}, s.partitions);
    metrics.set(
      'vantage_store_dropped_partitions',
      'Partitions dropped by retention since start.',
      {},
      s.droppedPartitions,
    );
    for (const [k, v] of Object.entries(s.reads ?? {}))
      metrics.set('vantage_store_reads', 'Store queries run and shared, and seconds spent.', { kind: k }, v);
    for (const [k, v] of Object.entries(s.checkpoints ?? {}))
      metrics.set(
        'vantage_store_checkpoints',
        'Checkpoints of the record store: run, failed, seconds.',
        { kind: k },
        v,
      );
    metrics.set(
      'vantage_store_reopens',
      'Times the record store opened its database again after DuckDB invalidated it.',
      {},
      s.reopens ?? 0,
    );
  });
  // Flows the store acknowledges are exported as IPFIX when collectors are configured.
  const exporter =
    o.export && o.export.ipfix.length > 0
      ? createIpfixExporter(
          { targets: o.export.ipfix, observationDomain: o.export.observationDomain ?? 1 },
          { log: (m) => log.info(m) },
        )
      : null;
  await exporter?.start();
  const audit = createAuditLog(join(dataDir, 'audit.log'));
  const auth = createAuth(o.auth ?? DEFAULT_AUTH, { dataDir, tokens, metrics, audit, log });
  const adminPassword = await auth.ensureAdmin();
  if (adminPassword) {
    print(
      `First start: created user admin for the console (password shown once; also in ${join(dataDir, 'admin-password')}, mode 0600):\n\n  ${adminPassword}\n\n`,
    );
  }
  await auth.start();
  // Alerts: every watcher (intel, detectors, policy) and event source raises through one live
  // aggregator; the hub stores them ahead of bulk records and hands them to the bus.
  // Who was logged on where (RADIUS, Windows logons, VPN logs): alerts get their src_user.
  const identity = new IdentityMap(o.events?.identity);
  const alertHub = new AlertHub({ store, log, metrics, identity: (ip, ts) => identity.who(ip, ts) });
  await alertHub.start();
  const bus = createBus({ sinks: o.sinks ?? [] }, { dataDir, metrics, log, version: PRODUCT_VERSION });
  await bus.start();
  alertHub.setPublisher(bus);
  const responder = o.respond
    ? createResponder(o.respond, {
        dataDir,
        store,
        hub: alertHub,
        log,
        metrics,
        audit,
        // The recorder is made further down; evidence is gathered only once runs execute.
        pcapEvidence: pcapEvidence(() => recorder?.store ?? null, dataDir),
        broker: () => broker,
      })
    : null;
  const alerts = new AlertAggregator(alertHub.emit, { mode: 'live', sensor: o.sensor ?? hostname() });
  const detectConfig = o.detect ?? parseDetectConfig(undefined);
  const watchers = await createWatchers(
    {
      dataDir,
      detect: detectConfig,
      detectBytes: budget.detect,
      log: (msg) => (msg.includes('may exceed') ? log.warn(msg) : log.info(msg)),
    },
    alerts,
  );
  // Windows close on quiet traffic too: watchers get the clock while no records arrive.
  let lastAppend = 0;
  // While the first start loads the demo, its pauses (generating, learning the policy) are not
  // quiet traffic: a wall-clock tick then would move the detectors' clock past the data's.
  let loadingDemo = false;
  // Only live data follows the wall clock: ticking past an uploaded capture of last week would
  // close its windows before its records are scored. The data's own time is sampled.
  const dataClock = new DataClock();
  watchers.unshift(dataClock);
  const watchTimer = setInterval(() => {
    const now = Date.now();
    if (now - lastAppend < 2000 || loadingDemo || now - dataClock.latestMs > 10 * 60_000) return;
    for (const w of watchers) w.tick?.(now);
  }, 1000);
  watchTimer.unref();
  const identities: Rec[] = [];
  const events = createEventSources(o.events ?? parseEventsConfig({}), {
    emitter: alerts,
    log,
    dataDir,
    metrics,
    identity,
    onIdentity: (r) => {
      identities.push(r as unknown as Rec);
    },
  });
  await events.start();
  const identityTimer = setInterval(() => {
    if (identities.length === 0) return;
    const batch = identities.splice(0);
    store
      .append('identity', batch)
      .catch((e: unknown) => log.error('storing identities failed', { error: String(e) }));
  }, 1000);
  identityTimer.unref();
  const intel = createIntel(o.intel ?? parseIntelConfig(undefined), {
    dataDir,
    store,
    metrics,
    log,
    emitter: alerts,
  });
  await intel.start();
  watchers.push(intel.watcher);
  const policyWatcher = watchers.find((w): w is PolicyWatcher => w instanceof PolicyWatcher)!;
  const monitors = new Monitors({ dataDir, store, emit: alertHub.emit, sensor: o.sensor ?? hostname(), log });
  monitors.start();
  const telemetry = o.telemetry ? createTelemetry(o.telemetry, { store, dataDir, log, metrics }) : null;
  const lake = o.lake ? new LakeExporter(o.lake, { store, dataDir, log, metrics }) : null;
  const snmp = o.snmp ? new SnmpInterfaces(o.snmp, { store, log, metrics }) : null;
  const alertTimer = setInterval(() => alerts.emitDirty(), 5_000);
  alertTimer.unref();
  const exported = exporter ? exportingStore(store, exporter) : store;
  const sinkStore = watchingStore(
    exported,
    () => {
      lastAppend = Date.now();
      return watchers;
    },
    (w, e) => {
      metrics.inc('vantage_watcher_errors_total', 'Record batches a watcher failed on.', { watcher: w.name });
      log.error('record watcher failed', { watcher: w.name, error: String(e) });
    },
  );
  if (exporter) {
    metrics.collect(async () => {
      const s = exporter.stats();
      metrics.set('vantage_ipfix_export_records', 'Flow records exported as IPFIX.', {}, s.records);
      metrics.set('vantage_ipfix_export_messages', 'IPFIX messages sent.', {}, s.messages);
      metrics.set(
        'vantage_ipfix_export_send_errors',
        'IPFIX messages that failed to send.',
        {},
        s.sendErrors,
      );
    });
  }
  // Packets of every ingested capture go to the packet store, searchable through the API.
  const recorder = pk.enabled
    ? createPacketRecorder(
        {
          dir: join(dataDir, 'pcap'),
          maxBytes: budgets.packets,
          maxAgeSeconds: pk.maxAgeHours * 3600,
          snaplen: pk.snaplen,
          filter: pk.filter === '' ? null : pk.filter,
        },
        { log },
      )
    : null;
  await recorder?.start();
  const specs = sourceSpecs(o.capture, o.mirror);
  const broker = o.broker || specs.length > 0 ? createBroker(o.broker ?? { targets: [] }) : null;
  if (broker) {
    try {
      for (const [i, t] of (o.broker?.targets ?? []).entries()) {
        try {
          await broker.addTarget(t);
        } catch (e) {
          throw new ConfigError(`broker.targets[${i}]`, (e as Error).message);
        }
      }
      await broker.start();
    } catch (e) {
      await broker.stop();
      await recorder?.stop();
      await store.stop();
      throw e;
    }
  }
  let ingesting: Promise<unknown> = Promise.resolve();
  const ingest = (
    files: string[],
    names: string[],
    opts: { collect?: boolean; batch?: number } & IngestControl = {},
  ) => {
    // One ingest at a time: each has its own flow table and appends in order.
    const run = ingesting.then(async () => {
      const s = await ingestCaptures(sinkStore, files, {
        metrics,
        names,
        hooks: recorder ? [recorder] : [],
        collect: opts.collect === true,
        ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
        // The recorder copies whole runs of records straight from the reader's buffer.
        ...(recorder
          ? { read: recorder.reader(opts.read ?? readCaptureFile) }
          : opts.read
            ? { read: opts.read }
            : {}),
        ...(opts.live ? { live: opts.live } : {}),
      });
      recorder?.flush();
      return s;
    });
    ingesting = run.catch(() => undefined);
    return run;
  };
  const policyRepo = new PolicyRepo(dataDir);
  // Started once the recorder exists: a resumed run may gather packet evidence at once.
  await responder?.start();
  const app = await createApiServer({
    store,
    tokens,
    auth,
    metrics,
    log,
    maxUploadBytes: o.uploads?.maxCompressedBytes ?? DEFAULT_CONFIG.maxUploadBytes,
    ...(o.uploads ? { uploads: o.uploads } : {}),
    rateLimit: o.rateLimit ?? DEFAULT_CONFIG.rateLimit,
    dataDir,
    tmpDir,
    webDir: join(ROOT, 'web', 'dist'),
    ingest,
    ...(recorder && !central
      ? { pcap: { store: recorder.store, audit, flowPresence: flowPresence(store) } }
      : {}),
    ...(central ? { central } : {}),
    ...(broker ? { broker: { broker, audit } } : {}),
    alerts: alertHub,
    bus,
    events,
    detect: { config: detectConfig, sensor: o.sensor ?? hostname() },
    monitors,
    ...(telemetry ? { telemetry } : {}),
    ...(lake ? { lake } : {}),
    ...(snmp ? { snmp } : {}),
    intel,
    policy: { repo: policyRepo, watcher: policyWatcher },
    audit,
    ...(responder ? { respond: responder } : {}),
    liveStats: () => ({ sources: sources?.stats() ?? [], broker: broker?.stats() ?? null }),
    ...(o.corsOrigins ? { corsOrigins: o.corsOrigins } : {}),
    health: () => withBacklog(loss.health(), collector?.health()),
  });
  let collector: CollectorFeed | null = null;
  let sources: RunningSources | null = null;
  const loss = lossReporting({ ledger, store, metrics, log });
  const url = await app.listen({ host: o.host, port: o.port });
  await telemetry?.start();
  await lake?.start();
  await snmp?.start();
  const timer = setInterval(() => {
    store.enforceRetention().catch((e: unknown) => log.error('retention failed', { error: String(e) }));
  }, 60_000);
  timer.unref();

  // NetFlow / IPFIX / sFlow from routers and probes go to the same store as the sensor's flows.
  if (o.collect && (o.collect.udpPorts.length > 0 || o.collect.tcpPorts.length > 0)) {
    collector = await startCollectorFeed(
      {
        collect: o.collect,
        dataDir,
        budget,
        sampling: o.overloadSampling === true,
        ...(o.collect.spoolBytes !== undefined ? { spoolBytes: o.collect.spoolBytes } : {}),
      },
      { store: sinkStore, metrics, log, ledger, snmp },
    );
  }

  const stopAll = async () => {
    auth.stop();
    stopTrim?.();
    clearInterval(timer);
    clearInterval(alertTimer);
    await app.close();
    await sources?.stop();
    await ingesting;
    await collector?.stop();
    clearInterval(watchTimer);
    await monitors.stop();
    await telemetry?.stop();
    await lake?.stop();
    await snmp?.stop();
    await intel.stop();
    // Saves the detectors' baselines and closes what is open.
    for (const w of watchers) w.finish();
    await events.stop();
    clearInterval(identityTimer);
    if (identities.length > 0) await store.append('identity', identities.splice(0));
    await loss.stop();
    alerts.emitDirty();
    await alertHub.stop();
    await responder?.stop();
    await bus.stop();
    await broker?.stop();
    await recorder?.stop();
    await exporter?.stop();
    await ingester?.stop();
    await publisher?.close();
    await store.stop();
  };

  // Live interfaces and mirror receivers: each feeds a sensor whose packets are recorded and
  // replicated by the broker, and whose records reach the store in batches.
  if (specs.length > 0) {
    const hooks: Analyzer[] = [];
    if (recorder) hooks.push(recorder);
    if (broker) hooks.push(broker.hook());
    try {
      sources = await startSources(specs, {
        store: sinkStore,
        metrics,
        log,
        hooks,
        flow: o.flow ?? {},
        ledger,
        maxPendingBytes: budget.liveStore,
        mirrorRing: {
          bytes: budget.mirrorRing,
          sampling: o.overloadSampling === true,
          realtime: o.mirror?.realtime ?? MIRROR_REALTIME,
        },
        mirrorWorkers: mirrorWorkers(o.mirror?.workers),
        ...(o.flushMs !== undefined ? { flushMs: o.flushMs } : {}),
        onFlush: () => recorder?.flush(),
      });
    } catch (e) {
      await stopAll();
      throw e;
    }
  }
  sourceMetrics(metrics, () => sources?.stats() ?? [], broker);

  let samplesDone: Promise<void> = Promise.resolve();
  const marker = join(dataDir, '.samples-ingested');
  if (o.samples !== false && !existsSync(marker) && o.demo === true && o.samplesDir === undefined) {
    log.info('first start: loading the demo network (--no-samples skips it; README: "The demo")');
    loadingDemo = true;
    samplesDone = (async () => {
      await loadDemo({
        dataDir,
        store,
        ingest,
        intel,
        events,
        policy: { repo: policyRepo, watcher: policyWatcher },
        log,
      });
      // The detectors' open windows and alerts reach the store now rather than a tick later.
      alerts.emitDirty();
      await alertHub.flush();
      writeFileSync(marker, `${new Date().toISOString()}\n`);
    })()
      .catch((e: unknown) => log.error('demo load failed', { error: String(e) }))
      .finally(() => {
        loadingDemo = false;
      });
  } else if (o.samples !== false && !existsSync(marker)) {
    const dir = o.samplesDir ?? join(ROOT, 'test', 'fixtures', 'pcaps');
    const files = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => /\.(pcap|pcapng|cap)(\.gz)?$/i.test(f))
          .sort()
          .map((f) => join(dir, f))
      : [];
    samplesDone = (async () => {
      if (files.length > 0) {
        const s = await ingest(files, files);
        log.info('ingested the bundled sample captures', { files: files.length, summary: s });
      }
      writeFileSync(marker, `${new Date().toISOString()}\n`);
    })().catch((e: unknown) => log.error('sample ingest failed', { error: String(e) }));
  }
  return {
    app,
    store,
    tokens,
    auth,
    url,
    samplesDone,
    broker,
    sources: () => sources?.stats() ?? [],
    alerts,
    alertHub,
    monitors,
    budget,
    responder,
    async stop() {
      await stopAll();
    },
  };
}

/** `heap`: how the main thread's young generation was set (`relaunch.ts`), for the banner. */
export async function startCommand(argv: string[], heap?: string): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    process.stderr.write(`vantage start: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let opts: ProductOptions;
  try {
    opts = productOptions(values, values.config ? loadConfigFile(values.config) : {});
  } catch (e) {
    process.stderr.write(`vantage start: ${(e as Error).message}\n`);
    return 2;
  }
  let product: Product;
  try {
    product = await startProduct(opts);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : (e as Error).message;
    process.stderr.write(`vantage start: ${msg}\n`);
    return 1;
  }
  process.stdout.write(
    `Vantage is running: ${product.url}  (API docs: ${product.url}/api/v1/docs; Ctrl-C stops)\n${describeBudget(product.budget)}\n${heap ? `${heap}\n` : ''}`,
  );
  return new Promise<number>((res) => {
    const stop = () => {
      process.stdout.write('stopping...\n');
      product.stop().then(
        () => res(0),
        () => res(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

type StartFlags = ReturnType<typeof parse>['values'];

/**
 * Options of `startProduct` from the command line over the config file: a flag given wins,
 * then the file's key, then the default. Throws a ConfigError naming the flag or key.
 */
export function productOptions(values: Partial<StartFlags>, file: FileConfig): ProductOptions {
  const listen = values.listen
    ? parseListen(values.listen)
    : (file.listen ?? { host: DEFAULT_CONFIG.host, port: DEFAULT_CONFIG.port });
  const fc = file.collect ?? {};
  const o: ProductOptions = {
    dataDir: values.data ?? file.dataDir ?? DEFAULT_CONFIG.dataDir,
    ...listen,
    retentionDays: parseNumber('retention-days', values['retention-days'], file.retentionDays ?? 0),
    retentionBytes: parseNumber('retention-bytes', values['retention-bytes'], file.retentionBytes ?? 0, -1),
    rateLimit: parseNumber('rate-limit', values['rate-limit'], file.rateLimit ?? DEFAULT_CONFIG.rateLimit),
    samples: values['no-samples'] ? false : (file.samples ?? true),
    overloadSampling: values['overload-sampling'] === true || file.overloadSampling === true,
    ...(values['samples-dir'] !== undefined ? { samplesDir: values['samples-dir'] } : { demo: true }),
    collect: {
      host: values['collect-host'] ?? fc.host ?? listen.host,
      udpPorts:
        values['collect-udp'] !== undefined
          ? parsePorts('collect-udp', values['collect-udp'])
          : (fc.udp ?? [2055, 4739, 6343]),
      tcpPorts:
        values['collect-tcp'] !== undefined
          ? parsePorts('collect-tcp', values['collect-tcp'])
          : (fc.tcp ?? []),
    },
  };
  const spool =
    values['collect-spool'] !== undefined ? parseSpool('collect-spool', values['collect-spool']) : fc.spool;
  if (spool !== undefined) o.collect!.spoolBytes = spool;
  if (values['cors-origin'] !== undefined) o.corsOrigins = parseOrigins(values['cors-origin']);
  const mb =
    values['memory-budget'] !== undefined
      ? parseBytes('memory-budget', values['memory-budget'])
      : file.memoryBudget;
  if (mb !== undefined) o.memoryBudget = mb;
  if (file.packets) o.packets = file.packets;
  if (file.uploads) o.uploads = file.uploads;
  if (file.capture) o.capture = file.capture;
  if (file.mirror) o.mirror = file.mirror;
  if (file.broker) o.broker = file.broker;
  if (file.flow) o.flow = file.flow;
  if (file.sensor) o.sensor = file.sensor;
  if (file.intel) o.intel = file.intel;
  if (file.respond) o.respond = file.respond;
  if (file.sinks) o.sinks = file.sinks;
  if (file.events) o.events = file.events;
  if (file.detect) o.detect = file.detect;
  if (file.store) o.store = file.store;
  if (file.central) o.central = file.central;
  if (file.telemetry) o.telemetry = file.telemetry;
  if (file.lake) o.lake = file.lake;
  if (file.snmp) o.snmp = file.snmp;
  if (file.auth) o.auth = file.auth;
  if (file.publish) o.publish = file.publish;
  const targets =
    values['export-ipfix'] !== undefined
      ? parseTargets('export-ipfix', values['export-ipfix'])
      : file.export?.ipfix;
  if (targets && targets.length > 0) {
    o.export = { ipfix: targets };
    if (file.export?.observationDomain !== undefined)
      o.export.observationDomain = file.export.observationDomain;
  }
  return o;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      'retention-days': { type: 'string' },
      'retention-bytes': { type: 'string' },
      'rate-limit': { type: 'string' },
      'no-samples': { type: 'boolean', default: false },
      'samples-dir': { type: 'string' },
      'collect-udp': { type: 'string' },
      'collect-tcp': { type: 'string' },
      'collect-host': { type: 'string' },
      'collect-spool': { type: 'string' },
      'export-ipfix': { type: 'string' },
      'cors-origin': { type: 'string' },
      'memory-budget': { type: 'string' },
      'overload-sampling': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** Comma-separated browser origins (scheme://host[:port]) allowed to call the API (CORS). */
function parseOrigins(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      if (
        !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(x) &&
        !/^https?:\/\/\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(x)
      ) {
        throw new ConfigError(
          'cors-origin',
          `'${x.slice(0, 64)}' is not an origin such as https://soar.example.com`,
        );
      }
      return x;
    });
}

/** A comma-separated port list, or "none". */
function parsePorts(key: string, v: string): number[] {
  if (v.trim() === 'none' || v.trim() === '') return [];
  return v.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      throw new ConfigError(
        key,
        `'${x.trim()}' is not a port number 1-65535 (use a comma-separated list or 'none')`,
      );
    }
    return n;
  });
}

/** A comma-separated list of HOST:PORT collectors ("none" for none). */
function parseTargets(key: string, v: string): { host: string; port: number }[] {
  if (v.trim() === 'none' || v.trim() === '') return [];
  return v.split(',').map((x) => {
    try {
      const hp = parseHostPort(x.trim(), 4739);
      if (isIP(hp.host) === 0) throw new Error(`'${hp.host}' is not an IP address`);
      return hp;
    } catch (e) {
      throw new ConfigError(key, `${(e as Error).message}; expected HOST:PORT such as 192.0.2.10:4739`);
    }
  });
}

/** The latest data time among the records stored (sampled: one record in 64). */
class DataClock implements RecordWatcher {
  readonly name = 'clock';
  latestMs = 0;
  private n = 0;
  onRecord(rec: AnyRecord): void {
    if ((++this.n & 63) !== 0) return;
    const t = rec.last_ts ?? rec.ts ?? rec.first_ts;
    if (typeof t !== 'string') return;
    this.see(Date.parse(t));
  }
  /** A batch's last row is enough (rows come in time order within a batch, near enough). */
  onColumns(_type: string, c: Columnar): void {
    const n = c.rows.length;
    if (n === 0) return;
    const row = c.rows[n - 1]!;
    for (const name of ['last_ts', 'ts', 'first_ts']) {
      const j = c.num.indexOf(name);
      if (j >= 0) {
        const v = c.f[row * c.num.length + j]!;
        if (!Number.isNaN(v)) {
          this.see(v);
          return;
        }
      }
      const k = c.str.indexOf(name);
      if (k >= 0) {
        const d = c.s[row * c.str.length + k]!;
        if (d >= 0) {
          this.see(Date.parse(c.dict[d]!));
          return;
        }
      }
    }
  }
  private see(ms: number): void {
    if (ms > this.latestMs && ms <= Date.now() + 60_000) this.latestMs = ms;
  }
  finish(): void {}
}
