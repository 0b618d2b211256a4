import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verifyWebhook } from '../../src/bus/sinks/webhook.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import { get, type Harness, startHarness } from './harness.js';

let h: Harness;
let receiver: Server;
let url = '';
const received: { valid: boolean; alerts: AlertRecord[] }[] = [];
const SECRET = 'sink-test-secret';

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(h.base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}

before(async () => {
  // A webhook receiver that checks the signature the way a user's receiver would.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const valid = verifyWebhook(SECRET, body, req.headers['vantage-signature'] as string | undefined);
      const parsed = JSON.parse(body) as AlertRecord | AlertRecord[];
      received.push({ valid, alerts: Array.isArray(parsed) ? parsed : [parsed] });
      res.writeHead(valid ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  h = await startHarness();
});
after(async () => {
  await h.close();
  receiver.close();
});

describe('sinks API', () => {
  it('an admin adds a signed webhook sink with a filter; others cannot', async () => {
    const spec = { name: 'soc', kind: 'webhook', filter: 'severity >= 70', webhook: { url, secret: SECRET } };
    assert.equal((await call('POST', '/api/v1/sinks', h.analyst, spec)).status, 403);
    const bad = await call('POST', '/api/v1/sinks', h.admin, { ...spec, webhook: { secret: SECRET } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /body\.webhook\.url/);
    const ok = await call('POST', '/api/v1/sinks', h.admin, spec);
    assert.equal(ok.status, 201, ok.text);
    // The same sink again (a retried request) is no conflict; another one under its name is.
    assert.equal((await call('POST', '/api/v1/sinks', h.admin, spec)).status, 200);
    assert.equal(
      (await call('POST', '/api/v1/sinks', h.admin, { ...spec, filter: 'severity >= 10' })).status,
      409,
    );
  });

  it('delivers the alerts its filter passes, signed; counts them', async () => {
    const base = {
      category: 'scan' as const,
      detector: 'test',
      confidence: 90,
      src_ip: '10.0.0.1',
      dst_ip: '10.0.0.2',
    };
    h.product.alerts.raise({ ...base, ts: Date.UTC(2024, 0, 1), title: 'high', severity: 80, key: 'a' });
    h.product.alerts.raise({ ...base, ts: Date.UTC(2024, 0, 1), title: 'low', severity: 30, key: 'b' });
    await h.product.alertHub.flush();
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(received.length, 1);
    assert.equal(received[0]!.valid, true);
    assert.deepEqual(
      received[0]!.alerts.map((a) => a.title),
      ['high'],
    );
    let row: { stats: { sent: number; filtered: number } } | undefined;
    for (let i = 0; i < 40; i++) {
      const list = await get(h, '/api/v1/sinks', h.admin);
      row = (list.json.items as { name: string; stats: { sent: number; filtered: number } }[]).find(
        (r) => r.name === 'soc',
      );
      if (row && row.stats.sent + row.stats.filtered === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(row!.stats.sent, 1);
    assert.equal(row!.stats.filtered, 1);
    const test = await call('POST', '/api/v1/sinks/soc/test', h.admin);
    assert.equal(test.json.ok, true);
    assert.deepEqual((await get(h, '/api/v1/sinks/soc/dead-letters', h.admin)).json.items, []);
    assert.equal((await call('DELETE', '/api/v1/sinks/soc', h.admin)).status, 204);
    assert.equal((await call('DELETE', '/api/v1/sinks/soc', h.admin)).status, 404);
  });
});
