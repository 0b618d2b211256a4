import { hostname } from 'node:os';
import { ConfigError } from '../common/errors.js';
import { alertRecord } from '../schema/alert.js';
import { parseFilter } from '../store/filter.js';
import { KAFKA_COMPRESSIONS, SINK_KINDS, type SinkKind, type SinkSpec } from './types.js';

/**
 * Validate the `sinks` array of the config file. Every error names the exact key
 * (`sinks[2].kafka.brokers[0]`); unknown keys are errors; a string value "$ENV:NAME" is read
 * from the environment, so secrets need not sit in the file.
 */
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function env(v: unknown, key: string): unknown {
  if (typeof v === 'string' && v.startsWith('$ENV:')) {
    const name = v.slice(5);
    const x = process.env[name];
    if (x === undefined) throw new ConfigError(key, `environment variable ${name} is not set`);
    return x;
  }
  return v;
}

class Reader {
  constructor(
    private readonly o: Obj,
    readonly key: string,
    allowed: readonly string[],
  ) {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k))
        throw new ConfigError(`${key}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
    }
  }
  private raw(k: string): unknown {
    return env(this.o[k], `${this.key}.${k}`);
  }
  str(k: string, dflt?: string, pattern?: RegExp, what = 'text'): string {
    const v = this.raw(k) ?? dflt;
    if (typeof v !== 'string' || v === '' || (pattern && !pattern.test(v)))
      throw new ConfigError(`${this.key}.${k}`, `expected ${what}`);
    return v;
  }
  optStr(k: string): string | undefined {
    return this.o[k] === undefined ? undefined : this.str(k);
  }
  int(k: string, dflt: number, min: number, max: number): number {
    const v = this.raw(k) ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ConfigError(`${this.key}.${k}`, `expected an integer from ${min} to ${max}`);
    return v;
  }
  bool(k: string, dflt: boolean): boolean {
    const v = this.raw(k) ?? dflt;
    if (typeof v !== 'boolean') throw new ConfigError(`${this.key}.${k}`, 'expected true or false');
    return v;
  }
  oneOf<T extends string>(k: string, values: readonly T[], dflt: T): T {
    const v = this.raw(k) ?? dflt;
    if (!values.includes(v as T))
      throw new ConfigError(`${this.key}.${k}`, `expected one of ${values.join(', ')}`);
    return v as T;
  }
  strList(k: string, pattern: RegExp, what: string, dflt?: string[]): string[] {
    const v = this.o[k] ?? dflt;
    if (!Array.isArray(v) || v.length === 0)
      throw new ConfigError(`${this.key}.${k}`, `expected a non-empty list of ${what}`);
    return v.map((x, i) => {
      const s = env(x, `${this.key}.${k}[${i}]`);
      if (typeof s !== 'string' || !pattern.test(s))
        throw new ConfigError(`${this.key}.${k}[${i}]`, `expected ${what}`);
      return s;
    });
  }
  obj(k: string): Obj {
    const v = this.o[k];
    if (!isObj(v)) throw new ConfigError(`${this.key}.${k}`, 'expected an object');
    return v;
  }
}

const HOSTPORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/;
const URL_RE = /^https?:\/\/[^\s/]+/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;
const COMMON = ['name', 'filter', 'batchSize', 'maxAttempts', 'backoffMs', 'maxBackoffMs'];

export function parseSinkSpec(raw: unknown, key: string): SinkSpec {
  if (!isObj(raw)) throw new ConfigError(key, 'expected an object');
  const kinds = SINK_KINDS.filter((k) => k in raw);
  if (kinds.length !== 1) throw new ConfigError(key, `expected exactly one of ${SINK_KINDS.join(', ')}`);
  const kind = kinds[0] as SinkKind;
  const r = new Reader(raw, key, [...COMMON, 'kind', kind]);
  if (raw.kind !== undefined && raw.kind !== kind) throw new ConfigError(`${key}.kind`, `expected ${kind}`);
  const filter = raw.filter === undefined ? '' : String(raw.filter);
  if (typeof (raw.filter ?? '') !== 'string')
    throw new ConfigError(`${key}.filter`, 'expected a filter text');
  try {
    parseFilter(filter, alertRecord);
  } catch (e) {
    throw new ConfigError(`${key}.filter`, (e as Error).message);
  }
  const base = {
    name: r.str('name', undefined, NAME, 'a name of letters, digits, _ . - (at most 64)'),
    filter,
    batchSize: r.int('batchSize', kind === 'email' ? 100 : kind === 'kafka' ? 5000 : 500, 1, 100_000),
    maxAttempts: r.int('maxAttempts', 12, 1, 1_000_000),
    backoffMs: r.int('backoffMs', 500, 1, 3_600_000),
    maxBackoffMs: r.int('maxBackoffMs', 60_000, 1, 86_400_000),
  };
  const s = new Reader(r.obj(kind), `${key}.${kind}`, KEYS[kind]);
  const fmt = (): 'record' | 'ocsf' => s.oneOf('format', ['record', 'ocsf'] as const, 'record');
  const ca = s.optStr('ca');
  switch (kind) {
    case 'kafka':
      return {
        ...base,
        kind,
        kafka: {
          brokers: s.strList('brokers', HOSTPORT, 'HOST:PORT'),
          topic: s.str('topic', 'vantage.alerts', /^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name'),
          format: fmt(),
          clientId: s.str('clientId', 'vantage'),
          compression: s.oneOf('compression', KAFKA_COMPRESSIONS, 'lz4'),
          inFlight: s.int('inFlight', 2, 1, 5),
          maxBatchBytes: s.int('maxBatchBytes', 1_000_000, 1024, 64 << 20),
        },
      };
    case 'nats': {
      const token = s.optStr('token');
      const user = s.optStr('user');
      const pass = s.optStr('pass');
      return {
        ...base,
        kind,
        nats: {
          servers: s.strList('servers', /^(nats:\/\/|tls:\/\/)?[^\s]+:\d{1,5}$/, 'nats://HOST:PORT'),
          subject: s.str('subject', 'vantage.alerts', /^[^\s*>]+$/, 'a subject without wildcards'),
          format: fmt(),
          ...(token !== undefined && { token }),
          ...(user !== undefined && { user }),
          ...(pass !== undefined && { pass }),
        },
      };
    }
    case 'syslog': {
      const transport = s.oneOf('transport', ['udp', 'tcp', 'tls'] as const, 'tcp');
      const servername = s.optStr('servername');
      const cert = s.optStr('cert');
      const certKey = s.optStr('key');
      if ((cert === undefined) !== (certKey === undefined))
        throw new ConfigError(
          `${key}.syslog.${certKey === undefined ? 'key' : 'cert'}`,
          'a client certificate needs both cert and key (PEM files)',
        );
      if (cert !== undefined && transport !== 'tls')
        throw new ConfigError(`${key}.syslog.cert`, 'a client certificate needs transport "tls"');
      return {
        ...base,
        kind,
        syslog: {
          host: s.str('host'),
          port: s.int('port', transport === 'tls' ? 6514 : 514, 1, 65535),
          transport,
          format: s.oneOf('format', ['cef', 'json'] as const, 'cef'),
          facility: s.int('facility', 4, 0, 23),
          appName: s.str('appName', 'vantage'),
          hostname: s.str('hostname', hostname()),
          ...(ca !== undefined && { ca }),
          ...(servername !== undefined && { servername }),
          ...(cert !== undefined && { cert }),
          ...(certKey !== undefined && { key: certKey }),
        },
      };
    }
    case 'webhook': {
      const h = (raw.webhook as Obj).headers === undefined ? {} : s.obj('headers');
      return {
        ...base,
        kind,
        webhook: {
          url: s.str('url', undefined, URL_RE, 'an http:// or https:// URL'),
          secret: s.str('secret', undefined, /^.{16,}$/, 'a secret of at least 16 characters'),
          mode: s.oneOf('mode', ['batch', 'single'] as const, 'batch'),
          format: fmt(),
          headers: Object.fromEntries(
            Object.entries(h).map(([k, v]) => {
              const x = env(v, `${key}.webhook.headers.${k}`);
              if (typeof x !== 'string')
                throw new ConfigError(`${key}.webhook.headers.${k}`, 'expected text');
              return [k, x];
            }),
          ),
          timeoutMs: s.int('timeoutMs', 10_000, 100, 600_000),
          ...(ca !== undefined && { ca }),
        },
      };
    }
    case 'hec': {
      const index = s.optStr('index');
      return {
        ...base,
        kind,
        hec: {
          url: s.str('url', undefined, URL_RE, 'an http:// or https:// URL'),
          token: s.str('token'),
          source: s.str('source', 'vantage'),
          sourcetype: s.str('sourcetype', 'vantage:alert'),
          host: s.str('host', hostname()),
          format: fmt(),
          timeoutMs: s.int('timeoutMs', 10_000, 100, 600_000),
          ...(index !== undefined && { index }),
          ...(ca !== undefined && { ca }),
        },
      };
    }
    case 'email': {
      const user = s.optStr('user');
      const pass = s.optStr('pass');
      const secure = s.bool('secure', false);
      return {
        ...base,
        kind,
        email: {
          host: s.str('host'),
          port: s.int('port', secure ? 465 : 25, 1, 65535),
          secure,
          starttls: s.bool('starttls', false),
          from: s.str('from', undefined, EMAIL, 'an e-mail address'),
          to: s.strList('to', EMAIL, 'e-mail addresses'),
          subjectPrefix: s.str('subjectPrefix', '[Vantage]'),
          ...(user !== undefined && { user }),
          ...(pass !== undefined && { pass }),
          ...(ca !== undefined && { ca }),
        },
      };
    }
  }
}

const KEYS: Record<SinkKind, string[]> = {
  kafka: ['brokers', 'topic', 'format', 'clientId', 'compression', 'inFlight', 'maxBatchBytes'],
  nats: ['servers', 'subject', 'format', 'token', 'user', 'pass'],
  syslog: [
    'host',
    'port',
    'transport',
    'format',
    'facility',
    'appName',
    'hostname',
    'ca',
    'servername',
    'cert',
    'key',
  ],
  webhook: ['url', 'secret', 'mode', 'format', 'headers', 'timeoutMs', 'ca'],
  hec: ['url', 'token', 'index', 'source', 'sourcetype', 'host', 'format', 'timeoutMs', 'ca'],
  email: ['host', 'port', 'secure', 'starttls', 'from', 'to', 'user', 'pass', 'subjectPrefix', 'ca'],
};

/** Validate an array of sink specs; names must be unique. */
export function parseBusConfig(raw: unknown, key = 'sinks'): SinkSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError(key, 'expected a list of sinks');
  const seen = new Set<string>();
  return raw.map((x, i) => {
    const spec = parseSinkSpec(x, `${key}[${i}]`);
    if (seen.has(spec.name))
      throw new ConfigError(`${key}[${i}].name`, `a sink named '${spec.name}' comes earlier`);
    seen.add(spec.name);
    return spec;
  });
}
