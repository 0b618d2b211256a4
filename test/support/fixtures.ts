import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { Sensor, type SensorRecord } from '../../src/flow/sensor.js';

/** Repository paths, resolved from the compiled file in dist/test/support/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PCAPS = `${ROOT}test/fixtures/pcaps/`;
export const GOLDEN = `${ROOT}test/fixtures/golden/`;

export function fixture(name: string): string {
  return PCAPS + name;
}

export function listCaptures(): string[] {
  return readdirSync(PCAPS).filter((f) => /\.(pcap|pcapng)(\.gz)?$/.test(f));
}

export interface IngestResult {
  records: SensorRecord[];
  error: string | null;
  packets: number;
}

/** Run the sensor over a capture in-process and collect every record. */
export async function ingest(path: string, configure?: (s: Sensor) => void): Promise<IngestResult> {
  const records: SensorRecord[] = [];
  const sensor = new Sensor((r) => records.push(r));
  configure?.(sensor);
  const sum = await readCaptureFile(path, sensor.onFrame);
  sensor.finish();
  return { records, error: sum.error ? sum.error.message : null, packets: sum.packets };
}

export function ofType<T = Record<string, unknown>>(records: SensorRecord[], type: string): T[] {
  return records.filter((r) => r.type === type) as unknown as T[];
}
