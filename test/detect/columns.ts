import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import type { AnyRecord, RecordWatcher } from '../../src/common/alerts.js';
import { createSensor } from '../../src/flow/sensor.js';
import { ALL_RECORDS } from '../../src/schema/records.js';
import { recordsToColumnar } from '../../src/store/columnar-read.js';
import { watchColumns } from '../../src/store/watching-store.js';

/** The sensor's records of a capture, in the order it emits them. */
export async function sensorRecords(pcap: Buffer): Promise<AnyRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-cols-'));
  try {
    const file = join(dir, 'c.pcap');
    writeFileSync(file, pcap);
    const out: AnyRecord[] = [];
    const sensor = createSensor((r) => out.push(r as AnyRecord), { l7: true });
    await readCaptureFile(file, sensor.onFrame);
    sensor.finish();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Feed records to a watcher as column batches: each run of consecutive records of one type
 * (at most `batch` long) is one batch, so the watcher sees them in the same order as one by one.
 */
export function feedColumns(w: RecordWatcher, recs: readonly AnyRecord[], batch = 512): number {
  let batches = 0;
  for (let i = 0; i < recs.length; ) {
    const type = recs[i]!.type;
    let j = i + 1;
    while (j < recs.length && j - i < batch && recs[j]!.type === type) j++;
    const def = ALL_RECORDS.find((d) => d.type === type);
    if (def) {
      watchColumns([w], type, recordsToColumnar(def, recs.slice(i, j)));
      batches++;
    } else for (let k = i; k < j; k++) w.onRecord(recs[k]!);
    i = j;
  }
  return batches;
}
