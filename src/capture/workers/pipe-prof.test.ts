import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { gapsOf, overlapMs, Spans, threadSched } from './pipe-prof.js';

/** Milliseconds of [from, to) covered by `pred`, counted one integer millisecond at a time. */
const count = (from: number, to: number, pred: (t: number) => boolean): number => {
  let n = 0;
  for (let t = from; t < to; t++) if (pred(t + 0.5)) n++;
  return n;
};
const inside = (iv: readonly number[], stride: number, t: number): boolean => {
  for (let i = 0; i < iv.length; i += stride) if (iv[i]! <= t && t < iv[i + 1]!) return true;
  return false;
};

const intervals = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 40 })), { maxLength: 12 })
  .map((a) => a.flatMap(([s, d]) => [s, s + d]));

test('a thread idle gaps are the complement of its busy intervals, overlapping or not', () => {
  fc.assert(
    fc.property(intervals, (busy) => {
      const g = gapsOf(busy, 0, 250);
      for (let t = 0; t < 250; t++)
        assert.equal(inside(g, 2, t + 0.5), !inside(busy, 2, t + 0.5), `at ${t}: ${g} of ${busy}`);
    }),
    { numRuns: runs(300) },
  );
});

test('overlap counts the time of the gaps under the union of the spans (nested and overlapping spans once)', () => {
  fc.assert(
    fc.property(intervals, intervals, (gaps0, over) => {
      // Gaps do not overlap one another (they are a thread's idle time).
      const gaps = gapsOf(gaps0, 0, 250);
      const quads = over.flatMap((v, i) => (i % 2 === 1 ? [v, 0, 0] : [v]));
      const want = count(0, 250, (t) => inside(gaps, 2, t) && inside(over, 2, t));
      assert.equal(overlapMs(gaps, over, 2), want);
      assert.equal(overlapMs(gaps, quads, 4), want);
    }),
    { numRuns: runs(300) },
  );
});

test('spans add up wall time and the thread CPU spent inside them', () => {
  const s = new Spans();
  s.begin('spin');
  const t0 = performance.now();
  while (performance.now() - t0 < 200) {}
  s.end('spin');
  s.end('never begun');
  const t = s.totals().spin!;
  assert.equal(t.n, 1);
  assert.ok(t.wall >= 0.2);
  // The kernel brings a running thread's account up to date at its scheduler ticks: each end of
  // a span may be a tick or two stale, so a spin of 200 ms reads as more than half of it.
  if (threadSched().cpu > 0) assert.ok(t.cpu + t.runq > 0.1, JSON.stringify(t));
  assert.deepEqual(s.names(), ['spin']);
});

test('spans and gauges keep at most their bound per name and count the rest', () => {
  const s = new Spans(3);
  for (let i = 0; i < 5; i++) {
    s.begin('read');
    s.end('read');
    s.note('queued', i);
  }
  assert.equal(s.raw('read').length, 3 * 4, 'three intervals of four numbers');
  assert.deepEqual(s.noted().queued, [3, 0, 1, 2]);
  assert.equal(s.dropped, 4, 'two intervals and two values left out');
});
