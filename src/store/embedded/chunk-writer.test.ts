import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { defineRecord } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import { JsonTextColumn, packColumnar, unpackColumnar } from '../columnar-wire.js';
import { bigintToIp, ipToBigint } from '../values.js';
import { ChunkWriter } from './chunk-writer.js';
import { createTableSql } from './schema.js';

/** Text, a list and an address: what the column path turns into strings and address words. */
const rec = defineRecord('cwprobe', 'Long strings and addresses through the column path.', 'n', {
  n: { type: 'int', doc: 'Row number.' },
  name: { type: 'string', doc: 'Text of any length and script.', nullable: true },
  tags: { type: 'string[]', doc: 'A list (JSON).', nullable: true },
  addr: { type: 'ip', doc: 'An address.', nullable: true },
});

let db: DuckDBInstance;
let c: DuckDBConnection;
before(async () => {
  db = await DuckDBInstance.create(':memory:');
  c = await db.connect();
});
after(() => {
  c.closeSync();
  db.closeSync();
});

/** A batch of `names` (null = none), each row's list from `lists` and address from `addrs`. */
function batch(names: (string | null)[], lists: unknown[], addrs: (string | null)[]): Columnar {
  const dict: string[] = [];
  const at = new Map<string, number>();
  const id = (v: string | null): number => {
    if (v === null) return -1;
    const d = at.get(v) ?? dict.push(v) - 1;
    at.set(v, d);
    return d;
  };
  const n = names.length;
  const f = new Float64Array(n);
  const s = new Int32Array(n * 2);
  const tags = new Map<number, unknown>();
  for (let i = 0; i < n; i++) {
    f[i] = i;
    s[i * 2] = id(names[i]!);
    s[i * 2 + 1] = id(addrs[i]!);
    if (lists[i] != null) tags.set(i, lists[i]);
  }
  return {
    num: ['n'],
    str: ['name', 'addr'],
    f,
    s,
    dict,
    rows: Uint32Array.from({ length: n }, (_, i) => i),
    json: { tags },
  };
}

let tables = 0;
/** The batches appended through a writer into a new table; its rows in order. */
async function store(batches: Columnar[], pointers: boolean): Promise<Record<string, unknown>[]> {
  const table = `t${tables++}`;
  await c.run(createTableSql(rec, table));
  const app = await c.createAppender(table);
  const w = new ChunkWriter(rec, { pointers });
  let seq = 0;
  for (const b of batches) {
    w.appendColumns(app, b, seq);
    seq += b.rows.length;
  }
  app.flushSync();
  app.closeSync();
  const r = await c.runAndReadAll(`SELECT name, tags, addr::VARCHAR AS addr FROM ${table} ORDER BY _seq`);
  return r.getRowObjects() as Record<string, unknown>[];
}

test('the pointer path is what this build uses here (the vantage-pcap addon is built)', () => {
  assert.equal(new ChunkWriter(rec).pointers, process.env.VANTAGE_NO_PCAP !== '1');
  assert.equal(new ChunkWriter(rec, { pointers: false }).pointers, false);
});

test('long strings by pointer: the exact texts, equal and ordered by DuckDB as the texts are', async () => {
  // Repeats within and across chunks (2,048 rows) and batches, UTF-8 of 1-4 bytes, texts of
  // 12/13 bytes at the inline boundary, and a batch whose texts pass the 1 MiB heap mid-batch.
  const pool = [
    '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
    'example.com',
    'www.example.com',
    'é'.repeat(6),
    'é'.repeat(7),
  ];
  pool.push('日本語のテキスト', '😀 long emoji text 😀', '123456789012', '1234567890123', '');
  // Past the first chunk, new texts beside ones the first chunk placed: the heap holds both.
  const first = Array.from({ length: 5000 }, (_, i) =>
    i % 7 === 3 ? null : i >= 2048 && i % 2 === 0 ? `a new text of row ${i}` : pool[i % pool.length]!,
  );
  const big = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(6, '0')}:${'x'.repeat(500)}`);
  // Past the heap kept between batches (16 MiB): let go after this batch, a new one after it.
  const huge = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(450_000, 'h'));
  const third = Array.from({ length: 100 }, (_, i) => `after the big batch ${i}`);
  const batches = [first, big, huge, third].map((names) =>
    batch(
      names,
      names.map(() => null),
      names.map(() => null),
    ),
  );
  const got = await store(batches, true);
  const want = [...first, ...big, ...huge, ...third];
  assert.deepEqual(
    got.map((r) => r.name),
    want,
  );
  assert.deepEqual(await store(batches, false), got);
  // Comparisons and sorting read the string_t's prefix and length, not only its bytes.
  const t = `t${tables - 2}`;
  for (const v of [pool[0]!, pool[5]!, big[1234]!, third[99]!]) {
    const r = await c.runAndReadAll(`SELECT count(*)::INTEGER FROM ${t} WHERE name = $v`, { v });
    assert.equal(r.getRows()[0]![0], want.filter((x) => x === v).length, v);
  }
  const sorted = (
    await c.runAndReadAll(`SELECT name FROM ${t} WHERE name IS NOT NULL ORDER BY name`)
  ).getRows();
  const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
  assert.deepEqual(
    sorted.map((r) => r[0]),
    want.filter((x) => x !== null).sort((a, b) => Buffer.compare(bytes(a!), bytes(b!))),
  );
});

test('lists as JSON: a value shared by rows, distinct values, short and long, null', async () => {
  const shared = ['h2', 'http/1.1'];
  const lists = Array.from({ length: 4500 }, (_, i) =>
    i % 5 === 0
      ? null
      : i % 5 === 1
        ? shared
        : i % 5 === 2
          ? []
          : i % 5 === 3
            ? [`v${i}`]
            : ['a', `b${i}`, 'c'.repeat(i % 40)],
  );
  const names = lists.map(() => null);
  const got = await store([batch(names, lists, names)], true);
  assert.deepEqual(
    got.map((r) => r.tags),
    lists.map((l) => (l === null ? null : JSON.stringify(l))),
  );
});

test('lists as the text a pipeline worker sends: stored as the values themselves are, pointers on and off', async () => {
  // The same rows as Maps of values and through the wire form (JSON texts made on the sending
  // side, a shared value one text): a text over 12 bytes, one over 64 KiB, non-ASCII, null.
  const shared = ['h2', 'http/1.1'];
  const big = ['x'.repeat(70_000)];
  const lists = Array.from({ length: 5000 }, (_, i) =>
    i % 6 === 0
      ? null
      : i % 6 === 1
        ? shared
        : i % 6 === 2
          ? []
          : i % 6 === 3
            ? [`ü${i}`, '日本']
            : i % 6 === 4 && i % 1000 === 4
              ? big
              : ['a', `b${i}`, 'c'.repeat(i % 40)],
  );
  const names = lists.map(() => null);
  for (const pointers of [true, false]) {
    const want = await store([batch(names, lists, names)], pointers);
    const sent = unpackColumnar(packColumnar(batch(names, lists, names)));
    assert.ok(sent.json?.tags instanceof JsonTextColumn);
    const got = await store([sent], pointers);
    assert.deepEqual(got, want);
    assert.deepEqual(
      got.map((r) => r.tags),
      lists.map((l) => (l === null ? null : JSON.stringify(l))),
    );
  }
});

test('addresses: the coded value of every text form, as values.ts codes it (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.option(
          fc.oneof(fc.ipV6(), fc.ipV4(), fc.constantFrom('::', '::1', '::ffff:10.0.0.1', 'nope', '1::2::3')),
          { nil: null },
        ),
        {
          minLength: 1,
          maxLength: 300,
        },
      ),
      async (addrs) => {
        const names = addrs.map(() => null);
        const got = await store([batch(names, names, addrs)], true);
        assert.deepEqual(
          got.map((r) => r.addr),
          addrs.map((a) => {
            const v = a === null ? null : ipToBigint(a);
            return v === null ? null : v.toString();
          }),
        );
        // And the store's read path turns them back into the canonical text.
        for (let i = 0; i < addrs.length; i++) {
          const v = addrs[i] === null ? null : ipToBigint(addrs[i]!);
          if (v !== null) assert.equal(bigintToIp(BigInt(String(got[i]!.addr))), bigintToIp(v));
        }
      },
    ),
    { numRuns: runs(20) },
  );
});

const numRec = defineRecord('cwnum', 'Numbers, texts and lists with nulls in a few rows.', 'n', {
  n: { type: 'int', doc: 'Row number.' },
  x: { type: 'int', doc: 'An integer.', nullable: true },
  y: { type: 'float', doc: 'A number.', nullable: true },
  name: { type: 'string', doc: 'A text.', nullable: true },
  tags: { type: 'string[]', doc: 'A list (JSON).', nullable: true },
});

test('a null, a long text or a list in any one row of a chunk reaches DuckDB (rows are converted in tiles)', async () => {
  // One special row at a time: in the first, a middle and the last tile of a chunk, and in the
  // second chunk; every other row has values and short texts, so a count kept for the last
  // tile only (nulls, texts sent one by one) loses it.
  const n = 2048 + 600;
  for (const pointers of [false, true]) {
    for (const at of [0, 255, 256, 1000, 2047, 2048, 2300, n - 1]) {
      const f = new Float64Array(n * 3);
      const s = new Int32Array(n);
      const dict = ['short', `a text longer than twelve bytes, row ${at}`];
      const tags = new Map<number, unknown>();
      for (let i = 0; i < n; i++) {
        f[i * 3] = i;
        f[i * 3 + 1] = i === at ? Number.NaN : i * 3;
        f[i * 3 + 2] = i === at ? Number.NaN : i / 4;
        s[i] = i === at ? 1 : 0;
        if (i === at) tags.set(i, ['a', `list of row ${i}`]);
      }
      const cb: Columnar = {
        num: ['n', 'x', 'y'],
        str: ['name'],
        f,
        s,
        dict,
        rows: Uint32Array.from({ length: n }, (_, i) => i),
        json: { tags },
      };
      const table = `t${tables++}`;
      await c.run(createTableSql(numRec, table));
      const app = await c.createAppender(table);
      new ChunkWriter(numRec, { pointers }).appendColumns(app, cb, 0);
      app.flushSync();
      app.closeSync();
      const got = (await c.runAndReadAll(`SELECT n, x, y, name, tags FROM ${table} ORDER BY _seq`)).getRows();
      assert.equal(got.length, n);
      for (let i = 0; i < n; i++) {
        const want = [
          BigInt(i),
          i === at ? null : BigInt(i * 3),
          i === at ? null : i / 4,
          dict[i === at ? 1 : 0],
          i === at ? `["a","list of row ${i}"]` : null,
        ];
        assert.deepEqual(got[i], want, `row ${i}, special row ${at}, pointers ${pointers}`);
      }
    }
  }
});
