import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { RowValues } from '../analyze/record-columns.js';
import { type Columnar, columnarToRecords } from './columnar.js';
import {
  JsonTextColumn,
  packColumnar,
  packStrings,
  unpackColumnar,
  unpackStrings,
  type WireColumnar,
  wireTransfer,
} from './columnar-wire.js';

/** Over 64 KiB: a length or offset kept in 16 bits would cut it. */
const LONG = `${'α'.repeat(40_000)}${'x'.repeat(40_000)}`;
/** Texts of every width: empty, ASCII, Latin-1, BMP, astral, a lone surrogate, a long one. */
const EDGE = ['', 'a', 'é', 'ü.example', '日本語', '😀', '\ud800', 'mixed ascii and ü', LONG];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGE) },
);

/** Through a real port: the structured clone and transfer a worker's message gets. */
function cross(w: WireColumnar): WireColumnar {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(w, wireTransfer(w));
  const got = receiveMessageOnPort(port2)!.message as WireColumnar;
  port1.close();
  return got;
}

test('packed strings: any list comes back entry for entry (empty lists, empty, non-ASCII and > 64 KiB entries)', () => {
  for (const a of [[], [''], ['', ''], EDGE, [LONG, '', LONG]])
    assert.deepEqual(unpackStrings(packStrings(a)), a);
  fc.assert(
    fc.property(fc.array(text, { maxLength: 60 }), (a) => {
      const p = packStrings(a);
      assert.equal(p.ends.length, a.length);
      assert.deepEqual(unpackStrings(p), a);
    }),
    { numRuns: runs(300) },
  );
});

/** A batch as the builders make it: row-major numbers and dictionary indexes, JSON by row. */
const batchArb = fc
  .record({
    nn: fc.integer({ min: 0, max: 3 }),
    ns: fc.integer({ min: 0, max: 3 }),
    n: fc.integer({ min: 0, max: 40 }),
    dict: fc.array(text, { maxLength: 30 }),
    jsonKinds: fc.array(fc.constantFrom('map', 'rows'), { maxLength: 2 }),
    seed: fc.integer(),
  })
  .map(({ nn, ns, n, dict, jsonKinds, seed }) => {
    let x = seed >>> 0;
    const rnd = (k: number): number => {
      x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      return x % k;
    };
    // Values shared by rows (one object, as a TLS shape's lists are), distinct ones, nulls.
    const shared = ['h2', 'http/1.1', LONG.slice(0, rnd(3) * 30_000)];
    const value = (): unknown => {
      const k = rnd(6);
      if (k === 0) return null;
      if (k === 1) return shared;
      if (k === 2) return [];
      if (k === 3) return [{ name: dict[rnd(dict.length + 1)] ?? 'ü', ttl: rnd(100), data: '10.0.0.1' }];
      if (k === 4) return [rnd(1000), `v${rnd(50)}`, '日本'];
      return { nested: { list: [1, 'two', null, true] } };
    };
    const f = new Float64Array(n * nn);
    for (let i = 0; i < f.length; i++) f[i] = rnd(4) === 0 ? Number.NaN : rnd(1 << 30) / 7;
    const s = new Int32Array(n * ns);
    for (let i = 0; i < s.length; i++) s[i] = dict.length === 0 || rnd(5) === 0 ? -1 : rnd(dict.length);
    const rows = Uint32Array.from({ length: n }, (_, i) => i).filter(() => rnd(4) !== 0);
    const c: Columnar = {
      num: Array.from({ length: nn }, (_, j) => `n${j}`),
      str: Array.from({ length: ns }, (_, j) => `s${j}`),
      f,
      s,
      dict,
      rows,
    };
    if (jsonKinds.length > 0 && (nn > 0 || ns > 0)) {
      const json: Record<string, ReadonlyMap<number, unknown>> = {};
      jsonKinds.forEach((kind, j) => {
        if (kind === 'map') {
          const m = new Map<number, unknown>();
          for (let r = 0; r < n; r++) {
            const v = value();
            if (v !== null) m.set(r, v);
          }
          json[`j${j}`] = m;
        } else {
          const m = new RowValues();
          for (let r = 0; r < n; r++) m.put(r, value());
          json[`j${j}`] = m;
        }
      });
      c.json = json;
    }
    return c;
  });

test('a column batch through a message port: the same records, its arrays transferred, nothing cloned per row', () => {
  fc.assert(
    fc.property(batchArb, (c) => {
      const want = columnarToRecords(c, 'wire-probe');
      const dict = [...c.dict];
      const w = packColumnar(c);
      // The dictionary and JSON columns are a few strings and typed arrays whatever the rows.
      assert.equal(typeof w.dict.text, 'string');
      for (const j of Object.values(w.json ?? {})) assert.equal(typeof j.texts.text, 'string');
      const f = c.f;
      const got = unpackColumnar(cross(w));
      assert.equal(f.byteLength, 0, 'the numbers were transferred, not copied');
      assert.deepEqual(got.dict, dict);
      assert.deepEqual(columnarToRecords(got, 'wire-probe'), want);
    }),
    { numRuns: runs(200) },
  );
});

test('JSON as text: each value is the text JSON.stringify makes of it, a shared value is one entry, and the column reads as the Map it replaces', () => {
  const shared = ['h2', 'http/1.1'];
  const m = new Map<number, unknown>([
    [0, shared],
    [2, { a: 'ü', b: [1, 2] }],
    [3, shared],
    [5, []],
    [6, null],
  ]);
  const c: Columnar = {
    num: ['n'],
    str: [],
    f: new Float64Array(7),
    s: new Int32Array(0),
    dict: [],
    rows: Uint32Array.of(0, 1, 2, 3, 4, 5, 6),
    json: { tags: m },
  };
  const got = unpackColumnar(cross(packColumnar(c))).json!.tags!;
  assert.ok(got instanceof JsonTextColumn);
  assert.equal(got.text(0), JSON.stringify(shared));
  assert.equal(got.text(2), '{"a":"ü","b":[1,2]}');
  assert.equal(got.text(1), undefined);
  assert.equal(got.text(6), undefined, 'null is no value');
  assert.equal(got.entry(0), got.entry(3), 'one text for a value rows share');
  assert.notEqual(got.entry(0), got.entry(2));
  assert.equal(got.entry(99), -1);
  assert.deepEqual(got.get(3), shared);
  assert.equal(got.size, 4);
  assert.deepEqual([...got.keys()], [0, 2, 3, 5]);
  assert.deepEqual(
    [...got.entries()],
    [...m].filter(([, v]) => v !== null),
  );
  assert.equal(got.has(5), true);
  assert.equal(got.has(4), false);
});

test('a wire batch from a worker thread: the dictionary and JSON texts survive the real thread crossing', async () => {
  const url = new URL('./columnar-wire.js', import.meta.url).href;
  // The worker builds the batch itself (non-ASCII, empty and > 64 KiB entries, an empty
  // dictionary in the second) and posts its wire form as the pipeline worker does.
  const src = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ packColumnar, wireTransfer }) => {
      const LONG = ${JSON.stringify(LONG)};
      const send = (c) => { const w = packColumnar(c); parentPort.postMessage(w, wireTransfer(w)); };
      send({ num: ['n'], str: ['s'], f: Float64Array.of(1, 2, 3), s: Int32Array.of(0, 1, -1),
        dict: ['ü.example', LONG], rows: Uint32Array.of(0, 1, 2),
        json: { tags: new Map([[0, ['日本', LONG]], [2, { x: '' }]]) } });
      send({ num: ['n'], str: [], f: Float64Array.of(7), s: new Int32Array(0), dict: [], rows: Uint32Array.of(0) });
    });`;
  const w = new Worker(src, { eval: true });
  const got: Columnar[] = [];
  await new Promise<void>((resolve, reject) => {
    w.on('message', (m: WireColumnar) => {
      got.push(unpackColumnar(m));
      if (got.length === 2) resolve();
    });
    w.on('error', reject);
  });
  await w.terminate();
  assert.deepEqual(columnarToRecords(got[0]!, 'wire-probe'), [
    { type: 'wire-probe', n: 1, s: 'ü.example', tags: ['日本', LONG] },
    { type: 'wire-probe', n: 2, s: LONG, tags: null },
    { type: 'wire-probe', n: 3, s: null, tags: { x: '' } },
  ]);
  assert.deepEqual(got[1]!.dict, []);
  assert.deepEqual(columnarToRecords(got[1]!, 'wire-probe'), [{ type: 'wire-probe', n: 7 }]);
});
