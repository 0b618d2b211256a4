import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { registeredDomain } from './domain.js';
import { tsMs } from './flow-view.js';
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

/** tsMs with its hour cache missed: a time from outside the generated years goes first. */
function tsMsUncached(v: string): number {
  tsMs('1900-01-01T00:00:00Z');
  return tsMs(v);
}

test('tsMs reads record times as Date.parse does, and its hour cache changes nothing', () => {
  assert.equal(tsMs('2026-03-02T10:00:00.123456789Z'), Date.UTC(2026, 2, 2, 10) + 123.456789);
  // Found by the property below: a fraction rounding up into the next millisecond.
  assert.equal(Math.floor(tsMs('2004-12-01T00:00:00.0009999Z')), Date.UTC(2004, 11, 1));
  const iso = fc
    .tuple(
      fc.integer({ min: 1990, max: 2099 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 28 }),
      fc.integer({ min: 0, max: 23 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 59 }),
      fc.stringMatching(/^(\.[0-9]{0,9})?$/),
    )
    .map(([y, mo, d, h, mi, s, frac]) => {
      const p = (n: number): string => String(n).padStart(2, '0');
      return `${y}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}${frac}Z`;
    });
  // The digit reading against an independent one: Date.parse keeps whole milliseconds.
  fc.assert(
    fc.property(iso, (t) => {
      // A bare '.' is accepted here and not by Date.parse.
      const p = Date.parse(t);
      return Number.isNaN(p) ? t.includes('.Z') : Math.floor(tsMs(t) + 1e-6) === p;
    }),
    { numRuns: runs(5_000) },
  );
  // Runs of times sharing an hour exercise the hour cache; odd strings take the other paths.
  const sameHour = iso.chain((t) =>
    fc
      .array(fc.stringMatching(/^[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z$/), { maxLength: 5 })
      .map((rest) => [t, ...rest.map((r) => t.slice(0, 14) + r)]),
  );
  const odd = fc.oneof(
    fc.string(),
    iso.map((t) => t.replace('T', 'x')),
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          sameHour,
          odd.map((t) => [t]),
        ),
        { maxLength: 4 },
      ),
      (runsOf) => runsOf.flat().every((t) => Object.is(tsMs(t), tsMsUncached(t))),
    ),
    { numRuns: runs(5_000) },
  );
});
