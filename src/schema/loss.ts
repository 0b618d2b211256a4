import { defineRecord, type RecordOf } from './registry.js';

/**
 * What a source could not keep in an interval, per reason: written every few seconds while a
 * source is losing data, so the history of loss sits beside the records it concerns.
 */
export const lossRecord = defineRecord(
  'loss',
  'Records or packets a source could not keep, per reason and interval.',
  'ts',
  {
    ts: { type: 'ts', doc: 'End of the interval.' },
    source: { type: 'string', doc: 'The source: collector, capture[0], mirror.vxlan[0], ...' },
    reason: {
      type: 'string',
      doc: 'socket (kernel dropped), queue_full (pipeline queue), ring_full (mirror receiver ring), store_behind (store queue full), store_error, sampled (kept 1-in-N under overload).',
    },
    count: {
      type: 'int',
      doc: 'Lost in the interval (datagrams for socket drops of the collector, records otherwise).',
    },
    total: { type: 'int', doc: 'Lost since start.' },
  },
);
export type LossRecord = RecordOf<typeof lossRecord>;
