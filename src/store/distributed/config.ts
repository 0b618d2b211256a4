import { ConfigError } from '../../common/errors.js';
import type { ClickHouseConfig } from './store.js';

/** The `store` key of the config file: the embedded default, or ClickHouse. */
export type StoreConfig = { backend: 'embedded' } | ({ backend: 'clickhouse' } & ClickHouseConfig);

const KEYS = [
  'backend',
  'url',
  'shards',
  'cluster',
  'database',
  'user',
  'password',
  'retentionDays',
  'timeoutMs',
  'insertFormat',
  'insertRows',
];

function url(v: unknown, key: string): string {
  if (typeof v !== 'string')
    throw new ConfigError(key, 'expected an http(s) URL such as http://127.0.0.1:8123');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(key, `not a URL: ${v}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(key, 'expected http:// or https://');
  return v.replace(/\/+$/, '');
}

/**
 * Validate `store`: {"backend": "clickhouse", "url": "http://127.0.0.1:8123", "shards": [...],
 * "cluster": "vt", "database": "vantage", "user", "password", "retentionDays", "timeoutMs",
 * "insertFormat": "native" | "rowbinary", "insertRows"}.
 */
export function parseStoreConfig(v: unknown, key = 'store'): StoreConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!KEYS.includes(k))
      throw new ConfigError(`${key}.${k}`, `unknown key; known keys: ${KEYS.join(', ')}`);
  if (o.backend === 'embedded' || o.backend === undefined) {
    const extra = Object.keys(o).filter((k) => k !== 'backend');
    if (extra.length) throw new ConfigError(`${key}.${extra[0]}`, 'only for backend "clickhouse"');
    return { backend: 'embedded' };
  }
  if (o.backend !== 'clickhouse')
    throw new ConfigError(`${key}.backend`, 'expected "embedded" or "clickhouse"');
  const c: StoreConfig = { backend: 'clickhouse', url: url(o.url, `${key}.url`) };
  if (o.shards !== undefined) {
    if (!Array.isArray(o.shards) || o.shards.length === 0)
      throw new ConfigError(`${key}.shards`, 'expected a non-empty list of shard URLs');
    c.shards = o.shards.map((s, i) => url(s, `${key}.shards[${i}]`));
  }
  const name = (k: string): string | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(x))
      throw new ConfigError(`${key}.${k}`, 'expected a name of letters, digits and _');
    return x;
  };
  const cluster = name('cluster');
  if (cluster) c.cluster = cluster;
  if ((c.shards?.length ?? 1) > 1 && !cluster)
    throw new ConfigError(
      `${key}.cluster`,
      'needed with more than one shard (the remote_servers cluster name)',
    );
  const db = name('database');
  if (db) c.database = db;
  for (const k of ['user', 'password'] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== 'string') throw new ConfigError(`${key}.${k}`, 'expected a string');
    c[k] = o[k] as string;
  }
  for (const [k, max] of [
    ['retentionDays', 1e6],
    ['timeoutMs', 3_600_000],
  ] as const) {
    if (o[k] === undefined) continue;
    const n = o[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > max)
      throw new ConfigError(`${key}.${k}`, `expected a number from 0 to ${max}`);
    c[k] = n;
  }
  if (o.insertFormat !== undefined) {
    if (o.insertFormat !== 'native' && o.insertFormat !== 'rowbinary')
      throw new ConfigError(`${key}.insertFormat`, 'expected "native" or "rowbinary"');
    c.insertFormat = o.insertFormat;
  }
  if (o.insertRows !== undefined) {
    const n = o.insertRows;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000_000)
      throw new ConfigError(`${key}.insertRows`, 'expected a whole number of rows from 1 to 10000000');
    c.insertRows = n;
  }
  return c;
}
