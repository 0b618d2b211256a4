import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/fixtures.js';
import { trafficPcap } from '../support/traffic.js';
import { benign, T0, violations } from './tiers.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-policy-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function vantage(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/vantage.js'), ...args], {
    encoding: 'utf8',
    cwd: dir,
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error, signal: r.signal };
}

describe('vantage policy: the whole cycle without a server', () => {
  it('learns from a store, approves, and ingest --policy prints exactly the violations', () => {
    writeFileSync(join(dir, 'learn.pcap'), trafficPcap(benign(1, T0, 2, true)));
    writeFileSync(
      join(dir, 'check.pcap'),
      trafficPcap([...benign(2, T0 + 86_400, 1, false), ...violations(T0 + 86_400)]),
    );
    const store = join(dir, 'data');
    const ing = vantage('ingest', 'learn.pcap', '--store', store, '--no-packets');
    assert.equal(ing.status, 0, `${ing.stderr} ${ing.error}`);
    const learn = vantage('policy', 'learn', '--store', store, '--by', 'alice', '-o', 'proposal.json');
    assert.equal(learn.status, 0, learn.stderr);
    assert.match(learn.stderr, /proposed \d+ groups and \d+ edges/);
    const approve = vantage(
      'policy',
      'approve',
      'proposal.json',
      '--all',
      '--by',
      'bob',
      '-o',
      'policy.json',
    );
    assert.equal(approve.status, 0, approve.stderr);
    const doc = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8'));
    assert.equal(doc.status, 'approved');
    assert.equal(doc.approved_by, 'bob');
    const run = vantage('ingest', 'check.pcap', '--policy', 'policy.json');
    assert.equal(run.status, 0, run.stderr);
    const alerts = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'alert');
    assert.deepEqual(alerts.map((a) => `${a.category} ${a.src_ip} ${a.dst_ip}:${a.dst_port}`).sort(), [
      'policy 10.0.1.2 10.0.3.1:5432',
      'policy 10.0.9.5 198.51.100.7:443',
    ]);
    const nft = vantage('policy', 'export', 'policy.json', '--format', 'nft');
    assert.equal(nft.status, 0);
    assert.match(nft.stdout, /^table inet vantage_policy \{/m);
  });

  it('says what is wrong with a bad policy file or a missing choice', () => {
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({
        schema: 'vantage.policy/1',
        id: 'x',
        version: 1,
        status: 'approved',
        groups: [],
        edges: [{}],
        internal: [],
      }),
    );
    const r = vantage('ingest', 'check.pcap', '--policy', 'bad.json');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /edges\[0\]\.src: no group/);
    const a = vantage('policy', 'approve', 'proposal.json');
    assert.equal(a.status, 2);
    assert.match(a.stderr, /--all, --stable or --edge/);
  });
});
