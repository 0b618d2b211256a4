import type { Packet } from '../decode/packet.js';
import type { FlowNotes } from './flow-notes.js';
import type { Analyzer, FlowLookup, FlowRecordPatch } from './types.js';

/**
 * Limits a content-detecting analyzer to the first `budget` packets of a flow unless it has
 * recognised its protocol there (noted in FlowNotes as `proto`). Protocols announce themselves
 * at the start of a connection; without the gate every parser would keep probing every segment
 * of every bulk transfer for the whole flow.
 */
export function claimGate(inner: Analyzer, notes: FlowNotes, proto: string, budget = 8): Analyzer {
  let seen = new Uint16Array(1024);
  let gens = new Uint32Array(1024);
  const grow = (slot: number): void => {
    let n = seen.length;
    while (n <= slot) n *= 2;
    const s = new Uint16Array(n);
    s.set(seen);
    const g = new Uint32Array(n);
    g.set(gens);
    seen = s;
    gens = g;
  };
  const gated: Analyzer = {
    name: inner.name,
    onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (slot >= 0) {
        if (slot >= seen.length) grow(slot);
        const gen = flows.generation(slot);
        if (gens[slot] !== gen) {
          gens[slot] = gen;
          seen[slot] = 0;
        }
        if (seen[slot]! < budget) seen[slot]!++;
        else if (notes.peek(slot, gen)?.proto !== proto) return false;
      }
      const r = inner.onPacket(p, flows, slot, dir);
      return r === false ? false : undefined;
    },
  };
  if (inner.onFlowEnd) {
    const end = inner.onFlowEnd.bind(inner);
    gated.onFlowEnd = (rec: FlowRecordPatch, slot: number, flows: FlowLookup) => end(rec, slot, flows);
  }
  if (inner.finish) gated.finish = inner.finish.bind(inner);
  return gated;
}
