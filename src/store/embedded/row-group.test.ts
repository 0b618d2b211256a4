import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { exportDatagrams } from '../../../test/collect/build.js';
import { fixture } from '../../../test/support/fixtures.js';
import { columnarOf, encodeColumns } from '../../collect/columns.js';
import { CollectDecoder } from '../../collect/decoder.js';
import type { CollectedRecord } from '../../collect/types.js';
import { ConfigError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { PARQUET_ROW_GROUP_ROWS } from './schema.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-row-group-'));
after(() => rmSync(root, { recursive: true, force: true }));

function parquetFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.parquet'))
    .map((e) => join(e.parentPath, e.name));
}

test("a compaction's Parquet row groups hold at most compactRowGroup rows, and every row is kept", async () => {
  const recs: CollectedRecord[] = [];
  const d = new CollectDecoder({}, (r) => recs.push(r));
  for (const x of await exportDatagrams(fixture('made/softflowd-ipfix-ipv6-mixed.pcap')))
    d.decode(x.payload, 0, x.payload.length, '192.0.2.7', 40000, 1_700_000_000_000);
  const { flows } = columnarOf(encodeColumns(recs.filter((r) => r.type === 'exported_flow')));
  assert.ok(flows.rows.length > 0);
  const dataDir = join(root, 'store');
  const s = createEmbeddedStore(
    { dataDir, threads: 1, compactRows: 5000, compactRowGroup: 2048 },
    { log: silentLogger },
  );
  await s.start();
  let n = 0;
  try {
    while (n < 12_000) {
      await s.appendColumns('exported_flow', flows);
      n += flows.rows.length;
    }
    await s.compact();
    assert.equal(await s.count('exported_flow', {}), n);
  } finally {
    await s.stop();
  }
  // The files' own footers, read by a separate DuckDB: the truth is what a reader sees.
  const files = parquetFiles(join(dataDir, 'parquet'));
  assert.ok(files.length >= 2, `files: ${files.length}`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
    const [groups, largest, rows] = (
      await c.runAndReadAll(
        `SELECT count(*), max(row_group_num_rows), sum(row_group_num_rows) FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM parquet_metadata([${list}]))`,
      )
    )
      .getRows()[0]!
      .map(Number) as [number, number, number];
    assert.equal(rows, n);
    assert.ok(largest <= 2048, `largest row group ${largest}`);
    assert.ok(groups >= Math.ceil(n / 2048), `row groups ${groups}`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
});

test('compactRowGroup is checked: a whole number of rows, at least 2048; the default is a quarter of the old 122,880', () => {
  for (const bad of [0, 100, 2047, 4096.5, Number.NaN])
    assert.throws(
      () => createEmbeddedStore({ dataDir: join(root, 'bad'), compactRowGroup: bad }, { log: silentLogger }),
      (e: unknown) => e instanceof ConfigError && e.key === 'compactRowGroup',
    );
  assert.equal(PARQUET_ROW_GROUP_ROWS, 30_720);
});
