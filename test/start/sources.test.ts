import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { fileRecords, missingAddon, PCAPS, readFrames, requireOrSkip, sendVxlan } from '../live/support.js';
import { api, type LiveHarness, startLive, until } from './support.js';

/**
 * `vantage start` with live sources: a fixture capture re-encapsulated in VXLAN reaches the
 * store (flows with the VNI, through the API) and the packet store (/api/v1/pcap), and the
 * source counters reach /metrics and /api/v1/stats.
 */
describe('startProduct with a VXLAN mirror source', () => {
  let h: LiveHarness;
  before(async () => {
    h = await startLive();
  });
  after(async () => {
    await h?.close();
  });

  test('mirrored packets become flows (with the VNI) and recorded packets', async () => {
    const path = `${PCAPS}http-methods-many.pcap`;
    const frames = await readFrames(path);
    await sendVxlan(frames, '127.0.0.1', h.vxlanPort, 4242, h.received);
    assert.equal(h.received(), frames.length);

    const want = (await fileRecords(path)).filter((r) => r.type === 'flow') as Array<Record<string, unknown>>;
    const wantIds = want.map((f) => String(f.community_id)).sort();
    const q = `/api/v1/flows?limit=1000&filter=${encodeURIComponent('vni = 4242')}`;
    // Flows end on the idle timer (no more packets come) and are stored by the flush timer.
    const flows = await until(
      async () => {
        const r = await api(h, q, h.viewer);
        const items = (r.json.items ?? []) as Array<Record<string, unknown>>;
        return items.length >= want.length ? items : null;
      },
      15_000,
      `${want.length} flows with vni 4242`,
    );
    assert.deepEqual(flows.map((f) => String(f.community_id)).sort(), wantIds);
    for (const f of flows) {
      assert.equal(f.vni, 4242);
      assert.equal(f.tunnel, 'vxlan');
    }

    const pc = await until(
      async () => {
        const r = await api(h, '/api/v1/pcap?vni=4242&count=true', h.analyst);
        return r.status === 200 && r.json.packets === frames.length ? r : null;
      },
      10_000,
      'recorded packets',
    );
    assert.equal(pc.json.packets, frames.length);
    const dl = await fetch(`${h.base}/api/v1/pcap?vni=4242`, {
      headers: { authorization: `Bearer ${h.analyst}` },
    });
    assert.equal(dl.status, 200);
    const bytes = Buffer.from(await dl.arrayBuffer());
    assert.ok(bytes.length > 24 + frames.length * 16, `pcap of ${bytes.length} bytes`);

    const m = await (
      await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.viewer}` } })
    ).text();
    assert.match(
      m,
      new RegExp(`vantage_source_packets\\{source="mirror.vxlan\\[0\\]",kind="vxlan"\\} ${frames.length}\\n`),
    );
    assert.match(m, /vantage_source_socket_drops\{source="mirror.vxlan\[0\]",kind="vxlan"\} 0\n/);
    assert.match(m, /vantage_broker_packets \d+/);
    assert.match(m, /vantage_live_records_total\{type="flow"\} \d+/);

    const st = await api(h, '/api/v1/stats', h.viewer);
    const sources = st.json.sources as Array<Record<string, unknown>>;
    assert.equal(sources.length, 1);
    assert.equal(sources[0]!.name, 'mirror.vxlan[0]');
    assert.equal(sources[0]!.packets, frames.length);
    assert.ok(st.json.broker, 'broker counters in /api/v1/stats');
    assert.ok(st.json.rows, 'store statistics still there');
  });
});

describe('startProduct with a live interface', () => {
  test('capture on lo counts the packets its filter selects', async (t) => {
    if (!requireOrSkip(t, [...missingAddon(), ...(process.getuid?.() === 0 ? [] : ['root or CAP_NET_RAW'])]))
      return;
    const port = 40000 + (process.pid % 20000);
    const h = await startLive({
      vxlan: false,
      capture: [{ interface: 'lo', filter: `udp dst port ${port}` }],
    });
    try {
      const s = createSocket('udp4');
      await until(() => h.product.sources()[0]!.name === 'capture[0]', 2000, 'source');
      // Give libpcap a moment to attach, then send.
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 20; i++)
        await new Promise<void>((r) => s.send(Buffer.alloc(32, i), port, '127.0.0.1', () => r()));
      s.close();
      await until(() => h.product.sources()[0]!.packets >= 20, 5000, '20 captured packets');
      assert.equal(h.product.sources()[0]!.packets, 20);
      const flows = await until(
        async () => {
          const r = await api(
            h,
            `/api/v1/flows?filter=${encodeURIComponent(`server_port = ${port}`)}`,
            h.viewer,
          );
          const items = (r.json.items ?? []) as Array<Record<string, unknown>>;
          return items.length > 0 ? items : null;
        },
        10_000,
        'the captured flow',
      );
      assert.equal(flows[0]!.client_packets, 20);
    } finally {
      await h.close();
    }
  });
});
