import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SensorRecord } from '../../src/flow/sensor.js';
import {
  cliArgs,
  fileRecords,
  flowSummary,
  LIVE_FIXTURES,
  lastJsonLine,
  missingForNetns,
  Netns,
  PCAPS,
  readFrames,
  requireOrSkip,
  sleep,
  startAndWait,
  stdoutRecords,
} from './support.js';

const missing = missingForNetns(['tcpreplay']);

/**
 * The kernel's own VXLAN device as the mirror sender: namespace A has a vxlan device (VNI 42)
 * whose remote end is namespace B over a veth; tcpreplay sends a fixture capture into the
 * vxlan device; `vantage mirror --vxlan` in B receives the encapsulated packets and meters the
 * same flows as the Sensor on the file, each carrying VNI 42 and the outer addresses.
 */
let a: Netns | null = null;
let b: Netns | null = null;
before(() => {
  if (missing.length > 0) return;
  a = new Netns('vxa');
  b = new Netns('vxb');
  a.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
  a.exec('ip', ['link', 'set', 'va', 'mtu', '9000']);
  b.exec('ip', ['link', 'set', 'vb', 'mtu', '9000']);
  a.exec('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'va']);
  b.exec('ip', ['addr', 'add', '10.200.0.2/24', 'dev', 'vb']);
  a.exec('ip', ['link', 'set', 'va', 'up']);
  b.exec('ip', ['link', 'set', 'vb', 'up']);
  a.exec('ip', [
    'link',
    'add',
    'vx0',
    'type',
    'vxlan',
    'id',
    '42',
    'remote',
    '10.200.0.2',
    'local',
    '10.200.0.1',
    'dstport',
    '4789',
    'dev',
    'va',
  ]);
  a.exec('ip', ['link', 'set', 'vx0', 'mtu', '8900']);
  a.exec('ip', ['link', 'set', 'vx0', 'up']);
});
after(() => {
  a?.cleanup();
  b?.cleanup();
});

test('kernel vxlan device → vantage mirror: flows match the files, VNI kept', async (t) => {
  if (!requireOrSkip(t, missing)) return;
  const files = LIVE_FIXTURES.map((f) => PCAPS + f);
  let packets = 0;
  for (const f of files) packets += (await readFrames(f)).length;
  const child = b!.spawn(
    process.execPath,
    cliArgs('mirror', [
      '--vxlan',
      '10.200.0.2:4789',
      '--summary',
      '--duration',
      '60',
      '--idle-timeout',
      '1000000',
      '--active-timeout',
      '10000000',
    ]),
  );
  const run = await startAndWait(child, /receiving vxlan on 10\.200\.0\.2:4789/);
  for (const f of files) a!.exec('tcpreplay', ['-q', '-i', 'vx0', '--pps', '20000', f]);
  await sleep(700);
  child.kill('SIGINT');
  assert.equal(await run.exited, 0, run.stderr());
  const summary = lastJsonLine(run.stderr());
  const rx = (summary.receivers as Array<Record<string, unknown>>)[0]!;
  assert.equal(rx.delivered, packets, JSON.stringify(summary));
  assert.equal(rx.socketDrops, 0);
  assert.equal(summary.packets, packets);
  const records = stdoutRecords(run);
  const want: SensorRecord[] = [];
  for (const f of files) want.push(...(await fileRecords(f)));
  assert.deepEqual(flowSummary(records), flowSummary(want));
  for (const r of records.filter((x) => x.type === 'flow') as Array<Record<string, unknown>>) {
    assert.equal(r.vni, 42);
    assert.equal(r.tunnel_outer_src, '10.200.0.1');
    assert.equal(r.tunnel_outer_dst, '10.200.0.2');
  }
});
