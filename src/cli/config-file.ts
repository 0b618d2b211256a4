import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type AuthConfig, parseAuthConfig } from '../api/auth/config.js';
import { parseBrokerConfig } from '../broker/config.js';
import type { BrokerConfig } from '../broker/types.js';
import { parseBusConfig } from '../bus/config.js';
import type { SinkSpec } from '../bus/types.js';
import { parseHostPort } from '../capture/mirror.js';
import {
  type CentralConfig,
  type PublishConfig,
  parseCentralConfig,
  parsePublishConfig,
} from '../central/config.js';
import { parseSnmpConfig } from '../collect/snmp/config.js';
import type { SnmpConfig } from '../collect/snmp/interfaces.js';
import { parseBytes } from '../common/budget.js';
import { parseListen } from '../common/config.js';
import { ConfigError } from '../common/errors.js';
import { type DetectConfig, parseDetectConfig } from '../detect/config.js';
import { type EventsConfig, parseEventsConfig } from '../events/config.js';
import { type IntelConfig, parseIntelConfig } from '../intel/config.js';
import { parseUploadLimits, type UploadLimits } from '../jobs/limits.js';
import { compileFilter } from '../pcapstore/bpf/compile.js';
import { parseResponderConfig, type ResponderConfig } from '../respond/config.js';
import { parseStoreConfig, type StoreConfig } from '../store/distributed/config.js';
import { parseLakeConfig, parseTelemetryConfig, type TelemetryConfig } from '../telemetry/config.js';
import type { LakeConfig } from '../telemetry/lake.js';

/**
 * The config file of `vantage start` (JSON). Every key is optional; command-line flags override
 * the file. Validated by hand so that every error names the exact key at fault
 * (`config: capture[0].interface: expected an interface name`), and unknown keys are errors:
 * a typo must never be silently ignored. docs/config.md documents every key.
 */

export interface CaptureSourceConfig {
  interface: string;
  /** tcpdump filter compiled by libpcap into the kernel. */
  filter?: string;
  snaplen?: number;
  promisc?: boolean;
  /** Decode/flow worker threads (0: on the main thread). */
  workers?: number;
}

export interface MirrorSourcesConfig {
  /** VXLAN receivers, "HOST:PORT" (default port 4789). */
  vxlan?: string[];
  /** TZSP receivers, "HOST:PORT" (default port 37008). */
  tzsp?: string[];
  /** GRE/ERSPAN receivers (raw IP protocol 47): local IPv4 address to bind, "0.0.0.0" for all. */
  gre?: string[];
  /**
   * Each receiver's decode, flows and L7 on a worker thread of its own (1) or on the main
   * thread (0). Default: 1 when the machine has at least 2 cores.
   */
  workers?: number;
  /**
   * SCHED_FIFO priority of each receiver's receive thread (1-99; 0: the fair scheduler).
   * Default 10; without root or CAP_SYS_NICE it stays under the fair scheduler.
   */
  realtime?: number;
}

export interface PacketsConfig {
  enabled: boolean;
  /** Disk budget of the packet store in bytes (0: half the free disk space at start; -1: no limit). */
  maxBytes: number;
  /** Delete packet segments older than this many hours (0: keep). */
  maxAgeHours: number;
  /** Keep at most this many bytes of each packet (0: whole packets). */
  snaplen: number;
  /** tcpdump filter: record only the packets that pass ('' records all). */
  filter: string;
}

export interface FlowTimeouts {
  idleTimeout?: number;
  tcpIdleTimeout?: number;
  activeTimeout?: number;
  tcpEndTimeout?: number;
}

export interface FileConfig {
  dataDir?: string;
  listen?: { host: string; port: number };
  retentionDays?: number;
  retentionBytes?: number;
  rateLimit?: number;
  samples?: boolean;
  /** The process's memory budget in bytes ("768MB", "2GiB"); default 1/32 of RAM, 512MiB..4GiB. */
  memoryBudget?: number;
  /** Under overload keep 1-in-N records (factor on the records) instead of dropping batches. */
  overloadSampling?: boolean;
  /** `spool`: disk the collector's backlog may take (bytes; -1: no spool; absent: 5% of free disk). */
  collect?: { host?: string; udp?: number[]; tcp?: number[]; spool?: number };
  flow?: FlowTimeouts;
  capture?: CaptureSourceConfig[];
  mirror?: MirrorSourcesConfig;
  packets?: PacketsConfig;
  broker?: BrokerConfig;
  /** Vantage's own flows exported as IPFIX to these collectors. */
  export?: { ipfix: { host: string; port: number }[]; observationDomain?: number };
  /** Name of this sensor on its alerts (default: the host name). */
  sensor?: string;
  /** Threat-intel feeds matched against every record. */
  intel?: IntelConfig;
  /** Response playbooks, adapters, approvers. */
  respond?: ResponderConfig;
  /** Where alerts are delivered (Kafka, NATS, syslog, webhooks, Splunk HEC, e-mail). */
  sinks?: SinkSpec[];
  /** Third-party security events in: EVE files and sockets, syslog (CEF, LEEF, Firepower), RADIUS. */
  events?: EventsConfig;
  /** Behaviour detectors: thresholds, off switches, allow lists, internal networks. */
  detect?: DetectConfig;
  /** The record store: embedded (default) or ClickHouse ({"backend": "clickhouse", "url", ...}). */
  store?: StoreConfig;
  /** Run as a central over these sensors: every query fans out to them and is merged. */
  central?: CentralConfig;
  /** Network KPIs to Prometheus (remote write, scrape) and InfluxDB. */
  telemetry?: TelemetryConfig;
  /** Every record type as Parquet in Hive partitions, to a directory or S3. */
  lake?: LakeConfig;
  /** Interface names, speeds and counters of exporters and devices over SNMP. */
  snmp?: SnmpConfig;
  /** Limits on capture uploads and their jobs. */
  uploads?: Partial<UploadLimits>;
  /** Users, sessions, sign-in lockout and OIDC. */
  auth?: AuthConfig;
  /** Publish every stored record and alert to Kafka, for a central's ingester. */
  publish?: PublishConfig;
}

export const DEFAULT_PACKETS: PacketsConfig = {
  enabled: true,
  maxBytes: 0,
  maxAgeHours: 0,
  snaplen: 0,
  filter: '',
};

const TOP_KEYS = [
  '$comment',
  'dataDir',
  'listen',
  'retentionDays',
  'retentionBytes',
  'rateLimit',
  'samples',
  'memoryBudget',
  'overloadSampling',
  'collect',
  'export',
  'flow',
  'capture',
  'mirror',
  'packets',
  'broker',
  'sensor',
  'intel',
  'sinks',
  'events',
  'detect',
  'respond',
  'store',
  'central',
  'telemetry',
  'lake',
  'snmp',
  'uploads',
  'auth',
  'publish',
];

/** Read and validate a config file; every error is a ConfigError naming the key (or the file). */
export function loadConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read the config file (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, `not valid JSON: ${(e as Error).message}`);
  }
  return parseFileConfig(v);
}

/** Validate the parsed JSON of a config file. */
export function parseFileConfig(v: unknown): FileConfig {
  const o = obj(v, '(top level)');
  known(o, '', TOP_KEYS);
  const c: FileConfig = {};
  if (o.dataDir !== undefined) c.dataDir = str(o.dataDir, 'dataDir', 'a directory path');
  if (o.listen !== undefined) {
    const s = str(o.listen, 'listen', 'HOST:PORT such as 127.0.0.1:8080');
    try {
      c.listen = parseListen(s);
    } catch (e) {
      throw rekey(e, 'listen');
    }
  }
  if (o.retentionDays !== undefined) c.retentionDays = num(o.retentionDays, 'retentionDays', 0, 1e6);
  if (o.retentionBytes !== undefined)
    c.retentionBytes = int(o.retentionBytes, 'retentionBytes', -1, Number.MAX_SAFE_INTEGER);
  if (o.rateLimit !== undefined) c.rateLimit = int(o.rateLimit, 'rateLimit', 1, 1e9);
  if (o.samples !== undefined) c.samples = bool(o.samples, 'samples');
  if (o.memoryBudget !== undefined)
    c.memoryBudget = parseBytes('memoryBudget', o.memoryBudget as string | number);
  if (o.overloadSampling !== undefined) c.overloadSampling = bool(o.overloadSampling, 'overloadSampling');
  if (o.collect !== undefined) c.collect = parseCollect(o.collect);
  if (o.flow !== undefined) c.flow = parseFlow(o.flow);
  if (o.capture !== undefined) c.capture = list(o.capture, 'capture').map((x, i) => parseCapture(x, i));
  if (o.mirror !== undefined) c.mirror = parseMirror(o.mirror);
  if (o.packets !== undefined) c.packets = parsePackets(o.packets);
  if (o.broker !== undefined) c.broker = parseBrokerConfig(o.broker, 'broker');
  if (o.export !== undefined) c.export = parseExport(o.export);
  if (o.sensor !== undefined) c.sensor = str(o.sensor, 'sensor', 'a name for this sensor on its alerts');
  if (o.intel !== undefined) c.intel = parseIntelConfig(o.intel, 'intel');
  if (o.sinks !== undefined) c.sinks = parseBusConfig(o.sinks, 'sinks');
  if (o.events !== undefined) c.events = parseEventsConfig(o.events, 'events');
  if (o.detect !== undefined) c.detect = parseDetectConfig(o.detect, 'detect');
  if (o.respond !== undefined) c.respond = parseResponderConfig(o.respond, 'respond');
  if (o.store !== undefined) c.store = parseStoreConfig(o.store, 'store');
  if (o.central !== undefined) c.central = parseCentralConfig(o.central, 'central');
  if (o.telemetry !== undefined) c.telemetry = parseTelemetryConfig(o.telemetry, 'telemetry');
  if (o.lake !== undefined) c.lake = parseLakeConfig(o.lake, 'lake');
  if (o.snmp !== undefined) c.snmp = parseSnmpConfig(o.snmp, 'snmp');
  if (o.uploads !== undefined) c.uploads = parseUploadLimits(o.uploads, 'uploads');
  if (o.auth !== undefined) c.auth = parseAuthConfig(o.auth, 'auth');
  if (o.publish !== undefined) c.publish = parsePublishConfig(o.publish, 'publish');
  if (c.central?.ingest && c.store?.backend !== 'clickhouse')
    throw new ConfigError(
      'central.ingest',
      'needs "store": {"backend": "clickhouse", ...} (idempotent writes)',
    );
  return c;
}

function parseExport(v: unknown): NonNullable<FileConfig['export']> {
  const o = obj(v, 'export');
  known(o, 'export', ['ipfix', 'observationDomain']);
  const e: NonNullable<FileConfig['export']> = {
    ipfix: list(o.ipfix ?? [], 'export.ipfix').map((x, i) => {
      const key = `export.ipfix[${i}]`;
      const s = str(x, key, 'HOST:PORT such as 192.0.2.10:4739');
      let hp: { host: string; port: number };
      try {
        hp = parseHostPort(s, 4739);
      } catch (err) {
        throw new ConfigError(key, `${(err as Error).message}; expected HOST:PORT such as 192.0.2.10:4739`);
      }
      if (isIP(hp.host) === 0)
        throw new ConfigError(
          key,
          `'${hp.host}' is not an IP address; expected HOST:PORT such as 192.0.2.10:4739`,
        );
      return hp;
    }),
  };
  if (o.observationDomain !== undefined)
    e.observationDomain = int(o.observationDomain, 'export.observationDomain', 0, 0xffffffff);
  return e;
}

/** A spool size ("2GiB"), or false / "off" for none (-1). */
export function parseSpool(key: string, v: unknown): number {
  if (v === false || v === 'off' || v === 'none') return -1;
  return parseBytes(key, v as string | number);
}

function parseCollect(v: unknown): NonNullable<FileConfig['collect']> {
  const o = obj(v, 'collect');
  known(o, 'collect', ['host', 'udp', 'tcp', 'spool']);
  const c: NonNullable<FileConfig['collect']> = {};
  if (o.host !== undefined) c.host = address(o.host, 'collect.host');
  if (o.spool !== undefined) c.spool = parseSpool('collect.spool', o.spool);
  for (const k of ['udp', 'tcp'] as const) {
    if (o[k] === undefined) continue;
    c[k] = list(o[k], `collect.${k}`).map((p, i) => int(p, `collect.${k}[${i}]`, 1, 65535));
  }
  return c;
}

function parseFlow(v: unknown): FlowTimeouts {
  const o = obj(v, 'flow');
  const keys = ['idleTimeout', 'tcpIdleTimeout', 'activeTimeout', 'tcpEndTimeout'] as const;
  known(o, 'flow', [...keys]);
  const f: FlowTimeouts = {};
  for (const k of keys) if (o[k] !== undefined) f[k] = num(o[k], `flow.${k}`, 0, 1e8);
  return f;
}

function parseCapture(v: unknown, i: number): CaptureSourceConfig {
  const key = `capture[${i}]`;
  const o = obj(v, key);
  known(o, key, ['interface', 'filter', 'snaplen', 'promisc', 'workers']);
  if (typeof o.interface !== 'string' || !/^[^\s/]{1,64}$/.test(o.interface))
    throw new ConfigError(`${key}.interface`, 'expected an interface name such as eth0');
  const c: CaptureSourceConfig = { interface: o.interface };
  // The kernel filter is compiled by libpcap at start (its errors name this source there).
  if (o.filter !== undefined) c.filter = str(o.filter, `${key}.filter`, 'a tcpdump filter', true);
  if (o.snaplen !== undefined) c.snaplen = int(o.snaplen, `${key}.snaplen`, 64, 262_144);
  if (o.promisc !== undefined) c.promisc = bool(o.promisc, `${key}.promisc`);
  if (o.workers !== undefined) c.workers = int(o.workers, `${key}.workers`, 0, 64);
  return c;
}

function parseMirror(v: unknown): MirrorSourcesConfig {
  const o = obj(v, 'mirror');
  known(o, 'mirror', ['vxlan', 'tzsp', 'gre', 'workers', 'realtime']);
  const m: MirrorSourcesConfig = {};
  if (o.workers !== undefined) m.workers = int(o.workers, 'mirror.workers', 0, 1);
  if (o.realtime !== undefined) m.realtime = int(o.realtime, 'mirror.realtime', 0, 99);
  for (const k of ['vxlan', 'tzsp'] as const) {
    if (o[k] === undefined) continue;
    m[k] = list(o[k], `mirror.${k}`).map((x, i) => {
      const key = `mirror.${k}[${i}]`;
      const s = str(x, key, 'HOST:PORT such as 0.0.0.0:4789');
      let hp: { host: string; port: number };
      try {
        hp = parseHostPort(s, 0);
      } catch (e) {
        throw new ConfigError(key, `${(e as Error).message}; expected HOST:PORT such as 0.0.0.0:4789`);
      }
      if (isIP(hp.host) === 0)
        throw new ConfigError(
          key,
          `'${hp.host}' is not an IP address; expected HOST:PORT such as 0.0.0.0:4789`,
        );
      return s;
    });
  }
  if (o.gre !== undefined) {
    m.gre = list(o.gre, 'mirror.gre').map((x, i) => {
      const key = `mirror.gre[${i}]`;
      const s = str(x, key, 'a local IPv4 address to bind (0.0.0.0 for all)');
      if (isIP(s) !== 4) throw new ConfigError(key, `'${s}' is not an IPv4 address (0.0.0.0 binds all)`);
      return s;
    });
  }
  return m;
}

function parsePackets(v: unknown): PacketsConfig {
  const o = obj(v, 'packets');
  known(o, 'packets', ['enabled', 'maxBytes', 'maxAgeHours', 'snaplen', 'filter']);
  const p: PacketsConfig = { ...DEFAULT_PACKETS };
  if (o.enabled !== undefined) p.enabled = bool(o.enabled, 'packets.enabled');
  if (o.maxBytes !== undefined) p.maxBytes = int(o.maxBytes, 'packets.maxBytes', -1, Number.MAX_SAFE_INTEGER);
  if (o.maxAgeHours !== undefined) p.maxAgeHours = num(o.maxAgeHours, 'packets.maxAgeHours', 0, 1e6);
  if (o.snaplen !== undefined) p.snaplen = int(o.snaplen, 'packets.snaplen', 0, 262_144);
  if (o.filter !== undefined) {
    p.filter = str(o.filter, 'packets.filter', 'a tcpdump filter', true);
    try {
      compileFilter(p.filter);
    } catch (e) {
      throw new ConfigError('packets.filter', (e as Error).message);
    }
  }
  return p;
}

/** Re-key a ConfigError thrown by a shared parser (e.g. parseListen) to the file's key. */
function rekey(e: unknown, key: string): unknown {
  if (e instanceof ConfigError) return new ConfigError(key, e.message.replace(/^config: [^:]+: /, ''));
  return e;
}

function obj(v: unknown, key: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  return v as Record<string, unknown>;
}

function list(v: unknown, key: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(key, 'expected a list');
  return v;
}

function known(o: Record<string, unknown>, prefix: string, keys: string[]): void {
  for (const k of Object.keys(o)) {
    if (keys.includes(k)) continue;
    const near = keys.find((x) => x !== '$comment' && distance(x.toLowerCase(), k.toLowerCase()) <= 2);
    const hint = near ? `did you mean '${near}'? ` : '';
    throw new ConfigError(
      prefix ? `${prefix}.${k}` : k,
      `unknown key (${hint}known: ${keys.filter((x) => x !== '$comment').join(', ')})`,
    );
  }
}

/** Edit distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

function str(v: unknown, key: string, what: string, emptyOk = false): string {
  if (typeof v !== 'string' || (!emptyOk && v === ''))
    throw new ConfigError(key, `expected ${what} (a string)`);
  return v;
}

function address(v: unknown, key: string): string {
  const s = str(v, key, 'an IP address');
  if (isIP(s) === 0) throw new ConfigError(key, `'${s}' is not an IP address`);
  return s;
}

function bool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(key, 'expected true or false');
  return v;
}

function num(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ConfigError(key, `expected a number from ${min} to ${max}`);
  return v;
}

function int(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max}`);
  return v;
}
