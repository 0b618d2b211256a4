import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get, type Harness, rawRequest, startHarness } from './harness.js';

/**
 * Hostile inputs: every one must be answered with a 4xx (or a 2xx that did no harm), never a
 * 5xx, and the store must still hold the same data afterwards.
 */
let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const SQLI = [
  "' OR 1=1 --",
  '1; DROP TABLE live_flow; --',
  "x' UNION SELECT * FROM _partitions --",
  '"; DELETE FROM live_flow; --',
  "') OR ('1'='1",
  '1 OR 1=1',
  "admin'--",
  "' ; COPY live_flow TO '/tmp/x.csv' --",
  "'||(SELECT version())||'",
  '$1',
  '?',
  "\\' OR 1=1",
  '0x27 OR 1=1',
  "'; ATTACH '/tmp/evil.db' AS e; --",
  "'; INSTALL httpfs; LOAD httpfs; --",
  "read_csv('/etc/passwd')",
  '1) OR (1=1',
  '%27%20OR%201%3D1',
];

const FILTERS = [
  ...SQLI.map((s) => `app = "${s.replaceAll('"', '\\"')}"`),
  ...SQLI.map((s) => `app ~ '${s.replaceAll("'", "\\'")}'`),
  ...SQLI.map((s) => `client_ip = ${s}`),
  ...SQLI.map((s) => s),
  `client_ip = 10.0.0.0/8 and ${'('.repeat(200)}proto = 6${')'.repeat(200)}`,
  `${'not '.repeat(500)}proto = 6`,
  `${'proto = 6 and '.repeat(2000)}proto = 6`,
  `server_port in (${Array.from({ length: 5000 }, (_, i) => i).join(',')})`,
  'a'.repeat(10000),
  'proto = 99999999999999999999999',
  'first_ts > "not a time"',
  'client_mac = zz:zz:zz:zz:zz:zz',
  'interim = maybe',
  '"; --',
  'proto = 6 )',
  '(((',
  '\u0000',
  'proto\u0000 = 6',
  'app ~ "\uFFFD"',
  'client_ip = ::ffff:10.0.0.1/200',
  'client_ip = 1.2.3.4/-1',
  'duration_ms = NaN',
  'duration_ms = Infinity',
  'server_port = 1e400',
  '__proto__ = 1',
  'constructor = 1',
  '_seq = 1',
];

const PARAMS = [
  'limit=-1',
  'limit=0',
  'limit=100000000',
  'limit=abc',
  'limit=1;DROP TABLE live_flow',
  'sort=first_ts;DROP TABLE live_flow',
  'sort=_seq',
  'sort=__proto__',
  "fields=client_ip,'x'",
  'fields=*',
  'fields=_seq',
  `fields=${'client_ip,'.repeat(2000)}`,
  "after=2024-01-01'; DROP TABLE live_flow; --",
  'after=99999999999999999999',
  'before=-99999999h',
  'after=2024-13-45T99:99:99Z',
  `cursor=${Buffer.from('[1, "1; DROP TABLE x"]').toString('base64url')}`,
  `cursor=${Buffer.from('{"__proto__": {"x": 1}}').toString('base64url')}`,
  'cursor=%00%00',
  'format=xml',
  'format=../../etc/passwd',
  'order=sideways',
  'limit[]=1&limit[]=2',
  'filter[]=proto%3D6',
  'after=now&before=now',
];

describe('hostile inputs', () => {
  it('filters with injection attempts and pathological shapes never reach SQL as code', async () => {
    for (const f of FILTERS) {
      const r = await get(h, `/api/v1/flows?limit=5&filter=${encodeURIComponent(f)}`);
      assert.ok(
        r.status < 500,
        `${r.status} for filter ${JSON.stringify(f.slice(0, 80))}: ${r.text.slice(0, 200)}`,
      );
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${r.status} for ${f.slice(0, 80)}`);
    }
  });

  it('query parameters with injection attempts and bad values get 4xx', async () => {
    for (const endpoint of ['/api/v1/flows', '/api/v1/records/flow', '/api/v1/dns']) {
      for (const p of PARAMS) {
        const r = await get(h, `${endpoint}?${p}`);
        assert.ok(r.status < 500, `${r.status} for ${endpoint}?${p.slice(0, 80)}: ${r.text.slice(0, 200)}`);
      }
    }
    for (const p of [
      'metric=bps;DROP',
      'metric=bps&group_by=app;DROP TABLE',
      'metric=bps&step=1s&after=1970-01-01',
      'metric=bps&groups=1000000',
      'metric=bps&filter=%27',
    ]) {
      const r = await get(h, `/api/v1/kpis?${p}`);
      assert.ok(r.status < 500 && r.status >= 200, `${r.status} for kpis?${p}: ${r.text.slice(0, 200)}`);
    }
    for (const p of [
      "dim=server_ip'",
      'dim=_seq',
      'by=evil&dim=app',
      'dim=app&type=../../etc',
      'dim=app&limit=-5',
    ]) {
      const r = await get(h, `/api/v1/top?${p}`);
      assert.ok(r.status >= 400 && r.status < 500, `${r.status} for top?${p}: ${r.text.slice(0, 200)}`);
    }
    for (const q of [
      ...SQLI,
      'x'.repeat(300),
      '%',
      '_',
      '\\',
      '*',
      '0.0.0.0/0',
      '::/0',
      `1:${'A'.repeat(27)}=`,
    ]) {
      const r = await get(h, `/api/v1/search?q=${encodeURIComponent(q)}`);
      assert.ok(r.status < 500, `${r.status} for search ${q.slice(0, 60)}: ${r.text.slice(0, 200)}`);
    }
    for (const ip of [
      "1.1.1.1' OR 1=1",
      '..%2F..%2Fetc%2Fpasswd',
      '999.1.1.1',
      '::ffff:1.2.3.4.5',
      'a'.repeat(300),
    ]) {
      const r = await get(h, `/api/v1/hosts/${ip}`);
      assert.ok(r.status >= 400 && r.status < 500, `${r.status} for hosts/${ip.slice(0, 60)}`);
    }
  });

  it('path traversal and unknown routes get 4xx', async () => {
    const paths = [
      '/../../etc/passwd',
      '/api/v1/../../../etc/passwd',
      '/api/v1/records/..%2F..%2Fetc%2Fpasswd',
      '/api/v1/records/flow%00',
      '/api/v1/records/FLOW',
      '/api/v1/docs/../../../../etc/passwd',
      '/api/v1/docs/static/..%2F..%2F..%2Fpackage.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/api/v1/hosts/..%2F..',
      `/api/v1/records/${'a'.repeat(5000)}`,
      '/api/v1/tokens/../../captures',
      '/index.html/../../package.json',
    ];
    for (const p of paths) {
      const r = await get(h, p);
      assert.ok(r.status >= 400 && r.status < 500, `${r.status} for ${p.slice(0, 80)}`);
      assert.ok(!r.text.includes('root:x:0:0') && !r.text.includes('"name": "vantage"'), p);
    }
  });

  it('huge, deep and malformed bodies get 4xx', async () => {
    const post = (path: string, body: string | Buffer, type: string, token = h.admin) =>
      fetch(`${h.base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body,
      });
    const cases: [string, string | Buffer, string][] = [
      ['/api/v1/tokens', '{"role": "admin"'.repeat(1), 'application/json'],
      ['/api/v1/tokens', `${'['.repeat(100000)}${']'.repeat(100000)}`, 'application/json'],
      ['/api/v1/tokens', `${'{"a":'.repeat(50000)}1${'}'.repeat(50000)}`, 'application/json'],
      ['/api/v1/tokens', JSON.stringify({ role: 'admin', name: 'x'.repeat(2 << 20) }), 'application/json'],
      ['/api/v1/tokens', JSON.stringify({ role: 'root' }), 'application/json'],
      [
        '/api/v1/tokens',
        JSON.stringify({ role: 'viewer', __proto__: { admin: true }, extra: 1 }),
        'application/json',
      ],
      ['/api/v1/tokens', '{"constructor":{"prototype":{"role":"admin"}}}', 'application/json'],
      ['/api/v1/tokens', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'application/json'],
      ['/api/v1/tokens', 'role=admin', 'application/x-www-form-urlencoded'],
      ['/api/v1/tokens', '<xml/>', 'application/xml'],
      ['/api/v1/captures', Buffer.alloc(10), 'application/octet-stream'],
      ['/api/v1/captures', 'not multipart', 'multipart/form-data; boundary=xyz'],
      [
        '/api/v1/captures',
        '--xyz\r\nContent-Disposition: form-data; name="file"; filename="../../../etc/passwd"\r\n\r\nabc\r\n--xyz--\r\n',
        'multipart/form-data; boundary=xyz',
      ],
      ['/api/v1/captures', Buffer.alloc(100, 0xd4), 'application/vnd.tcpdump.pcap'],
      ['/api/v1/captures', 'x', 'text/plain'],
      ['/api/v1/flows', '{}', 'application/json'],
    ];
    for (const [path, body, type] of cases) {
      const r = await post(path, body, type);
      assert.ok(
        r.status >= 400 && r.status < 500,
        `${r.status} for POST ${path} ${String(body).slice(0, 40)}: ${(await r.text()).slice(0, 200)}`,
      );
    }
    // A gzip bomb-ish and a truncated capture are data, not crashes.
    const { gzipSync } = await import('node:zlib');
    const r = await post('/api/v1/captures', gzipSync(Buffer.alloc(1 << 20)), 'application/gzip', h.analyst);
    assert.ok(r.status < 500, `gzip: ${r.status}`);
  });

  it('raw protocol abuse: invalid UTF-8, bad escapes, bad headers', async () => {
    const port = Number(new URL(h.base).port);
    const auth = `Authorization: Bearer ${h.viewer}\r\n`;
    const reqs = [
      Buffer.concat([
        Buffer.from('GET /api/v1/flows?filter='),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
        Buffer.from(` HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      ]),
      Buffer.from(`GET /api/v1/flows?filter=%ff%fe%c3%28 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/flows?filter=%E0%A4%A HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/search?q=%C0%AF HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/flows?filter=app%20~%20%22%ED%A0%80%22 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/hosts/%ff HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/records/%ff%00 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.concat([
        Buffer.from('GET /api/v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('\r\n\r\n'),
      ]),
      Buffer.from(
        `GET /api/v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'A'.repeat(10000)}\r\n\r\n`,
      ),
      Buffer.from('GET /api/v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a b c\r\n\r\n'),
      Buffer.from(`GET /api/v1/flows HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n${auth}\r\n`),
      Buffer.from(
        `POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.admin}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":`,
      ),
      Buffer.from(
        `POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.admin}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}`,
      ),
      Buffer.from(`GET /api/v1/flows?${'a=1&'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      Buffer.from(`GET /api/v1/flows HTTP/1.1\r\nHost: x\r\n${auth}Accept: text/csv\u0000\r\n\r\n`),
    ];
    for (const [i, b] of reqs.entries()) {
      const status = await rawRequest(port, b);
      assert.ok(
        status === 0 || (status >= 400 && status < 500) || status === 200,
        `request ${i}: status ${status}`,
      );
      assert.ok(status < 500, `request ${i}: ${status}`);
    }
  });

  it('the data is intact afterwards', async () => {
    const r = await get(h, '/api/v1/flows?limit=1000');
    assert.equal(r.status, 200);
    assert.ok((r.json.items as unknown[]).length > 0);
    assert.equal((await get(h, '/api/v1/health', null)).status, 200);
  });

  it('rate limits per token with 429', async () => {
    const h2 = await startHarness({ rateLimit: 5 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) codes.push((await get(h2, '/api/v1/flows?limit=1')).status);
      assert.ok(codes.includes(429), codes.join(','));
      const r = await get(h2, '/api/v1/flows?limit=1');
      assert.match(r.json.error!.message, /rate limit/);
      // Another token has its own budget.
      assert.equal((await get(h2, '/api/v1/flows?limit=1', h2.analyst)).status, 200);
    } finally {
      await h2.close();
    }
  });
});
