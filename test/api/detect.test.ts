import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AlertRecord } from '../../src/schema/alert.js';
import { type Conversation, trafficPcap } from '../support/traffic.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;
const T0 = Date.UTC(2024, 2, 1, 9) / 1000;

/** 10.0.0.66 tries 200 ports of 10.0.0.9 in 20 seconds; all but 22 and 443 refused. */
function scan(): Conversation[] {
  const out: Conversation[] = [];
  for (let p = 1; p <= 200; p++) {
    out.push({
      client: '10.0.0.66',
      server: '10.0.0.9',
      proto: 6,
      cport: 40000 + p,
      sport: p,
      t: T0 + p * 0.1,
      refused: p !== 22 && p !== 443,
    });
  }
  return out;
}

async function upload(pcap: Buffer) {
  const r = await fetch(`${h.base}/api/v1/captures?wait=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/octet-stream' },
    body: pcap,
  });
  assert.equal(r.status, 201, await r.text());
}

const scanAlerts = async () =>
  (
    await get(
      h,
      `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent('category = "scan"')}`,
      h.viewer,
    )
  ).json.items as AlertRecord[];

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe('detectors in vantage start', () => {
  it('find a scan in an uploaded capture, with its evidence', async () => {
    await upload(trafficPcap(scan()));
    h.product.alerts.flush();
    await h.product.alertHub.flush();
    const alerts = await scanAlerts();
    assert.equal(alerts.length, 1, JSON.stringify(alerts.map((a) => a.title)));
    assert.equal(alerts[0]!.src_ip, '10.0.0.66');
    assert.equal(alerts[0]!.attack_technique?.startsWith('T1046'), true);
    assert.equal(alerts[0]!.retro, false);
  });

  it('run over stored history on request; the same scan found again, marked retro', async () => {
    const r = await fetch(`${h.base}/api/v1/detect/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        after: new Date((T0 - 60) * 1000).toISOString(),
        before: new Date((T0 + 600) * 1000).toISOString(),
      }),
    });
    assert.equal(r.status, 202);
    const run = (await r.json()) as { id: string };
    let state = 'running';
    let body: Record<string, unknown> = {};
    for (let i = 0; i < 100 && state === 'running'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      body = (await get(h, `/api/v1/detect/runs/${run.id}`, h.viewer)).json;
      state = String(body.state);
    }
    assert.equal(state, 'done', JSON.stringify(body));
    assert.ok(Number(body.records) >= 200);
    const retro = (await scanAlerts()).filter((a) => a.retro);
    assert.equal(retro.length, 1);
    assert.equal(retro[0]!.src_ip, '10.0.0.66');
    const viewer = await fetch(`${h.base}/api/v1/detect/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.viewer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ after: '-1h' }),
    });
    assert.equal(viewer.status, 403);
  });
});
