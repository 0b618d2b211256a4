import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { AlertAggregator } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { parseFeedConfig, parseIntelConfig } from '../../src/intel/config.js';
import { createIntel } from '../../src/intel/intel.js';
import { pullFeed } from '../../src/intel/pull.js';
import { pullTaxii } from '../../src/intel/taxii-client.js';
import { needPython, runPython } from './oracle.js';

const COLLECTION = '91a7b528-80eb-42ed-a74d-c6fbd5a26116';
const ind = (n: number, pattern: string, type = 'stix') => ({
  type: 'indicator',
  spec_version: '2.1',
  id: `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  created: '2024-01-01T00:00:00.000Z',
  modified: '2024-01-01T00:00:00.000Z',
  pattern,
  pattern_type: type,
  valid_from: '2024-01-01T00:00:00Z',
  confidence: 70 + n,
});
const OBJECTS = [
  ind(1, "[ipv4-addr:value = '203.0.113.7']"),
  ind(2, "[ipv4-addr:value = '198.51.100.0/24']"),
  ind(3, "[domain-name:value = 'evil.example']"),
  ind(4, "[url:value = 'http://evil.example/dl/x.exe']"),
  ind(5, 'alert tcp any any -> any any (msg:"x"; sid:1;)', 'snort'),
  ind(6, "[ipv6-addr:value = '2001:db8::7']"),
  {
    type: 'malware',
    spec_version: '2.1',
    id: 'malware--00000000-0000-4000-8000-000000000099',
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    name: 'x',
    is_family: false,
  },
];
const added = (i: number): string => `2024-01-02T00:00:0${i}.000000Z`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** medallion (OASIS TAXII 2.1 server, memory backend) on loopback with the objects above, pages of 2. */
async function startMedallion(py: string, dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const root = `http://127.0.0.1:${port}/api1/`;
  const data = {
    '/discovery': { title: 'test', default: root, api_roots: [root] },
    api1: {
      information: {
        title: 'api1',
        versions: ['application/taxii+json;version=2.1'],
        max_content_length: 10_485_760,
      },
      status: [],
      collections: [
        {
          id: COLLECTION,
          title: 'bad-things',
          can_read: true,
          can_write: true,
          media_types: ['application/stix+json;version=2.1'],
          objects: OBJECTS,
          manifest: OBJECTS.map((o, i) => ({
            id: o.id,
            date_added: added(i),
            version: o.modified,
            media_type: 'application/stix+json;version=2.1',
          })),
        },
      ],
    },
  };
  writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      backend: {
        module: 'medallion.backends.memory_backend',
        module_class: 'MemoryBackend',
        filename: join(dir, 'data.json'),
      },
      users: { alice: 'secret' },
      taxii: { max_page_size: 2 },
    }),
  );
  const proc = spawn(
    join(dirname(py), 'medallion'),
    ['--host', '127.0.0.1', '--port', String(port), join(dir, 'config.json')],
    {
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}/taxii2/`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(url).then(
      (r) => r.status === 401,
      () => false,
    );
    if (ok) return { url, proc };
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error('medallion did not start');
}

const feed = (url: string, extra: Record<string, unknown> = {}) =>
  parseFeedConfig(
    {
      name: 'taxii',
      format: 'taxii',
      url,
      collection: 'bad-things',
      auth: { type: 'basic', username: 'alice', password: 'secret' },
      schedule: 0,
      ...extra,
    },
    'feed',
  );

const PY_IDS = `
import sys, json
from taxii2client.v21 import Collection, as_pages
a = json.load(sys.stdin)
c = Collection(a['url'], user='alice', password='secret')
ids, pages = [], 0
kw = {'type': 'indicator'}
for env in as_pages(c.get_objects, per_request=1000, added_after=a.get('after'), **kw):
    pages += 1
    ids += [o['id'] for o in env.get('objects', [])]
print(json.dumps({'ids': ids, 'pages': pages}))
`;

test('TAXII client against medallion: discovery, API root, collection by title, paging, added_after, basic auth', async (t) => {
  const py = needPython(t, 'medallion');
  if (!py || !needPython(t, 'taxii2client')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vantage-taxii-'));
  const { url, proc } = await startMedallion(py, dir);
  try {
    const collUrl = url.replace('/taxii2/', `/api1/collections/${COLLECTION}/`);
    // every indicator, as taxii2-client reads them, in as many pages
    const ids: string[] = [];
    const r = await pullTaxii(feed(url), undefined, (objs) => {
      for (const o of objs) ids.push((o as { id: string }).id);
    });
    const oracle = runPython(py, PY_IDS, { url: collUrl }) as { ids: string[]; pages: number };
    assert.deepEqual(ids, oracle.ids);
    assert.equal(ids.length, 6);
    assert.equal(r.pages, 3);
    assert.equal(r.lastAdded, '2024-01-02T00:00:05.000000Z');

    // added_after: only what came later, as the oracle reads it
    const later: string[] = [];
    await pullTaxii(feed(url), added(2), (objs) => {
      for (const o of objs) later.push((o as { id: string }).id);
    });
    const oracleLater = runPython(py, PY_IDS, { url: collUrl, after: added(2) }) as { ids: string[] };
    assert.deepEqual(later, oracleLater.ids);
    assert.deepEqual(
      later.map((i) => Number(i.slice(-2))),
      [4, 5, 6],
    );

    // parsed: the snort indicator counted as unsupported, the others normalised
    const out = await pullFeed(feed(url), {}, Date.parse('2024-02-01T00:00:00Z'));
    assert.deepEqual(out.result.iocs.map((i) => `${i.type} ${i.value} ${i.confidence}`).sort(), [
      'cidr 198.51.100.0/24 72',
      'domain evil.example 73',
      'ipv4 203.0.113.7 71',
      'ipv6 2001:db8::7 76',
      'url evil.example/dl/x.exe 74',
    ]);
    assert.equal(out.result.unsupported, 1);
    assert.deepEqual(out.cursor, { addedAfter: '2024-01-02T00:00:05.000000Z' });

    // through the component: the next pull is incremental and keeps what it had
    const intel = createIntel(parseIntelConfig({ feeds: [], retro_on_new: false }), {
      dataDir: dir,
      log: silentLogger,
      emitter: new AlertAggregator(() => {}),
    });
    await intel.start();
    const first = await intel.addFeed({
      name: 'taxii',
      format: 'taxii',
      url,
      collection: 'bad-things',
      auth: { type: 'basic', username: 'alice', password: 'secret' },
      schedule: 0,
    });
    assert.equal(first.error, null);
    assert.equal(first.indicators, 5);
    const post = await fetch(`${collUrl}objects/`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}`,
        'Content-Type': 'application/taxii+json;version=2.1',
        Accept: 'application/taxii+json;version=2.1',
      },
      body: JSON.stringify({ objects: [ind(7, "[domain-name:value = 'newer.example']")] }),
    });
    assert.equal(post.status, 202, await post.text());
    const second = await intel.pull('taxii');
    assert.equal(second.error, null);
    assert.equal(second.indicators, 6);
    assert.equal(second.added, 1);
    assert.ok(intel.iocs.get('domain\u0000newer.example'));
    assert.ok(intel.iocs.get('ipv4\u0000203.0.113.7'), 'the earlier pull is kept');
    assert.notEqual(second.cursor.addedAfter, '2024-01-02T00:00:05.000000Z');

    // wrong credentials: a clear error, the indicators stay
    const bad = await pullFeed(
      feed(url, { auth: { type: 'basic', username: 'alice', password: 'nope' } }),
      {},
      0,
    ).then(
      () => null,
      (e: Error) => e,
    );
    assert.match(String(bad?.message), /HTTP 401/);
    await intel.stop();
  } finally {
    proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A TAXII server that behaves until told otherwise: 'ok', '500', or 'loop' (the same page and next forever). */
async function badServer(): Promise<{
  url: string;
  mode: { v: string };
  server: Server;
  hits: { n: number };
}> {
  const mode = { v: 'ok' };
  const hits = { n: 0 };
  const server = createServer((req, res) => {
    hits.n++;
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (o: unknown, h: Record<string, string> = {}) => {
      res.writeHead(200, { 'Content-Type': 'application/taxii+json;version=2.1', ...h });
      res.end(JSON.stringify(o));
    };
    if (mode.v === '500') {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal error');
      return;
    }
    if (u.pathname === '/root/collections/') {
      send({ collections: [{ id: 'c1', title: 'c', can_read: true, can_write: false }] });
      return;
    }
    if (u.pathname === '/root/collections/c1/objects/') {
      const page =
        mode.v === 'loop'
          ? { more: true, next: 'again', objects: [ind(1, "[ipv4-addr:value = '203.0.113.9']")] }
          : { more: false, objects: [ind(1, "[ipv4-addr:value = '203.0.113.8']")] };
      send(page, { 'X-TAXII-Date-Added-First': added(1), 'X-TAXII-Date-Added-Last': added(1) });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/root/`;
  return { url, mode, server, hits };
}

test('a TAXII server that answers 500 or loops its next is a feed error and the previous indicators stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-taxii-bad-'));
  const { url, mode, server, hits } = await badServer();
  try {
    const intel = createIntel(
      parseIntelConfig({
        feeds: [
          { name: 'b', format: 'taxii', url, api_root: url, collection: 'c1', schedule: 0, max_pages: 50 },
        ],
        retro_on_new: false,
      }),
      { dataDir: dir, log: silentLogger, emitter: new AlertAggregator(() => {}) },
    );
    const ok = await intel.pull('b');
    assert.equal(ok.error, null);
    assert.equal(ok.indicators, 1);

    mode.v = '500';
    const e500 = await intel.pull('b');
    assert.match(e500.error ?? '', /HTTP 500: internal error/);
    assert.equal(e500.indicators, 1);
    assert.ok(intel.iocs.get('ipv4\u0000203.0.113.8'));

    mode.v = 'loop';
    hits.n = 0;
    const loop = await intel.pull('b');
    assert.match(loop.error ?? '', /paging loops \(next 'again'\)/);
    // stopped at the first page that brought nothing new, not at max_pages
    assert.equal(hits.n, 3);
    assert.equal(loop.indicators, 1);
    assert.ok(intel.iocs.get('ipv4\u0000203.0.113.8'));
    assert.equal(intel.iocs.get('ipv4\u0000203.0.113.9'), undefined);
    assert.equal(intel.feeds()[0]!.failures, 2);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
