import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../support/fixtures.js';
import { pcapFile } from '../support/pcap-writer.js';
import { scanAndSshBruteForce } from './capture-kit.js';
import { T0 } from './labelled.js';

test('vantage ingest prints the detectors’ alerts among the records; --no-detect turns them off', (t) => {
  const kit = scanAndSshBruteForce();
  const dir = mkdtempSync(join(tmpdir(), 'vantage-ingest-detect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'attack.pcap');
  writeFileSync(file, pcapFile(kit.packets(T0)));
  const run = (...extra: string[]): Record<string, unknown>[] => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/vantage.js'), 'ingest', file, '--format', 'ndjson', ...extra],
      {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const recs = run();
  const alerts = recs.filter((r) => r.type === 'alert');
  const scan = alerts.find((a) => a.detector === 'scan.vertical');
  assert.ok(scan, 'vertical scan alert');
  assert.equal(scan.src_ip, '10.1.9.9');
  assert.equal(scan.attack_technique, 'T1046');
  assert.equal((scan.evidence as { unique_ports: number }).unique_ports, 200);
  // One alert per episode, not one per flow.
  assert.equal(alerts.filter((a) => a.detector === 'scan.vertical').length, 1);
  assert.ok(alerts.some((a) => a.detector === 'bruteforce.ssh' && a.src_ip === '203.0.113.10'));
  assert.equal(run('--no-detect').filter((r) => r.type === 'alert').length, 0);
});
