import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { isoNs } from './time.js';

/** The independent truth: the platform's own ISO formatting, with the fraction widened to ns. */
const truth = (sec: number, ns: number): string =>
  `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(ns).padStart(9, '0')}Z`;

test('isoNs agrees with Date.toISOString whatever the order of seconds (prefix cache)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 4_102_444_800 }), fc.integer({ min: 0, max: 999_999_999 })),
        {
          maxLength: 200,
        },
      ),
      (pairs) => {
        for (const [sec, ns] of pairs) {
          assert.equal(isoNs(sec, ns), truth(sec, ns));
          // a second that shares the cache slot, then the first again
          assert.equal(isoNs(sec + 64, ns), truth(sec + 64, ns));
          assert.equal(isoNs(sec, 0), truth(sec, 0));
        }
      },
    ),
    { numRuns: runs(200) },
  );
  assert.equal(isoNs(1463558782, 617313000), '2016-05-18T08:06:22.617313000Z');
});
