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
import { SIGHTINGS_COLLECTION } from '../../src/intel/taxii-server.js';
import type { SightingRecord } from '../../src/schema/sighting.js';
import { startHarness } from '../api/harness.js';
import { needPython, runPython, runPythonAsync } from './oracle.js';

const flow = (c: string, s: string, minute: number, id: number): AnyRecord => ({
  type: 'flow',
  flow_id: id,
  community_id: `1:t${id}`,
  proto: 6,
  client_ip: c,
  client_port: 40000 + id,
  server_ip: s,
  server_port: 443,
  first_ts: `2024-01-18T00:${String(minute).padStart(2, '0')}:00.000000000Z`,
  last_ts: `2024-01-18T00:${String(minute).padStart(2, '0')}:30.000000000Z`,
});

/** taxii2-client reads every page of the collection with the bearer token in a header. */
const PY_READ = `
import sys, json, requests
from taxii2client.v21 import Server, as_pages
a = json.load(sys.stdin)
class Bearer(requests.auth.AuthBase):
    def __call__(self, r):
        r.headers['Authorization'] = 'Bearer ' + a['token']
        return r
srv = Server(a['url'], auth=Bearer())
root = srv.api_roots[0]
cols = root.collections
c = cols[0]
objs, pages = [], 0
kw = {}
if a.get('after'):
    kw['added_after'] = a['after']
for env in as_pages(c.get_objects, per_request=a['per'], **kw):
    pages += 1
    objs += env.get('objects', [])
print(json.dumps({'title': srv.title, 'root': root.title, 'collections': [(x.id, x.title, x.can_read, x.can_write) for x in cols],
                  'objects': objs, 'pages': pages}))
`;

const PY_VALIDATE = `
import sys, json
from stix2validator import validate_instance, ValidationOptions
b = json.load(sys.stdin)
r = validate_instance(b, ValidationOptions(version='2.1'))
print(json.dumps({'valid': r.is_valid, 'errors': [str(e) for e in r.errors]}))
`;

test('sightings served as a TAXII 2.1 collection read by taxii2-client, with paging and added_after; objects pass stix2-validator', async (t) => {
  const py = needPython(t, 'taxii2client');
  if (!py || !needPython(t, 'stix2validator')) return;
  const h = await startHarness();
  const dir = mkdtempSync(join(tmpdir(), 'vantage-taxii-srv-'));
  try {
    const feed = join(dir, 'f.csv');
    writeFileSync(feed, 'value,type,confidence\n203.0.113.7,ip,90\n198.51.100.0/24,cidr,60\n');
    const sightings: SightingRecord[] = [];
    const intel = createIntel(
      parseIntelConfig({
        feeds: [{ name: 'f', format: 'csv', file: feed, schedule: 0 }],
        retro_on_new: false,
      }),
      {
        dataDir: dir,
        store: h.product.store,
        log: silentLogger,
        emitter: new AlertAggregator(() => {}),
        sightings: (s) => sightings.push(s),
      },
    );
    await intel.start();
    await intel.pull('f');
    for (let k = 0; k < 5; k++) intel.watcher.onRecord(flow(`10.2.0.${k + 1}`, '203.0.113.7', k, 100 + k));
    intel.watcher.onRecord(flow('10.2.0.9', '198.51.100.20', 10, 200));
    intel.watcher.onRecord(flow('10.2.0.9', '192.0.2.1', 11, 201));
    assert.equal(sightings.length, 6);
    await h.product.store.append('sighting', sightings as never[]);

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
      const read = async (extra: Record<string, unknown>) =>
        (await runPythonAsync(py, PY_READ, {
          url: `${base}/taxii2/`,
          token: h.viewer,
          per: 2,
          ...extra,
        })) as {
          title: string;
          root: string;
          collections: [string, string, boolean, boolean][];
          objects: Record<string, unknown>[];
          pages: number;
        };
      const all = await read({});
      assert.equal(all.title, 'Vantage');
      assert.equal(all.root, 'Vantage sightings');
      assert.deepEqual(all.collections, [[SIGHTINGS_COLLECTION, 'vantage-sightings', true, false]]);
      // pages of two objects: each sighting with its indicator, the indicator once a page
      assert.equal(all.pages, 6);
      const sig = all.objects.filter((o) => o.type === 'sighting');
      const ind = new Map(all.objects.filter((o) => o.type === 'indicator').map((o) => [o.id, o]));
      assert.deepEqual(
        sig.map((s) => [
          s.x_vantage_host,
          s.last_seen,
          (ind.get(s.sighting_of_ref) as { pattern: string }).pattern,
        ]),
        [
          ['10.2.0.1', '2024-01-18T00:00:30.000000Z', "[ipv4-addr:value = '203.0.113.7']"],
          ['10.2.0.2', '2024-01-18T00:01:30.000000Z', "[ipv4-addr:value = '203.0.113.7']"],
          ['10.2.0.3', '2024-01-18T00:02:30.000000Z', "[ipv4-addr:value = '203.0.113.7']"],
          ['10.2.0.4', '2024-01-18T00:03:30.000000Z', "[ipv4-addr:value = '203.0.113.7']"],
          ['10.2.0.5', '2024-01-18T00:04:30.000000Z', "[ipv4-addr:value = '203.0.113.7']"],
          ['10.2.0.9', '2024-01-18T00:10:30.000000Z', "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"],
        ],
      );
      assert.equal(new Set(sig.map((s) => s.id)).size, 6);
      const bundle = {
        type: 'bundle',
        id: 'bundle--0b7f5b1e-1f9e-4d8a-9a53-7a6e74616799',
        objects: [...ind.values(), ...sig],
      };
      assert.deepEqual(runPython(py, PY_VALIDATE, bundle), { valid: true, errors: [] });

      // added_after: what came after the third sighting
      const later = await read({ after: '2024-01-18T00:02:30.000000Z' });
      assert.deepEqual(
        later.objects.filter((o) => o.type === 'sighting').map((s) => s.x_vantage_host),
        ['10.2.0.4', '10.2.0.5', '10.2.0.9'],
      );

      // the headers and the problems
      const H = { Authorization: `Bearer ${h.viewer}`, Accept: 'application/taxii+json;version=2.1' };
      const objUrl = `${base}/taxii2/vantage/collections/${SIGHTINGS_COLLECTION}/objects/`;
      const r = await fetch(`${objUrl}?limit=4&match[type]=sighting`, { headers: H });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^application\/taxii\+json; ?version=2\.1/);
      assert.equal(r.headers.get('x-taxii-date-added-first'), '2024-01-18T00:00:30.000000Z');
      assert.equal(r.headers.get('x-taxii-date-added-last'), '2024-01-18T00:03:30.000000Z');
      const env = (await r.json()) as { more: boolean; next: string; objects: { type: string }[] };
      assert.equal(env.more, true);
      assert.deepEqual(
        env.objects.map((o) => o.type),
        ['sighting', 'sighting', 'sighting', 'sighting'],
      );
      assert.equal((await fetch(`${base}/taxii2/`)).status, 401);
      assert.equal(
        (await fetch(`${base}/taxii2/vantage/collections/nope/objects/`, { headers: H })).status,
        404,
      );
      assert.equal((await fetch(`${objUrl}?added_after=whenever`, { headers: H })).status, 400);
    } finally {
      await app.close();
      await intel.stop();
    }
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
