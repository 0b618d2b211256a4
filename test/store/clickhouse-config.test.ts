import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFileConfig } from '../../src/cli/config-file.js';
import { productOptions } from '../../src/cli/start.js';

describe('config key store', () => {
  it('takes a ClickHouse cluster and passes it to the product', () => {
    const file = parseFileConfig({
      store: {
        backend: 'clickhouse',
        url: 'http://127.0.0.1:8123/',
        shards: ['http://127.0.0.1:8123', 'http://127.0.0.1:8124'],
        cluster: 'vt',
        database: 'vantage',
        insertFormat: 'rowbinary',
        insertRows: 1_000_000,
      },
    });
    assert.deepEqual(productOptions({}, file).store, {
      backend: 'clickhouse',
      url: 'http://127.0.0.1:8123',
      shards: ['http://127.0.0.1:8123', 'http://127.0.0.1:8124'],
      cluster: 'vt',
      database: 'vantage',
      insertFormat: 'rowbinary',
      insertRows: 1_000_000,
    });
  });

  it('leaves the embedded default unchanged', () => {
    assert.equal(productOptions({}, parseFileConfig({})).store, undefined);
    assert.deepEqual(parseFileConfig({ store: { backend: 'embedded' } }).store, { backend: 'embedded' });
  });

  it('names the key at fault', () => {
    const bad: [unknown, RegExp][] = [
      [{ backend: 'clickhouse' }, /store\.url/],
      [{ backend: 'clickhouse', url: 'ftp://x' }, /store\.url/],
      [{ backend: 'clickhouse', url: 'http://a:1', shards: ['http://a:1', 'http://b:1'] }, /store\.cluster/],
      [{ backend: 'clickhouse', url: 'http://a:1', database: 'x;drop' }, /store\.database/],
      [{ backend: 'clickhouse', url: 'http://a:1', replicas: 2 }, /store\.replicas/],
      [{ backend: 'mysql' }, /store\.backend/],
      [{ backend: 'clickhouse', url: 'http://a:1', insertFormat: 'csv' }, /store\.insertFormat/],
      [{ backend: 'clickhouse', url: 'http://a:1', insertRows: 0 }, /store\.insertRows/],
      [{ backend: 'clickhouse', url: 'http://a:1', insertRows: 1.5 }, /store\.insertRows/],
      [{ backend: 'embedded', url: 'http://a:1' }, /store\.url/],
    ];
    for (const [store, re] of bad) assert.throws(() => parseFileConfig({ store }), re, JSON.stringify(store));
  });
});
