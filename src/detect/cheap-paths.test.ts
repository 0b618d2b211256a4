import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { registeredDomain } from './domain.js';
import { entropy, entropySkipping } from './stats.js';

// The per-query paths read names without arrays of labels or stripped copies; they must give
// exactly what the plain definitions give (the evaluation's alerts depend on every bit).

const SLD = new Set(['co', 'com', 'net', 'org', 'gov', 'ac', 'edu', 'ne', 'or', 'go']);

/** The definition: the last two labels, three under a two-letter TLD with a known second level. */
function byLabels(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = n.toLowerCase().split('.');
  if (labels.length <= 2) return labels.join('.');
  const tld = labels[labels.length - 1] ?? '';
  const sld = labels[labels.length - 2] ?? '';
  return labels.slice(tld.length === 2 && SLD.has(sld) ? -3 : -2).join('.');
}

const nameish = fc
  .array(fc.constantFrom('', '.', 'co', 'uk', 'a', 'Com', 'x.', 'ab', '..', 'ORG', 'de', 'z', 'tunnel9'), {
    maxLength: 9,
  })
  .map((a) => a.join(''));

test('registeredDomain equals the label-array definition', () => {
  assert.equal(registeredDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(registeredDomain('x.y.Example.COM.'), 'example.com');
  fc.assert(
    fc.property(fc.oneof(nameish, fc.string()), (s) => registeredDomain(s) === byLabels(s)),
    { numRuns: runs(20_000) },
  );
});

test('entropySkipping equals the entropy of the string without the skipped character', () => {
  assert.equal(entropySkipping('ab.ab', 46), 1);
  fc.assert(
    fc.property(fc.oneof(nameish, fc.string(), fc.string({ unit: 'binary' })), (s) =>
      Object.is(entropySkipping(s, 46), entropy(s.replaceAll('.', ''))),
    ),
    { numRuns: runs(20_000) },
  );
});
