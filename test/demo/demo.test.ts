/**
 * The first start of `vantage start` loads the demo network: everything its README section
 * promises is found by the product's own paths, inside the console's default time range
 * (the last 24 hours), with few alerts beyond the planted incidents.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Product, productOptions, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { HOSTS, NAMES, VLANS } from '../../src/demo/generate.js';

let product: Product;
let dir: string;
let elapsed = 0;
type Row = Record<string, unknown>;
let alerts: Row[] = [];

async function rows(type: string, fields?: string[]): Promise<Row[]> {
  const out: Row[] = [];
  const after = (Date.now() - 86_400_000) * 1000;
  await product.store.stream({ type, after, ...(fields ? { fields } : {}) }, (rs) => {
    for (const r of rs) out.push(r as Row);
  });
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vantage-demo-'));
  const t0 = performance.now();
  product = await startProduct({
    ...productOptions({ data: join(dir, 'data'), listen: '127.0.0.1:0', 'collect-udp': 'none' }, {}),
    log: silentLogger,
    print: () => {},
  });
  await product.samplesDone;
  elapsed = (performance.now() - t0) / 1000;
  alerts = await rows('alert');
});

after(async () => {
  await product?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('vantage start loads the demo by default, and the fixtures when told', () => {
  assert.equal(productOptions({}, {}).demo, true);
  const o = productOptions({ 'samples-dir': 'test/fixtures/pcaps' }, {});
  assert.equal(o.samplesDir, 'test/fixtures/pcaps');
  assert.equal(o.demo, undefined);
});

test('the first start is ready quickly', () => {
  process.stderr.write(`demo first start: ${elapsed.toFixed(1)} s, ${alerts.length} alerts\n`);
  assert.ok(elapsed < 45, `first start took ${elapsed.toFixed(1)} s`);
});

test('every planted incident is an alert of its kind, on the right hosts', () => {
  const of = (cat: string) => alerts.filter((a) => a.category === cat);
  const one = (cat: string, pred: (a: Row) => boolean, what: string) =>
    assert.ok(
      of(cat).some(pred),
      `no ${cat} alert ${what}; alerts: ${JSON.stringify(alerts.map((a) => [a.category, a.title]))}`,
    );
  one('scan', (a) => a.src_ip === HOSTS.scanner && a.dst_ip === HOSTS.directory, 'from the scanner');
  one('bruteforce', (a) => a.src_ip === HOSTS.attacker && a.dst_port === 22, 'on the bastion');
  one('beacon', (a) => a.src_ip === HOSTS.beaconing && a.dst_ip === HOSTS.c2, 'to the C2');
  one('dns_tunnel', (a) => a.src_ip === HOSTS.tunnelling, 'from the tunnelling host');
  one('intel', (a) => a.src_ip === HOSTS.beaconing || a.dst_ip === HOSTS.c2, 'for the C2');
  one('intel', (a) => JSON.stringify(a).includes(NAMES.phishing), 'for the phishing domain');
  one('policy', (a) => a.src_ip === HOSTS.web[0] && a.dst_ip === HOSTS.db && a.dst_port === 5432, 'web → db');
  one('ids', (a) => a.src_ip === HOSTS.attacker && JSON.stringify(a).includes('suricata'), 'from Suricata');
});

test('few alerts beyond the incidents (a demo of false alarms is a bad first impression)', () => {
  const planted = new Set<string>([
    HOSTS.scanner,
    HOSTS.attacker,
    HOSTS.beaconing,
    HOSTS.tunnelling,
    HOSTS.phished,
  ]);
  const other = alerts.filter(
    (a) =>
      !planted.has(String(a.src_ip)) &&
      !(a.category === 'policy' && a.src_ip === HOSTS.web[0] && a.dst_ip === HOSTS.db),
  );
  assert.ok(
    other.length <= 3,
    `unexpected alerts: ${JSON.stringify(other.map((a) => [a.category, a.title]))}`,
  );
  assert.ok(alerts.length <= 20, `${alerts.length} alerts`);
});

test('the network is all there: collected flows, IPv6, VLANs, TLS with SNI, DNS', async () => {
  const exported = await rows('exported_flow', ['exporter', 'src_ip']);
  assert.ok(exported.length > 1000, `${exported.length} exported flows`);
  assert.ok(exported.every((r) => r.exporter === HOSTS.branchRouter));
  const flows = await rows('flow', ['client_ip', 'vlan', 'first_ts']);
  assert.ok(
    flows.some((f) => String(f.client_ip).includes(':')),
    'no IPv6 flow',
  );
  const vlans = new Set(flows.map((f) => Number(f.vlan)));
  for (const v of Object.values(VLANS)) assert.ok(vlans.has(v), `no flow on VLAN ${v}: ${[...vlans]}`);
  // The whole demo is in the last two hours and ends before now.
  const ts = flows.map((f) => Date.parse(String(f.first_ts)));
  assert.ok(Math.min(...ts) > Date.now() - 2 * 3_600_000 && Math.max(...ts) < Date.now());
  const tls = await rows('tls', ['sni']);
  assert.ok(tls.some((r) => r.sni === 'outlook.office365.com'));
  const dns = await rows('dns', ['query']);
  assert.ok(dns.some((r) => r.query === NAMES.portal));
});
