import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alertRecordOf } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { ALERT_CATEGORIES, type AlertRecord, alertRecord } from '../../src/schema/alert.js';
import { createEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded/store.js';
import { parseFilter } from '../../src/store/filter.js';
import { compileMatcher } from '../../src/store/match.js';

/** Alerts whose fields hit the edges: nulls, both address families, case, lists, JSON. */
function alerts(n: number): AlertRecord[] {
  const out: AlertRecord[] = [];
  let seed = 7;
  const rnd = (k: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % k;
  };
  const ips = ['10.0.0.1', '10.1.2.3', '192.168.1.20', '2001:db8::1', '2001:db8:1::5', '8.8.8.8', null];
  const titles = ['Port scan', 'port SCAN of host', 'DNS tunnel', 'Beacon to C2', 'Ünïcode 🚀 title', ''];
  for (let i = 0; i < n; i++) {
    const rec = alertRecordOf(
      {
        ts: Date.UTC(2026, 0, 1) + i * 60_000,
        category: ALERT_CATEGORIES[rnd(ALERT_CATEGORIES.length)]!,
        detector: ['scan.vertical', 'intel.ip', 'dns.tunnel', 'Scan.Horizontal'][rnd(4)]!,
        title: titles[rnd(titles.length)]!,
        severity: rnd(101),
        confidence: rnd(101),
        src_ip: ips[rnd(ips.length)] ?? null,
        dst_ip: ips[rnd(ips.length)] ?? null,
        dst_port: rnd(3) === 0 ? null : [22, 53, 443, 8080][rnd(4)]!,
        attack_technique: rnd(2) ? 'T1046' : null,
        tags: rnd(3) === 0 ? [] : ['lab', 'Edge', 'x=1'].slice(rnd(3)),
        evidence: { hits: rnd(50), note: rnd(2) ? 'Threshold' : 'baseline' },
        retro: rnd(2) === 0,
      },
      'sensor-1',
    );
    rec.alert_id = `a-${i}`;
    out.push(rec);
  }
  return out;
}

const FILTERS = [
  'severity >= 70',
  'severity >= 70 and category != "scan"',
  'not (severity < 40 or confidence > 80)',
  'src_ip = 10.0.0.0/8',
  'ip = 2001:db8::/32',
  'src_ip != 10.0.0.0/8',
  'dst_ip = 8.8.8.8',
  'src_ip = null',
  'src_ip != null',
  'dst_port exists',
  'dst_port in (22, 443)',
  'dst_port not in (22, 443)',
  'port = 53',
  'title ~ "scan"',
  'title !~ "SCAN"',
  'title ~ "🚀"',
  'title > "P"',
  'title <= "port"',
  'detector in ("scan.vertical", "intel.ip")',
  'tags = "lab"',
  'tags ~ "edge"',
  'tags ~ "="',
  'evidence ~ "threshold"',
  'attack_technique = T1046 or retro = true',
  'retro = false and dst_port != 22',
  'ts >= 2026-01-01T01:00:00Z and ts < 2026-01-01T02:00:00Z',
  'last_ts > 2026-01-01T03:00:00Z',
  'category = "" or title = ""',
  'severity_label in (high, critical) && !(src_ip = 192.168.0.0/16)',
];

describe('compileMatcher answers as the store does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-match-'));
  let store: EmbeddedStore;
  const recs = alerts(400);
  before(async () => {
    store = createEmbeddedStore({ dataDir: dir, threads: 2 }, { log: silentLogger });
    await store.start();
    await store.append('alert', recs);
  });
  after(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const text of FILTERS) {
    it(text, async () => {
      const cond = parseFilter(text, alertRecord);
      const page = await store.list({ type: 'alert', filter: cond, limit: 1000, fields: ['alert_id'] });
      const want = page.items.map((r) => String(r.alert_id)).sort();
      const m = compileMatcher(cond, alertRecord);
      const got = recs
        .filter((r) => m(r))
        .map((r) => r.alert_id)
        .sort();
      assert.deepEqual(got, want);
      // A filter that selects nothing or everything proves little; the set mixes both outcomes.
      assert.ok(text === 'title ~ "🚀"' || (want.length > 0 && want.length < recs.length), text);
    });
  }

  it('an empty filter matches everything', () => {
    assert.equal(compileMatcher(parseFilter('', alertRecord), alertRecord)(recs[0]!), true);
  });
});
