import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFeedConfig } from '../../src/intel/config.js';
import { pullFeed } from '../../src/intel/pull.js';
import { needPython } from './oracle.js';

/** Two events written the way MISP feeds are published: MISPEvent.to_feed + feed_meta_generator. */
const GEN = `
import sys, json
from pathlib import Path
from pymisp import MISPEvent, MISPOrganisation, MISPObject
from pymisp.tools.feed import feed_meta_generator
out = Path(sys.argv[1])
org = MISPOrganisation(); org.name = 'CIRCL'; org.uuid = '55f6ea5e-2c60-40e5-964f-47a8950d210f'
e = MISPEvent(); e.info = 'C2 of a test campaign'; e.Orgc = org; e.threat_level_id = 1
e.uuid = '5e3b1a2c-0000-4000-8000-000000000001'
e.add_tag('tlp:white')
e.add_attribute('ip-dst', '203.0.113.7', to_ids=True, comment='c2')
e.add_attribute('ip-dst', '203.0.113.8', to_ids=False)
e.add_attribute('domain', 'Evil.Example', to_ids=True)
e.add_attribute('ip-dst|port', '198.51.100.4|8443', to_ids=True)
e.add_attribute('url', 'http://evil.example/dl/x.exe', to_ids=True)
e.add_attribute('sha256', 'A' * 64, to_ids=True)
e.add_attribute('ja3-fingerprint-md5', 'b' * 32, to_ids=True)
e.add_attribute('ip-dst', '8.8.8.8', to_ids=True)
e.add_attribute('text', 'free text', to_ids=False)
e.add_attribute('mutex', 'Global\\\\x', to_ids=True)
o = MISPObject('domain-ip')
o.add_attribute('domain', value='obj.evil.example', to_ids=True)
o.add_attribute('ip', value='2001:db8::5', to_ids=True)
e.add_object(o)
e2 = MISPEvent(); e2.info = 'phishing'; e2.Orgc = org; e2.threat_level_id = 3
e2.uuid = '5e3b1a2c-0000-4000-8000-000000000002'
a = e2.add_attribute('hostname', 'login.phish.example', to_ids=True)
a.add_tag('kill-chain:delivery')
e2.add_attribute('ip-src', '192.0.2.0/24', to_ids=True)
for ev in (e, e2):
    (out / f'{ev.uuid}.json').write_text(json.dumps(ev.to_feed()))
feed_meta_generator(out)
`;

const WARNINGLIST = {
  name: 'List of known IPv4 public DNS resolvers',
  version: 1,
  description: 'test',
  type: 'cidr',
  list: ['8.8.8.8/32', '8.8.4.4/32'],
  matching_attributes: ['ip-dst', 'ip-src'],
};

test('MISP feeds written by pymisp load with types mapped, to_ids honoured and warninglists applied', async (t) => {
  const py = needPython(t, 'pymisp');
  if (!py) return;
  const dir = mkdtempSync(join(tmpdir(), 'vantage-misp-'));
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(
        join(dir, (req.url ?? '/').replace(/^\/feed\//, '').replace(/[^A-Za-z0-9.-]/g, '')),
      );
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  try {
    const gen = spawnSync(py, ['-c', GEN, dir]);
    assert.equal(gen.status, 0, gen.stderr.toString());
    // pymisp's hashes.csv: one md5 per attribute value (a composite's two halves apart), with its event
    const hashes = readFileSync(join(dir, 'hashes.csv'), 'utf8').trim().split('\n');
    assert.equal(hashes.length, 15);
    assert.ok(
      hashes.includes(
        `${createHash('md5').update('198.51.100.4').digest('hex')},5e3b1a2c-0000-4000-8000-000000000001`,
      ),
    );
    const wl = join(dir, 'wl-dns.json');
    writeFileSync(wl, JSON.stringify(WARNINGLIST));
    const load = async (extra: Record<string, unknown>) =>
      (
        await pullFeed(
          parseFeedConfig({ name: 'circl', format: 'misp', file: dir, schedule: 0, ...extra }, 'feed'),
          {},
          Date.parse('2024-02-01T00:00:00Z'),
        )
      ).result;
    const show = (r: Awaited<ReturnType<typeof load>>) =>
      r.iocs.map((i) => `${i.type} ${i.value} ${i.severity}`).sort();

    const r = await load({});
    assert.deepEqual(show(r), [
      'cidr 192.0.2.0/24 30',
      'domain evil.example 90',
      'domain login.phish.example 30',
      'domain obj.evil.example 90',
      `file_hash ${'a'.repeat(64)} 90`,
      'ipv4 198.51.100.4 90',
      'ipv4 203.0.113.7 90',
      'ipv4 8.8.8.8 90',
      'ipv6 2001:db8::5 90',
      `ja3 ${'b'.repeat(32)} 90`,
      'url evil.example/dl/x.exe 90',
    ]);
    assert.equal(r.unsupported, 1, r.problems.join('\n'));
    assert.match(r.problems.join('\n'), /mutex is not matched/);
    const c2 = r.iocs.find((i) => i.value === '203.0.113.7')!;
    assert.equal(c2.description, 'c2');
    assert.deepEqual(c2.tags, ['tlp:white', 'misp:category=Network activity']);
    const phish = r.iocs.find((i) => i.value === 'login.phish.example')!;
    assert.equal(phish.description, 'phishing');
    assert.deepEqual(phish.tags, ['kill-chain:delivery', 'misp:category=Network activity']);

    // every attribute, to_ids or not; the free text is then one more unsupported type
    const all = await load({ to_ids_only: false });
    assert.ok(all.iocs.some((i) => i.value === '203.0.113.8'));
    assert.equal(all.iocs.length, 12);
    assert.equal(all.unsupported, 2);

    // a warninglist takes the public resolver out and says so
    const warned = await load({ warninglists: [wl] });
    assert.equal(warned.iocs.length, 10);
    assert.ok(!warned.iocs.some((i) => i.value === '8.8.8.8'));
    assert.match(warned.problems.join('\n'), /8\.8\.8\.8 is on a warninglist/);

    // the same feed over HTTP (manifest.json URL)
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed/manifest.json`;
    const overHttp = (
      await pullFeed(parseFeedConfig({ name: 'circl', format: 'misp', url, schedule: 0 }, 'feed'), {}, 0)
    ).result;
    assert.deepEqual(show(overHttp), show(r));

    // a manifest naming an event that is not there is a feed error, not a partial set
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    m['5e3b1a2c-0000-4000-8000-000000000009'] = {};
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    await assert.rejects(load({}), /5e3b1a2c-0000-4000-8000-000000000009\.json: no such file/);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
