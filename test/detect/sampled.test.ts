/**
 * Sampled NetFlow: an attack capture exported by softflowd as IPFIX with 1-in-100 packet
 * sampling, received by Vantage's collector on 127.0.0.1, and the exported_flow records fed to
 * the detectors. The scan and flood detectors must still fire on the scaled records.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCollector } from '../../src/collect/receiver.js';
import type { CollectedRecord } from '../../src/collect/types.js';
import type { AlertInput, AnyRecord } from '../../src/common/alerts.js';
import { createDetectors } from '../../src/detect/index.js';
import { pcapFile } from '../support/pcap-writer.js';
import { CaptureKit, rng } from './capture-kit.js';
import { T0 } from './labelled.js';

const CI = process.env.CI === 'true';

test('1-in-100 sampled IPFIX (softflowd → collector): scans and a SYN flood still detected', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v softflowd']).status !== 0) {
    if (CI) throw new Error('CI=true and softflowd (Debian package softflowd) is missing');
    return t.skip('needs softflowd (Debian package softflowd)');
  }
  const r = rng(21);
  const kit = new CaptureKit();
  // Full-range SYN scan of one host (closed ports answer RST) and a SYN flood from random sources.
  for (let p = 1; p <= 3000; p++)
    kit.tcpSession(10 + p * 0.005, '10.1.9.9', '10.0.0.20', 40_000 + (p % 5), p, { refuse: true });
  for (let i = 1; i <= 2000; i++)
    kit.tcpSession(40 + i * 0.005, '10.1.9.10', `10.2.${i >> 8}.${i & 255}`, 45_000, 445, { noAnswer: true });
  for (let i = 0; i < 60_000; i++) {
    const src = `${1 + Math.floor(r() * 220)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    kit.single(60 + i / 6000, src, '10.0.0.80', 'syn', 1024 + Math.floor(r() * 60_000), 80);
  }
  const dir = mkdtempSync(join(tmpdir(), 'vantage-sampled-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'attack.pcap');
  writeFileSync(file, pcapFile(kit.packets(T0)));

  const got: CollectedRecord[] = [];
  const c = createCollector(
    { host: '127.0.0.1', udpPorts: [0], tcpPorts: [] },
    { sink: (b) => got.push(...b) },
  );
  await c.start();
  t.after(() => c.stop());
  const res = spawnSync(
    'softflowd',
    [
      '-r',
      file,
      '-v',
      '10',
      '-s',
      '100',
      '-n',
      `127.0.0.1:${c.addresses().udp[0]}`,
      '-c',
      'none',
      '-m',
      '1000000',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(res.status, 0, res.stderr);
  // The collector batches: flush until two rounds bring nothing new.
  let last = -1;
  for (let i = 0, quiet = 0; i < 100 && quiet < 3; i++) {
    c.flush();
    await new Promise((ok) => setTimeout(ok, 100));
    quiet = got.length === last && got.length > 0 ? quiet + 1 : 0;
    last = got.length;
  }
  const flows = got.filter((x) => x.type === 'exported_flow') as unknown as AnyRecord[];
  assert.ok(flows.length > 100, `collected ${flows.length} records`);
  const rates = new Set(flows.map((f) => f.sampling_rate));
  assert.deepEqual([...rates], [100], 'softflowd states its sampling rate');
  // Sampling keeps about 1 packet in 100: far fewer records than the 65,000 flows sent.
  assert.ok(flows.length < 6500, `${flows.length} records`);

  const alerts: AlertInput[] = [];
  const det = createDetectors({}, { emitter: { raise: (a) => alerts.push(a) } });
  flows.sort((a, b) => String(a.last_ts).localeCompare(String(b.last_ts)));
  for (const f of flows) det.onRecord(f);
  det.finish();
  const has = (d: string, pred: (a: AlertInput) => boolean): boolean =>
    alerts.some((a) => a.detector === d && pred(a));
  assert.ok(
    has('scan.vertical', (a) => a.src_ip === '10.1.9.9' && a.dst_ip === '10.0.0.20'),
    'vertical scan',
  );
  assert.ok(
    has('scan.horizontal', (a) => a.src_ip === '10.1.9.10' && a.dst_port === 445),
    'horizontal scan',
  );
  assert.ok(
    has('ddos.syn_flood', (a) => a.dst_ip === '10.0.0.80'),
    'SYN flood',
  );
  const flood = alerts.find((a) => a.detector === 'ddos.syn_flood');
  assert.equal((flood?.evidence as { sampling_rate?: number }).sampling_rate, 100);
});
