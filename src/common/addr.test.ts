import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { ipv4ToString, ipv6WordsToString, parseIpv6, parseIpv6Words } from './addr.js';

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

/** What `parseIpv6Words` must answer: the general parser's bytes as four words, or null. */
const wordsOf = (s: string): number[] | null => {
  const b = parseIpv6(s);
  if (b === null) return null;
  return [0, 1, 2, 3].map(
    (k) => ((b[k * 4]! << 24) | (b[k * 4 + 1]! << 16) | (b[k * 4 + 2]! << 8) | b[k * 4 + 3]!) >>> 0,
  );
};
const viaWords = (s: string): number[] | null => {
  const out = new Uint32Array(6).fill(0xdeadbeef);
  if (!parseIpv6Words(s, out, 1)) {
    assert.deepEqual([...out], new Array(6).fill(0xdeadbeef), `nothing written for ${s}`);
    return null;
  }
  assert.equal(out[0], 0xdeadbeef);
  assert.equal(out[5], 0xdeadbeef);
  return [...out.subarray(1, 5)];
};

test('IPv6 text into words without allocation: the general parser’s answer on every text', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const word = fc.tuple(group, group).map(([a, b]) => ((a << 16) | b) >>> 0);
  // Addresses as the flow table writes them, then uppercased, zero-padded and uncompressed.
  fc.assert(
    fc.property(fc.tuple(word, word, word, word), fc.integer({ min: 0, max: 2 }), (w, form) => {
      let s = ipv6WordsToString(w[0], w[1], w[2], w[3]);
      if (form === 1) s = s.toUpperCase();
      if (form === 2 && !s.includes('.'))
        s = w.flatMap((x) => [(x >>> 16).toString(16).padStart(4, '0'), (x & 0xffff).toString(16)]).join(':');
      assert.deepEqual(viaWords(s), w);
      assert.deepEqual(viaWords(s), wordsOf(s));
    }),
    { numRuns: runs(5000) },
  );
  // Texts made of the characters an address has, mostly malformed: accepted and refused alike.
  const text = fc
    .array(fc.constantFrom('0', '1', 'f', 'F', 'a', '9', ':', ':', ':', '.', 'g', '12345', '::', '1.2.3.4'), {
      maxLength: 20,
    })
    .map((a) => a.join(''));
  fc.assert(
    fc.property(text, (s) => assert.deepEqual(viaWords(s), wordsOf(s), s)),
    { numRuns: runs(20000) },
  );
  for (const s of [
    '',
    ':',
    '::',
    ':::',
    '::1',
    '1::',
    '1:::2',
    '1::2::3',
    ':1::',
    '1::2:',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2:3:4:5:6:7:8',
    '1::2:3:4:5:6:7',
    '12345::',
    '::ffff:10.0.0.1',
    '::ffff:256.0.0.1',
    '1.2.3.4::1',
    '2001:DB8::1',
    '2001:db8::g',
    ' 2001:db8::1',
  ]) {
    assert.deepEqual(viaWords(s), wordsOf(s), s);
  }
  assert.deepEqual(viaWords('2001:db8::1:0:0'), [0x20010db8, 0, 1, 0]);
});
