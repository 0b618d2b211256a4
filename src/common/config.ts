import { ConfigError } from './errors.js';

/** Settings of `vantage start`; every key has a default. */
export interface ProductConfig {
  dataDir: string;
  host: string;
  port: number;
  /** Retention: partitions whose newest record is older than this many days are dropped (0 = keep). */
  retentionDays: number;
  /** Retention: oldest partitions are dropped until the store is under this many bytes (0 = no limit). */
  retentionBytes: number;
  /** Largest capture upload accepted, bytes. */
  maxUploadBytes: number;
  /** Requests per minute per token. */
  rateLimit: number;
}

export const DEFAULT_CONFIG: ProductConfig = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 8080,
  retentionDays: 0,
  retentionBytes: 0,
  maxUploadBytes: 1 << 30,
  rateLimit: 6000,
};

/** Parse HOST:PORT (IPv6 hosts in brackets). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new ConfigError('listen', `expected HOST:PORT such as 127.0.0.1:8080 (got '${s}')`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Non-negative number from an option or environment value, naming the key on error. */
export function parseNumber(key: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new ConfigError(
      key,
      min === 0 ? `expected a non-negative number (got '${v}')` : `expected a number ≥ ${min} (got '${v}')`,
    );
  return n;
}

/**
 * Disk budgets when none is configured (0): shares of the free space on the data directory's
 * file system at start, so no input can fill the disk. -1 means no limit.
 */
export function diskBudgets(
  freeBytes: number,
  records: number,
  packets: number,
): { records: number; packets: number; derived: { records: boolean; packets: boolean } } {
  const derive = (v: number, share: number) => (v === 0 ? Math.floor(freeBytes * share) : v < 0 ? 0 : v);
  return {
    records: derive(records, 0.25),
    packets: derive(packets, 0.5),
    derived: { records: records === 0, packets: packets === 0 },
  };
}
