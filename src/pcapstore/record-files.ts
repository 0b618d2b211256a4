import { readCaptureFile } from '../capture/capture-file.js';
import { Sensor } from '../flow/sensor.js';
import {
  createPacketRecorder,
  type RecorderConfig,
  type RecorderCounters,
  type RecorderDeps,
} from './recorder.js';

export interface RecordFilesResult {
  counters: RecorderCounters;
  errors: { file: string; message: string }[];
}

/** Record capture files into a store through the sensor (the `vantage pcap record` path). */
export async function recordFiles(
  files: string[],
  config: Partial<RecorderConfig> & { dir: string },
  deps: RecorderDeps = {},
): Promise<RecordFilesResult> {
  const rec = createPacketRecorder(config, deps);
  await rec.start();
  const sensor = new Sensor(() => {});
  sensor.addHook(rec);
  const errors: RecordFilesResult['errors'] = [];
  const read = rec.reader(readCaptureFile);
  try {
    for (const f of files) {
      try {
        const s = await read(f, sensor.onFrame);
        if (s.error) errors.push({ file: f, message: s.error.message });
      } catch (e) {
        errors.push({ file: f, message: (e as Error).message });
      }
    }
    sensor.finish();
  } finally {
    await rec.stop();
  }
  return { counters: rec.counters, errors };
}
