import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, ingest, ofType } from '../../test/support/fixtures.js';
import { AlertAggregator } from '../common/alerts.js';
import type { AlertRecord } from '../schema/alert.js';
import type { FlowRecord } from '../schema/records.js';
import { ingestText } from './ingest.js';

const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'IPv6-ICMP' };

test("third-party alerts join Vantage's own flows by Community ID, whichever way the tool reports the tuple", async () => {
  for (const cap of ['tls12-sni-chrome.pcap', 'ipv6-mixed-tcp-udp-ssh-dns.pcap']) {
    const { records } = await ingest(fixture(cap));
    const flows = ofType<FlowRecord>(records, 'flow').filter((f) => f.proto === 6 || f.proto === 17);
    assert.ok(flows.length > 0, cap);
    for (const f of flows.slice(0, 20)) {
      const out: AlertRecord[] = [];
      const agg = new AlertAggregator((r) => out.push(r), { mode: 'final' });
      // Suricata may name the responder as the source (an alert on the server's reply).
      const lines = [
        [f.client_ip, f.client_port, f.server_ip, f.server_port],
        [f.server_ip, f.server_port, f.client_ip, f.client_port],
      ].map(([s, sp, d, dp]) =>
        JSON.stringify({
          timestamp: f.first_ts.replace(/(\.\d{6})\d*Z$/, '$1+0000'),
          event_type: 'alert',
          src_ip: s,
          src_port: sp,
          dest_ip: d,
          dest_port: dp,
          proto: PROTO_NAME[f.proto],
          alert: { signature_id: 1, signature: 'join', severity: 3 },
        }),
      );
      const r = ingestText('eve', lines.join('\n'), { emitter: agg });
      agg.flush();
      assert.equal(r.alerts, 2, `${cap}: ${JSON.stringify(r.weird)}`);
      for (const a of out) assert.equal(a.community_id, f.community_id, `${cap} ${a.src_ip} → ${a.dst_ip}`);
      assert.equal(Date.parse(out[0]!.first_ts), Math.floor(Date.parse(f.first_ts)));
    }
  }
});
