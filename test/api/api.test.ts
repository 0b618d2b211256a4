import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseCsv } from '../../src/api/export.js';
import { get, type Harness, startHarness } from './harness.js';
import { samplePcap } from './pcap.js';

let h: Harness;
const sample = samplePcap();
const FLOWS = sample.tcpFlows + sample.udpFlows;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe('auth', () => {
  it('health needs no token; everything else does', async () => {
    assert.equal((await get(h, '/api/v1/health', null)).status, 200);
    const r = await get(h, '/api/v1/flows', null);
    assert.equal(r.status, 401);
    assert.match(r.json.error!.message, /Authorization: Bearer/);
    assert.equal((await get(h, '/metrics', null)).status, 401);
    assert.equal((await get(h, '/api/v1/flows', 'vt_not-a-real-token-at-all')).status, 401);
    assert.equal((await get(h, '/api/v1/flows', null, { authorization: 'Basic abc' })).status, 401);
  });

  it('roles: viewer reads, cannot manage tokens or upload; admin can', async () => {
    assert.equal((await get(h, '/api/v1/flows', h.viewer)).status, 200);
    const r = await get(h, '/api/v1/tokens', h.viewer);
    assert.equal(r.status, 403);
    assert.match(r.json.error!.message, /admin role/);
    assert.equal((await get(h, '/api/v1/tokens', h.analyst)).status, 403);
    assert.equal((await get(h, '/api/v1/tokens', h.admin)).status, 200);
    const up = await fetch(`${h.base}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.viewer}`, 'content-type': 'application/octet-stream' },
      body: sample.pcap,
    });
    assert.equal(up.status, 403);
  });

  it('admin creates and revokes tokens; the secret is stored hashed', async () => {
    const res = await fetch(`${h.base}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer', name: 'tmp' }),
    });
    assert.equal(res.status, 201);
    const { token, id } = (await res.json()) as { token: string; id: string };
    assert.equal((await get(h, '/api/v1/flows', token)).status, 200);
    const { readFileSync, statSync } = await import('node:fs');
    const file = readFileSync(join(h.product.store.dataDir, 'tokens.json'), 'utf8');
    assert.ok(!file.includes(token));
    assert.equal(statSync(join(h.product.store.dataDir, 'admin-token')).mode & 0o777, 0o600);
    const del = await fetch(`${h.base}/api/v1/tokens/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.admin}` },
    });
    assert.equal(del.status, 204);
    assert.equal((await get(h, '/api/v1/flows', token)).status, 401);
  });
});

describe('records', () => {
  it('lists the sample flows with every registry field', async () => {
    const r = await get(h, '/api/v1/flows?limit=1000');
    assert.equal(r.status, 200);
    const items = r.json.items as Record<string, unknown>[];
    assert.equal(items.length, FLOWS);
    assert.ok('community_id' in items[0]! && 'rtt_ms' in items[0]!);
    assert.equal(r.json.next, null);
  });

  it('record types without data give empty results', async () => {
    for (const p of ['/api/v1/dns', '/api/v1/http', '/api/v1/tls', '/api/v1/devices']) {
      const r = await get(h, p);
      assert.equal(r.status, 200, p);
      assert.ok(Array.isArray(r.json.items), p);
    }
    const smb = await get(h, '/api/v1/records/smb');
    assert.equal(smb.status, 200);
    assert.deepEqual(smb.json.items, []);
    // a type the registry does not have is no resource at all
    const none = await get(h, '/api/v1/records/nothing_here');
    assert.equal(none.status, 404);
    assert.equal(none.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal((await get(h, '/api/v1/dns?format=csv')).status, 200);
  });

  it('filters with the filter language', async () => {
    const q = (f: string) => get(h, `/api/v1/flows?limit=1000&filter=${encodeURIComponent(f)}`);
    const ok: [string, number][] = [
      ['client_ip = 10.0.0.0/8 and server_port in (443, 8443)', sample.tcpFlows / 2],
      ['server_ip = 1.1.1.1', sample.tcpFlows / 3],
      ['proto = 17', sample.udpFlows],
      ['ip = 8.8.8.8 or port = 80', sample.udpFlows + sample.tcpFlows / 2],
      ['not (proto = 6)', sample.udpFlows],
      ['community_id ~ "1:"', FLOWS],
      ['client_mac = 02:00:00:00:10:00', Math.ceil(sample.tcpFlows / 5) + 1],
      ['server_ip != 1.1.1.1 and server_ip !~ x', 0],
    ];
    for (const [f, n] of ok.slice(0, -1)) {
      const r = await q(f);
      assert.equal(r.status, 200, `${f}: ${r.text}`);
      assert.equal((r.json.items as unknown[]).length, n, f);
    }
    const bad: [string, number, RegExp][] = [
      ['client_ip = ', 12, /expected a value/],
      ['client_ip = 10.0.0.0/33', 12, /address or CIDR/],
      ['nosuch = 1', 0, /unknown field 'nosuch'/],
      ['server_port in (443, 8443', 25, /expected ',' or '\)'/],
      ['server_port = 443 and', 21, /expected a field name/],
      ['app ~ "unterminated', 6, /closing "/],
      ['server_port > abc', 14, /an integer/],
      ['server_port = 1 server_port = 2', 16, /'and', 'or' or end of input/],
      ['client_ip ~ 10', 12, /text field/],
      ['server_port @ 1', 12, /field, value, operator/],
    ];
    for (const [f, pos, re] of bad) {
      const r = await q(f);
      assert.equal(r.status, 400, f);
      assert.equal(r.json.error!.position, pos, `${f}: ${r.text}`);
      assert.match(r.json.error!.message, re, f);
    }
  });

  it('pages with cursors, sorts and selects fields', async () => {
    const seen: unknown[] = [];
    let next: unknown = null;
    let pages = 0;
    do {
      const r = await get(
        h,
        `/api/v1/flows?limit=4&sort=client_port&order=asc&fields=client_port,server_ip${next ? `&cursor=${next}` : ''}`,
      );
      assert.equal(r.status, 200, r.text);
      for (const it of r.json.items as Record<string, unknown>[]) {
        assert.deepEqual(Object.keys(it).sort(), ['client_port', 'server_ip']);
        seen.push(it.client_port);
      }
      next = r.json.next;
      pages++;
    } while (next);
    assert.equal(seen.length, FLOWS);
    assert.equal(pages, Math.ceil(FLOWS / 4));
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => Number(a) - Number(b)),
    );
    assert.equal((await get(h, '/api/v1/flows?cursor=garbage')).status, 400);
    assert.equal(Array.isArray((await get(h, '/api/v1/flows?sort=-server_port&limit=1')).json.items), true);
    const t = await get(
      h,
      `/api/v1/flows?after=${sample.startSec + 5}&before=${sample.startSec + 8}&limit=100`,
    );
    assert.equal((t.json.items as unknown[]).length, 3);
  });

  it('exports CSV that parses back to the same rows', async () => {
    const page = await get(h, '/api/v1/flows?limit=1000&sort=flow_id&order=asc');
    const csv = await get(h, '/api/v1/flows?sort=flow_id&order=asc', h.viewer, { accept: 'text/csv' });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type')!, /text\/csv/);
    const rows = parseCsv(csv.text);
    const header = rows[0]!;
    const items = page.json.items as Record<string, unknown>[];
    assert.equal(rows.length - 1, items.length);
    items.forEach((it, i) => {
      header.forEach((f, j) => {
        const v = it[f];
        assert.equal(
          rows[i + 1]![j],
          v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v),
          f,
        );
      });
    });
  });

  it('exports NDJSON and JSON with the same rows', async () => {
    const nd = await get(h, '/api/v1/flows?format=ndjson&fields=flow_id,client_ip');
    const lines = nd.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const js = await get(h, '/api/v1/flows?format=json&fields=flow_id,client_ip');
    // a JSON export is one page holding every row
    assert.deepEqual(js.json, { type: 'flow', items: lines, next: null });
    assert.equal(lines.length, FLOWS);
  });

  it('exports Parquet readable by DuckDB', async () => {
    const res = await fetch(`${h.base}/api/v1/flows?fields=flow_id,client_ip,server_port,first_ts`, {
      headers: { authorization: `Bearer ${h.viewer}`, accept: 'application/vnd.apache.parquet' },
    });
    assert.equal(res.status, 200);
    const file = join(h.dir, 'out.parquet');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(
      `SELECT count(*), count(DISTINCT client_ip), min(server_port) FROM read_parquet('${file}')`,
    );
    const [n, ips, port] = r.getRows()[0]!;
    assert.equal(Number(n), FLOWS);
    assert.equal(Number(ips), 5);
    assert.equal(Number(port), 53);
    c.closeSync();
    db.closeSync();
  });
});

describe('kpis, top, search, hosts', () => {
  it('KPI series for every metric, grouped and filtered', async () => {
    for (const m of ['bps', 'pps', 'flows', 'rtt_ms', 'srt_ms', 'retrans_rate']) {
      const r = await get(h, `/api/v1/kpis?metric=${m}&step=1h`);
      assert.equal(r.status, 200, `${m}: ${r.text}`);
      assert.equal((r.json.series as unknown[]).length, 1);
    }
    const f = await get(h, '/api/v1/kpis?metric=flows&step=1d');
    const pts = (f.json.series as { points: [string, number][] }[])[0]!.points;
    assert.equal(Math.round(pts.reduce((s, p) => s + p[1] * 86400, 0)), FLOWS);
    const g = await get(
      h,
      '/api/v1/kpis?metric=bps&step=1m&group_by=server_ip&groups=2&filter=proto%20%3D%206',
    );
    assert.equal((g.json.series as unknown[]).length, 3);
    assert.equal((await get(h, '/api/v1/kpis?metric=nope')).status, 400);
    assert.equal((await get(h, '/api/v1/kpis?metric=bps&step=0m')).status, 400);
    assert.equal((await get(h, '/api/v1/kpis?metric=bps&group_by=evil')).status, 400);
  });

  it('top-N by bytes, packets and flows', async () => {
    const r = await get(h, '/api/v1/top?by=flows&dim=server_ip&limit=2');
    assert.equal(r.status, 200);
    const items = r.json.items as { key: string; flows: number }[];
    assert.equal(items.length, 2);
    assert.equal(items[0]!.flows, sample.tcpFlows / 3);
    assert.equal((await get(h, '/api/v1/top?by=bytes&dim=app')).status, 200);
    assert.equal((await get(h, '/api/v1/top?by=packets&dim=nope')).status, 400);
  });

  it('search finds IPs, CIDRs, ports, MACs, community IDs and text', async () => {
    const s = async (q: string) => (await get(h, `/api/v1/search?q=${encodeURIComponent(q)}`)).json;
    const ip = await s('1.1.1.1');
    assert.equal(ip.kind, 'ip');
    assert.equal((ip.results as Record<string, { count: number }>).flow!.count, sample.tcpFlows / 3);
    assert.equal((await s('10.1.0.0/24')).kind, 'cidr');
    const port = await s('53');
    assert.equal((port.results as Record<string, { count: number }>).flow!.count, sample.udpFlows);
    assert.equal((await s('02:00:00:00:20:00')).kind, 'mac');
    const one = (await get(h, '/api/v1/flows?limit=1&fields=community_id')).json.items as {
      community_id: string;
    }[];
    const cid = await s(one[0]!.community_id);
    assert.equal(cid.kind, 'community_id');
    assert.equal((cid.results as Record<string, { count: number }>).flow!.count, 1);
    assert.equal((await s('example.com')).kind, 'domain');
    assert.equal((await s('fin')).kind, 'text');
    assert.equal((await get(h, '/api/v1/search')).status, 400);
  });

  it('host page summarises one address', async () => {
    const r = await get(h, '/api/v1/hosts/10.1.0.10');
    assert.equal(r.status, 200);
    assert.ok(Number(r.json.flows) > 0);
    assert.equal((r.json.macs as { mac: string }[])[0]!.mac, '02:00:00:00:10:00');
    assert.ok((r.json.peers as { servers: unknown[] }).servers.length > 0);
    assert.ok(Math.abs(Number(r.json.rtt_ms) - 21) < 0.1);
    assert.equal((await get(h, '/api/v1/hosts/not-an-ip')).status, 400);
  });
});

describe('ingest, system', () => {
  it('uploads a capture (multipart and raw) and ingests it', async () => {
    const before = (await get(h, '/api/v1/flows?limit=1000')).json.items as unknown[];
    const form = new FormData();
    form.append('file', new Blob([samplePcap(4, 1_710_000_000).pcap]), 'x.pcap');
    const res = await fetch(`${h.base}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}` },
      body: form,
    });
    assert.equal(res.status, 201, await res.clone().text());
    const sum = (await res.json()) as { records: { flow: number } };
    assert.equal(sum.records.flow, 4 + 1);
    const raw = await fetch(`${h.base}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/octet-stream' },
      body: samplePcap(2, 1_720_000_000).pcap,
    });
    assert.equal(raw.status, 201);
    const afterItems = (await get(h, '/api/v1/flows?limit=1000')).json.items as unknown[];
    assert.equal(afterItems.length, before.length + 5 + 3);
    const junk = await fetch(`${h.base}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/octet-stream' },
      body: Buffer.from('this is not a capture file at all'),
    });
    assert.equal(junk.status, 422);
    assert.match(
      ((await junk.json()) as { detail: string }).detail,
      /upload is not a capture: it starts with 0x74686973/,
    );
  });

  it('serves metrics, fields, OpenAPI, docs and a landing page', async () => {
    const m = await get(h, '/metrics');
    assert.match(m.text, /vantage_store_rows\{type="flow"\} \d+/);
    assert.match(m.text, /vantage_ingest_packets_total \d+/);
    const f = await get(h, '/api/v1/fields');
    const flow = (f.json.types as { type: string; fields: { name: string; label: string }[] }[]).find(
      (t) => t.type === 'flow',
    )!;
    assert.ok(flow.fields.some((x) => x.name === 'rtt_ms' && x.label === 'RTT ms'));
    const o = await get(h, '/api/v1/openapi.json', null);
    assert.equal(o.status, 200);
    const paths = o.json.paths as Record<string, unknown>;
    for (const p of [
      '/api/v1/flows',
      '/api/v1/kpis',
      '/api/v1/top',
      '/api/v1/search',
      '/api/v1/hosts/{ip}',
      '/api/v1/captures',
      '/api/v1/jobs/{id}',
    ]) {
      assert.ok(p in paths, p);
    }
    assert.equal((await get(h, '/api/v1/docs/', null)).status, 200);
    const home = await get(h, '/', null);
    assert.match(home.text, /Vantage/);
    assert.equal((await get(h, '/api/v1/stats')).status, 200);
  });
});
