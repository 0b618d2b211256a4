import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBroker } from '../../src/broker/index.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { createGreReceiver } from '../../src/capture/mirror.js';
import { createInlinePipeline } from '../../src/capture/workers/pipeline.js';
import type { SensorRecord } from '../../src/flow/sensor.js';
import {
  fileRecords,
  flowSummary,
  missingAddon,
  NO_TIMEOUTS,
  PCAPS,
  readFrames,
  requireOrSkip,
  sleep,
} from './support.js';

const FILES = ['http-methods-many.pcap', 'dns-udp-many-types-nxdomain.pcap', 'icmp-echo-pings.pcap'];

/**
 * GRE and ERSPAN II, both ways, on loopback: the broker sends fixture captures to 127.0.0.1
 * as GRE (key 7) and as ERSPAN (session 9) through the addon's raw socket; the GRE receiver
 * (raw IP protocol 47) gets them, and the flows of each tunnel match the Sensor on the files.
 */
test('broker GRE + ERSPAN delivery → GRE/ERSPAN receiver on loopback', async (t) => {
  const miss = [...missingAddon()];
  if (process.getuid?.() !== 0) miss.push('root (raw sockets)');
  if (!requireOrSkip(t, miss)) return;
  const records: SensorRecord[] = [];
  const pipeline = createInlinePipeline((r) => records.push(r), { flow: NO_TIMEOUTS, l7: false });
  const rx = createGreReceiver({ bindIp: '127.0.0.1' }, pipeline.onFrame);
  await rx.start();
  const broker = createBroker();
  await broker.addTarget({ name: 'gre', deliver: { type: 'gre', host: '127.0.0.1', key: 7 } });
  await broker.addTarget({ name: 'erspan', deliver: { type: 'erspan', host: '127.0.0.1', session: 9 } });
  await broker.start();
  let total = 0;
  for (const f of FILES) {
    total += (await readFrames(PCAPS + f)).length;
    await readCaptureFile(PCAPS + f, broker.onFrame);
    const deadline = Date.now() + 5000;
    while (rx.counters.delivered < total * 2 && Date.now() < deadline) await sleep(5);
  }
  await broker.stop();
  await rx.stop();
  await pipeline.finish();
  const st = broker.stats();
  for (const tg of st.targets) {
    assert.equal(tg.sent, total, JSON.stringify(tg));
    assert.equal(tg.dropped, 0);
  }
  assert.equal(rx.counters.delivered, total * 2);

  const want: SensorRecord[] = [];
  for (const f of FILES) {
    const recs = await fileRecords(PCAPS + f);
    want.push(...recs);
  }
  const flows = records.filter((r) => r.type === 'flow') as Array<Record<string, unknown>>;
  const gre = flows.filter((f) => f.tunnel === 'gre');
  const erspan = flows.filter((f) => f.tunnel === 'erspan');
  const plain = (fs: Array<Record<string, unknown>>): string[] =>
    flowSummary(fs as unknown as SensorRecord[], false);
  assert.deepEqual(plain(gre), flowSummary(want, false));
  assert.deepEqual(plain(erspan), flowSummary(want, false));
  for (const f of gre) assert.equal(f.gre_key, 7);
  for (const f of erspan) assert.equal(f.erspan_session, 9);
  for (const f of flows) assert.equal(f.tunnel_outer_src, '127.0.0.1');
});
