import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generate } from '../../bench/gen-capture.js';
import { AlertAggregator, type AnyRecord, type RecordWatcher } from '../../src/common/alerts.js';
import { Matcher } from '../../src/intel/matcher.js';
import { type Ioc, type IocType, makeIoc } from '../../src/intel/model.js';
import { IntelWatcher } from '../../src/intel/watcher.js';
import type { AlertRecord } from '../../src/schema/alert.js';
import type { SightingRecord } from '../../src/schema/sighting.js';
import { feedColumns, sensorRecords } from '../detect/columns.js';

/** Distinct values of a field among records of a type, in order of first appearance. */
function values(recs: readonly AnyRecord[], type: string, field: string): string[] {
  const out = new Set<string>();
  for (const r of recs)
    if (r.type === type && typeof r[field] === 'string' && r[field] !== '') out.add(r[field] as string);
  return [...out];
}

function both(m: Matcher, feed: (w: RecordWatcher) => void) {
  const alerts: AlertRecord[] = [];
  const sightings: SightingRecord[] = [];
  const agg = new AlertAggregator((a) => alerts.push(a), { mode: 'final', sensor: 'test' });
  const w = new IntelWatcher(m, agg, (s) => sightings.push(s));
  feed(w);
  agg.flush();
  return { alerts, sightings, counters: w.counters };
}

test('intel: column batches raise exactly the alerts and sightings of the same records one by one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-cols-'));
  let recs: AnyRecord[];
  try {
    const file = join(dir, 'c.pcap');
    generate(file, 60_000);
    recs = await sensorRecords(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const src = ['test'];
  const iocs: Ioc[] = [];
  const add = (t: IocType, v: string, p: Partial<Ioc> = {}): void => void iocs.push(makeIoc(t, v, src, p));
  const servers = values(recs, 'flow', 'server_ip').filter((v) => !v.includes(':'));
  const clients = values(recs, 'flow', 'client_ip').filter((v) => !v.includes(':'));
  for (const v of servers.slice(0, 5)) add('ipv4', v);
  add('ipv4', clients[0]!);
  // a network around another server, and an indicator that expired before the capture
  add('cidr', `${servers[7]!.split('.').slice(0, 3).join('.')}.0/24`);
  add('ipv4', servers[9]!, { valid_until: Date.parse('2000-01-01') });
  const queries = values(recs, 'dns', 'query');
  for (const q of queries.slice(0, 3)) add('domain', q.toLowerCase());
  const parent = queries[4]!.toLowerCase().split('.').slice(-2).join('.');
  add('domain_suffix', parent);
  const hosts = values(recs, 'http', 'host');
  // a name no domain indicator above covers, for the HTTP host and TLS server name kinds
  const free = (v: string): boolean => !queries.slice(0, 3).includes(v) && !v.endsWith(parent);
  add('http_host', hosts.find(free)!.toLowerCase().replace(/:\d+$/, ''));
  const snis = values(recs, 'tls', 'sni');
  add('sni', snis.find(free)!.toLowerCase());
  const ja3 = values(recs, 'tls', 'ja3');
  if (ja3[0]) add('ja3', ja3[0]);
  // and many that match nothing, so the prefilter has neighbours to confuse
  for (let i = 0; i < 50_000; i++) {
    const a = (i * 2654435761) >>> 0;
    add(
      i % 2 ? 'ipv4' : 'domain',
      i % 2
        ? `${(a >>> 24) | 1}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`
        : `n${i}.x${i % 97}.example`,
    );
    if (i % 10 === 0) add('cidr', `${(a >>> 24) | 1}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`);
  }
  const m = Matcher.build(iocs);
  const obj = both(m, (w) => {
    for (const r of recs) w.onRecord(r);
  });
  const col = both(m, (w) => void feedColumns(w, recs));
  // not vacuous: every planted kind was hit on the record path
  const kinds = new Set(obj.sightings.map((s) => s.indicator_type));
  for (const k of ['ipv4', 'cidr', 'domain', 'domain_suffix', 'http_host', 'sni'])
    assert.ok(kinds.has(k), `hit on ${k}`);
  assert.ok(obj.counters.expired_hits > 0, 'the expired indicator was seen and not raised');
  assert.equal(col.counters.records, obj.counters.records);
  assert.equal(col.counters.hits, obj.counters.hits);
  assert.equal(col.counters.expired_hits, obj.counters.expired_hits);
  assert.deepEqual(col.sightings, obj.sightings);
  assert.deepEqual(col.alerts, obj.alerts);
});

test('intel prefilter: no indicator is ever filtered out (every loaded value and network still matches)', () => {
  const iocs: Ioc[] = [];
  for (let i = 0; i < 20_000; i++) {
    const a = Math.imul(i + 1, 2246822519) >>> 0;
    const ip = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    iocs.push(makeIoc('ipv4', ip, ['t']));
    if (i % 7 === 0)
      iocs.push(
        makeIoc(
          'cidr',
          `${a >>> 24}.${(a >>> 16) & 255}.0.0/${8 + (i % 17)}`.replace(
            /\.0\.0\/(\d+)$/,
            (_, l) => `.0.0/${Math.max(16, Number(l))}`,
          ),
          ['t'],
        ),
      );
    iocs.push(makeIoc(i % 3 ? 'domain' : 'domain_suffix', `h${i}.zone${i % 331}.test`, ['t']));
    iocs.push(makeIoc('ja3', a.toString(16).padStart(8, '0').repeat(4), ['t']));
  }
  const m = Matcher.build(iocs);
  for (const i of iocs) {
    if (i.type === 'ipv4') assert.ok(m.matchIp(i.value), i.value);
    else if (i.type === 'cidr') {
      const base = i.value.split('/')[0]!.split('.').map(Number);
      base[3] = 9;
      assert.ok(m.matchIp(base.join('.')), i.value);
    } else if (i.type === 'domain')
      assert.ok(m.mayName(i.value.toUpperCase()) && m.matchDomain(i.value), i.value);
    else if (i.type === 'domain_suffix')
      assert.ok(m.mayName(`Deep.Sub.${i.value}`) && m.matchDomain(`deep.sub.${i.value}`), i.value);
    else assert.ok(m.mayExact(i.value.toUpperCase()), i.value);
  }
  // and it does filter: most values that are on no feed are turned away
  let through = 0;
  for (let i = 0; i < 100_000; i++) if (m.mayName(`other${i}.site${i % 1000}.com`)) through++;
  assert.ok(through < 3000, `${through} of 100,000 unknown names got through the filter`);
});
