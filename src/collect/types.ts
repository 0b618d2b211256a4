import type { exportedFlowRecord, sflowCountersRecord } from '../schema/exported-flow.js';
import type { RecordOf } from '../schema/registry.js';

export type ExportedFlowRecord = RecordOf<typeof exportedFlowRecord>;
export type SflowCountersRecord = RecordOf<typeof sflowCountersRecord>;
export type CollectedRecord = ExportedFlowRecord | SflowCountersRecord;

/** Statistics of one exporter (source address and port), as the API shows them. */
export interface ExporterStats {
  exporter: string;
  port: number;
  /** Protocol of the last datagram: netflow5, netflow9, ipfix, sflow. */
  source: string;
  datagrams: number;
  bytes: number;
  /** Flow records emitted (exported_flow). */
  records: number;
  /** Options data records (sampling, system init time...) applied. */
  optionsRecords: number;
  /** sFlow counter samples emitted (sflow_counters). */
  counterSamples: number;
  templates: number;
  templateWithdrawals: number;
  /** Sequence gaps seen (events) and what they lost: records for v5/IPFIX, datagrams for v9/sFlow. */
  seqGaps: number;
  seqLost: number;
  /** Sequence went backwards (exporter restart or reordering); tracking resynchronised. */
  seqResets: number;
  /** Malformed datagrams, sets or records. */
  decodeErrors: number;
  /** Data sets held back waiting for their template, and those given up (no template in time). */
  pendingSets: number;
  noTemplateSets: number;
  /** Templates refused by a cap or as hostile (zero-length records, too many fields). */
  templatesRejected: number;
  /** Datagrams dropped inside Vantage (queue full) before decoding. */
  drops: number;
  /**
   * Records in the datagrams the decode thread dropped because its queue was full, counted from
   * their headers without decoding them (`count.ts`).
   */
  dropRecords: number;
}

export function newExporterStats(exporter: string, port: number): ExporterStats {
  return {
    exporter,
    port,
    source: '',
    datagrams: 0,
    bytes: 0,
    records: 0,
    optionsRecords: 0,
    counterSamples: 0,
    templates: 0,
    templateWithdrawals: 0,
    seqGaps: 0,
    seqLost: 0,
    seqResets: 0,
    decodeErrors: 0,
    pendingSets: 0,
    noTemplateSets: 0,
    templatesRejected: 0,
    drops: 0,
    dropRecords: 0,
  };
}
