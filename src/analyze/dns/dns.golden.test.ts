import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fixture, GOLDEN, ingest } from '../../../test/support/fixtures.js';
import { createDnsAnalyzer, type DnsRecord } from './analyzer.js';

/** Captures whose golden (from tshark) lists DNS messages. */
const CAPTURES = [
  'dns-udp-many-types-nxdomain.pcap',
  'dns-tcp-multirequest-nxdomain.pcap',
  'dns-edns-ecs-dnssec-v4v6.pcap',
  'pcapng-two-interfaces-dns.pcapng',
  'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  'icmpv6-mixed-types.pcap',
  'gre-tunnel-sample.pcap',
];

interface Golden {
  dns_queries: [string, number][];
  dns_responses: [string, number][];
}

const norm = (s: string | null): string => (s ?? '').toLowerCase().replace(/\.$/, '');

async function run(name: string): Promise<DnsRecord[]> {
  const recs: DnsRecord[] = [];
  await ingest(fixture(name), (s) =>
    s.addHook(createDnsAnalyzer((r) => recs.push(r as unknown as DnsRecord))),
  );
  return recs;
}

function multiset(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

describe('DNS golden (tshark)', () => {
  for (const name of CAPTURES) {
    test(name, async () => {
      const g = JSON.parse(readFileSync(`${GOLDEN}${name}.json`, 'utf8')) as Golden;
      const recs = await run(name);
      // Every query message is a transaction (a record with its query); every response an rcode.
      const gotQ = multiset(
        recs
          .filter((r) => r.status !== 'unsolicited' && !(r.status === 'icmp_quoted' && r.rcode !== null))
          .map((r) => `${norm(r.query)}|${r.qtype}`),
      );
      const wantQ = multiset(g.dns_queries.map(([n, t]) => `${norm(n)}|${t}`));
      assert.deepEqual(gotQ, wantQ);
      const gotR = multiset(recs.filter((r) => r.rcode !== null).map((r) => `${norm(r.query)}|${r.rcode}`));
      const wantR = multiset(g.dns_responses.map(([n, c]) => `${norm(n)}|${c}`));
      assert.deepEqual(gotR, wantR);
    });
  }

  test('EDNS client subnet, DNSSEC OK and RTT on a real transaction', async () => {
    const recs = await run('dns-edns-ecs-dnssec-v4v6.pcap');
    const r = recs.find((x) => x.trans_id === 0xa641)!;
    assert.equal(r.status, 'answered');
    assert.equal(r.query, 'ns1.weberdns.de');
    assert.equal(r.edns_client_subnet, '213.61.29.0/24');
    assert.equal(r.edns_do, true);
    assert.equal(r.rtt_ms, 0.301);
    assert.equal(r.answers[0]!.data, '80.154.108.230');
    assert.equal(r.client_ip, '74.125.47.13');
  });

  test('DNS over TCP pipelined: 20 answered NXDOMAIN transactions', async () => {
    const recs = await run('dns-tcp-multirequest-nxdomain.pcap');
    assert.equal(recs.length, 20);
    assert.ok(recs.every((r) => r.status === 'answered' && r.rcode_name === 'NXDomain' && r.proto === 6));
  });
});
