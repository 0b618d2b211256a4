/**
 * sFlow counter samples from a real agent (tcpdump's test capture, BSD) against tshark: one
 * sflow_counters record per counter sample. Five datagrams sent to the sFlow port are NetFlow v5
 * (tshark leaves them as plain UDP, by port); Vantage detects the protocol by content and
 * decodes their 7 flow records.
 * (The corpus' NetFlow/IPFIX captures are GPL/AGPL-licensed and stay out of the project; the
 * made/ fixtures stand in for them, and ../shared/tools/check-all.sh scores the corpus.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../support/fixtures.js';
import { collectCapture } from './build.js';

test('sflow-v5-counter-samples.pcap: every counter sample tshark decodes', async () => {
  const recs = await collectCapture(fixture('sflow-v5-counter-samples.pcap'), []);
  // tshark 4.0: 144 samples (2 counters_sample + 142 expanded_counters_sample), no flow samples
  assert.equal(recs.filter((r) => r.type === 'sflow_counters').length, 144);
  const v5 = recs.filter((r) => r.type === 'exported_flow');
  assert.equal(v5.length, 7);
  assert.ok(v5.every((r) => r.source === 'netflow5' && r.exporter_port === 40000));
});
