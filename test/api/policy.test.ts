import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PolicyDoc } from '../../src/policy/model.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { benign, T0, violations } from '../policy/tiers.js';
import { trafficPcap } from '../support/traffic.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(h.base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body instanceof Buffer
        ? { 'content-type': 'application/octet-stream' }
        : body !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
    },
    ...(body === undefined ? {} : { body: body instanceof Buffer ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

before(async () => {
  h = await startHarness();
  const up = await call('POST', '/api/v1/captures?wait=true', h.analyst, trafficPcap(benign(1, T0, 2, true)));
  assert.equal(up.status, 201, up.text);
});
after(async () => {
  await h.close();
});

describe('policy API: propose, review, approve, then violations', () => {
  let proposal: PolicyDoc;

  it('an analyst proposes from stored flows; a viewer cannot', async () => {
    const body = { after: new Date(T0 * 1000).toISOString() };
    assert.equal((await call('POST', '/api/v1/policy/proposals', h.viewer, body)).status, 403);
    const r = await call('POST', '/api/v1/policy/proposals', h.analyst, body);
    assert.equal(r.status, 201, r.text);
    proposal = r.json as unknown as PolicyDoc;
    assert.equal(proposal.created_by, 'test');
    assert.ok(proposal.edges.length > 5);
    const list = await get(h, '/api/v1/policy/proposals', h.viewer);
    assert.equal((list.json.items as unknown[]).length, 1);
    const one = await get(h, `/api/v1/policy/proposals/${proposal.id}`, h.viewer);
    assert.equal(((one.json.diff as { added: unknown[] }).added ?? []).length, proposal.edges.length);
  });

  it('only an admin reviews and approves, and never their own proposal', async () => {
    const changes = proposal.edges.map((e) => ({ edge: e.id, status: 'approved' }));
    assert.equal(
      (await call('PATCH', `/api/v1/policy/proposals/${proposal.id}/edges`, h.analyst, { changes })).status,
      403,
    );
    const rev = await call('PATCH', `/api/v1/policy/proposals/${proposal.id}/edges`, h.admin, { changes });
    assert.equal(rev.status, 200, rev.text);
    const bad = await call('PATCH', `/api/v1/policy/proposals/${proposal.id}/edges`, h.admin, {
      changes: [{ edge: 'nope', status: 'approved' }],
    });
    assert.equal(
      bad.status,
      409,
      'an edge the proposal does not have conflicts with its state; the proposal exists',
    );
    assert.equal(
      (await call('POST', `/api/v1/policy/proposals/${proposal.id}/approve`, h.analyst)).status,
      403,
    );
    const ok = await call('POST', `/api/v1/policy/proposals/${proposal.id}/approve`, h.admin);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.version, 1);
    // The admin's own proposal waits for another admin.
    const mine = await call('POST', '/api/v1/policy/proposals', h.admin, {
      after: new Date(T0 * 1000).toISOString(),
    });
    assert.equal(mine.status, 201);
    const self = await call('POST', `/api/v1/policy/proposals/${mine.json.id}/approve`, h.admin);
    assert.equal(self.status, 403);
    assert.match(self.text, /cannot approve it/);
  });

  it('flags exactly the two flows outside the approved policy, and exports it', async () => {
    const up = await call(
      'POST',
      '/api/v1/captures?wait=true',
      h.analyst,
      trafficPcap([...benign(2, T0 + 86_400, 1, false), ...violations(T0 + 86_400)]),
    );
    assert.equal(up.status, 201);
    h.product.alerts.flush();
    await h.product.alertHub.flush();
    const list = await get(
      h,
      `/api/v1/alerts?after=2000-01-01&filter=${encodeURIComponent('category = "policy"')}`,
      h.viewer,
    );
    const alerts = list.json.items as AlertRecord[];
    assert.deepEqual(alerts.map((a) => `${a.src_ip} ${a.dst_ip}:${a.dst_port}`).sort(), [
      '10.0.1.2 10.0.3.1:5432',
      '10.0.9.5 198.51.100.7:443',
    ]);
    const comp = await get(h, '/api/v1/policy/compliance', h.viewer);
    assert.equal((comp.json.totals as { escaped: number }).escaped, 3);
    const nft = await call('GET', '/api/v1/policy/versions/1/export?format=nft', h.viewer);
    assert.equal(nft.status, 200);
    assert.match(nft.text, /table inet vantage_policy/);
  });
});
