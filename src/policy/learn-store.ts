import type { RecordStore, TimeRange } from '../store/types.js';
import { type LearnConfig, PolicyLearner } from './learn.js';
import type { PolicyDoc } from './model.js';

/** Learn a proposal from the flows (metered and collected) stored in a time range. */
export async function learnFromStore(
  store: RecordStore,
  range: TimeRange,
  cfg: Partial<LearnConfig> = {},
): Promise<PolicyDoc> {
  const learner = new PolicyLearner(cfg);
  const known = new Set(store.defs.map((d) => d.type));
  if (known.has('flow')) {
    await store.stream(
      {
        type: 'flow',
        ...range,
        fields: [
          'client_ip',
          'server_ip',
          'proto',
          'server_port',
          'first_ts',
          'client_ip_bytes',
          'server_ip_bytes',
        ],
      },
      (rows) => {
        for (const r of rows) learner.addRecord({ ...r, type: 'flow' });
      },
    );
  }
  if (known.has('exported_flow')) {
    await store.stream(
      {
        type: 'exported_flow',
        ...range,
        fields: ['src_ip', 'dst_ip', 'proto', 'src_port', 'dst_port', 'first_ts', 'bytes'],
      },
      (rows) => {
        for (const r of rows) learner.addRecord({ ...r, type: 'exported_flow' });
      },
    );
  }
  return learner.propose();
}
