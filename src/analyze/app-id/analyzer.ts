import { PROTO_ICMP, PROTO_ICMPV6 } from '../../decode/packet.js';
import type { DnsNameCache } from '../dns/name-cache.js';
import type { FlowNotes } from '../flow-notes.js';
import type { Analyzer, FlowLookup, FlowRecordPatch } from '../types.js';
import { portService } from './ports.js';
import { serviceOfHost } from './service-names.js';

export interface AppIdDeps {
  /** What the L7 analyzers learned per flow (protocol, SNI, Host). */
  notes: FlowNotes;
  /** Names DNS answers gave for addresses. */
  names?: DnsNameCache;
}

export interface AppIdCounters {
  flows: number;
  byContent: number;
  byName: number;
  byPort: number;
  unknown: number;
}

export function createAppId(deps: AppIdDeps): AppId {
  return new AppId(deps);
}

/**
 * Application identification, done when a flow's record is emitted: `app` is
 * "<protocol>[/<service>]" — the protocol the analyzers recognised by content, else the
 * IANA name of a well-known port; the service from the TLS SNI or HTTP Host, else from the
 * DNS name the server's address was resolved from ("tls/google", "quic/google", "http",
 * "dns", "ssh"). Register it after every analyzer that writes flow notes: it drops the note.
 */
export class AppId implements Analyzer {
  readonly name = 'app-id';
  readonly counters: AppIdCounters = { flows: 0, byContent: 0, byName: 0, byPort: 0, unknown: 0 };

  constructor(private readonly deps: AppIdDeps) {}

  onPacket(): boolean {
    return false; // works from what the other analyzers noted, at the end of each flow
  }

  onFlowEnd(rec: FlowRecordPatch, slot: number, flows: FlowLookup): void {
    this.counters.flows++;
    if (rec.app != null || slot < 0) {
      if (slot >= 0) this.deps.notes.drop(slot);
      return;
    }
    const note = this.deps.notes.peek(slot, flows.generation(slot));
    const proto = Number(rec.proto);
    let l7: string | null = note?.proto ?? null;
    if (l7 !== null) this.counters.byContent++;
    else if (proto === PROTO_ICMP) l7 = 'icmp';
    else if (proto === PROTO_ICMPV6) l7 = 'icmpv6';
    else {
      const sp = Number(rec.server_port);
      const cp = Number(rec.client_port);
      // A system port (< 1024) names the service better than a registered one on the other side.
      const first = cp < 1024 && sp >= 1024 ? cp : sp;
      l7 = portService(first, proto) ?? portService(first === sp ? cp : sp, proto);
      if (l7 !== null) this.counters.byPort++;
    }
    let host = note?.sni ?? note?.host ?? null;
    const named = proto !== PROTO_ICMP && proto !== PROTO_ICMPV6 && l7 !== 'dns';
    if (host === null && named && this.deps.names !== undefined && typeof rec.server_ip === 'string') {
      host = this.deps.names.lookup(rec.server_ip);
      if (host !== null) this.counters.byName++;
    }
    const service = host === null ? null : serviceOfHost(stripPort(host));
    if (l7 === null && service === null) this.counters.unknown++;
    rec.app = l7 === null ? service : service === null ? l7 : this.joined(l7, service);
    this.deps.notes.drop(slot);
  }

  /**
   * "<protocol>/<service>", one string per pair: a new concatenation per flow was flattened and
   * hashed again by the flow columns' dictionary for every flow record.
   */
  private joined(l7: string, service: string): string {
    let m = this.pairs.get(l7);
    if (m === undefined) {
      m = new Map();
      this.pairs.set(l7, m);
    }
    let t = m.get(service);
    if (t === undefined) {
      t = `${l7}/${service}`;
      // Services come from names, so the set is bounded like the names' memo.
      if (m.size >= 4096) m.clear();
      m.set(service, t);
    }
    return t;
  }

  private readonly pairs = new Map<string, Map<string, string>>();
}

/** "example.com:8080" → "example.com" (HTTP Host may carry a port). */
function stripPort(h: string): string {
  if (h.startsWith('[')) return h;
  const i = h.lastIndexOf(':');
  return i > 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}
