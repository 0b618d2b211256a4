/**
 * TLS over TCP, recognised by content on any port: ClientHello / ServerHello / Certificate
 * across segments and records, one `tls` record per handshake.
 */

import { type Packet, PROTO_TCP } from '../../decode/packet.js';
import type { TlsRecord } from '../../schema/tls.js';
import { emitL7Weird, isInterim } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { type RecordColumnBuilder, RecordOut } from '../record-columns.js';
import { TcpStreams } from '../tcp-reassembly.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import { type CertFacts, parseLeafCertificate } from './certificate.js';
import { type ClientHello, parseClientHello, parseServerHello, type ServerHello } from './hello.js';
import {
  ENCRYPTED,
  looksLikeHello,
  looksLikeRecord,
  REC_HANDSHAKE,
  SAW_APPDATA,
  SAW_CCS,
  STREAM_BAD_RECORD,
  TLS13,
  TlsRecordStreams,
} from './record-stream.js';
import { fillTlsRecord } from './tls-record.js';

const HS_CLIENT_HELLO = 1;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;
const HS_SERVER_HELLO_DONE = 14;

/** Payload-carrying packets looked at for a first TLS record before a flow is left alone. */
const DETECT_PACKETS = 8;
/** Bytes needed to recognise a record carrying a hello. */
const HELLO_PREFIX = 9;
const DETECT_NO = 0;
const DETECT_YES = 1;
const DETECT_WAIT = 2;

export interface TlsOptions {
  notes?: FlowNotes;
  /** Bytes of one handshake message kept when it spans segments (certificate chains). */
  messageLimit?: number;
  /** Records as rows of these columns instead of objects to the sink (the store path). */
  columns?: RecordColumnBuilder;
}

export interface TlsCounters {
  flows: number;
  handshakes: number;
  clientHellos: number;
  serverHellos: number;
  certificates: number;
  malformed: number;
}

const S_DETECT = 0;
const S_ACTIVE = 1;
const S_IGNORE = 2;

// A flow slot's TLS state, a row of one Float64Array (no object, stream or closure per flow):
// the generation of the flow it is for, the detection state, payload packets looked at while
// detecting, flags, and the time of the handshake being collected.
const F_GEN = 0;
const F_STATE = 1;
const F_LOOKED = 2;
const F_FLAGS = 3;
const F_TS_SEC = 4;
const F_TS_NS = 5;
const STRIDE = 6;
/** The row holds a live flow (rows of ended flows and never-used ones do not). */
const LIVE = 1;
/** A handshake is being collected (a hello was seen, its record not yet written). */
const PENDING = 2;
/** Nothing more to read in direction 0 (client) or 1 (server): DONE << dir. */
const DONE = 4;
/** The flow's record streams were fed (they have state to clear when it ends). */
const FED = 16;

export function createTlsAnalyzer(
  sink: RecordSink,
  opts: TlsOptions = {},
): Analyzer & { counters: TlsCounters } {
  const notes = opts.notes ?? null;
  const out = new RecordOut<TlsRecord>('tls', sink, opts.columns);
  const streams = new TcpStreams();
  const limit = opts.messageLimit ?? 16 * 1024;
  const records = new TlsRecordStreams(
    (key, type, b, off, end, truncated) => onMessage(key >> 1, key & 1, type, b, off, end, truncated),
    limit,
  );
  let st = new Float64Array(256 * STRIDE);
  // The handshake being collected per slot (hellos and certificate facts, null when none).
  const chs: (ClientHello | null)[] = [];
  const shs: (ServerHello | null)[] = [];
  const certs: (CertFacts | null)[] = [];
  const row = (slot: number): number => {
    const at = slot * STRIDE;
    if (at >= st.length) {
      let n = st.length;
      while (n <= at) n *= 2;
      const x = new Float64Array(n);
      x.set(st);
      st = x;
    }
    while (chs.length <= slot) {
      chs.push(null);
      shs.push(null);
      certs.push(null);
    }
    return at;
  };
  const counters: TlsCounters = {
    flows: 0,
    handshakes: 0,
    clientHellos: 0,
    serverHellos: 0,
    certificates: 0,
    malformed: 0,
  };
  // What the message handler needs to know about the packet being parsed.
  let curPacket: Packet | null = null;
  let curSlot = -1;
  let curFlows: FlowLookup | null = null;

  /** Write the slot's handshake collected so far, if any. */
  function emit(slot: number, fl: FlowLookup): void {
    const at = slot * STRIDE;
    const flags = st[at + F_FLAGS]!;
    if ((flags & PENDING) === 0) return;
    st[at + F_FLAGS] = flags & ~PENDING;
    counters.handshakes++;
    const rec = out.begin(st[at + F_TS_SEC]!, st[at + F_TS_NS]!);
    fillTlsRecord(rec, fl.context(slot), chs[slot] ?? null, shs[slot] ?? null, certs[slot] ?? null, false);
    out.end(rec);
    chs[slot] = null;
    shs[slot] = null;
    certs[slot] = null;
  }

  function weird(name: string, dir: number): void {
    counters.malformed++;
    if (curPacket !== null && curFlows !== null)
      emitL7Weird(sink, name, curPacket, curFlows.context(curSlot), dir, null);
  }

  function startHandshake(at: number, p: Packet): void {
    st[at + F_FLAGS] = st[at + F_FLAGS]! | PENDING;
    st[at + F_TS_SEC] = p.tsSec;
    st[at + F_TS_NS] = p.tsNs;
  }

  function onMessage(
    slot: number,
    dir: number,
    type: number,
    b: Buffer,
    off: number,
    end: number,
    truncated: boolean,
  ): void {
    const p = curPacket!;
    const at = slot * STRIDE;
    const pending = (st[at + F_FLAGS]! & PENDING) !== 0;
    if (dir === 0 && type === HS_CLIENT_HELLO) {
      if (pending && (chs[slot] !== null || shs[slot] !== null)) emit(slot, curFlows!);
      const ch = truncated ? null : parseClientHello(b, off, end);
      if (ch === null) {
        weird('tls_malformed_client_hello', dir);
        return;
      }
      counters.clientHellos++;
      chs[slot] = ch;
      startHandshake(at, p);
      if (notes !== null) {
        const note = notes.get(slot, st[at + F_GEN]!);
        note.proto = 'tls';
        if (ch.sni !== null) note.sni = ch.sni;
      }
    } else if (dir === 1 && type === HS_SERVER_HELLO) {
      const sh = truncated ? null : parseServerHello(b, off, end);
      if (sh === null) {
        weird('tls_malformed_server_hello', dir);
        return;
      }
      counters.serverHellos++;
      if (shs[slot] !== null) emit(slot, curFlows!);
      if ((st[at + F_FLAGS]! & PENDING) === 0) startHandshake(at, p);
      shs[slot] = sh;
      if (notes !== null) notes.get(slot, st[at + F_GEN]!).proto = 'tls';
      if (sh.selectedVersion === 0x0304) {
        // Everything after the ServerHello is encrypted; CCS records are for middleboxes only.
        records.setFlags(TcpStreams.key(slot, 0), TLS13, ENCRYPTED);
        records.setFlags(TcpStreams.key(slot, 1), sh.retryRequest ? TLS13 : TLS13 | ENCRYPTED, 0);
        emit(slot, curFlows!);
      } else if (sh.retryRequest) emit(slot, curFlows!);
    } else if (dir === 1 && type === HS_CERTIFICATE && pending && certs[slot] === null) {
      const cert = parseLeafCertificate(b, off, end);
      if (cert === null) weird('tls_certificate_unparsable', dir);
      else counters.certificates++;
      certs[slot] = cert;
      emit(slot, curFlows!);
    } else if (dir === 1 && type === HS_SERVER_HELLO_DONE) emit(slot, curFlows!);
  }

  /** Looks for a first hello at the start of the stream window (a segment, or short ones joined). */
  function detect(at: number, slot: number): number {
    const b = streams.buf;
    const s = streams.start;
    const e = streams.end;
    if (looksLikeHello(b, s, e)) {
      st[at + F_STATE] = S_ACTIVE;
      counters.flows++;
      return DETECT_YES;
    }
    if (e - s < HELLO_PREFIX && b[s] === REC_HANDSHAKE && (e - s < 2 || b[s + 1] === 3)) return DETECT_WAIT;
    const looked = st[at + F_LOOKED]! + 1;
    st[at + F_LOOKED] = looked;
    if (looked >= DETECT_PACKETS) {
      st[at + F_STATE] = S_IGNORE;
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    }
    return DETECT_NO;
  }

  /** The slot's flow ended or is replaced: let go of its handshake and its streams' buffers. */
  function release(slot: number): void {
    const at = slot * STRIDE;
    // A written (or never begun) handshake left no hellos behind: see emit.
    if (st[at + F_FLAGS]! & PENDING) {
      chs[slot] = null;
      shs[slot] = null;
      certs[slot] = null;
    }
    if (st[at + F_FLAGS]! & FED) {
      records.restart(TcpStreams.key(slot, 0));
      records.restart(TcpStreams.key(slot, 1));
    }
  }

  return {
    name: 'tls',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_TCP) return false;
      if (slot < 0) return;
      const at = row(slot);
      const gen = fl.generation(slot);
      if ((st[at + F_FLAGS]! & LIVE) === 0 || st[at + F_GEN] !== gen) {
        if (p.payloadCapLen <= 0) return;
        // A flow that ended let go of its state then; one replaced without an end has it still.
        if (st[at + F_FLAGS]! & LIVE) {
          release(slot);
          streams.drop(TcpStreams.key(slot, 0));
          streams.drop(TcpStreams.key(slot, 1));
        }
        st[at + F_GEN] = gen;
        st[at + F_STATE] = S_DETECT;
        st[at + F_LOOKED] = 0;
        st[at + F_FLAGS] = LIVE;
        st[at + F_TS_SEC] = 0;
        st[at + F_TS_NS] = 0;
      }
      const both = DONE | (DONE << 1);
      if (st[at + F_STATE] === S_IGNORE || (st[at + F_FLAGS]! & both) === both) return false;
      if (st[at + F_FLAGS]! & (DONE << dir)) return;
      const key = TcpStreams.key(slot, dir);
      if (!streams.push(key, gen, p)) return;
      if (st[at + F_STATE] === S_DETECT) {
        const d = detect(at, slot);
        if (d === DETECT_WAIT) {
          streams.keep(streams.start);
          return;
        }
        if (d === DETECT_NO) {
          streams.keep(streams.end);
          return;
        }
      }
      if (streams.gap) {
        records.reset(key);
        if (!looksLikeRecord(streams.buf, streams.start, streams.end)) {
          streams.keep(streams.end);
          return; // wait for a segment that starts a record
        }
      }
      st[at + F_FLAGS] = st[at + F_FLAGS]! | FED;
      curPacket = p;
      curSlot = slot;
      curFlows = fl;
      const stop = records.parse(key, streams.buf, streams.start, streams.end);
      curPacket = null;
      if (records.status(key) === STREAM_BAD_RECORD) {
        weird('tls_bad_record', dir);
        st[at + F_FLAGS] = st[at + F_FLAGS]! | (DONE << dir);
        streams.drop(key);
        if (dir === 1) {
          st[at + F_FLAGS] = st[at + F_FLAGS]! | DONE;
          return false;
        }
        return;
      }
      streams.keep(stop);
      const rf = records.flags(key);
      // A server that goes straight to ChangeCipherSpec (resumption) or data sends no certificate.
      if (dir === 1 && st[at + F_FLAGS]! & PENDING && rf & (SAW_APPDATA | SAW_CCS)) emit(slot, fl);
      // Once application data flows (or the handshake is encrypted) there is nothing more to read.
      if (rf & SAW_APPDATA || (rf & ENCRYPTED && (rf & TLS13) === 0)) {
        st[at + F_FLAGS] = st[at + F_FLAGS]! | (DONE << dir);
        streams.drop(key);
      }
      // Once the server's side is encrypted the client has nothing more to say in the clear.
      if (st[at + F_FLAGS]! & (DONE << 1)) {
        st[at + F_FLAGS] = st[at + F_FLAGS]! | DONE;
        streams.drop(TcpStreams.key(slot, 0));
        return false;
      }
      return undefined;
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const at = slot * STRIDE;
      if (
        slot < 0 ||
        at >= st.length ||
        (st[at + F_FLAGS]! & LIVE) === 0 ||
        st[at + F_GEN] !== fl.generation(slot)
      )
        return;
      emit(slot, fl);
      if (isInterim(rec)) return;
      release(slot);
      st[at + F_FLAGS] = 0;
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    },
    finish(): void {
      for (let slot = 0; slot * STRIDE < st.length; slot++)
        if (st[slot * STRIDE + F_FLAGS]! & LIVE) {
          release(slot);
          streams.drop(TcpStreams.key(slot, 0));
          streams.drop(TcpStreams.key(slot, 1));
        }
      st.fill(0);
      chs.length = 0;
      shs.length = 0;
      certs.length = 0;
    },
  };
}
