import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createVxlanReceiver } from '../../src/capture/mirror.js';
import { createInlinePipeline } from '../../src/capture/workers/pipeline.js';
import type { SensorRecord } from '../../src/flow/sensor.js';
import {
  fileRecords,
  flowSummary,
  LIVE_FIXTURES,
  NO_TIMEOUTS,
  PCAPS,
  readFrames,
  sendVxlan,
  typeCounts,
} from './support.js';

/**
 * A fixture capture re-encapsulated in VXLAN and sent over loopback to the receiver gives the
 * same flows (and L7 records) as the Sensor run on the file, with the VNI and the outer
 * addresses on every flow.
 */
describe('VXLAN mirror receiver over loopback', () => {
  for (const name of LIVE_FIXTURES) {
    test(name, async () => {
      const path = PCAPS + name;
      const frames = await readFrames(path);
      const records: SensorRecord[] = [];
      const pipeline = createInlinePipeline((r) => records.push(r), { flow: NO_TIMEOUTS, l7: true });
      const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0 }, pipeline.onFrame);
      await rx.start();
      const { port } = rx.address();
      await sendVxlan(frames, '127.0.0.1', port, 4242, () => rx.counters.delivered);
      await rx.stop();
      await pipeline.finish();
      assert.equal(rx.counters.received, frames.length);
      assert.equal(rx.counters.delivered, frames.length);
      assert.equal(rx.counters.socketDrops, 0);

      const want = await fileRecords(path);
      assert.deepEqual(flowSummary(records), flowSummary(want));
      const flows = records.filter((r) => r.type === 'flow') as Array<Record<string, unknown>>;
      assert.ok(flows.length > 0);
      for (const f of flows) {
        assert.equal(f.vni, 4242);
        assert.equal(f.tunnel, 'vxlan');
        assert.equal(f.tunnel_outer_src, '127.0.0.1');
        assert.equal(f.tunnel_outer_dst, '127.0.0.1');
      }
      // Application-layer records are the same too (DNS, HTTP, TLS...).
      const { flow: _a, ...gotTypes } = typeCounts(records);
      const { flow: _b, ...wantTypes } = typeCounts(want);
      assert.deepEqual(gotTypes, wantTypes);
    });
  }

  test('datagrams that are not VXLAN are counted, not decoded', async () => {
    const got: number[] = [];
    const rx = createVxlanReceiver({ host: '127.0.0.1', port: 0 }, (f) => got.push(f.caplen));
    await rx.start();
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    const send = (b: Buffer): Promise<void> =>
      new Promise((r) => s.send(b, rx.address().port, '127.0.0.1', () => r()));
    await send(Buffer.from('hello'));
    await send(Buffer.alloc(40)); // no I flag
    const ok = Buffer.alloc(8 + 60);
    ok[0] = 0x08;
    ok.writeUInt32BE(7 << 8, 4);
    await send(ok);
    const deadline = Date.now() + 2000;
    while (rx.counters.received < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    s.close();
    await rx.stop();
    assert.deepEqual(rx.counters.malformed, { vxlan_too_short: 1, vxlan_no_vni_flag: 1 });
    assert.deepEqual(got, [28 + 68]);
  });
});
