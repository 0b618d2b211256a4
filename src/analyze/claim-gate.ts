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

/** Words per slot in a gate table: the generation, then one word per gate. */
const ROW = 8;

/**
 * The claim gates' per-slot state, shared by up to seven gates: a slot's row (32 bytes, half a
 * cache line) holds the generation it is for and each gate's word. The gates of a sensor look
 * at the same flows, so one row is one cache miss per packet and per flow end where a table per
 * gate was one each.
 */
export class GateTable {
  e = new Uint32Array(2048 * ROW);
  private gates = 0;

  /** A word of each row for one more gate. */
  claim(): number {
    if (this.gates === ROW - 1) throw new Error(`a gate table holds at most ${ROW - 1} gates`);
    return ++this.gates;
  }

  /** The row of `slot`, for generation `gen`: a row for another generation starts anew. */
  row(slot: number, gen: number): number {
    const k = slot * ROW;
    if (k >= this.e.length) this.grow(k);
    const e = this.e;
    if (e[k] !== gen) {
      // Every gate: nothing seen, UNSEEN, not handed over (stores, not fill(): a call into
      // the runtime per flow).
      for (let i = k + 1; i < k + ROW; i++) e[i] = 0;
      e[k] = gen;
    }
    return k;
  }

  /** Whether gate `g` handed the analyzer a packet of the flow in `slot` (generation `gen`). */
  passed(slot: number, gen: number, g: number): boolean {
    const k = slot * ROW;
    return k < this.e.length && this.e[k] === gen && (this.e[k + g]! & PASSED) !== 0;
  }

  private grow(at: number): void {
    let n = this.e.length;
    while (n <= at + ROW) n *= 2;
    const x = new Uint32Array(n);
    x.set(this.e);
    this.e = x;
  }
}

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
  table: GateTable = new GateTable(),
): Analyzer {
  // In the gate's word of a slot's row: the packets seen (bits 0-15), the state (bits 16-23)
  // and whether the analyzer was handed a packet of the flow (bit 24).
  const g = table.claim();
  const limit = Math.min(budget, 0xffff);
  const gated: Analyzer = {
    name: inner.name,
    onPacket(p: Packet, flows: FlowLookup, slot: number, dir: number): boolean | undefined {
      // Parsers read payload; a SYN starts the stream. Other segments carry nothing for them.
      if (p.payloadCapLen === 0 && !(p.tcpFlags & TCP_SYN)) return undefined;
      if (slot >= 0) {
        const gen = flows.generation(slot);
        const at = table.row(slot, gen) + g;
        const e = table.e;
        let w = e[at]!;
        const st = (w >>> 16) & 0xff;
        if (st === UNSEEN && p.payloadCapLen > 0) {
          if (!probe(p.buf, p.payloadOff, p.payloadCapLen)) {
            e[at] = w;
            return false;
          }
          w = (w & ~STATE_BITS) | (PROBED << 16);
        }
        if (st !== CLAIMED) {
          if ((w & 0xffff) < limit) w++;
          else if (notes.peek(slot, gen)?.proto === proto) w = (w & ~STATE_BITS) | (CLAIMED << 16);
          else {
            e[at] = w;
            return false;
          }
        }
        e[at] = w | PASSED;
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
      if (slot >= 0 && !table.passed(slot, flows.generation(slot), g)) return;
      end(rec, slot, flows);
    };
  }
  if (inner.finish) gated.finish = inner.finish.bind(inner);
  return gated;
}
