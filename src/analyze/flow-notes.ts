import { SlotMap } from './slot-map.js';

/**
 * Names learned about a flow by the analyzers (TLS SNI, HTTP Host, the L7 protocol seen),
 * read by application identification when the flow's record is emitted.
 */
export interface FlowNote {
  gen: number;
  /** L7 protocol recognised by content: "http", "tls", "dns", "quic", "ssh", "smb"... */
  proto: string | null;
  sni: string | null;
  host: string | null;
}

/** No flow's generation (they are unsigned). */
const DROPPED = -1;

export class FlowNotes {
  private readonly notes = new SlotMap<FlowNote>();

  /**
   * The note of the flow in `slot`. A slot's note object is refilled for each flow the slot
   * holds instead of made anew (most flows are short: an object per flow that lives as long as
   * the flow is what the young generation copies); callers use a note at once and keep none.
   */
  get(slot: number, gen: number): FlowNote {
    let n = this.notes.get(slot);
    if (n === undefined) {
      n = { gen, proto: null, sni: null, host: null };
      this.notes.set(slot, n);
    } else if (n.gen !== gen) {
      n.gen = gen;
      n.proto = null;
      n.sni = null;
      n.host = null;
    }
    return n;
  }

  peek(slot: number, gen: number): FlowNote | null {
    const n = this.notes.get(slot);
    return n !== undefined && n.gen === gen ? n : null;
  }

  /** Forget the slot's flow (the object stays for the slot's next flow). */
  drop(slot: number): void {
    const n = this.notes.get(slot);
    if (n !== undefined) n.gen = DROPPED;
  }
}
