import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { ipv4ToString, ipv6WordsToString } from './addr.js';

// WHATWG URL serialises an IPv6 host as RFC 5952 does (lowercase, no leading zeros, the first
// longest run of two or more zero groups as ::); IPv4-mapped addresses are the one difference
// (RFC 5952 section 5 keeps their dotted tail).
const oracle = (w: number[]): string => {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return `::ffff:${ipv4ToString(w[3]!)}`;
  const groups = w.flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]);
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
};

test('IPv6 text form is RFC 5952 (URL serialiser as the oracle), zero runs included', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const word = fc.tuple(group, group).map(([a, b]) => ((a << 16) | b) >>> 0);
  fc.assert(
    fc.property(fc.tuple(word, word, word, word), (w) => {
      assert.equal(ipv6WordsToString(w[0], w[1], w[2], w[3]), oracle(w));
    }),
    { numRuns: runs(5000) },
  );
  for (const [w, want] of [
    [[0, 0, 0, 0], '::'],
    [[0, 0, 0, 1], '::1'],
    [[0x20010db8, 0, 0, 1], '2001:db8::1'],
    [[0x20010db8, 0, 1, 0], '2001:db8::1:0:0'],
    [[0x20010db8, 1, 0x10000, 0x10001], '2001:db8:0:1:1:0:1:1'],
    [[0, 0, 0xffff, 0x0a000001], '::ffff:10.0.0.1'],
  ] as [number[], string][]) {
    assert.equal(ipv6WordsToString(w[0]!, w[1]!, w[2]!, w[3]!), want);
  }
});
