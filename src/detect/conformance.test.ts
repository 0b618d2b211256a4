import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attackRecords, junk, T } from '../../test/detect/records.js';
import type { AlertInput, AnyRecord } from '../common/alerts.js';
import { DETECTOR_NAMES, type DetectorName } from './config.js';
import { createDetectors } from './index.js';

/**
 * The suite every detector passes: it finds its own attack workload, honours its off switch,
 * stays within its caps under a flood of random sources, and survives out-of-order records,
 * clock jumps and malformed fields.
 */
function only(name: DetectorName, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  for (const n of DETECTOR_NAMES) cfg[n] = { enabled: n === name };
  cfg[name] = { enabled: true, ...extra };
  return cfg;
}

const CAPS: Record<DetectorName, Record<string, number>> = {
  scan: { maxSources: 500 },
  flood: { maxVictims: 500 },
  bruteforce: { maxPairs: 500 },
  dnsTunnel: { maxPairs: 500 },
  dga: { maxHosts: 500 },
  beacon: { maxPairs: 500 },
  exfil: { maxPairs: 500 },
  rareDest: { maxNetworks: 500 },
};
/** The entries a detector may hold for a cap of 500 (beacon and exfil keep a few maps). */
const BOUND: Record<DetectorName, number> = {
  scan: 500,
  flood: 500,
  bruteforce: 500,
  dnsTunnel: 500,
  dga: 500,
  beacon: 500,
  exfil: 500 * 2,
  rareDest: 500,
};
const EXTRA: Partial<Record<DetectorName, Record<string, unknown>>> = { rareDest: { learningSec: 60 } };

function run(
  cfg: unknown,
  recs: Iterable<AnyRecord>,
): { alerts: AlertInput[]; set: ReturnType<typeof createDetectors> } {
  const alerts: AlertInput[] = [];
  const set = createDetectors(cfg, { emitter: { raise: (a) => alerts.push(a) } });
  for (const r of recs) set.onRecord(r);
  set.finish();
  return { alerts, set };
}

for (const name of DETECTOR_NAMES) {
  test(`conformance ${name}: finds its workload, off switch honoured`, () => {
    const recs = attackRecords(name);
    const on = run(only(name, EXTRA[name]), recs);
    assert.ok(on.alerts.length > 0, `${name} raised nothing on its workload`);
    for (const a of on.alerts) {
      assert.ok(a.evidence && Object.keys(a.evidence).length >= 3, 'evidence');
      assert.ok(a.severity >= 0 && a.severity <= 100 && a.confidence >= 0 && a.confidence <= 100);
    }
    const off = run({ ...only(name, EXTRA[name]), [name]: { enabled: false } }, recs);
    assert.equal(off.alerts.length, 0, 'detector off');
    assert.equal(run({ ...only(name, EXTRA[name]), enabled: false }, recs).alerts.length, 0, 'detection off');
    // Allow-listed sources and destinations are never alerted on.
    const allow = ['10.9.9.0/24', '203.0.113.0/24', '10.0.0.0/24', '198.51.100.0/24'];
    assert.equal(run({ ...only(name, EXTRA[name]), allow }, recs).alerts.length, 0, 'global allow list');
    assert.equal(run(only(name, { ...EXTRA[name], allow }), recs).alerts.length, 0, 'own allow list');
  });

  test(`conformance ${name}: out of order within a minute still found`, () => {
    const recs = attackRecords(name);
    // Swap neighbours in blocks: records arrive late as flows end out of start order.
    for (let i = 0; i + 1 < recs.length; i += 2) [recs[i], recs[i + 1]] = [recs[i + 1]!, recs[i]!];
    assert.ok(run(only(name, EXTRA[name]), recs).alerts.length > 0);
  });

  test(`conformance ${name}: bounded memory and no crash on a flood of random sources and clock jumps`, () => {
    const cfg = only(name, { ...EXTRA[name], ...CAPS[name] });
    const alerts: AlertInput[] = [];
    const set = createDetectors(cfg, { emitter: { raise: (a) => alerts.push(a) } });
    let peak = 0;
    let i = 0;
    for (const r of junk(60_000)) {
      set.onRecord(r);
      if (++i % 1000 === 0) peak = Math.max(peak, set.detectors[0]?.size() ?? 0);
    }
    set.onRecord({ type: 'flow' });
    set.onRecord({ type: 'dns', ts: null });
    set.tick?.(Number.NaN);
    set.tick?.(T + 1e12);
    set.finish();
    assert.ok(peak <= BOUND[name], `${name} held ${peak} entries (bound ${BOUND[name]})`);
    assert.equal(set.detectors.length, 1);
  });
}
