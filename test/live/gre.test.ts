import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { createBroker } from '../../src/broker/index.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { createGreReceiver } from '../../src/capture/mirror.js';
import { createInlinePipeline } from '../../src/capture/workers/pipeline.js';
import type { SensorRecord } from '../../src/flow/sensor.js';
import {
  cliArgs,
  fileRecords,
  flowSummary,
  lastJsonLine,
  missingAddon,
  NO_TIMEOUTS,
  PCAPS,
  readFrames,
  requireOrSkip,
  sleep,
  startAndWait,
  stdoutRecords,
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

const NO_TIMEOUT_ARGS = ['--idle-timeout', '1000000', '--active-timeout', '10000000'];

/**
 * `vantage mirror --gre` (the addon's receive thread and ring by default, and `--ring off`): the
 * broker sends the fixtures as GRE (key 7) to a loopback address of its own; the command's
 * flows match the Sensor on the files and its summary accounts for every packet.
 */
for (const ring of ['32MiB', 'off']) {
  test(`vantage mirror --gre --ring ${ring}: flows match the files, every packet delivered`, async (t) => {
    const miss = [...missingAddon()];
    if (process.getuid?.() !== 0) miss.push('root (raw sockets)');
    if (!requireOrSkip(t, miss)) return;
    const host = ring === 'off' ? '127.0.0.8' : '127.0.0.7';
    const child = spawn(
      process.execPath,
      cliArgs('mirror', ['--gre', host, '--ring', ring, '--summary', '--duration', '60', ...NO_TIMEOUT_ARGS]),
    );
    const run = await startAndWait(
      child,
      new RegExp(`receiving gre/erspan on ${host.replaceAll('.', '\\.')}`),
    );
    const broker = createBroker();
    await broker.addTarget({ name: 'gre', deliver: { type: 'gre', host, key: 7 } });
    await broker.start();
    let total = 0;
    for (const f of FILES) {
      total += (await readFrames(PCAPS + f)).length;
      await readCaptureFile(PCAPS + f, broker.onFrame);
      await sleep(50);
    }
    await broker.stop();
    await sleep(700);
    child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.stderr());
    const summary = lastJsonLine(run.stderr());
    const rx = (summary.receivers as Array<Record<string, unknown>>)[0]!;
    assert.equal(rx.kind, 'gre');
    assert.equal(rx.delivered, total, JSON.stringify(summary));
    assert.equal(rx.socketDrops, 0);
    if (ring !== 'off') assert.equal(rx.ringFull, 0, JSON.stringify(rx));
    else assert.equal(rx.ringFull, undefined, 'without --ring the socket is read on the main thread');
    const records = stdoutRecords(run);
    const want: SensorRecord[] = [];
    for (const f of FILES) want.push(...(await fileRecords(PCAPS + f)));
    assert.deepEqual(flowSummary(records, false), flowSummary(want, false));
    for (const r of records.filter((x) => x.type === 'flow') as Array<Record<string, unknown>>) {
      assert.equal(r.tunnel, 'gre');
      assert.equal(r.gre_key, 7);
    }
  });
}
