/**
 * Flows a mirror receiver kept 1 in N under overload (whole flows, chosen by a hash of the
 * 5-tuple, `sampling_rate` N on each kept flow; its counts are its own): each stands for N
 * flows, so the volume detectors must count it N times. The labelled capture's flows are
 * thinned the way the receiver thins them and fed to the detectors, record by record and as
 * column batches.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { AlertAggregator, type AnyRecord, type RecordWatcher } from '../../src/common/alerts.js';
import { createDetectors } from '../../src/detect/index.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { pcapFile } from '../support/pcap-writer.js';
import { feedColumns, sensorRecords } from './columns.js';
import { matches } from './harness.js';
import { type Episode, makeLabelled } from './labelled.js';

const N = 4;

/** Keep a flow when the hash of its (direction-free) 5-tuple falls in 1 of N buckets. */
function kept(r: AnyRecord): boolean {
  const ends = [`${r.client_ip}:${r.client_port}`, `${r.server_ip}:${r.server_port}`].sort();
  const h = createHash('sha1').update(`${r.proto}|${ends[0]}|${ends[1]}`).digest();
  return h.readUInt32BE(0) % N === 0;
}

function detect(recs: readonly AnyRecord[], columns: boolean): AlertRecord[] {
  const alerts: AlertRecord[] = [];
  const agg = new AlertAggregator((a) => alerts.push(a), { mode: 'final', sensor: 'test' });
  const det: RecordWatcher = createDetectors({}, { emitter: agg });
  if (columns) feedColumns(det, recs);
  else for (const r of recs) det.onRecord(r);
  det.finish();
  agg.flush();
  return alerts;
}

test(`detectors: flows kept 1 in ${N} by a mirror under overload still raise the volume alerts, with their rate estimated`, async () => {
  const lab = makeLabelled();
  const all = (await sensorRecords(pcapFile(lab.kit.packets(lab.t0)))).filter((r) => r.type === 'flow');
  const thin = all.filter(kept);
  assert.ok(
    thin.length > all.length / (2 * N) && thin.length < (2 * all.length) / N,
    `${thin.length} of ${all.length}`,
  );
  const sampled = thin.map((r) => ({ ...r, sampling_rate: N }));
  const unmarked = thin.map((r) => ({ ...r }));

  const byId = (id: string): Episode => lab.episodes.find((e) => e.id === id)!;
  // Floods of many flows and a slow scan (its probes counted N times). An ICMP flood between
  // two hosts is one tuple, kept or dropped whole, and a beacon's connections thin out: flow
  // sampling cannot keep those.
  const volume = ['flood-syn', 'flood-udp', 'flood-amp', 'scan-slow', 'scan-slow-horizontal'].map(byId);
  const found = (alerts: AlertRecord[], e: Episode): AlertRecord | undefined =>
    alerts.find((a) => matches(e, a));

  const full = detect(all, false);
  const withRate = detect(sampled, false);
  const without = detect(unmarked, false);
  for (const e of volume) {
    assert.ok(found(full, e), `${e.id}: found unsampled`);
    assert.ok(found(withRate, e), `${e.id}: found with sampling_rate ${N}`);
  }
  // Without the factor the same flows fall under the thresholds: the weighting is what finds them.
  assert.deepEqual(
    volume.filter((e) => found(without, e)).map((e) => e.id),
    [],
    'found without the factor',
  );
  // The flood's packet rate is estimated from the kept flows, near the unsampled figure.
  const rate = (alerts: AlertRecord[]): number =>
    Number((found(alerts, byId('flood-syn'))?.evidence as { rate_pps?: number } | undefined)?.rate_pps);
  const est = rate(withRate);
  const truth = rate(full);
  assert.ok(Number.isFinite(truth) && truth > 0, `unsampled peak ${truth}`);
  assert.ok(Math.abs(est - truth) / truth < 0.3, `sampled estimate ${est} vs ${truth}`);
  const ev = (a: AlertRecord | undefined): { sampling_rate?: number; distinct_sources?: number } =>
    (a?.evidence ?? {}) as { sampling_rate?: number; distinct_sources?: number };
  const flood = ev(found(withRate, byId('flood-syn')));
  assert.equal(flood.sampling_rate, N);
  // Random spoofed sources: each kept flow's source stands for N distinct ones.
  const srcTruth = ev(found(full, byId('flood-syn'))).distinct_sources ?? 0;
  assert.ok(
    Math.abs((flood.distinct_sources ?? 0) - srcTruth) / srcTruth < 0.3,
    `sources ${flood.distinct_sources} vs ${srcTruth}`,
  );

  // Column batches see the factor exactly as records do.
  assert.deepEqual(detect(sampled, true), withRate);
});
