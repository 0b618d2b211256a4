import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPartitioner } from '@platformatic/kafka';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { murmur2 } from './murmur2.js';

test("murmur2: the values of Kafka's own test (UtilsTest.testMurmur2)", () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, want] of cases) assert.equal(murmur2(Buffer.from(s)), want, s);
});

test("murmur2: the partition the Kafka client's default partitioner picks, for any key", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (a) => {
      const b = Buffer.from(a);
      assert.equal(murmur2(b) >>> 0, defaultPartitioner({ topic: 't', value: b }, b));
    }),
    { numRuns: runs(2000) },
  );
});
