import { type Packet, TCP_SYN } from '../decode/packet.js';
import type { FlowNotes } from './flow-notes.js';
import type { Analyzer, FlowLookup, FlowRecordPatch } from './types.js';

/** A cheap test of a flow's first payload: false when it cannot be the analyzer's protocol. */
export type Probe = (b: Buffer, off: number, len: number) => boolean;

const UNSEEN = 0;
const PROBED = 1;
const CLAIMED = 2;

/**
 * Keeps a content-detecting analyzer off flows that are not its protocol. The flow's first
 * payload must pass the analyzer's probe; after that the analyzer sees the first `budget`
 * packets, and later ones only if it recognised its protocol there (noted in FlowNotes as
 * `proto`). Protocols announce themselves at the start of a connection; without the gate every
 * parser would keep probing every segment of every bulk transfer.
 */
export function claimGate(
  inner: Analyzer,
  notes: FlowNotes,
  proto: string,
  probe: Probe,
  budget = 8,
): Analyzer {
  let seen = new Uint16Array(1024);
  let state = new Uint8Array(1024);
  let gens = new Uint32Array(1024);
  /** 1 once the analyzer has been handed a packet of the slot's flow (generation `gens`). */
  let passed = new Uint8Array(1024);
  const grow = (slot: number): void => {
    let n = seen.length;
    while (n <= slot) n *= 2;
    const s = new Uint16Array(n);
    s.set(seen);
    const st = new Uint8Array(n);
    st.set(state);
    const g = new Uint32Array(n);
    g.set(gens);
    const ps = new Uint8Array(n);
    ps.set(passed);
    seen = s;
    state = st;
    gens = g;
    passed = ps;
  };
  const gated: Analyzer = {
    name: inner.name,
    onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean | undefined {
      // Parsers read payload; a SYN starts the stream. Other segments carry nothing for them.
      if (p.payloadCapLen === 0 && !(p.tcpFlags & TCP_SYN)) return undefined;
      if (slot >= 0) {
        if (slot >= seen.length) grow(slot);
        const gen = flows.generation(slot);
        if (gens[slot] !== gen) {
          gens[slot] = gen;
          seen[slot] = 0;
          state[slot] = UNSEEN;
          passed[slot] = 0;
        }
        const st = state[slot]!;
        if (st === UNSEEN && p.payloadCapLen > 0) {
          if (!probe(p.buf, p.payloadOff, p.payloadCapLen)) return false;
          state[slot] = PROBED;
        }
        if (st !== CLAIMED) {
          if (seen[slot]! < budget) seen[slot]!++;
          else if (notes.peek(slot, gen)?.proto === proto) state[slot] = CLAIMED;
          else return false;
        }
        passed[slot] = 1;
      }
      const r = inner.onPacket(p, flows, slot, dir);
      return r === false ? false : undefined;
    },
  };
  if (inner.onFlowEnd) {
    const end = inner.onFlowEnd.bind(inner);
    // An analyzer has state only for flows it was handed packets of: the others' ends (most
    // flows: DNS, UDP, other protocols) are not its business, and its per-flow lookup was a
    // cache miss per flow end.
    gated.onFlowEnd = (rec: FlowRecordPatch, slot: number, flows: FlowLookup) => {
      if (slot >= 0 && (slot >= gens.length || passed[slot] === 0 || gens[slot] !== flows.generation(slot)))
        return;
      end(rec, slot, flows);
    };
  }
  if (inner.finish) gated.finish = inner.finish.bind(inner);
  return gated;
}
