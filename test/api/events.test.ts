import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AlertRecord } from '../../src/schema/alert.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;
let ingest = '';

async function post(format: string, body: string, token = ingest) {
  const res = await fetch(`${h.base}/api/v1/events?format=${format}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  h = await startHarness();
  ingest = h.product.tokens.create('ingest', 'ids').token;
});
after(async () => {
  await h.close();
});

describe('events API', () => {
  it('turns posted events into alerts; a bad line is counted and its neighbours still count', async () => {
    const eve = (sig: string) =>
      JSON.stringify({
        timestamp: '2024-01-18T10:00:00.000000+0000',
        event_type: 'alert',
        src_ip: '10.0.0.5',
        src_port: 51000,
        dest_ip: '203.0.113.9',
        dest_port: 443,
        proto: 'TCP',
        alert: { signature_id: 2_000_001, signature: sig, severity: 1, category: 'Misc activity' },
      });
    const r = await post('eve', `${eve('ET TEST one')}\n{not json\n${eve('ET TEST one')}\n`);
    assert.equal(r.status, 202);
    assert.equal(r.json.alerts, 2);
    assert.deepEqual(r.json.weird, { eve_bad_json: 1 });
    h.product.alerts.flush();
    await h.product.alertHub.flush();
    const list = await get(
      h,
      `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent('source = "suricata"')}`,
      h.viewer,
    );
    const alerts = list.json.items as AlertRecord[];
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.count, 2);
    assert.equal(alerts[0]!.severity_label, 'high');
  });

  it('only ingest, analyst and admin tokens post; an ingest token reads nothing', async () => {
    assert.equal((await post('eve', '{}', h.viewer)).status, 403);
    assert.equal((await post('eve', '{}', h.analyst)).status, 202);
    assert.equal((await get(h, '/api/v1/flows', ingest)).status, 403);
    assert.equal((await post('xml', '{}')).status, 400);
  });

  it('keeps who logged on where, shows it on the host page and puts it on alerts', async () => {
    const logon =
      '<13>Jan 18 09:00:00 dc EventID=4624 TargetUserName=alice TargetDomainName=CORP IpAddress=10.0.0.7';
    const r = await post('syslog', `${logon}\n`);
    assert.equal(r.json.identities, 1);
    h.product.alerts.raise({
      ts: Date.now(),
      category: 'scan',
      detector: 'test',
      title: 'scan from a logged-on host',
      severity: 50,
      confidence: 50,
      src_ip: '10.0.0.7',
    });
    await h.product.alertHub.flush();
    const a = await get(
      h,
      `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent('detector = "test"')}`,
      h.viewer,
    );
    assert.equal((a.json.items as AlertRecord[])[0]!.src_user, 'CORP\\alice');
    await new Promise((res) => setTimeout(res, 1200));
    const host = await get(h, '/api/v1/hosts/10.0.0.7?after=2000-01-01', h.viewer);
    assert.deepEqual(
      (host.json.users as { user: string }[]).map((u) => u.user),
      ['alice'],
    );
  });
});
