import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFileConfig } from '../../src/cli/config-file.js';
import { productOptions } from '../../src/cli/start.js';
import { defaultSpoolBytes } from '../../src/common/budget.js';
import { ConfigError } from '../../src/common/errors.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('collector spool settings', () => {
  test('the default bound: 5% of the free disk, 256 MiB (at most half the free space) to 8 GiB', () => {
    assert.equal(defaultSpoolBytes(59 * GiB), Math.floor(59 * GiB * 0.05));
    assert.equal(defaultSpoolBytes(1000 * GiB), 8 * GiB);
    assert.equal(defaultSpoolBytes(2 * GiB), 256 * MiB);
    assert.equal(defaultSpoolBytes(100 * MiB), 50 * MiB);
    assert.equal(defaultSpoolBytes(0), 0);
  });

  test('collect.spool in the file and --collect-spool: a size, or off', () => {
    assert.equal(parseFileConfig({ collect: { spool: '2GiB' } }).collect?.spool, 2 * GiB);
    assert.equal(parseFileConfig({ collect: { spool: 'off' } }).collect?.spool, -1);
    assert.equal(parseFileConfig({ collect: { spool: false } }).collect?.spool, -1);
    assert.throws(
      () => parseFileConfig({ collect: { spool: 'lots' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'collect.spool',
    );
    const file = parseFileConfig({ collect: { spool: '1GiB' } });
    assert.equal(productOptions({}, file).collect?.spoolBytes, GiB);
    assert.equal(productOptions({ 'collect-spool': '512MiB' }, file).collect?.spoolBytes, 512 * MiB);
    assert.equal(productOptions({ 'collect-spool': 'off' }, file).collect?.spoolBytes, -1);
    assert.equal(productOptions({}, {}).collect?.spoolBytes, undefined);
    assert.throws(
      () => productOptions({ 'collect-spool': '-3' }, {}),
      (e: unknown) => e instanceof ConfigError && e.key === 'collect-spool',
    );
  });
});
