import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const BIN = join(process.cwd(), 'bin', 'vantage.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'intel', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('vantage intel add|list|remove|load manages feeds in a data directory without a server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-cli-'));
  try {
    const data = join(dir, 'data');
    const list = join(dir, 'bad.txt');
    writeFileSync(list, '203.0.113.7\n198.51.100.0/24\n*.evil.example\nnot a value\n');
    const csv = join(dir, 'c.csv');
    writeFileSync(csv, 'value,type\nevil.example,domain\n192.0.2.1,ip\n');

    const a = run('add', 'abuse', '--file', list, '--format', 'list', '--schedule', '1h', '--data', data);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /^abuse {2}list {2}\S+bad\.txt {2}every 3600s {2}3 indicators {2}ok /);
    assert.equal(run('add', 'c', '--file', csv, '--format', 'csv', '--data', data).code, 0);

    // a feed whose first pull fails is kept, with its error, and the command says so
    const m = run('add', 'gone', '--file', join(dir, 'nope.csv'), '--format', 'csv', '--data', data);
    assert.equal(m.code, 1);
    assert.match(m.err, /first pull failed: .*nope\.csv: no such file/);
    // a bad option names what to fix
    const bad = run('add', 'x', '--file', list, '--format', 'yaml', '--data', data);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /format: expected one of csv, list/);

    const l = run('list', '--data', data);
    assert.equal(l.code, 0);
    const rows = l.out.trim().split('\n');
    assert.deepEqual(
      rows.map(
        (r) => r.split('  ').filter((c) => !c.includes('/'))[0] + (r.includes('error:') ? ' error' : ''),
      ),
      ['abuse', 'c', 'gone error'],
    );
    assert.match(rows[1]!, /2 indicators/);

    const r = run('remove', 'abuse', '--data', data);
    assert.equal(r.code, 0);
    assert.equal(run('remove', 'abuse', '--data', data).code, 1);
    assert.deepEqual(
      run('list', '--data', data)
        .out.trim()
        .split('\n')
        .map((x) => x.split('  ')[0]),
      ['c', 'gone'],
    );

    const ld = run('load', list, csv);
    assert.equal(ld.code, 0, ld.err);
    assert.equal(
      ld.out,
      `${list}: 3 indicators, 1 skipped, 0 unsupported\n${csv}: 2 indicators, 0 skipped, 0 unsupported\n` +
        'total 5 distinct: ipv4 2, cidr 1, domain 1, domain_suffix 1\n',
    );
    assert.equal(run('load', join(dir, 'nope.txt')).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
