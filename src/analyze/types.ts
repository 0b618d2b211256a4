import type { Packet } from '../decode/packet.js';

/** Identity of a flow as L7 records carry it (built once per flow, on first use). */
export interface FlowContext {
  gen: number;
  flow_id: number;
  community_id: string;
  proto: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  vlan: number | null;
  vni: number | null;
}

/** What analyzers may ask of the flow table. */
export interface FlowLookup {
  /** Changes whenever a slot is reused for another flow: key per-flow state on (slot, generation). */
  generation(slot: number): number;
  context(slot: number): FlowContext;
}

export type RecordSink = (rec: { type: string; [k: string]: unknown }) => void;

/** The flow record fields analyzers may fill in before a flow record is emitted. */
export interface FlowRecordPatch {
  app: string | null;
  [k: string]: unknown;
}

/**
 * A protocol analyzer. It sees every decoded packet after its flow was accounted, with the
 * flow slot (-1 for non-IP packets or unattributed fragments) and direction (0 client → server).
 * Parsing reads the packet buffer in place; strings are made only for emitted records.
 */
export interface Analyzer {
  readonly name: string;
  /**
   * Return `false` when nothing more is to be learned from this flow: the analyzer then gets no
   * more of its packets (it still gets `onFlowEnd`). Most flows are identified, or ruled out,
   * in their first packets; this keeps bulk transfer off every parser's path.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: analyzers that always keep watching return nothing
  onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean | void;
  /** Called before a flow record is emitted: flush per-flow state, add fields such as `app`. */
  onFlowEnd?(rec: FlowRecordPatch, slot: number, flows: FlowLookup): void;
  /** End of input: emit what is pending (unanswered queries, devices). */
  finish?(): void;
  /**
   * True while this analyzer has nothing to do with packets (a broker with no target). A
   * pipeline that decodes packets a second time only for its hooks (a mirror's worker hands
   * its batches back to the main thread) skips that while every hook is idle, and tells each
   * how many packets went by with `skipped`.
   */
  idle?(): boolean;
  skipped?(packets: number): void;
}
