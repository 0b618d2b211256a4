import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { AlertAggregator, type AnyRecord } from '../../src/common/alerts.js';
import { createDetectors } from '../../src/detect/index.js';
import { createSensor } from '../../src/flow/sensor.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { pcapFile } from '../support/pcap-writer.js';
import { type Episode, makeLabelled } from './labelled.js';

/** Run a capture through the sensor and every detector, as `vantage ingest` does. */
export async function detectCapture(pcap: Buffer, cfg: unknown = {}): Promise<{ alerts: AlertRecord[]; flows: number }> {
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

test('labelled capture: every episode found, at most 1 false alert per 10,000 benign flows', async () => {
  const lab = makeLabelled();
  const { alerts, flows } = await detectCapture(pcapFile(lab.kit.packets(lab.t0)));
  assert.ok(lab.benignFlows >= 20_000, `benign flows ${lab.benignFlows}`);
  const found = lab.episodes.map((e) => alerts.some((a) => matches(e, a)));
  const falses = alerts.filter((a) => !lab.episodes.some((e) => matches(e, a)));
  const byCat = new Map<string, { n: number; found: number }>();
  lab.episodes.forEach((e, i) => {
    const c = byCat.get(e.category) ?? { n: 0, found: 0 };
    c.n++;
    if (found[i]) c.found++;
    byCat.set(e.category, c);
  });
  const report = [...byCat].map(([c, v]) => `${c} ${v.found}/${v.n}`).join(', ');
  const fpRate = (falses.length / lab.benignFlows) * 10_000;
  process.stdout.write(
    `# detect eval: ${flows} flows (${lab.benignFlows} benign), ${alerts.length} alerts; recall ${report}; ` +
      `false alerts ${falses.length} (${fpRate.toFixed(2)} per 10k benign flows)\n`,
  );
  for (const f of falses) process.stdout.write(`#   false: ${f.detector} ${f.title}\n`);
  lab.episodes.forEach((e, i) => {
    if (!found[i]) process.stdout.write(`#   missed: ${e.id} (${e.how})\n`);
  });
  const recall = found.filter(Boolean).length / found.length;
  assert.ok(recall >= 0.95, `recall ${recall} < 0.95: ${report}`);
  for (const [c, v] of byCat) assert.equal(v.found, v.n, `category ${c}: ${v.found}/${v.n}`);
  assert.ok(fpRate <= 1, `false alerts ${falses.length} per ${lab.benignFlows} benign flows`);
  // Explained: every true alert carries its numbers and an ATT&CK technique where one fits.
  for (const a of alerts) {
    assert.ok(Object.keys(a.evidence as object).length > 3, `${a.detector} has evidence`);
    if (a.category !== 'new_destination') assert.ok(a.attack_technique, `${a.detector} has a technique`);
  }
  const beacon = alerts.find((a) => a.category === 'beacon');
  const ev = beacon?.evidence as Record<string, unknown> | undefined;
  assert.ok(ev && typeof ev.ts_score === 'number' && typeof ev.ds_score === 'number', 'RITA subscores in the evidence');
});
