import type { AlertEmitter, AnyRecord } from '../common/alerts.js';
import type { Baselines } from './baseline.js';
import type { NetSet } from './nets.js';
import type { Prevalence } from './prevalence.js';

/**
 * One flow as every detector sees it, built once per record from a metered `flow` or a
 * collected `exported_flow` (volumes already scaled by the sampling rate). The object is
 * reused for the next record: a detector that keeps something copies the fields it needs.
 */
export interface FlowView {
  source: 'flow' | 'exported';
  /** Start and end of the flow, ms since the epoch (data time). */
  startMs: number;
  endMs: number;
  src: string;
  dst: string;
  /** 32-bit hashes of `src` and `dst` (`strHash`): per distinct address of a batch, not per record. */
  srcHash: number;
  dstHash: number;
  /** The addresses as IPv4 numbers (`fastIpv4`), -1 when not IPv4: read once per distinct address of a batch. */
  srcV4: number;
  dstV4: number;
  sport: number;
  dport: number;
  proto: number;
  /** Packets and IP bytes initiator → responder (scaled). */
  outPkts: number;
  outBytes: number;
  /** Packets and IP bytes responder → initiator (0 for one-way collected records). */
  inPkts: number;
  inBytes: number;
  /** Payload bytes sent by the initiator (null when unknown, as for collected records). */
  outPayload: number | null;
  clientFlags: string;
  serverFlags: string;
  /**
   * Did the responder answer: true/false for metered flows, null when the record is one-way
   * and cannot say (collected flows).
   */
  answered: boolean | null;
  /** The probe was refused: RST from the responder (TCP) or an ICMP unreachable seen. */
  refused: boolean;
  /**
   * 1 in N sampled: packets for a collected flow (its volumes already scaled), whole flows for
   * a metered flow a mirror receiver kept under overload (1 when unsampled).
   */
  sampling: number;
  /**
   * Flows this record stands for: N for a metered flow kept 1 in N (its volumes are its own, so
   * a detector summing volumes over flows multiplies by it), 1 otherwise.
   */
  weight: number;
  flowId: number | null;
  communityId: string | null;
  srcInternal: boolean;
  dstInternal: boolean;
}

export interface DetectContext {
  emitter: AlertEmitter;
  internal: NetSet;
  /** Hosts and networks never alerted on (global allow list plus the detector's own). */
  allowed(ip: string | null | undefined): boolean;
  baselines: Baselines;
  /** Internal hosts per external destination (answered flows, allow lists not applied). */
  prevalence: Prevalence;
}

/** Every detector looks alike: fed flows and L7 records in time order, bounded memory. */
export interface Detector {
  readonly name: string;
  onFlow?(f: FlowView): void;
  onDns?(r: AnyRecord, tsMs: number): void;
  onHttp?(r: AnyRecord, tsMs: number): void;
  /** Data time moved on (a record or a live timer): close windows that ended before it. */
  tick(nowMs: number): void;
  /** End of input: decide on whatever is still open. */
  finish(): void;
  /** Entries held in memory (sources, pairs, victims...): what the caps bound. */
  size(): number;
  readonly counters: Record<string, number>;
}
