import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createApiServer } from '../../src/api/server.js';
import { AlertAggregator } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { Metrics } from '../../src/common/metrics.js';
import { parseIntelConfig } from '../../src/intel/config.js';
import { createIntel } from '../../src/intel/intel.js';
import { startHarness } from '../api/harness.js';

const flow = (c: string, s: string, first: string, last: string, id: number) => ({
  type: 'flow',
  flow_id: id,
  community_id: `1:a${id}`,
  proto: 6,
  client_ip: c,
  client_port: 40000 + id,
  server_ip: s,
  server_port: 443,
  first_ts: first,
  last_ts: last,
});

test('intel API: feeds by role, indicator search, lookup, hunts with progress', async () => {
  const h = await startHarness();
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-routes-'));
  try {
    const cfgFeed = join(dir, 'cfg.csv');
    writeFileSync(cfgFeed, 'value,type,confidence\n203.0.113.7,ip,90\n*.evil.example,domain,80\n');
    const added = join(dir, 'added.txt');
    writeFileSync(added, '198.51.100.0/24\nbad.example\n');
    const intel = createIntel(
      parseIntelConfig({
        feeds: [{ name: 'cfg', format: 'csv', file: cfgFeed, schedule: 0 }],
        retro_on_new: false,
      }),
      { dataDir: dir, store: h.product.store, log: silentLogger, emitter: new AlertAggregator(() => {}) },
    );
    await intel.start();
    await intel.pull('cfg');
    await h.product.store.append('flow', [
      flow('10.3.0.1', '203.0.113.7', '2024-01-18T00:05:00.000000000Z', '2024-01-18T00:06:00.000000000Z', 1),
      flow('10.3.0.2', '198.51.100.9', '2024-01-18T01:05:00.000000000Z', '2024-01-18T01:06:00.000000000Z', 2),
    ] as never[]);
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
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const r = await fetch(base + path, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return {
        status: r.status,
        // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field in the asserts
        json: (text ? JSON.parse(text) : null) as any,
      };
    };
    try {
      // feeds: anyone reads, only admins add and remove, analysts pull
      const list = await call('GET', '/api/v1/intel/feeds', h.viewer);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.json.feeds.map((f: { name: string; indicators: number; origin: string }) => [
          f.name,
          f.indicators,
          f.origin,
        ]),
        [['cfg', 2, 'config']],
      );
      const feed = { name: 'added', format: 'list', file: added, schedule: 0 };
      assert.equal((await call('POST', '/api/v1/intel/feeds', h.analyst, feed)).status, 403);
      const made = await call('POST', '/api/v1/intel/feeds', h.admin, feed);
      assert.equal(made.status, 201);
      assert.equal(made.json.indicators, 2);
      assert.equal(made.json.origin, 'added');
      const badFormat = await call('POST', '/api/v1/intel/feeds', h.admin, {
        ...feed,
        name: 'x',
        format: 'yaml',
      });
      assert.equal(badFormat.status, 400);
      assert.match(badFormat.json.error.message, /feed\.format/);
      const clash = await call('POST', '/api/v1/intel/feeds', h.admin, { ...feed, name: 'cfg' });
      assert.equal(clash.status, 409);
      assert.equal((await call('POST', '/api/v1/intel/feeds/cfg/pull', h.viewer)).status, 403);
      const pulled = await call('POST', '/api/v1/intel/feeds/cfg/pull', h.analyst);
      assert.equal(pulled.status, 200);
      assert.equal(pulled.json.pulls, 2);
      assert.equal((await call('POST', '/api/v1/intel/feeds/none/pull', h.analyst)).status, 404);

      // search and lookup
      const found = await call('GET', '/api/v1/intel/indicators?q=example&type=domain', h.viewer);
      assert.equal(found.status, 200);
      assert.deepEqual(
        found.json.items.map((i: { value: string }) => i.value),
        ['bad.example'],
      );
      assert.equal(found.json.total, 4);
      const sub = await call('GET', '/api/v1/intel/lookup?value=a.b.Evil.Example', h.viewer);
      assert.equal(sub.status, 200);
      assert.equal(sub.json.indicator.type, 'domain_suffix');
      assert.equal(sub.json.indicator.value, 'evil.example');
      const net = await call('GET', '/api/v1/intel/lookup?value=198.51.100.200', h.viewer);
      assert.equal(net.json.indicator.value, '198.51.100.0/24');
      const miss = await call('GET', '/api/v1/intel/lookup?value=192.0.2.1', h.viewer);
      assert.equal(miss.json.indicator, null);
      assert.equal((await call('GET', '/api/v1/intel/lookup?value=%20%24%24', h.viewer)).status, 400);

      // a hunt runs in the background; its progress and findings are read back
      assert.equal((await call('POST', '/api/v1/intel/hunts', h.viewer, {})).status, 403);
      const hunt = await call('POST', '/api/v1/intel/hunts', h.analyst, { after: '2024-01-01T00:00:00Z' });
      assert.equal(hunt.status, 202);
      let state = hunt.json;
      while (state.progress.state === 'running') {
        await new Promise((r) => setTimeout(r, 20));
        state = (await call('GET', `/api/v1/intel/hunts/${hunt.json.id}`, h.viewer)).json;
      }
      assert.equal(state.progress.state, 'done');
      assert.equal(state.progress.types_done, state.progress.types_total);
      assert.deepEqual(
        state.findings.map((f: { value: string; hosts: string[] }) => [f.value, f.hosts]).sort(),
        [
          ['198.51.100.0/24', ['10.3.0.2']],
          ['203.0.113.7', ['10.3.0.1']],
        ],
      );
      const hunts = await call('GET', '/api/v1/intel/hunts', h.viewer);
      assert.equal(hunts.json.hunts[0].id, hunt.json.id);
      assert.equal((await call('GET', '/api/v1/intel/hunts/nope', h.viewer)).status, 404);
      const badTime = await call('POST', '/api/v1/intel/hunts', h.analyst, { after: 'soonish' });
      assert.equal(badTime.status, 400);

      // removing: admins only, and only feeds added over the API
      assert.equal((await call('DELETE', '/api/v1/intel/feeds/added', h.analyst)).status, 403);
      assert.equal((await call('DELETE', '/api/v1/intel/feeds/cfg', h.admin)).status, 404);
      assert.equal((await call('DELETE', '/api/v1/intel/feeds/added', h.admin)).status, 204);
      const after = await call('GET', '/api/v1/intel/feeds', h.viewer);
      assert.deepEqual(
        after.json.feeds.map((f: { name: string }) => f.name),
        ['cfg'],
      );
      assert.equal(after.json.counters.indicators, 2);
    } finally {
      await app.close();
      await intel.stop();
    }
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
