import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { defineRecord } from '../../schema/registry.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-migrate-'));
after(() => rmSync(root, { recursive: true, force: true }));

const doc = 'A type that gains a field between two opens.';
const v1 = defineRecord('mig', doc, 'ts', {
  ts: { type: 'ts', doc: 'Time.' },
  n: { type: 'int', doc: 'Row number.' },
  name: { type: 'string', doc: 'Text.', nullable: true },
});
const v2 = defineRecord('mig', doc, 'ts', {
  ts: { type: 'ts', doc: 'Time.' },
  n: { type: 'int', doc: 'Row number.' },
  added: { type: 'int', doc: 'The new field.', nullable: true },
  name: { type: 'string', doc: 'Text.', nullable: true },
});
const other = defineRecord('mig2', 'A type the second open adds.', 'ts', {
  ts: { type: 'ts', doc: 'Time.' },
  n: { type: 'int', doc: 'Row number.' },
});

const q = { type: 'mig', limit: 100, sort: 'n', after: 0, before: 2 ** 62 } as const;
const ts = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

test('a live table whose type gained a field is rebuilt at start: old rows keep theirs, the new field is null', async () => {
  const dir = join(root, 'a');
  const a = createEmbeddedStore({ dataDir: dir, threads: 1 }, { defs: [v1], log: silentLogger });
  await a.start();
  await a.append(
    'mig',
    [0, 1, 2].map((i) => ({ type: 'mig', ts: ts(i), n: i, name: `old ${i}` })),
  );
  await a.stop();

  const b = createEmbeddedStore({ dataDir: dir, threads: 1 }, { defs: [v2, other], log: silentLogger });
  await b.start();
  await b.append('mig', [{ type: 'mig', ts: ts(3), n: 3, added: 33, name: 'new 3' }]);
  await b.append('mig2', [{ type: 'mig2', ts: ts(4), n: 4 }]);
  const got = (await b.list(q)).items
    .map((r) => [r.n, r.added, r.name])
    .sort((x, y) => Number(x[0]) - Number(y[0]));
  assert.deepEqual(got, [
    [0, null, 'old 0'],
    [1, null, 'old 1'],
    [2, null, 'old 2'],
    [3, 33, 'new 3'],
  ]);
  await b.stop();

  // Opened again with the same fields: nothing to rebuild, every row and `_seq` carried on.
  const c = createEmbeddedStore({ dataDir: dir, threads: 1 }, { defs: [v2, other], log: silentLogger });
  await c.start();
  await c.append('mig', [{ type: 'mig', ts: ts(5), n: 5, added: 55, name: 'new 5' }]);
  const again = (await c.list(q)).items
    .map((r) => [r.n, r.added, r.name])
    .sort((x, y) => Number(x[0]) - Number(y[0]));
  assert.deepEqual(again, [...got, [5, 55, 'new 5']]);
  assert.equal((await c.list({ ...q, type: 'mig2' })).items.length, 1);
  await c.stop();
});
