import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixture, GOLDEN, ingest } from '../../../test/support/fixtures.js';
import { createHttpAnalyzer } from './analyzer.js';

type R = Record<string, unknown>;

/** Multiset containment: every golden item is matched by a distinct produced one. */
function missing(want: unknown[], got: unknown[]): unknown[] {
  const pool = got.map((g) => JSON.stringify(g));
  const miss: unknown[] = [];
  for (const w of want) {
    const i = pool.indexOf(JSON.stringify(w));
    if (i < 0) miss.push(w);
    else pool.splice(i, 1);
  }
  return miss;
}

// (method, host, uri) and status multisets equal tshark's requests (golden from tshark 4.0.17).
for (const name of [
  'http-methods-many.pcap',
  'tcp-retransmissions-http.pcap',
  'http-206-zero-window.pcap',
  'qinq-double-vlan-http.pcap',
  'vxlan-http.pcap',
]) {
  test(`http golden: ${name}`, async () => {
    const golden = JSON.parse(readFileSync(`${GOLDEN}${name}.json`, 'utf8')) as R;
    const out: R[] = [];
    await ingest(fixture(name), (s) =>
      s.addHook(
        createHttpAnalyzer((r) => {
          out.push(r);
        }),
      ),
    );
    const http = out.filter((r) => r['type'] === 'http');
    const reqs = http
      .filter((r) => r['method'] !== null)
      .map((r) => [r['method'], String(r['host'] ?? '').toLowerCase(), r['uri']]);
    const want = (golden['http_requests'] as [string, string | null, string | null][]).map(([m, h, u]) => [
      m,
      (h ?? '').toLowerCase(),
      u,
    ]);
    assert.equal(reqs.length, want.length, 'requests recognised as tshark does');
    assert.deepEqual(missing(want, reqs), []);
    const status = http.map((r) => r['status']).filter((s) => s !== null);
    assert.deepEqual(missing(golden['http_status'] as unknown[], status), []);
    assert.equal(out.filter((r) => r['type'] === 'weird').length, 0);
  });
}
