import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AlertRecord } from '../../src/schema/alert.js';
import { tcpdumpSkip } from '../pcapstore/helpers.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;
let flow: Record<string, unknown>;
let alert: AlertRecord;

async function send(method: string, path: string, token: string, body: unknown) {
  const res = await fetch(h.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  h = await startHarness();
  const flows = await get(h, '/api/v1/flows?limit=1&filter=proto%20%3D%206&after=2000-01-01', h.admin);
  flow = (flows.json.items as Record<string, unknown>[])[0]!;
  // A finding about one of the sample's TCP connections, raised the way every detector does.
  const ts = Date.parse(String(flow.first_ts));
  h.product.alerts.raise({
    ts,
    category: 'intel',
    detector: 'intel.ip',
    title: `Contact with listed address ${flow.server_ip}`,
    severity: 80,
    confidence: 90,
    src_ip: String(flow.client_ip),
    src_port: Number(flow.client_port),
    dst_ip: String(flow.server_ip),
    dst_port: Number(flow.server_port),
    proto: 6,
    community_id: String(flow.community_id),
    evidence: { flow_ids: [flow.flow_id] },
  });
  await h.product.alertHub.flush();
  const list = await get(h, '/api/v1/alerts?after=2000-01-01', h.viewer);
  assert.equal(list.status, 200);
  alert = (list.json.items as AlertRecord[])[0]!;
});
after(async () => {
  await h.close();
});

describe('alerts API', () => {
  it('lists alerts like every record type, with filters', async () => {
    assert.equal(alert.detector, 'intel.ip');
    assert.equal(alert.severity_label, 'high');
    assert.equal(alert.status, 'new');
    assert.equal(alert.community_id, flow.community_id);
    const none = await get(h, '/api/v1/alerts?after=2000-01-01&filter=severity%20%3E%3D%2090', h.viewer);
    assert.deepEqual(none.json.items, []);
    const csv = await get(h, '/api/v1/alerts?after=2000-01-01&format=csv', h.viewer);
    assert.match(csv.text.split('\n')[0]!, /^alert_id,ts,/);
  });

  it('answers one alert with its pivot URLs, and 404 for an unknown id', async () => {
    const one = await get(h, `/api/v1/alerts/${alert.alert_id}`, h.viewer);
    assert.equal(one.status, 200);
    const links = one.json.links as Record<string, string>;
    assert.match(links.flow!, /^\/#\/pivot\?community_id=/);
    assert.match(links.src!, new RegExp(`ip=${String(flow.client_ip).replaceAll('.', '\\.')}&ts=`));
    assert.equal((await get(h, '/api/v1/alerts/no-such-alert', h.viewer)).status, 404);
    assert.equal((await get(h, '/api/v1/alerts/bad%20id', h.viewer)).status, 400);
  });

  it('lets an analyst change the status, not a viewer; audited; kept when the detector updates it', async () => {
    const denied = await send('PATCH', `/api/v1/alerts/${alert.alert_id}`, h.viewer, {
      status: 'acknowledged',
    });
    assert.equal(denied.status, 403);
    const bad = await send('PATCH', `/api/v1/alerts/${alert.alert_id}`, h.analyst, { status: 'done' });
    assert.equal(bad.status, 400);
    assert.match(
      String((bad.json.error as { message: string }).message),
      /new, acknowledged, closed, false_positive/,
    );
    const ok = await send('PATCH', `/api/v1/alerts/${alert.alert_id}`, h.analyst, {
      status: 'acknowledged',
      assignee: 'alice',
      notes: 'looking',
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.status, 'acknowledged');
    const audit = readFileSync(join(h.dir, 'data', 'audit.log'), 'utf8');
    assert.match(audit, new RegExp(`"action":"alert.update","actor":"test".*${alert.alert_id}`));
    // The episode goes on: the detector's rewrite keeps what the analyst set.
    h.product.alerts.raise({
      ts: Date.parse(alert.first_ts) + 1000,
      category: 'intel',
      detector: 'intel.ip',
      title: alert.title,
      severity: 80,
      confidence: 90,
      src_ip: alert.src_ip,
      dst_ip: alert.dst_ip,
    });
    await h.product.alertHub.flush();
    const after1 = await get(h, `/api/v1/alerts/${alert.alert_id}`, h.viewer);
    const a = after1.json.alert as AlertRecord;
    assert.equal(a.count, 2);
    assert.equal(a.status, 'acknowledged');
    assert.equal(a.assignee, 'alice');
  });

  it("downloads the alert's packets: exactly its connection, readable by tcpdump", async (t) => {
    const skip = tcpdumpSkip();
    if (skip) return t.skip(skip);
    const res = await fetch(`${h.base}/api/v1/alerts/${alert.alert_id}/pcap`, {
      headers: { authorization: `Bearer ${h.analyst}` },
    });
    assert.equal(res.status, 200);
    const path = join(h.dir, 'alert.pcap');
    writeFileSync(path, Buffer.from(await res.arrayBuffer()));
    const r = spawnSync('tcpdump', ['-nr', path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, Number(flow.client_packets) + Number(flow.server_packets));
    for (const l of lines) assert.ok(l.includes(`${flow.client_ip}.${flow.client_port}`), l);
    assert.equal((await get(h, `/api/v1/alerts/${alert.alert_id}/pcap`, h.viewer)).status, 403);
  });

  it('says whether the hosts still talk, and gives the context around the alert', async () => {
    const p = await get(h, `/api/v1/alerts/${alert.alert_id}/presence?since=2000-01-01`, h.analyst);
    assert.equal(p.status, 200);
    const pres = p.json.presence as { flows: number; lastSeen: string | null };
    assert.ok(pres.flows >= 1);
    assert.ok(pres.lastSeen);
    const recent = await get(h, `/api/v1/alerts/${alert.alert_id}/presence`, h.analyst);
    assert.equal((recent.json.presence as { flows: number }).flows, 0);
    const c = await get(h, `/api/v1/alerts/${alert.alert_id}/context`, h.viewer);
    assert.equal(c.status, 200);
    assert.ok((c.json.flows as number) >= 1);
    assert.match((c.json.links as Record<string, string>).dashboard!, /^\/#\/overview\?from=/);
  });
});

describe('monitors API', () => {
  it('lets an analyst create a monitor, not a viewer; names the bad rule', async () => {
    const spec = { filter: 'proto = 6', rules: ['flows < 1000 for 1m'], severity: 55 };
    assert.equal((await send('PUT', '/api/v1/monitors/web', h.viewer, spec)).status, 403);
    const bad = await send('PUT', '/api/v1/monitors/web', h.analyst, { ...spec, rules: ['flows <'] });
    assert.equal(bad.status, 400);
    assert.match(String((bad.json.error as { message: string }).message), /^rules\[0\]: /);
    const ok = await send('PUT', '/api/v1/monitors/web', h.analyst, spec);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.name, 'web');
    const list = await get(h, '/api/v1/monitors', h.viewer);
    assert.deepEqual(
      (list.json.items as { name: string }[]).map((m) => m.name),
      ['web'],
    );
  });

  it('raises a threshold alert while a rule holds and closes it when the monitor goes', async () => {
    await h.product.monitors.evaluate(Date.parse(String(flow.first_ts)) + 120_000);
    await h.product.alertHub.flush();
    const m = await get(h, '/api/v1/monitors/web', h.viewer);
    const st = (m.json.state as { state: string; alert_id: string }[])[0]!;
    assert.equal(st.state, 'firing');
    const a = await get(h, `/api/v1/alerts/${st.alert_id}`, h.viewer);
    assert.equal((a.json.alert as AlertRecord).category, 'threshold');
    assert.equal((a.json.alert as AlertRecord).severity, 55);
    const del = await fetch(`${h.base}/api/v1/monitors/web`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.analyst}` },
    });
    assert.equal(del.status, 204);
    await h.product.alertHub.flush();
    const closed = await get(h, `/api/v1/alerts/${st.alert_id}`, h.viewer);
    assert.equal((closed.json.alert as AlertRecord).status, 'closed');
  });
});
