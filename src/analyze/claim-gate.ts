import { type Packet, TCP_SYN } from '../decode/packet.js';
import type { FlowNotes } from './flow-notes.js';
import type { Analyzer, FlowLookup, FlowRecordPatch } from './types.js';

/** A cheap test of a flow's first payload: false when it cannot be the analyzer's protocol. */
export type Probe = (b: Buffer, off: number, len: number) => boolean;

const UNSEEN = 0;
const PROBED = 1;
const CLAIMED = 2;
const STATE_BITS = 0xff << 16;
const PASSED = 1 << 24;

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
  // Per slot, side by side (one cache line, where four arrays were four misses): at 2 * slot
  // the generation the entry is for; at 2 * slot + 1 the packets seen (bits 0-15), the state
  // (bits 16-23) and whether the analyzer was handed a packet of the flow (bit 24).
  let e = new Uint32Array(2048);
  const limit = Math.min(budget, 0xffff);
  const grow = (at: number): void => {
    let n = e.length;
    while (n <= at + 1) n *= 2;
    const x = new Uint32Array(n);
    x.set(e);
    e = x;
  };
  const gated: Analyzer = {
    name: inner.name,
    onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean | undefined {
      // Parsers read payload; a SYN starts the stream. Other segments carry nothing for them.
      if (p.payloadCapLen === 0 && !(p.tcpFlags & TCP_SYN)) return undefined;
      if (slot >= 0) {
        const k = slot * 2;
        if (k >= e.length) grow(k);
        const gen = flows.generation(slot);
        let w = e[k + 1]!;
        if (e[k] !== gen) {
          e[k] = gen;
          w = 0; // nothing seen, UNSEEN, not handed over
        }
        const st = (w >>> 16) & 0xff;
        if (st === UNSEEN && p.payloadCapLen > 0) {
          if (!probe(p.buf, p.payloadOff, p.payloadCapLen)) {
            e[k + 1] = w;
            return false;
          }
          w = (w & ~STATE_BITS) | (PROBED << 16);
        }
        if (st !== CLAIMED) {
          if ((w & 0xffff) < limit) w++;
          else if (notes.peek(slot, gen)?.proto === proto) w = (w & ~STATE_BITS) | (CLAIMED << 16);
          else {
            e[k + 1] = w;
            return false;
          }
        }
        e[k + 1] = w | PASSED;
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
      const k = slot * 2;
      if (slot >= 0 && (k >= e.length || (e[k + 1]! & PASSED) === 0 || e[k] !== flows.generation(slot)))
        return;
      end(rec, slot, flows);
    };
  }
  if (inner.finish) gated.finish = inner.finish.bind(inner);
  return gated;
}
