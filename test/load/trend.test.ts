import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
// The labelled captures' seeded generator (mulberry32): the synthetic runs are the same in every run.
import { rng } from '../detect/capture-kit.js';
import { ROOT } from '../support/fixtures.js';
import { judgeTrend, judgeTrendTwice, type Series, trend } from './trend.js';

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/**
 * Five minutes of a soak's RSS every ~250 ms, shaped like the quiet soak's swing (sd ~22 MB;
 * its residuals' correlation gone within ~5 s, with a ~20-s cycle): a buffer pool that fills
 * over ~1 s and is returned at once (a sawtooth of random height up to 60 MB), a slower cycle
 * of ~20 s (checkpoints and compactions), a wander correlated over ~2 s, and noise.
 */
function soak(seed: number, leakMbPerMin: number, samples = 1200): Series {
  const r = rng(seed);
  const out: { t: number; bytes: number }[] = [];
  let wander = 0;
  let fill = 0;
  let height = 30;
  const phi = Math.exp(-0.25 / 2);
  const phase = 2 * Math.PI * r();
  for (let i = 0; i < samples; i++) {
    const t = i * 250 + Math.floor(r() * 20);
    wander = phi * wander + Math.sqrt(1 - phi * phi) * 8 * gauss(r);
    fill += 0.25;
    if (fill >= 1 + r()) [fill, height] = [0, 60 * r()];
    const cycle = 12 * Math.sin(phase + (2 * Math.PI * t) / 20_000);
    const mb = 620 + wander + height * fill + cycle + 10 * gauss(r) + (leakMbPerMin * t) / 60_000;
    out.push({ t, bytes: mb * 1e6 });
  }
  return out;
}

test('a flat soak with the swing: the trend is read below 1 MB/min, inside its interval', () => {
  let passed = 0;
  let covered = 0;
  let naiveCovered = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const tr = trend(soak(seed, 0));
    if (judgeTrend(tr) === null) passed++;
    if (Math.abs(tr.slope) <= tr.half) covered++;
    // The standard error of independent samples: what the autocorrelation correction is for.
    const naive = 1.96 * (tr.swing / Math.sqrt(tr.n * (25 / 12)));
    if (Math.abs(tr.slope) <= naive) naiveCovered++;
    assert.ok(tr.swing > 12 && tr.swing < 35, `swing sd ${tr.swing}`);
  }
  // 95% intervals: ~38 of 40 should hold the true slope (0); the independent-samples ones far
  // fewer. At this swing a flat run reads ≥ 1 MB/min about one time in eight (trend.ts).
  assert.ok(covered >= 34, `${covered} of 40 intervals hold 0`);
  assert.ok(naiveCovered < covered - 5, `independent-samples intervals held 0 in ${naiveCovered} of 40`);
  assert.ok(passed >= 32, `${passed} of 40 flat runs pass`);
});

test('a soak leaking 2 MB/min under the same swing fails the bound', () => {
  let failed = 0;
  let covered = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const tr = trend(soak(seed, 2));
    if (judgeTrend(tr) !== null) failed++;
    if (Math.abs(tr.slope - 2) <= tr.half) covered++;
  }
  assert.ok(covered >= 34, `${covered} of 40 intervals hold 2`);
  assert.ok(failed >= 32, `${failed} of 40 leaking runs fail`);
});

test('the quiet soak of 2026-12-07 passes; the same with 2 MB/min added fails', () => {
  const f = JSON.parse(readFileSync(`${ROOT}test/fixtures/memory/soak-rss-quiet.json`, 'utf8')) as {
    t: number[];
    rssMB: number[];
  };
  const quiet = f.t.map((t, i) => ({ t, bytes: f.rssMB[i]! * 1e6 }));
  const tr = trend(quiet);
  assert.equal(judgeTrend(tr), null, `quiet: ${tr.slope} ± ${tr.half}`);
  assert.ok(tr.half > 0.5 && tr.half < 2, `its interval ±${tr.half}`);
  const leaking = quiet.map((x) => ({ t: x.t, bytes: x.bytes + (2e6 * x.t) / 60_000 }));
  const tl = trend(leaking);
  assert.ok(Math.abs(tl.slope - tr.slope - 2) < 1e-6, 'the leak adds its slope exactly');
  assert.match(judgeTrend(tl) ?? '', /goal < 1/);
});

test('a series too noisy to tell a 2 MB/min leak from a flat line fails as unjudgeable', () => {
  const r = rng(7);
  const wild = Array.from({ length: 300 }, (_, i) => ({ t: i * 1000, bytes: (620 + 120 * gauss(r)) * 1e6 }));
  const tr = trend(wild);
  const why = judgeTrend(tr);
  assert.ok(tr.half >= 2.5, `±${tr.half}`);
  assert.ok(why !== null && (why.includes('cannot be judged') || why.includes('goal < 1')), String(why));
  assert.match(judgeTrend(trend(wild.slice(0, 2))) ?? '', /NaN/);
});

test('two looks: the longer window decides what the last 5 minutes cannot, and still fails a leak', () => {
  // Eight minutes of soak after its climb; the goal's window is the last five (1,200 samples).
  // 200 synthetic runs of each kind (measured: flat runs fail 29 of 200 at one look, 3 at two;
  // 2 MB/min leaks fail 169 of 200 at one look, 167 at two).
  let flatPassed = 0;
  let flatFailedOnce = 0;
  let leakFailed = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const flat = soak(seed, 0, 1920);
    const v = judgeTrendTwice(flat.slice(-1200), flat);
    if (v.missed === null) flatPassed++;
    // The first look alone is judgeTrend over the last 5 minutes.
    const once = judgeTrend(v.last);
    if (once !== null) flatFailedOnce++;
    assert.equal(v.longer === undefined, once === null || v.last.slope - v.last.half >= 1);
    if (v.longer)
      assert.ok(v.longer.se < v.last.se, `the longer window is the sharper: ${v.longer.se} vs ${v.last.se}`);
    const leaking = soak(seed, 2, 1920);
    if (judgeTrendTwice(leaking.slice(-1200), leaking).missed !== null) leakFailed++;
  }
  assert.ok(flatFailedOnce >= 15, `${flatFailedOnce} of 200 flat runs fail the first look`);
  assert.ok(flatPassed >= 194, `${flatPassed} of 200 flat runs pass`);
  assert.ok(leakFailed >= 160, `${leakFailed} of 200 leaking runs fail`);
});

test('two looks: a trend wholly above the goal fails at the first; too few samples fail', () => {
  const steep = soak(3, 8, 1920);
  const v = judgeTrendTwice(steep.slice(-1200), steep);
  assert.equal(v.longer, undefined);
  assert.match(v.missed ?? '', /goal < 1/);
  const short = soak(5, 0, 1200);
  // No longer window than the last one: the first look's verdict stands.
  const w = judgeTrendTwice(short, short);
  assert.equal(w.longer, undefined);
  assert.equal(w.missed, judgeTrend(trend(short)));
});
