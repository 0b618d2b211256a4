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

export class FlowNotes {
  private readonly notes = new SlotMap<FlowNote>();

  get(slot: number, gen: number): FlowNote {
    let n = this.notes.get(slot);
    if (n === undefined || n.gen !== gen) {
      n = { gen, proto: null, sni: null, host: null };
      this.notes.set(slot, n);
    }
    return n;
  }

  peek(slot: number, gen: number): FlowNote | null {
    const n = this.notes.get(slot);
    return n !== undefined && n.gen === gen ? n : null;
  }

  drop(slot: number): void {
    this.notes.delete(slot);
  }
}
