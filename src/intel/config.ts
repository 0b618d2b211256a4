import { ConfigError } from '../common/errors.js';
import type { CsvMapping } from './feeds/csv.js';
import { type IocType, isIocType } from './model.js';

export const FEED_FORMATS = ['csv', 'list', 'zeek', 'stix', 'taxii', 'misp', 'misp_search'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

export type FeedAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'token'; token: string; header: string; scheme: string };

/** One feed: where it is, what it is, how often to pull it, and the limits of one pull. */
export interface FeedConfig {
  name: string;
  format: FeedFormat;
  url?: string;
  file?: string;
  /** Seconds between pulls (0: pulled once at start and on request). */
  schedule: number;
  auth?: FeedAuth;
  /** CSV columns. */
  mapping?: CsvMapping;
  /** Type of every value of a plain list (default: guessed per value). */
  type?: IocType;
  confidence: number;
  severity: number;
  /** Days an indicator stays valid when the feed gives no expiry (0: until the feed drops it). */
  validDays: number;
  /** TAXII: collection id or title, and the API root (default: the server's default root). */
  collection?: string;
  apiRoot?: string;
  /** TAXII: only objects added after this time on the first pull. */
  addedAfter?: string;
  /** MISP: attributes with to_ids only (default true); warninglist files to apply. */
  toIdsOnly: boolean;
  warninglists: string[];
  /** MISP restSearch: extra body fields (type, tags, last, ...). */
  query?: Record<string, unknown>;
  /** Limits of one pull. */
  maxBytes: number;
  maxPages: number;
  maxIndicators: number;
  maxLine: number;
  timeoutMs: number;
}

export interface IntelConfig {
  feeds: FeedConfig[];
  /** Hunt stored history for every indicator a feed newly adds. */
  retroOnNew: boolean;
  /** Days of history a hunt looks at by default. */
  retroDays: number;
}

export const DEFAULT_INTEL: IntelConfig = { feeds: [], retroOnNew: true, retroDays: 30 };

const FEED_KEYS = [
  'name',
  'format',
  'url',
  'file',
  'schedule',
  'auth',
  'mapping',
  'type',
  'confidence',
  'severity',
  'valid_days',
  'collection',
  'api_root',
  'added_after',
  'to_ids_only',
  'warninglists',
  'query',
  'max_bytes',
  'max_pages',
  'max_indicators',
  'max_line',
  'timeout_s',
];

const MAPPING_KEYS = [
  'value',
  'type',
  'fixed_type',
  'confidence',
  'severity',
  'first_seen',
  'last_seen',
  'valid_until',
  'description',
  'tags',
  'reference',
  'header',
  'delimiter',
];

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** `3600`, `"30s"`, `"15m"`, `"1h"`, `"1d"` as seconds. */
function seconds(key: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^(\d{1,7})([smhd]?)$/.exec(v.trim());
    if (m) return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]!] ?? 1);
  }
  throw new ConfigError(key, `expected seconds or a duration such as 15m, 1h, 1d (got ${JSON.stringify(v)})`);
}

function int(key: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return v;
}

function str(key: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(key, 'expected a non-empty string');
  return v;
}

export function parseFeedConfig(raw: unknown, key: string): FeedConfig {
  if (!isObj(raw)) throw new ConfigError(key, 'expected an object');
  for (const k of Object.keys(raw)) {
    if (!FEED_KEYS.includes(k))
      throw new ConfigError(`${key}.${k}`, `unknown key; expected one of ${FEED_KEYS.join(', ')}`);
  }
  const name = str(`${key}.name`, raw.name);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    throw new ConfigError(`${key}.name`, 'use 1-64 letters, digits, dot, dash or underscore');
  const format = raw.format;
  if (typeof format !== 'string' || !(FEED_FORMATS as readonly string[]).includes(format))
    throw new ConfigError(`${key}.format`, `expected one of ${FEED_FORMATS.join(', ')}`);
  const f: FeedConfig = {
    name,
    format: format as FeedFormat,
    schedule: raw.schedule === undefined ? 3600 : seconds(`${key}.schedule`, raw.schedule),
    confidence: int(`${key}.confidence`, raw.confidence, 50, 0, 100),
    severity: int(`${key}.severity`, raw.severity, 50, 0, 100),
    validDays: int(`${key}.valid_days`, raw.valid_days, 0, 0, 36_500),
    toIdsOnly: raw.to_ids_only === undefined ? true : raw.to_ids_only === true,
    warninglists: [],
    maxBytes: int(`${key}.max_bytes`, raw.max_bytes, 512 * 1024 * 1024, 1024, 2 ** 40),
    maxPages: int(`${key}.max_pages`, raw.max_pages, 10_000, 1, 1_000_000),
    maxIndicators: int(`${key}.max_indicators`, raw.max_indicators, 5_000_000, 1, 100_000_000),
    maxLine: int(`${key}.max_line`, raw.max_line, 64 * 1024, 64, 64 * 1024 * 1024),
    timeoutMs: int(`${key}.timeout_s`, raw.timeout_s, 120, 1, 86_400) * 1000,
  };
  if (raw.to_ids_only !== undefined && typeof raw.to_ids_only !== 'boolean')
    throw new ConfigError(`${key}.to_ids_only`, 'expected true or false');
  if (raw.url !== undefined) {
    const u = str(`${key}.url`, raw.url);
    if (!/^https?:\/\//.test(u)) throw new ConfigError(`${key}.url`, 'expected an http:// or https:// URL');
    f.url = u;
  }
  if (raw.file !== undefined) f.file = str(`${key}.file`, raw.file);
  if ((f.url === undefined) === (f.file === undefined))
    throw new ConfigError(key, 'give exactly one of url or file');
  if ((f.format === 'taxii' || f.format === 'misp_search') && !f.url)
    throw new ConfigError(`${key}.url`, `a ${f.format} feed needs a url`);
  if (raw.type !== undefined) {
    if (typeof raw.type !== 'string' || !isIocType(raw.type))
      throw new ConfigError(`${key}.type`, 'expected an indicator type (ipv4, cidr, domain, url, ja3...)');
    f.type = raw.type;
  }
  if (raw.auth !== undefined) {
    const a = raw.auth;
    if (!isObj(a)) throw new ConfigError(`${key}.auth`, 'expected an object');
    if (a.type === 'basic') {
      f.auth = {
        type: 'basic',
        username: str(`${key}.auth.username`, a.username),
        password: str(`${key}.auth.password`, a.password),
      };
    } else if (a.type === 'token') {
      f.auth = {
        type: 'token',
        token: str(`${key}.auth.token`, a.token),
        header: a.header === undefined ? 'Authorization' : str(`${key}.auth.header`, a.header),
        scheme:
          a.scheme === undefined
            ? f.format === 'misp' || f.format === 'misp_search'
              ? ''
              : 'Bearer'
            : String(a.scheme),
      };
    } else throw new ConfigError(`${key}.auth.type`, "expected 'basic' or 'token'");
  }
  if (raw.mapping !== undefined) {
    const m = raw.mapping;
    if (!isObj(m)) throw new ConfigError(`${key}.mapping`, 'expected an object');
    for (const k of Object.keys(m)) {
      if (!MAPPING_KEYS.includes(k))
        throw new ConfigError(
          `${key}.mapping.${k}`,
          `unknown key; expected one of ${MAPPING_KEYS.join(', ')}`,
        );
      const v = m[k];
      if (k === 'header' && typeof v !== 'boolean')
        throw new ConfigError(`${key}.mapping.header`, 'expected true or false');
      if (k === 'fixed_type' && (typeof v !== 'string' || !isIocType(v)))
        throw new ConfigError(`${key}.mapping.fixed_type`, 'expected an indicator type');
      if (k === 'delimiter' && (typeof v !== 'string' || v.length !== 1))
        throw new ConfigError(`${key}.mapping.delimiter`, 'expected one character');
      if (
        !['header', 'fixed_type', 'delimiter'].includes(k) &&
        typeof v !== 'string' &&
        !(Number.isInteger(v) && (v as number) >= 0)
      )
        throw new ConfigError(`${key}.mapping.${k}`, 'expected a column name or a 0-based column index');
    }
    if (m.value === undefined)
      throw new ConfigError(`${key}.mapping.value`, 'the column of the value is required');
    f.mapping = m as unknown as CsvMapping;
  }
  if (raw.collection !== undefined) f.collection = str(`${key}.collection`, raw.collection);
  if (raw.api_root !== undefined) f.apiRoot = str(`${key}.api_root`, raw.api_root);
  if (raw.added_after !== undefined) {
    const v = str(`${key}.added_after`, raw.added_after);
    if (Number.isNaN(Date.parse(v))) throw new ConfigError(`${key}.added_after`, 'expected an ISO-8601 time');
    f.addedAfter = v;
  }
  if (raw.warninglists !== undefined) {
    if (!Array.isArray(raw.warninglists))
      throw new ConfigError(`${key}.warninglists`, 'expected an array of file paths');
    f.warninglists = raw.warninglists.map((w, i) => str(`${key}.warninglists[${i}]`, w));
  }
  if (raw.query !== undefined) {
    if (!isObj(raw.query))
      throw new ConfigError(`${key}.query`, 'expected an object (restSearch body fields)');
    f.query = raw.query;
  }
  return f;
}

/** The `intel` section of the config file. */
export function parseIntelConfig(raw: unknown, key = 'intel'): IntelConfig {
  if (raw === undefined) return { ...DEFAULT_INTEL, feeds: [] };
  if (!isObj(raw)) throw new ConfigError(key, 'expected an object');
  for (const k of Object.keys(raw)) {
    if (!['feeds', 'retro_on_new', 'retro_days'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key; expected feeds, retro_on_new or retro_days');
  }
  const feeds: FeedConfig[] = [];
  if (raw.feeds !== undefined) {
    if (!Array.isArray(raw.feeds)) throw new ConfigError(`${key}.feeds`, 'expected an array');
    const names = new Set<string>();
    raw.feeds.forEach((f, i) => {
      const fc = parseFeedConfig(f, `${key}.feeds[${i}]`);
      if (names.has(fc.name)) throw new ConfigError(`${key}.feeds[${i}].name`, `'${fc.name}' is used twice`);
      names.add(fc.name);
      feeds.push(fc);
    });
  }
  if (raw.retro_on_new !== undefined && typeof raw.retro_on_new !== 'boolean')
    throw new ConfigError(`${key}.retro_on_new`, 'expected true or false');
  return {
    feeds,
    retroOnNew: raw.retro_on_new !== false,
    retroDays: int(`${key}.retro_days`, raw.retro_days, 30, 1, 3650),
  };
}

/** The format a feed file's name suggests (CLI: `vantage ingest --intel FILE`). */
export function formatOfFile(path: string): FeedFormat {
  const p = path.toLowerCase();
  if (p.endsWith('.csv')) return 'csv';
  if (p.endsWith('.json') || p.endsWith('.stix')) return 'stix';
  if (p.endsWith('.dat') || p.endsWith('.intel') || p.endsWith('.zeek')) return 'zeek';
  return 'list';
}
