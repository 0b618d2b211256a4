import type { Analyzer, FlowContext, FlowLookup } from '../../analyze/types.js';
import type { Packet } from '../../decode/packet.js';
import type { FlowIds } from '../../flow/flow-table.js';
import { type PackedStrings, packStrings } from '../../store/columnar-wire.js';

/**
 * What a packet hook on the main thread needs of the worker's flow table: per packet of a
 * batch its flow slot (-1 none) and the slot's generation, and for each flow the batch saw
 * first its id and Community ID (at the packet where it was first seen). Plain typed arrays,
 * transferred back with the batch.
 */
export interface FlowTapBatch {
  slots: Int32Array;
  gens: Uint32Array;
  /** New flows: packet index and slot (pairs), generation, flow id, Community ID. */
  newAt: Int32Array;
  newGen: Uint32Array;
  newId: Float64Array;
  /** Packed: one string for the batch, not one cloned string per flow. */
  newCid: PackedStrings;
}

/**
 * The worker's side: a packet hook (it never opts out of a flow, so it sees every packet
 * exactly once, after the flow table) that notes each packet's slot for the batch under way.
 */
export class FlowTap implements Analyzer {
  readonly name = 'flow-tap';
  private slots: Int32Array;
  private gens: Uint32Array;
  private n = 0;
  private newAt: number[] = [];
  private newGen: number[] = [];
  private newId: number[] = [];
  private newCid: string[] = [];
  /** Generation each slot was last announced with, +1 (0 = never). */
  private told = new Float64Array(1024);

  constructor(capacity = 4096) {
    this.slots = new Int32Array(capacity);
    this.gens = new Uint32Array(capacity);
  }

  onPacket(_p: Packet, flows: FlowLookup, slot: number): undefined {
    const k = this.n;
    if (k >= this.slots.length) this.grow();
    this.n = k + 1;
    this.slots[k] = slot;
    if (slot < 0) return;
    const gen = flows.generation(slot);
    this.gens[k] = gen;
    if (slot >= this.told.length) {
      let m = this.told.length;
      while (m <= slot) m *= 2;
      const t = new Float64Array(m);
      t.set(this.told);
      this.told = t;
    }
    if (this.told[slot] !== gen + 1) {
      this.told[slot] = gen + 1;
      this.newAt.push(k, slot);
      this.newGen.push(gen);
      // The flow table answers for the id and Community ID alone (no address strings).
      const ids = flows as FlowLookup & Partial<FlowIds>;
      if (ids.flowId !== undefined && ids.communityId !== undefined) {
        this.newId.push(ids.flowId(slot));
        this.newCid.push(ids.communityId(slot));
      } else {
        const ctx = flows.context(slot);
        this.newId.push(ctx.flow_id);
        this.newCid.push(ctx.community_id);
      }
    }
    return;
  }

  private grow(): void {
    const s = new Int32Array(this.slots.length * 2);
    s.set(this.slots);
    const g = new Uint32Array(this.gens.length * 2);
    g.set(this.gens);
    this.slots = s;
    this.gens = g;
  }

  /** The batch so far, in arrays of its own (to transfer); the tap starts the next one. */
  take(): FlowTapBatch {
    const b: FlowTapBatch = {
      slots: this.slots.slice(0, this.n),
      gens: this.gens.slice(0, this.n),
      newAt: Int32Array.from(this.newAt),
      newGen: Uint32Array.from(this.newGen),
      newId: Float64Array.from(this.newId),
      newCid: packStrings(this.newCid),
    };
    this.n = 0;
    this.newAt = [];
    this.newGen = [];
    this.newId = [];
    this.newCid = [];
    return b;
  }
}

export function tapTransfer(b: FlowTapBatch): ArrayBuffer[] {
  return [
    b.slots.buffer,
    b.gens.buffer,
    b.newAt.buffer,
    b.newGen.buffer,
    b.newId.buffer,
    b.newCid.ends.buffer,
  ] as ArrayBuffer[];
}

/**
 * The main thread's side: a flow lookup that answers for the worker's table as it was at each
 * packet of a batch. Call `at(batch, k)` before handing packet k to the hooks.
 */
export class FlowMirror implements FlowLookup, FlowIds {
  private gen = new Uint32Array(1024);
  private id = new Float64Array(1024);
  private cid: string[] = new Array<string>(1024).fill('');
  private cur = 0;
  private next = 0;

  /** Start a batch. */
  begin(): void {
    this.next = 0;
  }

  /** Apply the flows first seen at packet `k` and make `k` the current packet; its slot. */
  at(b: FlowTapBatch, k: number): number {
    const na = b.newAt;
    while (this.next * 2 < na.length && na[this.next * 2]! === k) {
      const j = this.next++;
      const slot = na[j * 2 + 1]!;
      if (slot >= this.gen.length) this.grow(slot);
      this.gen[slot] = b.newGen[j]!;
      this.id[slot] = b.newId[j]!;
      const ends = b.newCid.ends;
      this.cid[slot] = b.newCid.text.slice(j === 0 ? 0 : ends[j - 1]!, ends[j]!);
    }
    this.cur = b.gens[k]!;
    return b.slots[k]!;
  }

  /**
   * Apply every flow the batch announces without visiting its packets (the hooks skipped it):
   * the worker announces a flow once, so later batches still find its id and Community ID.
   */
  applyAll(b: FlowTapBatch): void {
    this.begin();
    const na = b.newAt;
    for (let j = 0; j * 2 < na.length; j++) this.at(b, na[j * 2]!);
  }

  generation(_slot: number): number {
    return this.cur;
  }

  flowId(slot: number): number {
    return this.id[slot]!;
  }

  communityId(slot: number): string {
    return this.cid[slot]!;
  }

  context(slot: number): FlowContext {
    // The packet store's index reads the id and Community ID; the rest of a flow's context
    // stays on the worker.
    return { gen: this.gen[slot]!, flow_id: this.id[slot]!, community_id: this.cid[slot]! } as FlowContext;
  }

  private grow(slot: number): void {
    let m = this.gen.length;
    while (m <= slot) m *= 2;
    const g = new Uint32Array(m);
    g.set(this.gen);
    const i = new Float64Array(m);
    i.set(this.id);
    this.gen = g;
    this.id = i;
    const c = new Array<string>(m).fill('');
    for (let x = 0; x < this.cid.length; x++) c[x] = this.cid[x]!;
    this.cid = c;
  }
}
