import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { OPENAPI_FILE, startContractServer } from './contract.js';
import { get, type Harness, startHarness } from './harness.js';

const PROBLEM = 'application/problem+json; charset=utf-8';

type Doc = {
  components: { responses: Record<string, { content?: object }> };
  paths: Record<
    string,
    Record<string, { security?: unknown[]; responses: Record<string, { content?: object }> }>
  >;
};

/** A request with any method (fetch refuses TRACE). */
function raw(method: string, url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertProblem(r: Awaited<ReturnType<typeof get>>, status: number) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get('content-type'), PROBLEM);
  const p = r.json as Record<string, unknown>;
  assert.equal(p.status, status);
  assert.equal(typeof p.title, 'string');
  assert.match(String(p.type), /^urn:vantage:problem:/);
  assert.equal(typeof p.detail, 'string');
  assert.equal(p.request_id, r.headers.get('x-request-id'));
  // the v1 shape before problem documents, kept for compatibility
  assert.deepEqual((p.error as { message: string }).message, p.detail);
}

describe('API contract', () => {
  let h: Harness;
  before(async () => {
    h = await startContractServer();
  });
  after(() => h.close());

  it('serves the document checked in as docs/openapi.json', async () => {
    const served = (await get(h, '/api/v1/openapi.json', null)).json;
    let file: unknown = null;
    try {
      file = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
    } catch {}
    assert.deepEqual(
      served,
      file,
      'docs/openapi.json differs from what the server serves: run `npm run openapi` and commit docs/openapi.json',
    );
  });

  it('documents every route with the shared problem responses, security and content types', async () => {
    const doc = (await get(h, '/api/v1/openapi.json', null)).json as unknown as Doc;
    const ops = Object.entries(doc.paths).flatMap(([p, m]) =>
      Object.entries(m).map(([k, o]) => [p, k, o] as const),
    );
    assert.ok(ops.length >= 40, `${ops.length} operations`);
    for (const [path, method, op] of ops) {
      const codes = Object.keys(op.responses);
      for (const c of ['400', '404', '406', '429', '500'])
        assert.ok(codes.includes(c), `${method} ${path}: ${c}`);
      for (const [c, r0] of Object.entries(op.responses)) {
        const ref = (r0 as { $ref?: string }).$ref;
        const r = ref ? doc.components.responses[ref.split('/').pop()!]! : r0;
        if (Number(c) >= 400)
          assert.deepEqual(
            Object.keys(r.content ?? {}),
            ['application/problem+json'],
            `${method} ${path} ${c}`,
          );
      }
      // Health and sign-in are the only routes anyone may call.
      if (path === '/api/v1/health' || path.startsWith('/api/v1/session')) assert.deepEqual(op.security, []);
      else assert.ok(codes.includes('401') && codes.includes('403'), `${method} ${path}: 401/403`);
    }
    const flows = doc.paths['/api/v1/flows']!.get!.responses['200']!.content!;
    assert.deepEqual(Object.keys(flows).sort(), [
      'application/json',
      'application/vnd.apache.parquet',
      'application/x-ndjson',
      'text/csv',
    ]);
    const pcap = doc.paths['/api/v1/flows/{id}/pcap']!.get!.responses['200']!.content!;
    assert.ok('application/vnd.tcpdump.pcap' in pcap && 'application/x-pcapng' in pcap);
  });

  it('answers errors as RFC 9457 problem documents with the request id', async () => {
    assertProblem(await get(h, '/api/v1/nowhere'), 404);
    assertProblem(await get(h, '/api/v1/flows', null), 401);
    assertProblem(await get(h, '/api/v1/pcap', h.viewer), 403);
    const bad = await get(h, `/api/v1/flows?filter=${encodeURIComponent('server_port in (443,')}`);
    assertProblem(bad, 400);
    assert.equal(bad.json.type, 'urn:vantage:problem:filter');
    assert.equal(typeof bad.json.position, 'number');
    // the id a client sends is the id of the answer (and of the log line)
    const mine = await get(h, '/api/v1/nowhere', h.viewer, { 'x-request-id': 'siem-4711' });
    assert.equal(mine.headers.get('x-request-id'), 'siem-4711');
    assert.equal(mine.json.request_id, 'siem-4711');
  });

  it('refuses a flow id past 2^53 with a 400, not a 500', async () => {
    assertProblem(await get(h, '/api/v1/flows/532906130822455801353017394987008/pcap', h.analyst), 400);
  });

  it('answers an unexpected exception with a 500 that carries the request id, logged and counted', async () => {
    const store = h.product.store as unknown as { stats: () => Promise<unknown> };
    const stats = store.stats;
    store.stats = () => Promise.reject(new Error('disk on fire'));
    try {
      const r = await get(h, '/api/v1/stats', h.viewer, { 'x-request-id': 'boom-1' });
      assertProblem(r, 500);
      assert.match(String(r.json.detail), /boom-1/);
      assert.doesNotMatch(r.text, /disk on fire/);
    } finally {
      store.stats = stats;
    }
    const m = await get(h, '/metrics');
    assert.match(m.text, /vantage_api_errors_total\{route="\/api\/v1\/stats"\} 1/);
  });

  it('answers 405 with Allow for a method the path does not have, and OPTIONS with Allow', async () => {
    for (const method of ['TRACE', 'QUERY', 'DELETE']) {
      const r = await raw(method, `${h.base}/api/v1/flows`, { authorization: `Bearer ${h.viewer}` });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      assert.equal(r.headers['content-type'], PROBLEM);
    }
    const o = await fetch(`${h.base}/api/v1/dashboards`, { method: 'OPTIONS' });
    assert.equal(o.status, 204);
    assert.equal(o.headers.get('allow'), 'GET, HEAD, OPTIONS, POST');
  });

  it('answers 406 for an Accept the route cannot produce', async () => {
    assertProblem(await get(h, '/api/v1/flows', h.viewer, { accept: 'image/png' }), 406);
    assert.equal((await get(h, '/api/v1/flows', h.viewer, { accept: 'text/*' })).status, 200);
    assert.equal((await get(h, '/api/v1/flows', h.viewer, { accept: 'image/png, */*;q=0.1' })).status, 200);
  });

  it('tags GETs answered from memory with an ETag and honours If-None-Match', async () => {
    const a = await get(h, '/api/v1/fields');
    const tag = a.headers.get('etag');
    assert.match(tag ?? '', /^W\/"[A-Za-z0-9_-]+"$/);
    const b = await get(h, '/api/v1/fields', h.viewer, { 'if-none-match': tag! });
    assert.equal(b.status, 304);
    assert.equal(b.text, '');
    assert.equal((await get(h, '/api/v1/fields', h.viewer, { 'if-none-match': 'W/"other"' })).status, 200);
  });

  it('replays a POST retried with the same Idempotency-Key, and refuses the key for another body', async () => {
    const post = (body: object, key?: string) =>
      fetch(`${h.base}/api/v1/dashboards`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${h.analyst}`,
          'content-type': 'application/json',
          ...(key ? { 'idempotency-key': key } : {}),
        },
        body: JSON.stringify(body),
      });
    const body = { name: 'retried', widgets: [] };
    const first = await post(body, 'key-1');
    const again = await post(body, 'key-1');
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotency-replayed'), 'true');
    const [a, b] = [(await first.json()) as { id: string }, (await again.json()) as { id: string }];
    assert.equal(a.id, b.id);
    assert.equal((await post({ name: 'other', widgets: [] }, 'key-1')).status, 422);
    const c = (await (await post(body)).json()) as { id: string };
    assert.notEqual(c.id, a.id);
    const list = (await get(h, '/api/v1/dashboards', h.analyst)).json as { items: { name: string }[] };
    assert.equal(list.items.filter((d) => d.name === 'retried').length, 2);
  });
});

describe('API contract: rate limit and CORS', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ rateLimit: 3, corsOrigins: ['https://soar.example'] });
  });
  after(() => h.close());

  it('answers CORS only for a configured origin', async () => {
    const pre = await fetch(`${h.base}/api/v1/flows`, {
      method: 'OPTIONS',
      headers: { origin: 'https://soar.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://soar.example');
    const other = await get(h, '/api/v1/health', null, { origin: 'https://evil.example' });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('answers 429 with Retry-After and RateLimit headers', async () => {
    let last: Awaited<ReturnType<typeof get>> | null = null;
    for (let i = 0; i < 5; i++) last = await get(h, '/api/v1/me');
    assertProblem(last!, 429);
    assert.match(last!.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(last!.headers.get('ratelimit-limit'), '3');
    assert.equal(last!.headers.get('ratelimit-remaining'), '0');
    assert.match(last!.headers.get('ratelimit-reset') ?? '', /^\d+$/);
  });
});
