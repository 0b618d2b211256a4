import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertInput } from '../common/alerts.js';
import { Baselines } from './baseline.js';
import { DEFAULT_DETECT } from './config.js';
import { createFloodDetector, unfmix } from './flood.js';
import { newFlowView } from './flow-view.js';
import { NetSet } from './nets.js';
import { fmix, strHash } from './pair-table.js';
import { Prevalence } from './prevalence.js';

/**
 * The flood detector's per-victim buckets (a ring of 48 ten-second windows): every window a
 * flood spans is decided once, in time order, with its own rate, also when the flood outlasts
 * the ring and when the victim is evicted; a flow too old for the ring is counted late.
 */
function detector(maxVictims = 10) {
  const alerts: AlertInput[] = [];
  const det = createFloodDetector(
    { ...DEFAULT_DETECT.flood, maxVictims },
    {
      emitter: { raise: (a) => alerts.push(a) },
      internal: new NetSet([]),
      allowed: () => false,
      baselines: new Baselines(),
      prevalence: new Prevalence(),
    },
  );
  const f = newFlowView();
  const udp = (dst: string, startMs: number, endMs: number, pkts: number): void => {
    Object.assign(f, { src: '198.51.100.7', dst, sport: 40000, dport: 53, proto: 17, startMs, endMs });
    f.outPkts = pkts;
    f.outBytes = pkts * 100;
    // As the detector set fills them: the sketch and the source count read the hashes.
    f.srcHash = strHash(f.src);
    f.dstHash = strHash(f.dst);
    det.onFlow!(f);
  };
  return { det, alerts, udp };
}

const W = 10_000;

test('unfmix reads back the FNV-1a state strHash finishes (the sketch takes its first row from it)', () => {
  // FNV-1a 32 written out, as the sketch once computed it beside strHash.
  const fnv = (t: string): number => {
    let h = 0x811c9dc5;
    for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
    return h;
  };
  for (const t of ['', '10.0.0.1', '203.0.113.255', '2001:db8::1', 'fe80::1%eth0', 'x'.repeat(40)])
    assert.equal(unfmix(strHash(t)), fnv(t) | 0, t);
  // Every bit of the state matters: a million random states go through the finalizer and back.
  let x = 0x12345678;
  for (let i = 0; i < 1_000_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    if (unfmix(fmix(x)) !== x) assert.fail(`state ${x}`);
  }
});
const rateOf = (a: AlertInput): number => (a.evidence as { rate_pps: number }).rate_pps;

test('a UDP flood longer than the ring: one alert per window, in order, each at its own rate', () => {
  const { det, alerts, udp } = detector();
  const windows = 120; // 20 minutes: the ring of 48 wraps twice
  for (let w = 0; w < windows; w++) {
    // 20,000 packets/s in even windows, 30,000 in odd ones, as two flows inside the window.
    const pps = w % 2 === 0 ? 20_000 : 30_000;
    udp('203.0.113.9', w * W + 100, w * W + 4_000, (pps * 10) / 2);
    udp('203.0.113.9', w * W + 5_000, w * W + 9_000, (pps * 10) / 2);
    det.tick(w * W + 9_500);
  }
  det.finish();
  assert.equal(det.counters.late, 0);
  assert.equal(det.counters.buckets, windows);
  assert.equal(alerts.length, windows);
  assert.deepEqual(
    alerts.map((a) => a.first_ts),
    Array.from({ length: windows }, (_, w) => w * W),
  );
  assert.deepEqual(
    alerts.map(rateOf),
    Array.from({ length: windows }, (_, w) => (w % 2 === 0 ? 20_000 : 30_000)),
  );
  assert.equal(det.size(), 0, 'every window decided: no victim is held');
});

test('a flow spanning windows spreads its packets over them; one 48 windows older than a held window is late', () => {
  const { det, alerts, udp } = detector();
  // One flow over windows 100..103: 480,000 packets, 120,000 in each (12,000/s).
  udp('203.0.113.10', 100 * W, 103 * W + 5_000, 480_000);
  // Window 52 maps to window 100's slot (100 - 48): too old for the ring while 100 is held.
  udp('203.0.113.10', 52 * W, 52 * W + 1_000, 200_000);
  assert.equal(det.counters.late, 1);
  det.finish();
  assert.deepEqual(
    alerts.map((a) => [a.first_ts, rateOf(a)]),
    [100, 101, 102, 103].map((w) => [w * W, 12_000]),
  );
});

test('an evicted victim has its open windows decided, oldest first; the window that reuses a slot goes after the one it replaced', () => {
  const { det, alerts, udp } = detector(1);
  udp('203.0.113.11', 7 * W, 7 * W + 1_000, 150_000);
  udp('203.0.113.11', 5 * W, 5 * W + 1_000, 150_000);
  // Window 55 takes window 7's slot: window 7 is decided first.
  udp('203.0.113.11', 55 * W, 55 * W + 1_000, 150_000);
  // A second victim evicts the first (maxVictims 1): windows 5 and 55 are decided.
  udp('203.0.113.12', 56 * W, 56 * W + 1_000, 150_000);
  assert.deepEqual(
    alerts.map((a) => [a.dst_ip, a.first_ts]),
    [
      ['203.0.113.11', 7 * W],
      ['203.0.113.11', 5 * W],
      ['203.0.113.11', 55 * W],
    ],
  );
  assert.equal(det.counters.evicted, 1);
});

test("the victim's rate series (a ring of 30): the last 30 decided windows, oldest first, each at its rate", () => {
  const { det, alerts, udp } = detector();
  const windows = 45; // the ring of 30 wraps once
  for (let w = 0; w < windows; w++) {
    const pps = 20_000 + w * 100;
    udp('203.0.113.9', w * W + 100, w * W + 9_000, pps * 10);
    det.tick(w * W + 9_500);
  }
  det.finish();
  assert.equal(alerts.length, windows);
  const series = (a: AlertInput) => (a.evidence as { series: [string, number][] }).series;
  // The first alert's series holds only its own window; the last holds the 30 before it, itself included.
  assert.deepEqual(series(alerts[0]!), [[new Date(W).toISOString(), 20_000]]);
  const last = series(alerts[windows - 1]!);
  assert.equal(last.length, 30);
  assert.deepEqual(
    last,
    Array.from({ length: 30 }, (_, k) => {
      const w = windows - 30 + k;
      return [new Date((w + 1) * W).toISOString(), 20_000 + w * 100];
    }),
  );
});
