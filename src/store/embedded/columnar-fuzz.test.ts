import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { silentLogger } from '../../common/log.js';
import { defineRecord } from '../../schema/registry.js';
import type { Columnar } from '../columnar.js';
import type { Rec } from '../types.js';
import { isoToMicros, microsToIso } from '../values.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-columnar-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** One field of every type the store has, most nullable. */
const probe = defineRecord('probe', 'Every field type, for the column path fuzz.', 'ts', {
  n: { type: 'int', doc: 'Row number (sort key).' },
  ts: { type: 'ts', doc: 'Time.' },
  end: { type: 'ts', doc: 'Another time.', nullable: true },
  name: { type: 'string', doc: 'Text of any length and script.', nullable: true },
  label: { type: 'string', doc: 'Short text.', nullable: true },
  addr: { type: 'ip', doc: 'An address, or text that is not one.', nullable: true },
  mac: { type: 'mac', doc: 'A MAC, or text that is not one.', nullable: true },
  count: { type: 'int', doc: 'Any safe integer.', nullable: true },
  ratio: { type: 'float', doc: 'Any finite double.', nullable: true },
  flag: { type: 'bool', doc: 'Yes or no.', nullable: true },
  tags: { type: 'string[]', doc: 'A list.', nullable: true },
});

const NUM = ['n', 'count', 'ratio', 'flag'] as const;
const TEXT = ['name', 'label', 'addr', 'mac'] as const;

const hex2 = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
const row = fc.record({
  ts: fc.integer({ min: 946_684_800_000_000, max: 1_893_456_000_000_000 }),
  end: fc.option(fc.integer({ min: 0, max: 1_893_456_000_000_000 }), { nil: null }),
  name: fc.option(
    fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.constantFrom('', '123456789012', '1234567890123', 'é'.repeat(6), 'é'.repeat(7), '日本語テキスト'),
    ),
    { nil: null },
  ),
  label: fc.option(fc.constantFrom('fin', 'idle', 'SAPF', 'https', 'x'), { nil: null }),
  addr: fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('1.2.3.256', 'nope', '::ffff:10.0.0.1')), {
    nil: null,
  }),
  mac: fc.option(
    fc.oneof(
      fc.array(hex2, { minLength: 6, maxLength: 6 }).map((b) => b.join(':')),
      fc.constantFrom('zz:00:00:00:00:00', '00:11:22'),
    ),
    { nil: null },
  ),
  count: fc.option(
    fc.oneof(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.maxSafeInteger(),
      fc.constantFrom(-1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1)),
    ),
    { nil: null },
  ),
  ratio: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
  flag: fc.option(fc.boolean(), { nil: null }),
  tags: fc.option(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), { nil: null }),
});

/** The rows as a columnar batch; times as ms numbers, or as ISO text in the dictionary. */
function columnarOf(recs: readonly Rec[], isoTimes: boolean, pick: number[]): Columnar {
  const ts = ['ts', 'end'];
  const num = isoTimes ? [...NUM] : [...NUM, ...ts];
  const str = isoTimes ? [...TEXT, ...ts] : [...TEXT];
  const f = new Float64Array(recs.length * num.length);
  const s = new Int32Array(recs.length * str.length);
  const dict: string[] = [];
  const at = new Map<string, number>();
  const tags = new Map<number, unknown>();
  recs.forEach((r, i) => {
    num.forEach((k, j) => {
      const v = r[k];
      f[i * num.length + j] =
        v == null ? Number.NaN : ts.includes(k) ? isoToMicros(String(v)) / 1000 : v === true ? 1 : Number(v);
    });
    str.forEach((k, j) => {
      const v = r[k];
      if (v == null) s[i * str.length + j] = -1;
      else {
        let d = at.get(String(v));
        if (d === undefined) {
          d = dict.push(String(v)) - 1;
          at.set(String(v), d);
        }
        s[i * str.length + j] = d;
      }
    });
    if (r.tags != null) tags.set(i, r.tags);
  });
  return { num, str, f, s, dict, rows: Uint32Array.from(pick), json: { tags } };
}

test('the column path stores exactly what the object path stores, for any values (fuzz)', async () => {
  const cols = createEmbeddedStore(
    { dataDir: join(root, 'c'), threads: 1 },
    { defs: [probe], log: silentLogger },
  );
  const objs = createEmbeddedStore(
    { dataDir: join(root, 'o'), threads: 1 },
    { defs: [probe], log: silentLogger },
  );
  await cols.start();
  await objs.start();
  let next = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        // Past one DataChunk (2,048 rows) now and then, so chunk boundaries are crossed.
        fc.array(row, { minLength: 1, maxLength: 2600, size: 'max' }),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        async (rows, isoTimes, stride) => {
          const base = next;
          const recs: Rec[] = rows.map((r, i) => ({
            ...r,
            type: 'probe',
            n: base + i,
            ts: microsToIso(r.ts),
            end: r.end === null ? null : microsToIso(r.end),
          }));
          next += recs.length;
          // A selection of every `stride`-th row, split in two parts committed together.
          const pick = recs.map((_, i) => i).filter((i) => i % stride === 0);
          const half = Math.floor(pick.length / 2);
          const c = columnarOf(recs, isoTimes, pick);
          await cols.appendColumnParts('probe', [
            { ...c, rows: Uint32Array.from(pick.slice(0, half)) },
            { ...c, rows: Uint32Array.from(pick.slice(half)) },
          ]);
          await objs.append(
            'probe',
            pick.map((i) => recs[i]!),
          );
          // Newest first: this run's rows are within the limit however many runs came before.
          const q = {
            type: 'probe',
            limit: 5_000,
            sort: 'n',
            desc: true,
            after: 0,
            before: 2 ** 62,
          } as const;
          const got = (await cols.list(q)).items.filter((r) => Number(r.n) >= base);
          const want = (await objs.list(q)).items.filter((r) => Number(r.n) >= base);
          assert.equal(got.length, pick.length);
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: runs(12) },
    );
  } finally {
    await cols.stop();
    await objs.stop();
  }
});
