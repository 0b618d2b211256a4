/**
 * QUIC v1 over UDP, recognised by content on any port: the client's and the server's Initial
 * packets are decrypted (their keys are public, RFC 9001 §5.2) and the ClientHello /
 * ServerHello read from their CRYPTO frames. One `tls` record with `quic: true` per connection.
 */

import { type Packet, PROTO_UDP } from '../../decode/packet.js';
import type { TlsRecord } from '../../schema/tls.js';
import { isInterim } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { type RecordColumnBuilder, RecordOut } from '../record-columns.js';
import { SlotMap } from '../slot-map.js';
import { type ClientHello, parseClientHello, parseServerHello, type ServerHello } from '../tls/hello.js';
import { fillTlsRecord } from '../tls/tls-record.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import {
  CryptoStream,
  InitialKeyCache,
  type InitialKeys,
  newLongHeader,
  openInitial,
  parseLongHeader,
  QUIC_V1,
  walkFrames,
} from './initial.js';
import { type QuicBinding, quicBinding } from './native.js';

export interface QuicOptions {
  notes?: FlowNotes;
  /** `tls` records as rows of these columns (the TLS analyzer's: one order for both). */
  columns?: RecordColumnBuilder;
  /** The addon's Initial functions; null for Node's cipher objects. Default: the addon when built. */
  binding?: QuicBinding | null;
}

export interface QuicCounters {
  connections: number;
  initials: number;
  decryptFailures: number;
  clientHellos: number;
  serverHellos: number;
  otherVersions: number;
  /** Initial keys found in the per-connection-id cache instead of derived. */
  keyCacheHits: number;
  keyCacheEvictions: number;
}

/** Client Initial packets read before giving up on a ClientHello. */
const MAX_INITIALS = 8;

class QuicFlow {
  readonly crypto: [CryptoStream, CryptoStream] = [new CryptoStream(), new CryptoStream()];
  ch: ClientHello | null = null;
  sh: ServerHello | null = null;
  packets = 0;
  tsSec = 0;
  tsNs = 0;
  emitted = false;
  private serverKeys: InitialKeys | null = null;
  constructor(
    readonly gen: number,
    private readonly clientKeys: InitialKeys,
    /** The client's first DCID as latin1 text (the packet buffer is reused). */
    private readonly dcid: string,
  ) {}
  /** The server's keys are derived when its first Initial arrives: many flows never get one. */
  keys(dir: number, cache: InitialKeyCache): InitialKeys {
    if (dir === 0) return this.clientKeys;
    if (this.serverKeys === null) {
      const id = Buffer.from(this.dcid, 'latin1');
      this.serverKeys = cache.get(this.dcid, id, 0, id.length);
    }
    return this.serverKeys;
  }
}

export function createQuicAnalyzer(
  sink: RecordSink,
  opts: QuicOptions = {},
): Analyzer & { counters: QuicCounters } {
  const notes = opts.notes ?? null;
  const out = new RecordOut<TlsRecord>('tls', sink, opts.columns);
  const flows = new SlotMap<QuicFlow>();
  const counters: QuicCounters = {
    connections: 0,
    initials: 0,
    decryptFailures: 0,
    clientHellos: 0,
    serverHellos: 0,
    otherVersions: 0,
    keyCacheHits: 0,
    keyCacheEvictions: 0,
  };
  const binding = opts.binding === undefined ? quicBinding : opts.binding;
  const clientKeys = new InitialKeyCache('client', undefined, binding);
  const serverKeys = new InitialKeyCache('server', undefined, binding);
  // Reused for every packet: a header, and the plaintext of one Initial (a UDP payload at most).
  const hdr = newLongHeader();
  const plain = Buffer.allocUnsafe(65536);
  const countKeys = (): void => {
    counters.keyCacheHits = clientKeys.hits + serverKeys.hits;
    counters.keyCacheEvictions = clientKeys.evictions + serverKeys.evictions;
  };

  function emit(f: QuicFlow, slot: number, fl: FlowLookup): void {
    if (f.emitted || (f.ch === null && f.sh === null)) return;
    f.emitted = true;
    const rec = out.begin(f.tsSec, f.tsNs);
    fillTlsRecord(rec, fl.context(slot), f.ch, f.sh, null, true);
    out.end(rec);
  }

  /** Every Initial packet in a datagram (packets may be coalesced). */
  function readDatagram(f: QuicFlow, p: Packet, dir: number): void {
    // A direction whose hello is read has nothing more to give: its later Initials carry ACKs.
    if (dir === 0 ? f.ch !== null : f.sh !== null) return;
    const b = p.buf;
    let off = p.payloadOff;
    const end = p.payloadOff + p.payloadCapLen;
    while (off < end) {
      const h = parseLongHeader(b, off, end, hdr);
      if (h === null || h.version !== QUIC_V1) return;
      if (h.type === 0) {
        counters.initials++;
        const n = openInitial(b, off, h, f.keys(dir, serverKeys), plain, binding);
        if (dir === 1) countKeys();
        if (n < 0) counters.decryptFailures++;
        else walkFrames(plain, n, f.crypto[dir as 0 | 1]);
      }
      if (h.type === 3) return; // Retry has no length: it fills the datagram
      off = h.end;
    }
  }

  return {
    name: 'quic',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_UDP) return false;
      if (slot < 0 || p.payloadCapLen < 7) return;
      const b = p.buf;
      const o = p.payloadOff;
      const gen = fl.generation(slot);
      let f = flows.get(slot);
      const known = f !== undefined && f.gen === gen;
      // A QUIC connection this analyzer can read starts with a client Initial: anything else
      // first (a short header, another protocol, a server packet) rules the flow out.
      if ((b[o]! & 0xc0) !== 0xc0) return known ? undefined : false;
      if (f === undefined || !known) {
        if (dir !== 0 || ((b[o]! >> 4) & 3) !== 0) return false;
        const h = parseLongHeader(b, o, o + p.payloadCapLen, hdr);
        if (h === null) return false;
        if (h.version !== QUIC_V1) {
          if (h.version !== 0) counters.otherVersions++;
          return false;
        }
        if (h.dcidLen < 8) return false; // RFC 9000 §7.2: a client's first DCID has at least 8 bytes
        const dcid = b.toString('latin1', h.dcidOff, h.dcidOff + h.dcidLen);
        f = new QuicFlow(gen, clientKeys.get(dcid, b, h.dcidOff, h.dcidLen), dcid);
        countKeys();
        f.tsSec = p.tsSec;
        f.tsNs = p.tsNs;
        flows.set(slot, f);
        counters.connections++;
      }
      if (f.emitted || ++f.packets > MAX_INITIALS * 2) return false;
      readDatagram(f, p, dir);
      if (dir === 0 && f.ch === null) {
        const cs = f.crypto[0];
        const e = cs.message(1);
        if (e > 0) {
          f.ch = parseClientHello(cs.buf!, 4, e);
          if (f.ch !== null) {
            counters.clientHellos++;
            if (notes !== null) {
              const note = notes.get(slot, gen);
              note.proto = 'quic';
              if (f.ch.sni !== null) note.sni = f.ch.sni;
            }
          }
        }
      } else if (dir === 1 && f.sh === null) {
        const cs = f.crypto[1];
        const e = cs.message(2);
        if (e > 0) {
          f.sh = parseServerHello(cs.buf!, 4, e);
          if (f.sh !== null) counters.serverHellos++;
        }
      }
      if (f.ch !== null && f.sh !== null) emit(f, slot, fl);
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const f = flows.get(slot);
      if (f === undefined || f.gen !== fl.generation(slot)) return;
      emit(f, slot, fl);
      if (isInterim(rec)) return;
      flows.delete(slot);
    },
    finish(): void {
      flows.clear();
      clientKeys.clear();
      serverKeys.clear();
    },
  };
}
