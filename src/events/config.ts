import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors.js';
import { DEFAULT_IDENTITY_MAP, type IdentityMapConfig } from './identity.js';
import { SYSLOG_FORMATS, type SyslogFormat } from './payload.js';
import {
  type CompiledMapping,
  compileMapping,
  DEFAULT_WEBHOOK_MAPPING,
  type WebhookMapping,
} from './webhook.js';

/**
 * The `events` section of the config file: third-party security events in. Validated by hand
 * so that every error names the exact key; unknown keys are errors. docs/config.md, section
 * "events", documents every key.
 */
export interface EveFileConfig {
  path: string;
  /** Where to begin a file seen for the first time (a saved offset always wins). */
  from: 'start' | 'end';
  pollMs: number;
  maxLine: number;
}
export interface EveSocketConfig {
  socket: string;
  /** Suricata's eve-log filetype unix_stream or unix_dgram (its default socket type). */
  type: 'stream' | 'dgram';
  maxLine: number;
  /** Where this source sits in the config (e.g. events.eve[0]), for errors at start. */
  key: string;
}
export type EveConfig = EveFileConfig | EveSocketConfig;

export interface SyslogListenConfig {
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  format: SyslogFormat;
  cert?: string;
  key?: string;
  maxMessage: number;
  maxConnections: number;
}

export interface RadiusConfig {
  host: string;
  port: number;
  secret: string;
}

export interface EventsConfig {
  eve: EveConfig[];
  syslog: SyslogListenConfig[];
  webhook: { mapping: CompiledMapping; rawMapping: WebhookMapping };
  radius: RadiusConfig[];
  identity: IdentityMapConfig;
}

type Obj = Record<string, unknown>;

function obj(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  return v as Obj;
}
function known(o: Obj, key: string, keys: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k))
      throw new ConfigError(`${key}.${k}`, `unknown key (expected one of ${keys.join(', ')})`);
}
function str(v: unknown, key: string, what: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(key, `expected ${what}`);
  return v;
}
function num(v: unknown, key: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max}`);
  return v;
}
function arr(v: unknown, key: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError(key, 'expected a list');
  return v;
}

/** `HOST:PORT` (IPv6 in brackets). */
function hostPort(s: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:/]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(key, `expected HOST:PORT such as 0.0.0.0:1813 (got '${s}')`);
  return { host: m[1] ?? m[2]!, port };
}

export const DEFAULT_MAX_LINE = 64 * 1024;

export function parseEventsConfig(raw: unknown, key = 'events'): EventsConfig {
  const o = obj(raw, key);
  known(o, key, ['$comment', 'eve', 'syslog', 'webhook', 'radius', 'identity']);
  const cfg: EventsConfig = {
    eve: [],
    syslog: [],
    webhook: { mapping: compileMapping(DEFAULT_WEBHOOK_MAPPING), rawMapping: DEFAULT_WEBHOOK_MAPPING },
    radius: [],
    identity: { ...DEFAULT_IDENTITY_MAP },
  };
  arr(o.eve, `${key}.eve`).forEach((v, i) => {
    const k = `${key}.eve[${i}]`;
    const e = obj(v, k);
    if (e.socket !== undefined) {
      known(e, k, ['socket', 'type', 'maxLine']);
      // Our names and Suricata's (eve-log filetype) are both accepted.
      const types: Record<string, 'stream' | 'dgram'> = {
        stream: 'stream',
        unix_stream: 'stream',
        dgram: 'dgram',
        unix_dgram: 'dgram',
      };
      const type = types[String(e.type ?? 'stream')];
      if (!type)
        throw new ConfigError(`${k}.type`, "expected 'stream' (unix_stream) or 'dgram' (unix_dgram)");
      cfg.eve.push({
        socket: str(e.socket, `${k}.socket`, 'a unix socket path'),
        type,
        // A datagram is one event: the kernel keeps at most about 200 KiB of one anyway.
        maxLine: num(
          e.maxLine,
          `${k}.maxLine`,
          DEFAULT_MAX_LINE,
          1024,
          type === 'dgram' ? 256 << 10 : 16 << 20,
        ),
        key: k,
      });
      return;
    }
    known(e, k, ['path', 'from', 'pollMs', 'maxLine']);
    const from = e.from ?? 'start';
    if (from !== 'start' && from !== 'end') throw new ConfigError(`${k}.from`, "expected 'start' or 'end'");
    cfg.eve.push({
      path: str(e.path, `${k}.path`, 'the path of eve.json (or socket: a unix socket path)'),
      from,
      pollMs: num(e.pollMs, `${k}.pollMs`, 250, 10, 60_000),
      maxLine: num(e.maxLine, `${k}.maxLine`, DEFAULT_MAX_LINE, 1024, 16 << 20),
    });
  });
  arr(o.syslog, `${key}.syslog`).forEach((v, i) => {
    const k = `${key}.syslog[${i}]`;
    const e = obj(v, k);
    known(e, k, ['listen', 'format', 'cert', 'key', 'maxMessage', 'maxConnections']);
    const listen = str(e.listen, `${k}.listen`, 'udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT');
    const m = /^(udp|tcp|tls):\/\/(.+)$/.exec(listen);
    if (!m)
      throw new ConfigError(
        `${k}.listen`,
        `expected udp://, tcp:// or tls:// then HOST:PORT (got '${listen}')`,
      );
    const hp = hostPort(m[2]!, `${k}.listen`);
    const format = e.format ?? 'auto';
    if (!(SYSLOG_FORMATS as readonly unknown[]).includes(format))
      throw new ConfigError(`${k}.format`, `expected one of ${SYSLOG_FORMATS.join(', ')}`);
    const l: SyslogListenConfig = {
      transport: m[1] as 'udp' | 'tcp' | 'tls',
      ...hp,
      format: format as SyslogFormat,
      maxMessage: num(e.maxMessage, `${k}.maxMessage`, DEFAULT_MAX_LINE, 480, 16 << 20),
      maxConnections: num(e.maxConnections, `${k}.maxConnections`, 256, 1, 100_000),
    };
    if (l.transport === 'tls') {
      l.cert = readable(str(e.cert, `${k}.cert`, 'a PEM certificate file for tls://'), `${k}.cert`);
      l.key = readable(str(e.key, `${k}.key`, 'a PEM private key file for tls://'), `${k}.key`);
    } else if (e.cert !== undefined || e.key !== undefined)
      throw new ConfigError(`${k}.${e.cert !== undefined ? 'cert' : 'key'}`, 'only for tls:// listeners');
    cfg.syslog.push(l);
  });
  if (o.webhook !== undefined) {
    const w = obj(o.webhook, `${key}.webhook`);
    known(w, `${key}.webhook`, ['mapping']);
    if (w.mapping !== undefined) {
      const mp = obj(w.mapping, `${key}.webhook.mapping`) as WebhookMapping;
      // A partial mapping overrides the default field by field.
      const merged = { ...DEFAULT_WEBHOOK_MAPPING, ...mp };
      cfg.webhook = { mapping: compileMapping(merged, `${key}.webhook.mapping`), rawMapping: merged };
    }
  }
  const radius = o.radius === undefined ? [] : Array.isArray(o.radius) ? o.radius : [o.radius];
  radius.forEach((v, i) => {
    const k = Array.isArray(o.radius) ? `${key}.radius[${i}]` : `${key}.radius`;
    const e = obj(v, k);
    known(e, k, ['listen', 'secret']);
    cfg.radius.push({
      ...hostPort(str(e.listen, `${k}.listen`, 'HOST:PORT such as 0.0.0.0:1813'), `${k}.listen`),
      secret: str(e.secret, `${k}.secret`, 'the shared secret of the RADIUS clients'),
    });
  });
  if (o.identity !== undefined) {
    const k = `${key}.identity`;
    const e = obj(o.identity, k);
    known(e, k, ['maxIps', 'historyPerIp', 'maxSessions']);
    cfg.identity = {
      maxIps: num(e.maxIps, `${k}.maxIps`, DEFAULT_IDENTITY_MAP.maxIps, 1, 10_000_000),
      historyPerIp: num(e.historyPerIp, `${k}.historyPerIp`, DEFAULT_IDENTITY_MAP.historyPerIp, 1, 1000),
      maxSessions: num(e.maxSessions, `${k}.maxSessions`, DEFAULT_IDENTITY_MAP.maxSessions, 1, 10_000_000),
    };
  }
  return cfg;
}

function readable(path: string, key: string): string {
  try {
    readFileSync(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read '${path}' (${(e as Error).message})`);
  }
  return path;
}
