import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createApiServer } from '../../src/api/server.js';
import { AlertAggregator, type AnyRecord } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { Metrics } from '../../src/common/metrics.js';
import { parseIntelConfig } from '../../src/intel/config.js';
import { createIntel } from '../../src/intel/intel.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import type { SightingRecord } from '../../src/schema/sighting.js';
import { startHarness } from '../api/harness.js';
import { needPython, runPython } from './oracle.js';

const flow = (c: string, s: string, first: string, last: string, id: number): AnyRecord => ({
  type: 'flow',
  flow_id: id,
  community_id: `1:x${id}`,
  proto: 6,
  client_ip: c,
  client_port: 40000 + id,
  server_ip: s,
  server_port: 443,
  first_ts: first,
  last_ts: last,
});

test('feeds load, match planted traffic, and a broken feed keeps its previous indicators', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-'));
  try {
    const list = join(dir, 'bad.txt');
    writeFileSync(list, '# planted\n203.0.113.7\n198.51.100.0/24\n*.evil.example\n');
    const csv = join(dir, 'c.csv');
    writeFileSync(
      csv,
      'indicator,type,confidence,severity\n203.0.113.7,ip,90,80\nja3hash-not-valid,ja3,1,1\n',
    );
    const cfg = parseIntelConfig({
      feeds: [
        { name: 'list', format: 'list', file: list, schedule: 0 },
        { name: 'csv', format: 'csv', file: csv, schedule: 0 },
      ],
    });
    const alerts: AlertRecord[] = [];
    const sightings: SightingRecord[] = [];
    const agg = new AlertAggregator((a) => alerts.push(a), { mode: 'final' });
    const intel = createIntel(cfg, {
      dataDir: dir,
      log: silentLogger,
      emitter: agg,
      sightings: (s) => sightings.push(s),
    });
    await intel.start();
    await intel.pull('list');
    await intel.pull('csv');
    const st = Object.fromEntries(intel.feeds().map((f) => [f.name, f]));
    assert.equal(st.list!.indicators, 3);
    assert.equal(st.csv!.indicators, 1);
    assert.equal(st.csv!.skipped, 1);
    // one indicator, two sources, the higher confidence
    const ip = intel.iocs.get('ipv4\u0000203.0.113.7')!;
    assert.deepEqual([...ip.sources].sort(), ['csv', 'list']);
    assert.equal(ip.confidence, 90);

    const w = intel.watcher;
    w.onRecord(flow('10.0.0.5', '203.0.113.7', '2024-01-18T00:10:00Z', '2024-01-18T00:11:00Z', 1));
    w.onRecord(flow('10.0.0.5', '203.0.113.7', '2024-01-18T00:20:00Z', '2024-01-18T00:25:00Z', 2));
    w.onRecord(flow('198.51.100.9', '10.0.0.6', '2024-01-18T00:20:00Z', '2024-01-18T00:21:00Z', 3));
    w.onRecord(flow('10.0.0.7', '192.0.2.1', '2024-01-18T00:20:00Z', '2024-01-18T00:21:00Z', 4));
    w.onRecord({
      type: 'dns',
      ts: '2024-01-18T00:30:00Z',
      client_ip: '10.0.0.8',
      query: 'A.B.Evil.Example',
      answers: [],
    });
    w.onRecord({
      type: 'dns',
      ts: '2024-01-18T00:30:00Z',
      client_ip: '10.0.0.8',
      query: 'notevil.example',
      answers: [],
    });

    // a truncated/oversized feed: error shown, indicators kept, matching unchanged
    writeFileSync(list, `203.0.113.7\n${'x'.repeat(2_000_000)}\n`);
    const bad = await intel.pull('list');
    assert.match(bad.error ?? '', /line 2 is longer than/);
    assert.equal(intel.feeds().find((f) => f.name === 'list')!.indicators, 3);
    w.onRecord(flow('10.0.0.9', '198.51.100.200', '2024-01-18T00:40:00Z', '2024-01-18T00:41:00Z', 5));
    agg.flush();
    await intel.stop();

    assert.deepEqual(
      sightings.map((s) => `${s.indicator_type} ${s.indicator_value} ${s.matched_field} ${s.host}`),
      [
        'ipv4 203.0.113.7 server_ip 10.0.0.5',
        'ipv4 203.0.113.7 server_ip 10.0.0.5',
        'cidr 198.51.100.0/24 client_ip 10.0.0.6',
        'domain_suffix evil.example query 10.0.0.8',
        'cidr 198.51.100.0/24 server_ip 10.0.0.9',
      ],
    );
    const byKey = alerts.map((a) => `${a.detector} ${a.src_ip} ${a.count} ${a.first_ts} ${a.last_ts}`).sort();
    assert.ok(
      byKey.includes('intel.ipv4 10.0.0.5 2 2024-01-18T00:10:00.000Z 2024-01-18T00:25:00.000Z'),
      byKey.join('\n'),
    );
    assert.equal(alerts.length, 4);
    assert.ok(alerts.every((a) => a.category === 'intel'));
    const a = alerts.find((x) => x.detector === 'intel.ipv4')!;
    assert.deepEqual(a.indicator, {
      type: 'ipv4',
      value: '203.0.113.7',
      sources: ['csv', 'list'],
      confidence: 90,
    });

    // persisted: a new component over the same directory has them before any pull
    const again = createIntel(
      parseIntelConfig({ feeds: [{ name: 'list', format: 'list', file: list, schedule: 0 }] }),
      {
        dataDir: dir,
        log: silentLogger,
        emitter: agg,
      },
    );
    again.iocs.load();
    assert.equal(again.iocs.feedSize('list'), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config errors name the exact key', () => {
  assert.throws(
    () => parseIntelConfig({ feeds: [{ name: 'x', format: 'nope', file: 'f' }] }),
    /intel\.feeds\[0\]\.format/,
  );
  assert.throws(
    () =>
      parseIntelConfig({
        feeds: [{ name: 'x', format: 'csv', file: 'f', mapping: { value: 0, colour: 1 } }],
      }),
    /intel\.feeds\[0\]\.mapping\.colour/,
  );
  assert.throws(
    () => parseIntelConfig({ feeds: [{ name: 'x', format: 'taxii', file: 'f' }] }),
    /intel\.feeds\[0\]\.url/,
  );
  assert.throws(() => parseIntelConfig({ feedz: [] }), /intel\.feedz/);
});

test('retro-hunt finds planted history, the feed API serves it, and served STIX bundles pass stix2-validator', async (t) => {
  const h = await startHarness();
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-api-'));
  try {
    const feed = join(dir, 'f.csv');
    writeFileSync(
      feed,
      'value,type,confidence,severity\n203.0.113.7,ip,90,80\n198.51.100.1,ip,50,50\nevil.example,domain,80,80\n',
    );
    const alerts: AlertRecord[] = [];
    const intel = createIntel(
      parseIntelConfig({
        feeds: [{ name: 'f', format: 'csv', file: feed, schedule: 0 }],
        retro_on_new: false,
      }),
      {
        dataDir: dir,
        store: h.product.store,
        log: silentLogger,
        emitter: new AlertAggregator((a) => alerts.push(a)),
        retroAlerts: (a) => alerts.push(a),
      },
    );
    await intel.start();
    await intel.pull('f');
    await h.product.store.append('flow', [
      flow('10.1.0.1', '203.0.113.7', '2024-01-18T00:05:00.000000000Z', '2024-01-18T00:06:00.000000000Z', 11),
      flow('10.1.0.2', '203.0.113.7', '2024-01-18T01:00:00.000000000Z', '2024-01-18T01:30:00.000000000Z', 12),
      flow('10.1.0.1', '203.0.113.7', '2024-01-19T03:00:00.000000000Z', '2024-01-19T03:00:05.000000000Z', 13),
      flow('10.1.0.3', '192.0.2.50', '2024-01-18T00:05:00.000000000Z', '2024-01-18T00:06:00.000000000Z', 14),
    ] as never[]);
    const hunt = intel.hunt({ after: Date.parse('2024-01-01T00:00:00Z') });
    while (intel.huntById(hunt.id)!.progress.state === 'running') await new Promise((r) => setTimeout(r, 20));
    const done = intel.huntById(hunt.id)!;
    assert.equal(done.progress.state, 'done', JSON.stringify(done.progress));
    assert.deepEqual(done.findings, [
      {
        type: 'ipv4',
        value: '203.0.113.7',
        first_seen: '2024-01-18T00:05:00.000Z',
        last_seen: '2024-01-19T03:00:05.000Z',
        flows: 3,
        records: 3,
        hosts: ['10.1.0.1', '10.1.0.2'],
        dwell_s: 96_905,
      },
    ]);
    assert.ok(alerts.some((a) => a.retro && a.detector === 'intel.ipv4'));
    await intel.stop();

    const app = await createApiServer({
      store: h.product.store,
      tokens: h.product.tokens,
      metrics: new Metrics(),
      log: silentLogger,
      maxUploadBytes: 1 << 20,
      rateLimit: 100_000,
      dataDir: dir,
      tmpDir: dir,
      webDir: null,
      ingest: async () => null,
      intel,
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const H = { Authorization: `Bearer ${h.viewer}` };
      const j = (await (
        await fetch(`${base}/api/v1/iocs/feeds/ips?confidence=75&severity=75`, { headers: H })
      ).json()) as {
        items: { value: string }[];
      };
      assert.deepEqual(
        j.items.map((i) => i.value),
        ['203.0.113.7'],
      );
      const txt = await (await fetch(`${base}/api/v1/iocs/feeds/ips?format=text`, { headers: H })).text();
      assert.deepEqual(txt.trim().split('\n').sort(), ['198.51.100.1', '203.0.113.7']);
      const sighted = (await (
        await fetch(`${base}/api/v1/iocs/feeds/ips?sighted=true`, { headers: H })
      ).json()) as {
        items: { value: string; hosts: string[]; sightings: number }[];
      };
      assert.deepEqual(
        sighted.items.map((i) => [i.value, i.sightings, i.hosts]),
        [['203.0.113.7', 3, ['10.1.0.1', '10.1.0.2']]],
      );
      const bad = await fetch(`${base}/api/v1/iocs/feeds/ips?after=yesterday-ish`, { headers: H });
      assert.equal(bad.status, 400);
      const bundle = await (
        await fetch(`${base}/api/v1/iocs/feeds/domains?format=stix`, { headers: H })
      ).json();
      const py = needPython(t, 'stix2validator');
      if (py) {
        const res = runPython(
          py,
          `
import sys, json
from stix2validator import validate_instance, ValidationOptions
r = validate_instance(json.load(sys.stdin), ValidationOptions(version='2.1'))
print(json.dumps({'valid': r.is_valid, 'errors': [str(e) for e in r.errors]}))
`,
          bundle,
        ) as { valid: boolean; errors: string[] };
        assert.deepEqual(res, { valid: true, errors: [] });
      }
    } finally {
      await app.close();
    }
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
