import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { BoundedMap, TopK } from './bounded.js';

/** Space-Saving as Metwally et al. describe it, written plainly over a map in insertion order. */
function spaceSaving(k: number, items: readonly [string, number][]): Map<string, number> {
  const m = new Map<string, number>();
  for (const [key, w] of items) {
    const c = m.get(key);
    if (c !== undefined) m.set(key, c + w);
    else if (m.size < k) m.set(key, w);
    else {
      let minK = '';
      let minV = Number.POSITIVE_INFINITY;
      for (const [kk, v] of m) {
        if (v < minV) {
          minV = v;
          minK = kk;
        }
      }
      m.delete(minK);
      m.set(key, minV + w);
    }
  }
  return m;
}

const stream = fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 50 })), {
  maxLength: 400,
});

test('TopK: the counters of Space-Saving, its guarantees, ties broken by age', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), stream, (k, raw) => {
      const items = raw.map(([i, w]) => [`10.0.0.${i}`, w] as [string, number]);
      const t = new TopK(k);
      for (const [key, w] of items) t.add(key, w);
      const got = t.top(k);
      const want = [...spaceSaving(k, items)]
        .map(([key, weight]) => ({ key, weight }))
        .sort((a, b) => b.weight - a.weight);
      assert.deepEqual(got, want);
      // The paper's guarantees: weights sum to the stream's total; no counter under-counts;
      // every key heavier than total/k is held.
      const total = items.reduce((s, [, w]) => s + w, 0);
      const truth = new Map<string, number>();
      for (const [key, w] of items) truth.set(key, (truth.get(key) ?? 0) + w);
      const held = new Map(got.map((g) => [g.key, g.weight]));
      if (truth.size >= k)
        assert.equal(
          [...held.values()].reduce((s, w) => s + w, 0),
          total,
        );
      for (const [key, w] of held) assert.ok(w >= (truth.get(key) ?? 0), key);
      for (const [key, w] of truth) if (w > total / k) assert.ok(held.has(key), `${key} ${w} of ${total}`);
    }),
    { numRuns: runs(300) },
  );
});

/**
 * The documented policy as a list in recency order: a hit moves its entry to the back unless it
 * is in the newer half (fewer than cap/2 insertions and moves since it was placed); an insert
 * into a full map evicts the front.
 */
class ModelMap {
  order: { k: string; v: number; seq: number }[] = [];
  seq = 0;
  evicted: string[] = [];
  constructor(readonly cap: number) {}
  touch(k: string, make: () => number): number {
    const i = this.order.findIndex((e) => e.k === k);
    if (i >= 0) {
      const e = this.order[i]!;
      if (this.seq - e.seq > this.cap >> 1) {
        this.order.splice(i, 1);
        e.seq = ++this.seq;
        this.order.push(e);
      }
      return e.v;
    }
    if (this.order.length >= this.cap) {
      const e = this.order.shift()!;
      this.evicted.push(`${e.k}=${e.v}`);
    }
    const v = make();
    this.order.push({ k, v, seq: ++this.seq });
    return v;
  }
  delete(k: string): void {
    this.order = this.order.filter((e) => e.k !== k);
  }
}

test('BoundedMap: touch and recent + insert follow the documented recency policy and cap', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 9 })), { maxLength: 300 }),
      (cap, ops) => {
        const model = new ModelMap(cap);
        const ea: string[] = [];
        const eb: string[] = [];
        const a = new BoundedMap<string, number>(cap, (k, v) => ea.push(`${k}=${v}`));
        const b = new BoundedMap<string, number>(cap, (k, v) => eb.push(`${k}=${v}`));
        ops.forEach(([i, op], n) => {
          const key = `k${i}`;
          if (op === 0) {
            model.delete(key);
            a.delete(key);
            b.delete(key);
            return;
          }
          const want = model.touch(key, () => n);
          assert.equal(
            a.touch(key, () => n),
            want,
          );
          let vb = b.recent(key);
          if (vb === undefined) {
            vb = n;
            b.insert(key, vb);
          }
          assert.equal(vb, want);
        });
        const order = model.order.map((e) => [e.k, e.v]);
        assert.deepEqual(ea, model.evicted);
        assert.deepEqual(eb, model.evicted);
        assert.deepEqual([...a.entries()], order);
        assert.deepEqual([...b.entries()], order);
      },
    ),
    { numRuns: runs(300) },
  );
});
