import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PARTIAL_HEADER } from '../../src/api/federation/routes.js';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';

/**
 * Three sensors on loopback, each ingesting a different capture, and a central over them:
 * the central's answers must equal those of one Vantage that ingested all three captures.
 */
const PCAPS = fileURLToPath(new URL('../../../test/fixtures/pcaps/', import.meta.url));
const CAPTURES = [
  'tcp-retransmissions-http.pcap',
  'dns-udp-many-types-nxdomain.pcap',
  'tls12-sni-chrome.pcap',
];
const AFTER = 'after=2000-01-01';

interface Node {
  p: Product;
  token: string;
}

const root = mkdtempSync(join(tmpdir(), 'vantage-fed-'));
let sensors: Node[] = [];
let single: Node;
let central: Node;

/** A Vantage on loopback; each capture is uploaded on its own (one flow table per capture). */
async function node(name: string, files: string[], extra: object = {}): Promise<Node> {
  let token = '';
  const p = await startProduct({
    dataDir: join(root, name),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    rateLimit: 1_000_000,
    log: silentLogger,
    print: (s) => {
      token = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? token;
    },
    ...extra,
  });
  for (const f of files) {
    const res = await fetch(`${p.url}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(join(PCAPS, f)),
    });
    assert.equal(res.status, 201, await res.text());
  }
  return { p, token };
}

// biome-ignore lint/suspicious/noExplicitAny: API answers of many shapes, checked by the assertions
type Json = any;

async function get(
  n: Node,
  path: string,
): Promise<{ status: number; json: Json; headers: Headers; body: Buffer }> {
  const res = await fetch(n.p.url + path, { headers: { authorization: `Bearer ${n.token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  let json: unknown = null;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {}
  return { status: res.status, json, headers: res.headers, body };
}

/** A flow as both sides must show it (flow ids are per instance). */
const canon = (r: Record<string, unknown>) => {
  const { flow_id: _f, ...rest } = r;
  return JSON.stringify(rest);
};

/**
 * A top-N answer where rows of equal value may come in any order (both stores order ties
 * arbitrarily): every value by rank, and the keys of each value as a set.
 */
function ties(t: { by: 'bytes' | 'packets' | 'flows'; items: Record<string, unknown>[] }) {
  const by = new Map<unknown, string[]>();
  for (const r of t.items) by.set(r[t.by], [...(by.get(r[t.by]) ?? []), JSON.stringify(r)]);
  const last = t.items.at(-1)?.[t.by];
  // At the cut-off value the store may have picked any of the tied keys: only their number counts.
  return [...by.entries()].map(([v, rows]) => [v, v === last ? rows.length : rows.sort()]);
}

async function allPages(n: Node, path: string, limit: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const r = await get(n, `${path}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    out.push(...(r.json.items as Record<string, unknown>[]));
    cursor = r.json.next;
  } while (cursor && out.length < 100_000);
  return out;
}

before(async () => {
  sensors = await Promise.all(CAPTURES.map((c, i) => node(`s${i + 1}`, [c])));
  single = await node('single', CAPTURES);
  const cfg = {
    central: {
      sensors: sensors.map((s, i) => ({ name: `s${i + 1}`, url: s.p.url, token: s.token })),
      timeoutMs: 5000,
    },
  };
  const { parseFileConfig } = await import('../../src/cli/config-file.js');
  central = await node('central', [], { central: parseFileConfig(cfg).central, packets: false });
});
after(async () => {
  for (const n of [central, single, ...sensors]) await n?.p.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('federation: a central over three sensors', () => {
  it('has something to compare: every sensor holds flows', async () => {
    for (const s of sensors) {
      const r = await get(s, `/api/v1/flows?${AFTER}&limit=1`);
      assert.equal(r.status, 200);
      assert.equal(r.json.items.length, 1);
    }
  });

  it('lists the same records, paging across sensors exactly once each', async () => {
    for (const [type, sort] of [
      ['flow', ''],
      ['flow', '&sort=server_ip&order=asc'],
      ['flow', '&sort=-rtt_ms'],
      ['dns', ''],
    ] as const) {
      const path = `/api/v1/records/${type}?${AFTER}${sort}`;
      const want = (await allPages(single, path, 1000)).map(canon).sort();
      const got = (await allPages(central, path, 7)).map(canon).sort();
      assert.ok(want.length > 0, `${type}: the single Vantage has rows`);
      assert.deepEqual(got, want, `${type}${sort}`);
    }
    // Pages come in order across sensors.
    const times = (await allPages(central, `/api/v1/flows?${AFTER}`, 5)).map((r) =>
      Date.parse(String(r.first_ts)),
    );
    for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! >= times[i]!, `row ${i} out of order`);
  });

  it('ranks top-N over exact totals and sums KPI series bucket by bucket', async () => {
    for (const q of [
      'by=bytes&dim=server_ip&limit=3',
      'by=packets&dim=client_ip&limit=2',
      'by=flows&dim=server_port&limit=4',
      'by=bytes&dim=app&limit=5',
    ]) {
      const want = await get(single, `/api/v1/top?${q}&${AFTER}`);
      const got = await get(central, `/api/v1/top?${q}&${AFTER}`);
      assert.equal(got.status, 200, JSON.stringify(got.json));
      assert.deepEqual(ties(got.json), ties(want.json), q);
    }
    for (const q of [
      'metric=bps&step=1m',
      'metric=flows&step=1h&group_by=app&groups=2',
      'metric=rtt_ms&step=1m',
    ]) {
      const want = (await get(single, `/api/v1/kpis?${q}&${AFTER}`)).json;
      const got = (await get(central, `/api/v1/kpis?${q}&${AFTER}`)).json;
      assert.ok(got.series, JSON.stringify(got));
      // Values agree to 7 significant digits: each sensor rounds to the API's 9 before the merge.
      const round = (s: typeof want) =>
        JSON.stringify(s, (_k, v) => (typeof v === 'number' ? Number(v.toPrecision(7)) : v));
      assert.equal(round(got), round(want), q);
    }
    const c = await get(central, '/api/v1/sensors');
    assert.deepEqual(
      c.json.sensors.map((s: { name: string; status: string }) => [s.name, s.status]),
      [
        ['s1', 'up'],
        ['s2', 'up'],
        ['s3', 'up'],
      ],
    );
  });

  it('merges the sensors’ packets in time order into one pcap, as mergecap does', async (t) => {
    if (spawnSync('sh', ['-c', 'command -v mergecap']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('mergecap missing in CI');
      return t.skip('mergecap (Debian wireshark-common) not installed');
    }
    const q = `/api/v1/pcap?${AFTER}&filter=${encodeURIComponent('tcp or udp')}`;
    const parts: string[] = [];
    for (const [i, s] of sensors.entries()) {
      const r = await get(s, q);
      assert.equal(r.status, 200, r.body.toString().slice(0, 200));
      const f = join(root, `part${i}.pcap`);
      writeFileSync(f, r.body);
      parts.push(f);
    }
    const merged = join(root, 'merged.pcap');
    // Same time precision as the sensors' files (nanosecond pcaps stay nanosecond).
    const nano = readFileSync(parts[0]!).readUInt32LE(0) === 0xa1b23c4d;
    execFileSync('mergecap', ['-F', nano ? 'nsecpcap' : 'pcap', '-w', merged, ...parts]);
    const got = await get(central, q);
    assert.equal(got.status, 200);
    const records = (b: Buffer) => {
      const out: string[] = [];
      for (let p = 24; p + 16 <= b.length; ) {
        const n = 16 + b.readUInt32LE(p + 8);
        out.push(b.subarray(p, p + n).toString('hex'));
        p += n;
      }
      return out;
    };
    const want = readFileSync(merged);
    assert.ok(records(want).length > 10);
    assert.deepEqual(records(got.body).sort(), records(want).sort());
    assert.equal(got.body.readUInt32LE(20), want.readUInt32LE(20), 'link type');
    // Time order (mergecap's too).
    const ts = records(got.body)
      .map((h) => Buffer.from(h, 'hex'))
      .map((r) => r.readUInt32LE(0) * 1e9 + r.readUInt32LE(4));
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i - 1]! <= ts[i]!);
  });

  it('says which sensor is missing when one is down, and counts only what it has', async () => {
    const count = async (n: Node) =>
      (await allPages(n, `/api/v1/flows?${AFTER}&fields=first_ts`, 1000)).length;
    const s3 = await count(sensors[2]!);
    const all = await count(central);
    await sensors[2]!.p.stop();
    const r = await get(central, `/api/v1/flows?${AFTER}&limit=1000`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get(PARTIAL_HEADER), 's3');
    assert.equal(r.json.items.length, all - s3);
    const top = await get(central, `/api/v1/top?by=bytes&dim=server_ip&limit=3&${AFTER}`);
    assert.equal(top.headers.get(PARTIAL_HEADER), 's3');
    const st = await get(central, '/api/v1/sensors');
    assert.equal(st.json.sensors.find((s: { name: string }) => s.name === 's3').status, 'down');
    const ok = await get(central, '/api/v1/health');
    assert.equal(ok.headers.get(PARTIAL_HEADER), null);
  });
});
