import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { type Ioc, makeIoc } from '../../src/intel/model.js';
import { type HuntFinding, retroHunt } from '../../src/intel/retro.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import type { Rec, RecordStore } from '../../src/store/types.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** Flows between internal clients and servers of several networks, both families, over three days. */
function flows(): Rec[] {
  const out: Rec[] = [];
  for (let i = 0; i < 6000; i++) {
    const v6 = i % 10 === 0;
    const server = v6
      ? `2001:db8:${i % 7}::${(i % 13) + 1}`
      : `${[198, 203, 192][i % 3]}.${i % 3 === 2 ? '0.2' : '51.100'}.${i % 250}`;
    const client = v6 ? `fd00::${(i % 40) + 1}` : `10.0.${i % 4}.${(i % 40) + 1}`;
    const ms = T0 + i * 40_000;
    out.push({
      type: 'flow',
      flow_id: 1_000_000 + i,
      community_id: `1:${i}`,
      proto: 6,
      client_ip: client,
      client_port: 40000 + (i % 1000),
      server_ip: server,
      server_port: 443,
      first_ts: iso(ms),
      last_ts: iso(ms + 1500),
      client_packets: 3,
      server_packets: 2,
    });
  }
  return out;
}

/** The truth, computed from the rows themselves: first/last seen, flows and hosts per indicator. */
function truth(rows: readonly Rec[], hit: (ip: string) => boolean, after?: number): Map<string, HuntFinding> {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let n = 0;
  const hosts = new Set<string>();
  for (const r of rows) {
    const a = Date.parse(r.first_ts as string);
    if (after !== undefined && Date.parse(r.last_ts as string) < after) continue;
    if (!hit(r.server_ip as string)) continue;
    n++;
    first = Math.min(first, a);
    last = Math.max(last, Date.parse(r.last_ts as string));
    hosts.add(r.client_ip as string);
  }
  return new Map(
    n
      ? [
          [
            'x',
            {
              first_seen: iso(first),
              last_seen: iso(last),
              flows: n,
              hosts: [...hosts].sort(),
            } as HuntFinding,
          ],
        ]
      : [],
  );
}

test('retro-hunt joined in the store finds what a scan finds, with exact first/last seen and flow counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-hunt-'));
  const store = createEmbeddedStore({ dataDir: dir }, { log: silentLogger });
  try {
    await store.start();
    const rows = flows();
    // the first two days compacted to Parquet, the third live: the join reads both
    await store.append('flow', rows.slice(0, 4000));
    await store.compact(true);
    await store.append('flow', rows.slice(4000));
    const src = ['t'];
    const iocs: Ioc[] = [
      makeIoc('ipv4', '198.51.100.7', src),
      makeIoc('ipv4', '203.51.100.100', src),
      makeIoc('cidr', '192.0.2.0/28', src),
      makeIoc('cidr', '203.51.100.240/30', src),
      makeIoc('ipv6', '2001:db8:3::5', src),
      makeIoc('cidr', '2001:db8:4::/48', src),
      makeIoc('ipv4', '10.0.0.9', src),
      makeIoc('ipv4', '100.64.0.1', src),
      makeIoc('domain', 'never.example', src),
    ];
    const scanOnly: RecordStore = new Proxy(store, {
      get: (t, p) => (p === 'hunt' ? undefined : (Reflect.get(t, p) as unknown)),
    });
    for (const range of [{}, { after: T0 + 86_400_000 }]) {
      const joined = await retroHunt(store, iocs, range);
      const scanned = await retroHunt(scanOnly, iocs, range);
      const by = (f: HuntFinding[]) => new Map(f.map((x) => [`${x.type} ${x.value}`, x]));
      assert.deepEqual(by(joined.findings), by(scanned.findings));
      // only the hits travel out of the store
      assert.ok(joined.progress.scanned <= scanned.progress.scanned);
      const got = by(joined.findings);
      assert.equal(got.has('ipv4 100.64.0.1'), false);
      const check = (key: string, hit: (ip: string) => boolean): void => {
        const want = truth(rows, hit, 'after' in range ? range.after : undefined).get('x');
        const f = got.get(key);
        assert.ok(want && f, key);
        assert.equal(f.first_seen, want.first_seen, `${key} first seen`);
        assert.equal(f.last_seen, want.last_seen, `${key} last seen`);
        assert.equal(f.flows, want.flows, `${key} flows`);
        assert.deepEqual(f.hosts, want.hosts, `${key} hosts`);
      };
      check('ipv4 198.51.100.7', (ip) => ip === '198.51.100.7');
      check('cidr 192.0.2.0/28', (ip) => /^192\.0\.2\.([0-9]|1[0-5])$/.test(ip));
      check('cidr 203.51.100.240/30', (ip) => /^203\.51\.100\.24[0-3]$/.test(ip));
      check('ipv6 2001:db8:3::5', (ip) => ip === '2001:db8:3::5');
      check('cidr 2001:db8:4::/48', (ip) => ip.startsWith('2001:db8:4::'));
      assert.ok(got.get('ipv4 10.0.0.9')!.flows > 0, 'client side hit');
    }
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
