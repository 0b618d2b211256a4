import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { postings, postingsBySearch } from './segment-index.js';

/** The postings as defined: per distinct key (ascending), the distinct flows that have it (ascending). */
function byDefinition(keys: number[], flows: number[]): [number[], number[], number[]] {
  const m = new Map<number, Set<number>>();
  keys.forEach((k, i) => {
    const s = m.get(k) ?? new Set<number>();
    s.add(flows[i]!);
    m.set(k, s);
  });
  const uniq = [...m.keys()].sort((a, b) => a - b);
  const start = [0];
  const out: number[] = [];
  for (const k of uniq) {
    out.push(...[...m.get(k)!].sort((a, b) => a - b));
    start.push(out.length);
  }
  return [uniq, start, out];
}

/** Keys as the index builder makes them: each flow (ascending) gives its two ends, often equal. */
const flowKeys = (maxFlow: number) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(0, 0xffffffff, 0x7fffffff, 0x80000000)),
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(0xffffffff)),
        fc.integer({ min: 1, max: 3 }),
      ),
      { maxLength: 60 },
    )
    .map((ends) => {
      const keys: number[] = [];
      const flows: number[] = [];
      let f = maxFlow > 1000 ? maxFlow - 200 : 0;
      for (const [a, b, step] of ends) {
        f = Math.min(f + step, maxFlow);
        keys.push(a, b);
        flows.push(f, f);
      }
      return { keys, flows };
    });

describe('segment index postings', () => {
  for (const [name, maxFlow] of [
    ['small segments', 500],
    ['flow ordinals at the edge of a sorted pair (2^21)', 2 ** 21 + 50],
  ] as const) {
    it(`the sorted-pairs build and the per-key search agree with the definition (${name})`, () => {
      fc.assert(
        fc.property(flowKeys(maxFlow), ({ keys, flows }) => {
          const want = byDefinition(keys, flows);
          // As `build` passes them: typed arrays longer than the `n` pairs, stale values past it.
          const pad = (a: number[]) => Float64Array.from([...a, 7, 2 ** 32 - 1, 3]);
          const [k, f, n] = [pad(keys), pad(flows), keys.length];
          for (const got of [postings(keys, flows), postingsBySearch(keys, flows), postings(k, f, n)]) {
            assert.deepEqual(
              got.map((a) => [...a]),
              want,
            );
            for (const a of got) assert.ok(a instanceof Uint32Array);
          }
        }),
        { numRuns: runs(300) },
      );
    });
  }

  it('gives empty postings for no keys', () => {
    for (const got of [postings([], []), postingsBySearch([], [])])
      assert.deepEqual(
        got.map((a) => [...a]),
        [[], [0], []],
      );
  });
});
