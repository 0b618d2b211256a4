import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertAggregator, type AnyRecord, type RecordWatcher } from '../../src/common/alerts.js';
import { createDetectors } from '../../src/detect/index.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { pcapFile } from '../support/pcap-writer.js';
import { feedColumns, sensorRecords } from './columns.js';
import { matches } from './harness.js';
import { makeLabelled } from './labelled.js';
import { attackRecords } from './records.js';

function detectBothWays(
  recs: readonly AnyRecord[],
  cfg: unknown = {},
): { obj: AlertRecord[]; col: AlertRecord[]; batches: number } {
  const run = (feed: (w: RecordWatcher) => number): { alerts: AlertRecord[]; batches: number } => {
    const alerts: AlertRecord[] = [];
    const agg = new AlertAggregator((a) => alerts.push(a), { mode: 'final', sensor: 'test' });
    const det = createDetectors(cfg, { emitter: agg });
    const batches = feed(det);
    det.finish();
    agg.flush();
    return { alerts, batches };
  };
  const obj = run((w) => {
    for (const r of recs) w.onRecord(r);
    return 0;
  });
  const col = run((w) => feedColumns(w, recs));
  return { obj: obj.alerts, col: col.alerts, batches: col.batches };
}

test('detectors: column batches raise exactly the alerts of the same records one by one (labelled capture)', async () => {
  const lab = makeLabelled();
  const recs = await sensorRecords(pcapFile(lab.kit.packets(lab.t0)));
  const { obj, col, batches } = detectBothWays(recs);
  assert.ok(batches > 10, `batches ${batches}`);
  // not a vacuous agreement: the record path finds every labelled episode
  for (const e of lab.episodes)
    assert.ok(
      obj.some((a) => matches(e, a)),
      `episode ${e.id} found`,
    );
  assert.deepEqual(col, obj);
});

test('detectors: column batches agree with records on every detector workload', () => {
  for (const name of ['scan', 'flood', 'bruteforce', 'dnsTunnel', 'dga', 'beacon', 'exfil', 'rareDest']) {
    const recs = attackRecords(name);
    const { obj, col } = detectBothWays(recs, name === 'rareDest' ? { rareDest: { learningSec: 60 } } : {});
    assert.ok(obj.length > 0, `${name}: alerts`);
    assert.deepEqual(col, obj, name);
  }
});
