/**
 * The corpus' NetFlow/IPFIX/sFlow captures (../shared/pcaps, GPL/AGPL/LGPL, not copied into the
 * project): decoded record counts equal tshark's oracle. Skipped when the corpus is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ROOT } from '../support/fixtures.js';
import { collectCapture } from './build.js';

const SHARED = `${ROOT}../shared/pcaps/`;

const CASES: [string, number[], { flows: number | null; counters: number }][] = [
  ['netflow-v5-router.pcap', [9990], { flows: null, counters: 0 }],
  ['netflow-v9-cisco-asr9k.pcap', [9991], { flows: null, counters: 0 }],
  ['ipfix-cisco-ipv6-sampling-options.pcap', [9992], { flows: null, counters: 0 }],
  ['ipfix-cisco-two-exporter-ports.pcap', [9991], { flows: null, counters: 0 }],
  // sFlow oracles have no flow_export key: one exported_flow per flow sample, one
  // sflow_counters per counter sample (oracle sflow.sample_type_counts).
  ['sflow-v5-flow-samples.pcap', [], { flows: 1, counters: 8 }],
];

describe('corpus captures against tshark oracles', () => {
  for (const [name, ports, want] of CASES) {
    test(name, async (t) => {
      const path = SHARED + name;
      if (!existsSync(path)) return t.skip(`${path} not present`);
      const oracle = JSON.parse(readFileSync(`${path}.oracle.json`, 'utf8'));
      const recs = await collectCapture(path, ports);
      const flows = recs.filter((r) => r.type === 'exported_flow').length;
      const counters = recs.filter((r) => r.type === 'sflow_counters').length;
      const expected = want.flows ?? Number(oracle.flow_export.decoded_flow_records);
      assert.equal(flows, expected);
      assert.equal(counters, want.counters);
      if (oracle.sflow) {
        const types = oracle.sflow.sample_type_counts as Record<string, number>;
        assert.equal(counters, (types.counters_sample ?? 0) + (types.expanded_counters_sample ?? 0));
        assert.equal(flows, (types.flow_sample ?? 0) + (types.expanded_flow_sample ?? 0));
      }
    });
  }
});
