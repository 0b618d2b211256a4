import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { AlertAggregator, type AnyRecord } from '../../src/common/alerts.js';
import { createDetectors } from '../../src/detect/index.js';
import { createSensor } from '../../src/flow/sensor.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import type { Episode } from './labelled.js';

/** Run a capture through the sensor and every detector, as `vantage ingest` does. */
export async function detectCapture(
  pcap: Buffer,
  cfg: unknown = {},
): Promise<{ alerts: AlertRecord[]; flows: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-detect-'));
  try {
    const file = join(dir, 'c.pcap');
    writeFileSync(file, pcap);
    const alerts: AlertRecord[] = [];
    const agg = new AlertAggregator((a) => alerts.push(a), { mode: 'final', sensor: 'test' });
    const det = createDetectors(cfg, { emitter: agg });
    let flows = 0;
    const sensor = createSensor((r) => {
      if (r.type === 'flow') flows++;
      det.onRecord(r as AnyRecord);
    });
    await readCaptureFile(file, sensor.onFrame);
    sensor.finish();
    det.finish();
    agg.flush();
    return { alerts, flows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function matches(e: Episode, a: AlertRecord): boolean {
  if (a.category !== e.category) return false;
  if (e.src && a.src_ip !== e.src) return false;
  if (e.dst && a.dst_ip !== e.dst) return false;
  if (e.dport !== undefined && e.dst === undefined && a.dst_port !== e.dport) return false;
  return true;
}
