import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLocalAddress } from '../../src/api/geoip.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

async function send(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(h.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

describe('me', () => {
  it('names the calling token and its role', async () => {
    const r = await get(h, '/api/v1/me', h.viewer);
    assert.equal(r.status, 200);
    assert.equal(r.json.role, 'viewer');
    assert.equal((await get(h, '/api/v1/me', h.admin)).json.role, 'admin');
    assert.equal((await get(h, '/api/v1/me', null)).status, 401);
  });
});

describe('dashboards', () => {
  const widgets = [
    { id: 'w1', kind: 'timeseries', title: 'HTTPS', metric: 'bps', filter: 'server_port = 443', width: 2 },
    { id: 'w2', kind: 'number', title: 'Bytes', by: 'bytes' },
    { id: 'w3', kind: 'monitor', title: 'CRM', monitor: 'crm.rtt', width: 1 },
  ];

  it('saves per user: private ones are invisible to others, shared ones readable but not changeable', async () => {
    const c = await send('POST', '/api/v1/dashboards', h.viewer, { name: 'Mine', widgets });
    assert.equal(c.status, 201);
    const id = c.json!.id as string;
    assert.equal(c.json!.mine, true);
    assert.ok(existsSync(join(h.product.store.dataDir, 'dashboards.json')));

    // The analyst does not see a private dashboard, even by id.
    assert.equal((await get(h, `/api/v1/dashboards/${id}`, h.analyst)).status, 404);
    const list = await get(h, '/api/v1/dashboards', h.analyst);
    assert.ok(!(list.json.items as { id: string }[]).some((d) => d.id === id));

    // Shared: readable by the analyst, still changeable only by the owner or an admin.
    const u = await send('PUT', `/api/v1/dashboards/${id}`, h.viewer, {
      name: 'Mine, shared',
      shared: true,
      widgets,
    });
    assert.equal(u.status, 200);
    const seen = await get(h, `/api/v1/dashboards/${id}`, h.analyst);
    assert.equal(seen.status, 200);
    assert.equal(seen.json.mine, false);
    assert.deepEqual(
      (seen.json.widgets as { id: string }[]).map((w) => w.id),
      ['w1', 'w2', 'w3'],
    );
    // A monitor widget keeps the monitor it shows.
    assert.deepEqual((seen.json.widgets as unknown[])[2], widgets[2]);
    const denied = await send('PUT', `/api/v1/dashboards/${id}`, h.analyst, { name: 'x', widgets: [] });
    assert.equal(denied.status, 403);
    assert.match((denied.json!.error as { message: string }).message, /owner/);
    assert.equal((await send('DELETE', `/api/v1/dashboards/${id}`, h.analyst)).status, 403);
    assert.equal((await send('DELETE', `/api/v1/dashboards/${id}`, h.admin)).status, 204);
    assert.equal((await get(h, `/api/v1/dashboards/${id}`, h.viewer)).status, 404);
  });

  it('refuses malformed widgets with a message', async () => {
    const r = await send('POST', '/api/v1/dashboards', h.viewer, {
      name: 'Bad',
      widgets: [{ id: 'w1', kind: 'pie', title: 'x' }],
    });
    assert.equal(r.status, 400);
    assert.match((r.json!.error as { message: string }).message, /invalid body/);
  });
});

describe('geo', () => {
  it('ranks countries of flow endpoints; private addresses have none', async () => {
    const r = await get(h, '/api/v1/geo/countries?limit=5');
    assert.equal(r.status, 200);
    const items = r.json.items as { country: string; bytes: number; flows: number }[];
    assert.ok(items.length > 0);
    // The sample conversations are between 10.1.0.0/24 clients and their servers.
    const flows = await get(h, '/api/v1/top?dim=proto&limit=100');
    const total = (flows.json.items as { bytes: number }[]).reduce((a, i) => a + i.bytes, 0);
    assert.ok(items.reduce((a, i) => a + i.bytes, 0) >= total, 'every flow counts for each of its ends');
    assert.equal((await get(h, '/api/v1/geo/ip/10.1.0.5')).json.country, null);
    assert.equal((await get(h, '/api/v1/geo/ip/nope')).status, 400);
    if (r.json.source) assert.equal((await get(h, '/api/v1/geo/ip/8.8.8.8')).json.country, 'US');
  });

  it('knows local address space', () => {
    for (const ip of [
      '10.0.0.1',
      '192.168.1.1',
      '172.16.0.1',
      '127.0.0.1',
      '169.254.1.1',
      'fe80::1',
      'fd00::1',
      '::1',
    ])
      assert.equal(isLocalAddress(ip), true, ip);
    for (const ip of ['8.8.8.8', '172.32.0.1', '2001:4860::8888'])
      assert.equal(isLocalAddress(ip), false, ip);
  });
});
