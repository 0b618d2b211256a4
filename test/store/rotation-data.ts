/** Rows of the rotation tests: row `i` carries `bytes` = i, so each row can be found once. */
import type { Rec } from '../../src/store/types.js';

const DAY_US = 86_400_000_000;
const T0 = Date.UTC(2026, 11, 1) * 1000;
const iso = (us: number): string => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}000Z`;

/** Small generations (3,000 rows) and live chunks (1,000), so a run rotates and compacts often. */
export const ROTATION_CFG = { threads: 1, compactRows: 3000, liveChunkRows: 1000 } as const;

/** Row `i`: odd rows a day after even ones, so a generation spans two days (two files). */
export function rotationRecord(i: number): Rec {
  const us = T0 + (i % 2) * DAY_US + Math.floor(i / 100) * 1_000_000;
  return {
    source: 'ipfix',
    exporter: '192.0.2.1',
    exporter_port: 2055,
    observation_domain: 1,
    export_ts: iso(us),
    first_ts: iso(us),
    last_ts: iso(us),
    duration_ms: 0,
    src_ip: `10.0.${(i >> 8) & 3}.${i & 255}`,
    dst_ip: '192.0.2.9',
    src_port: 40000,
    dst_port: 443,
    proto: 6,
    packets: 1,
    bytes: i,
    packets_raw: 1,
    bytes_raw: i,
    sampling_rate: 1,
  };
}

export const rotationBatch = (from: number, n: number): Rec[] =>
  Array.from({ length: n }, (_, k) => rotationRecord(from + k));
