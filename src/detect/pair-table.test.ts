import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { BoundedMap } from './bounded.js';
import { HostPortSet, PairTable, pairHash, strHash } from './pair-table.js';

/**
 * Operations on a table and on the `BoundedMap` keyed by `${a}|${b}` it replaces: the same
 * entries, order, evictions (which the detectors decide on) and values must come out. Keys are
 * drawn from a few addresses so that they repeat; the hash is folded to a few values (every key
 * collides, probe runs wrap around the slot array) or left whole.
 */
const A = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2', '192.168.1.255'];
const B = ['198.51.100.7', '198.51.100.8', '2001:db8:0:0:0:0:0:7', 'example.com', ''];

/** The key's number: 0 (tables keyed by the strings alone) or a port doubled, plus one for HTTP. */
const C = fc.constantFrom(0, 1, 44, 45);

type Op =
  | { kind: 'touch'; a: number; b: number; c: number; v: number }
  | { kind: 'delete'; a: number; b: number; c: number }
  | { kind: 'sweep'; mod: number }
  | { kind: 'evict' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('touch' as const),
      a: fc.nat(4),
      b: fc.nat(4),
      c: C,
      v: fc.nat(1000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), a: fc.nat(4), b: fc.nat(4), c: C }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('sweep' as const), mod: fc.integer({ min: 2, max: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evict' as const) }) },
);

function run(ops: Op[], cap: number, fold: number, initial: number): void {
  const evictedT: string[] = [];
  const evictedM: string[] = [];
  const t = new PairTable<{ v: number }>(
    cap,
    (a, b, x, c) => void evictedT.push(`${a}|${b}|${c}=${x.v}`),
    initial,
  );
  const m = new BoundedMap<string, { v: number }>(cap, (k, x) => void evictedM.push(`${k}=${x.v}`));
  const h = (a: string, b: string, c: number): number => pairHash(pairHash(strHash(a), strHash(b)), c) & fold;
  for (const o of ops) {
    if (o.kind === 'touch') {
      const a = A[o.a]!;
      const b = B[o.b]!;
      const x = t.recent(a, b, h(a, b, o.c), o.c);
      const y = m.recent(`${a}|${b}|${o.c}`);
      assert.deepEqual(x, y);
      if (x === undefined) {
        t.insert(a, b, h(a, b, o.c), { v: o.v }, o.c);
        m.insert(`${a}|${b}|${o.c}`, { v: o.v });
      } else {
        x.v += o.v;
        y!.v += o.v;
      }
    } else if (o.kind === 'delete') {
      const a = A[o.a]!;
      const b = B[o.b]!;
      t.delete(a, b, h(a, b, o.c), o.c);
      m.delete(`${a}|${b}|${o.c}`);
    } else if (o.kind === 'sweep') {
      // As the detectors' sweeps: visit in order, removing some entries on the way.
      for (let e = t.first(); e >= 0; ) {
        const next = t.after(e);
        if (t.value(e).v % o.mod === 0) t.remove(e);
        e = next;
      }
      for (const [k, x] of m.entries()) if (x.v % o.mod === 0) m.delete(k);
    } else {
      t.evictOne();
      m.evictOne();
    }
    const order: string[] = [];
    for (let e = t.first(); e >= 0; e = t.after(e))
      order.push(`${t.keyA(e)}|${t.keyB(e)}|${t.keyC(e)}=${t.value(e).v}`);
    assert.deepEqual(
      order,
      [...m.entries()].map(([k, x]) => `${k}=${x.v}`),
    );
    assert.equal(t.size, m.size);
    assert.deepEqual(evictedT, evictedM);
    assert.ok(t.size <= cap);
  }
  assert.equal(t.evictions, m.evictions);
  // Every held pair is found by its key, every other one is not.
  for (const a of A)
    for (const b of B)
      for (const c of [0, 1, 44, 45])
        assert.deepEqual(t.get(a, b, h(a, b, c), c), m.get(`${a}|${b}|${c}`), `${a}|${b}|${c}`);
}

test('PairTable: the same entries, order and evictions as BoundedMap, with and without colliding hashes', () => {
  fc.assert(
    fc.property(
      fc.array(op, { minLength: 50, maxLength: 300 }),
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(0, 3, 15, -1),
      fc.constantFrom(1, 2, 1024),
      (ops, cap, fold, initial) => run(ops, cap, fold, initial),
    ),
    { numRuns: runs(300) },
  );
});

test('PairTable: grows from its first size up to the cap, keeping every entry and the order', () => {
  const t = new PairTable<number>(1000, undefined, 4);
  assert.equal(t.room, 4);
  const key = (i: number): [string, string] => [`10.0.${i >> 8}.${i & 255}`, `2001:db8::${i.toString(16)}`];
  for (let i = 0; i < 1000; i++) {
    const [a, b] = key(i);
    t.insert(a, b, pairHash(strHash(a), strHash(b)), i);
  }
  assert.equal(t.room, 1000);
  assert.equal(t.size, 1000);
  for (let i = 0; i < 1000; i++) {
    const [a, b] = key(i);
    assert.equal(t.get(a, b, pairHash(strHash(a), strHash(b))), i);
  }
  let i = 0;
  for (let e = t.first(); e >= 0; e = t.after(e)) assert.equal(t.value(e), i++);
  // At the cap the oldest goes, and its entry is reused (no further growth).
  const evicted: number[] = [];
  const u = new PairTable<number>(3, (_a, _b, v) => void evicted.push(v), 2);
  for (let k = 0; k < 6; k++) u.insert('10.0.0.1', `10.0.0.${k}`, 7, k);
  assert.deepEqual(evicted, [0, 1, 2]);
  assert.equal(u.room, 3);
  assert.equal(u.get('10.0.0.1', '10.0.0.5', 7), 5);
  assert.equal(u.get('10.0.0.1', '10.0.0.2', 7), undefined);
});

test('PairTable: keys that differ only in the last word of an IPv4 or IPv6 address stay apart', () => {
  // One hash for all: only the strings tell them apart.
  const t = new PairTable<string>(100);
  const pairs: [string, string][] = [
    ['10.1.2.3', '192.0.2.1'],
    ['10.1.2.3', '192.0.2.2'],
    ['10.1.2.4', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8::1'],
    ['2001:db8:1:2:3:4:5:7', '2001:db8::1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8::2'],
    // The pair is ordered: (a, b) is not (b, a).
    ['192.0.2.1', '10.1.2.3'],
  ];
  for (const [a, b] of pairs) t.insert(a, b, 42, `${a}>${b}`);
  assert.equal(t.size, pairs.length);
  for (const [a, b] of pairs) assert.equal(t.get(a, b, 42), `${a}>${b}`);
  // With the real hashes too, and those hashes differ.
  const hs = new Set(pairs.map(([a, b]) => pairHash(strHash(a), strHash(b))));
  assert.equal(hs.size, pairs.length);
  assert.notEqual(
    pairHash(strHash('10.0.0.1'), strHash('10.0.0.2')),
    pairHash(strHash('10.0.0.2'), strHash('10.0.0.1')),
  );
  t.delete('10.1.2.3', '192.0.2.1', 42);
  assert.equal(t.get('10.1.2.3', '192.0.2.1', 42), undefined);
  assert.equal(t.get('10.1.2.3', '192.0.2.2', 42), '10.1.2.3>192.0.2.2');
  assert.equal(t.get('10.1.2.4', '192.0.2.1', 42), '10.1.2.4>192.0.2.1');
});

test('HostPortSet: the distinct pairs of a Set of host|port texts, in its order, whatever the hash', () => {
  const hosts = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2', '2001:db8:0:0:0:0:0:1'];
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.nat(4),
          fc.integer({ min: 0, max: 65535 }).map((p) => p % 7),
        ),
        { minLength: 40, maxLength: 200 },
      ),
      fc.constantFrom(0, 1, -1),
      (probes, fold) => {
        const set = new HostPortSet();
        const texts = new Set<string>();
        for (const [hi, port] of probes) {
          const host = hosts[hi]!;
          // fold 0: every host hashes alike (only the chain tells them apart); 1: two buckets.
          const h = strHash(host) & fold;
          const known = texts.has(`${host}|${port}`);
          assert.equal(set.has(host, h, port), known);
          if (!known) {
            set.add(host, h, port);
            texts.add(`${host}|${port}`);
          }
        }
        const held: string[] = [];
        for (let i = 0; i < set.size; i++) held.push(`${set.host(i)}|${set.port(i)}`);
        assert.deepEqual(held, [...texts]);
      },
    ),
    { numRuns: runs(200) },
  );
});
