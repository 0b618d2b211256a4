import type { Rec, RecordStore } from '../../src/store/types.js';
import { microsToIso } from '../../src/store/values.js';

/** The first minute the store probes write (microseconds). */
export const SOAK_T0_US = Date.UTC(2026, 11, 6, 10) * 1000;
/** Distinct sources a minute, as the soak's IPFIX sender makes them. */
export const SOAK_KEYS = 65_536;

/**
 * Append one minute of `exported_flow` rows shaped as the soak's sender makes them (65,536
 * sources, 8,192 rows an append): the history the store probes query (`top-history.ts`,
 * `bench/query-memory.ts`).
 */
export async function appendSoakMinute(s: RecordStore, minute: number): Promise<void> {
  for (let i = 0; i < SOAK_KEYS; i += 8192) {
    const batch: Rec[] = [];
    for (let k = i; k < i + 8192; k++) {
      const t = microsToIso(SOAK_T0_US + minute * 60_000_000 + k * 900);
      batch.push({
        source: 'ipfix',
        exporter: '192.0.2.1',
        exporter_port: 2055,
        observation_domain: 1,
        export_ts: t,
        first_ts: t,
        last_ts: t,
        duration_ms: 0,
        src_ip: `10.0.${k >> 8}.${k & 255}`,
        dst_ip: `192.168.${(k >> 12) & 255}.${(k >> 4) & 255}`,
        src_port: 1024 + (k % 60000),
        dst_port: 443,
        proto: 6,
        packets: 10,
        bytes: 5000 + (k % 97),
        packets_raw: 10,
        bytes_raw: 5000 + (k % 97),
        sampling_rate: 1,
      });
    }
    await s.append('exported_flow', batch);
  }
}
