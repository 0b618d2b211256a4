import {
  checkKeys,
  configBool,
  configDuration,
  configInt,
  configString,
  isConfigObj,
} from '../common/config-read.js';
import { ConfigError } from '../common/errors.js';
import { METRICS, type Metric, SERIES_STATS, type SeriesStat } from '../store/types.js';
import type { InfluxConfig } from './influx.js';
import { DEFAULT_KPIS } from './kpis.js';
import type { LakeConfig, LakeTarget } from './lake.js';
import type { PrometheusConfig } from './prometheus.js';
import type { KpiSpec } from './types.js';

/** The `telemetry` key of the config file: network KPIs to Prometheus and InfluxDB. */
export interface TelemetryConfig {
  stepS: number;
  delayMs: number;
  intervalMs: number;
  maxSeries: number;
  backfillMs: number;
  kpis: KpiSpec[];
  /** Serve the newest bucket as OpenMetrics at /metrics/network for Prometheus to scrape. */
  scrape: boolean;
  prometheus?: PrometheusConfig;
  influxdb?: InfluxConfig;
}

const isObj = isConfigObj;
const keys = checkKeys;
const envStr = configString;
const duration = configDuration;
const int = configInt;

function url(v: unknown, key: string): string {
  const s = envStr(v, key);
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ConfigError(key, 'expected an http:// or https:// URL');
  }
  return s;
}

export function parseTelemetryConfig(v: unknown, key = 'telemetry'): TelemetryConfig {
  if (!isObj(v)) throw new ConfigError(key, 'expected an object');
  keys(v, key, [
    'step',
    'delay',
    'interval',
    'maxSeries',
    'backfill',
    'kpis',
    'scrape',
    'prometheus',
    'influxdb',
  ]);
  const stepMs = duration(v.step, `${key}.step`, 60_000, 10_000, 3_600_000);
  if (stepMs % 1000 !== 0) throw new ConfigError(`${key}.step`, 'expected whole seconds');
  const c: TelemetryConfig = {
    stepS: stepMs / 1000,
    delayMs: duration(v.delay, `${key}.delay`, 120_000, 0, 86_400_000),
    intervalMs: duration(v.interval, `${key}.interval`, Math.min(30_000, stepMs), 1000, 3_600_000),
    maxSeries: int(v.maxSeries, `${key}.maxSeries`, 10_000, 1, 10_000_000),
    backfillMs: duration(v.backfill, `${key}.backfill`, 0, 0, 7 * 86_400_000),
    kpis: v.kpis === undefined ? [...DEFAULT_KPIS] : parseKpis(v.kpis, `${key}.kpis`),
    scrape: v.scrape === undefined ? true : bool(v.scrape, `${key}.scrape`),
  };
  if (v.prometheus !== undefined) {
    const k = `${key}.prometheus`;
    const o = v.prometheus;
    if (!isObj(o)) throw new ConfigError(k, 'expected an object');
    keys(o, k, ['remoteWrite', 'bearerToken', 'basicAuth', 'timeout']);
    const p: PrometheusConfig = {
      remoteWrite: url(o.remoteWrite, `${k}.remoteWrite`),
      timeoutMs: duration(o.timeout, `${k}.timeout`, 10_000, 100, 300_000),
    };
    if (o.bearerToken !== undefined) p.bearerToken = envStr(o.bearerToken, `${k}.bearerToken`);
    if (o.basicAuth !== undefined) {
      const b = o.basicAuth;
      if (!isObj(b)) throw new ConfigError(`${k}.basicAuth`, 'expected {"username", "password"}');
      keys(b, `${k}.basicAuth`, ['username', 'password']);
      p.basicAuth = {
        username: envStr(b.username, `${k}.basicAuth.username`),
        password: envStr(b.password, `${k}.basicAuth.password`),
      };
    }
    c.prometheus = p;
  }
  if (v.influxdb !== undefined) {
    const k = `${key}.influxdb`;
    const o = v.influxdb;
    if (!isObj(o)) throw new ConfigError(k, 'expected an object');
    keys(o, k, ['url', 'db', 'username', 'password', 'retentionPolicy', 'createDatabase', 'timeout']);
    const i: InfluxConfig = {
      url: url(o.url, `${k}.url`),
      db: envStr(o.db ?? 'vantage', `${k}.db`),
      createDatabase: o.createDatabase === undefined ? true : bool(o.createDatabase, `${k}.createDatabase`),
      timeoutMs: duration(o.timeout, `${k}.timeout`, 10_000, 100, 300_000),
    };
    if (o.username !== undefined) i.username = envStr(o.username, `${k}.username`);
    if (o.password !== undefined) i.password = envStr(o.password, `${k}.password`);
    if (o.retentionPolicy !== undefined)
      i.retentionPolicy = envStr(o.retentionPolicy, `${k}.retentionPolicy`);
    c.influxdb = i;
  }
  return c;
}

const bool = (v: unknown, key: string): boolean => configBool(v, key, false);

function parseKpis(v: unknown, key: string): KpiSpec[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(key, 'expected a non-empty list of KPIs');
  if (v.length > 200) throw new ConfigError(key, 'at most 200 KPIs');
  return v.map((x, i) => {
    const k = `${key}[${i}]`;
    if (!isObj(x)) throw new ConfigError(k, 'expected {"metric": "bps", "stat"?, "groupBy"?, "groups"?}');
    keys(x, k, ['metric', 'stat', 'groupBy', 'groups']);
    if (!METRICS.includes(x.metric as Metric))
      throw new ConfigError(`${k}.metric`, `expected one of ${METRICS.join(', ')}`);
    const spec: KpiSpec = { metric: x.metric as Metric };
    if (x.stat !== undefined) {
      if (!SERIES_STATS.includes(x.stat as SeriesStat))
        throw new ConfigError(`${k}.stat`, `expected one of ${SERIES_STATS.join(', ')}`);
      if (spec.metric !== 'rtt_ms' && spec.metric !== 'srt_ms')
        throw new ConfigError(`${k}.stat`, 'a quantile applies to rtt_ms and srt_ms only');
      spec.stat = x.stat as SeriesStat;
    }
    if (x.groupBy !== undefined) {
      if (typeof x.groupBy !== 'string' || !/^[a-z_][a-z0-9_]{0,63}$/.test(x.groupBy))
        throw new ConfigError(`${k}.groupBy`, 'expected a flow field name such as app or server_ip');
      spec.groupBy = x.groupBy;
      spec.groups = int(x.groups, `${k}.groups`, 10, 1, 100);
    } else if (x.groups !== undefined) throw new ConfigError(`${k}.groups`, 'applies only with groupBy');
    return spec;
  });
}

/** The `lake` key: every record type as Parquet in Hive partitions, to a directory or S3. */
export function parseLakeConfig(v: unknown, key = 'lake'): LakeConfig {
  if (!isObj(v)) throw new ConfigError(key, 'expected an object');
  keys(v, key, ['dir', 's3', 'types', 'delay', 'interval', 'backfillHours']);
  let target: LakeTarget;
  if (v.dir !== undefined && v.s3 !== undefined)
    throw new ConfigError(key, 'give either dir or s3, not both');
  if (v.dir !== undefined) target = { kind: 'dir', path: envStr(v.dir, `${key}.dir`) };
  else if (v.s3 !== undefined) {
    const k = `${key}.s3`;
    const o = v.s3;
    if (!isObj(o)) throw new ConfigError(k, 'expected an object');
    keys(o, k, ['bucket', 'prefix', 'region', 'endpoint', 'accessKeyId', 'secretAccessKey']);
    const bucket = envStr(o.bucket, `${k}.bucket`);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new ConfigError(
        `${k}.bucket`,
        'expected an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)',
      );
    const t: Extract<LakeTarget, { kind: 's3' }> = {
      kind: 's3',
      bucket,
      prefix: o.prefix === undefined ? '' : envStr(o.prefix, `${k}.prefix`),
      region: o.region === undefined ? 'us-east-1' : envStr(o.region, `${k}.region`),
    };
    if (o.endpoint !== undefined) t.endpoint = url(o.endpoint, `${k}.endpoint`);
    if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined))
      throw new ConfigError(`${k}.secretAccessKey`, 'accessKeyId and secretAccessKey go together');
    if (o.accessKeyId !== undefined) t.accessKeyId = envStr(o.accessKeyId, `${k}.accessKeyId`);
    if (o.secretAccessKey !== undefined)
      t.secretAccessKey = envStr(o.secretAccessKey, `${k}.secretAccessKey`);
    target = t;
  } else throw new ConfigError(key, 'expected dir (a directory) or s3 ({"bucket", ...})');
  const c: LakeConfig = {
    target,
    delayMs: duration(v.delay, `${key}.delay`, 600_000, 0, 86_400_000),
    intervalMs: duration(v.interval, `${key}.interval`, 60_000, 1000, 3_600_000),
    backfillHours: int(v.backfillHours, `${key}.backfillHours`, 0, 0, 24 * 366),
  };
  if (v.types !== undefined) {
    if (!Array.isArray(v.types) || v.types.length === 0 || v.types.some((t) => typeof t !== 'string'))
      throw new ConfigError(`${key}.types`, 'expected a non-empty list of record types');
    c.types = v.types as string[];
  }
  return c;
}
