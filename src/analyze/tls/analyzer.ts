/**
 * TLS over TCP, recognised by content on any port: ClientHello / ServerHello / Certificate
 * across segments and records, one `tls` record per handshake.
 */

import { type Packet, PROTO_TCP } from '../../decode/packet.js';
import type { TlsRecord } from '../../schema/tls.js';
import { emitL7Weird, isInterim } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { type RecordColumnBuilder, RecordOut } from '../record-columns.js';
import { SlotMap } from '../slot-map.js';
import { TcpStreams } from '../tcp-reassembly.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import { type CertFacts, parseLeafCertificate } from './certificate.js';
import { type ClientHello, parseClientHello, parseServerHello, type ServerHello } from './hello.js';
import { REC_HANDSHAKE, STREAM_BAD_RECORD, TlsRecordStream } from './record-stream.js';
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

class TlsFlow {
  state = S_DETECT;
  looked = 0;
  readonly dirs: [TlsRecordStream, TlsRecordStream];
  /** The handshake being collected. */
  ch: ClientHello | null = null;
  sh: ServerHello | null = null;
  cert: CertFacts | null = null;
  tsSec = 0;
  tsNs = 0;
  pending = false;
  /** Direction and packet being parsed, for the message handler. */
  dir = 0;
  done: [boolean, boolean] = [false, false];

  constructor(
    readonly gen: number,
    onMessage: (
      f: TlsFlow,
      dir: number,
      type: number,
      b: Buffer,
      off: number,
      end: number,
      truncated: boolean,
    ) => void,
    limit: number,
  ) {
    this.dirs = [
      new TlsRecordStream((t, b, o, e, tr) => onMessage(this, 0, t, b, o, e, tr), limit),
      new TlsRecordStream((t, b, o, e, tr) => onMessage(this, 1, t, b, o, e, tr), limit),
    ];
  }
}

export function createTlsAnalyzer(
  sink: RecordSink,
  opts: TlsOptions = {},
): Analyzer & { counters: TlsCounters } {
  const notes = opts.notes ?? null;
  const out = new RecordOut<TlsRecord>('tls', sink, opts.columns);
  const streams = new TcpStreams();
  const flows = new SlotMap<TlsFlow>();
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

  function emit(f: TlsFlow, slot: number, fl: FlowLookup): void {
    if (!f.pending) return;
    f.pending = false;
    counters.handshakes++;
    const rec = out.begin(f.tsSec, f.tsNs);
    fillTlsRecord(rec, fl.context(slot), f.ch, f.sh, f.cert, false);
    out.end(rec);
    f.ch = null;
    f.sh = null;
    f.cert = null;
  }

  function weird(name: string, dir: number): void {
    counters.malformed++;
    if (curPacket !== null && curFlows !== null)
      emitL7Weird(sink, name, curPacket, curFlows.context(curSlot), dir, null);
  }

  function onMessage(
    f: TlsFlow,
    dir: number,
    type: number,
    b: Buffer,
    off: number,
    end: number,
    truncated: boolean,
  ): void {
    const p = curPacket!;
    if (dir === 0 && type === HS_CLIENT_HELLO) {
      if (f.pending && (f.ch !== null || f.sh !== null)) emit(f, curSlot, curFlows!);
      const ch = truncated ? null : parseClientHello(b, off, end);
      if (ch === null) {
        weird('tls_malformed_client_hello', dir);
        return;
      }
      counters.clientHellos++;
      f.ch = ch;
      f.pending = true;
      f.tsSec = p.tsSec;
      f.tsNs = p.tsNs;
      if (notes !== null) {
        const note = notes.get(curSlot, f.gen);
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
      if (f.sh !== null) emit(f, curSlot, curFlows!);
      if (!f.pending) {
        f.pending = true;
        f.tsSec = p.tsSec;
        f.tsNs = p.tsNs;
      }
      f.sh = sh;
      if (notes !== null) notes.get(curSlot, f.gen).proto = 'tls';
      if (sh.selectedVersion === 0x0304) {
        // Everything after the ServerHello is encrypted; CCS records are for middleboxes only.
        f.dirs[0].tls13 = true;
        f.dirs[1].tls13 = true;
        f.dirs[0].encrypted = false;
        if (!sh.retryRequest) f.dirs[1].encrypted = true;
        emit(f, curSlot, curFlows!);
      } else if (sh.retryRequest) emit(f, curSlot, curFlows!);
    } else if (dir === 1 && type === HS_CERTIFICATE && f.pending && f.cert === null) {
      const cert = parseLeafCertificate(b, off, end);
      if (cert === null) weird('tls_certificate_unparsable', dir);
      else counters.certificates++;
      f.cert = cert;
      emit(f, curSlot, curFlows!);
    } else if (dir === 1 && type === HS_SERVER_HELLO_DONE) emit(f, curSlot, curFlows!);
  }

  /** Looks for a first hello at the start of the stream window (a segment, or short ones joined). */
  function detect(f: TlsFlow, slot: number): number {
    const b = streams.buf;
    const s = streams.start;
    const e = streams.end;
    if (TlsRecordStream.looksLikeHello(b, s, e)) {
      f.state = S_ACTIVE;
      counters.flows++;
      return DETECT_YES;
    }
    if (e - s < HELLO_PREFIX && b[s] === REC_HANDSHAKE && (e - s < 2 || b[s + 1] === 3)) return DETECT_WAIT;
    if (++f.looked >= DETECT_PACKETS) {
      f.state = S_IGNORE;
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    }
    return DETECT_NO;
  }

  return {
    name: 'tls',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_TCP) return false;
      if (slot < 0) return;
      let f = flows.get(slot);
      const gen = fl.generation(slot);
      if (f === undefined || f.gen !== gen) {
        if (p.payloadCapLen <= 0) return;
        f = new TlsFlow(gen, onMessage, opts.messageLimit ?? 16 * 1024);
        flows.set(slot, f);
        streams.drop(TcpStreams.key(slot, 0));
        streams.drop(TcpStreams.key(slot, 1));
      }
      if (f.state === S_IGNORE || (f.done[0] && f.done[1])) return false;
      if (f.done[dir]) return;
      const key = TcpStreams.key(slot, dir);
      if (!streams.push(key, gen, p)) return;
      if (f.state === S_DETECT) {
        const d = detect(f, slot);
        if (d === DETECT_WAIT) {
          streams.keep(streams.start);
          return;
        }
        if (d === DETECT_NO) {
          streams.keep(streams.end);
          return;
        }
      }
      const rs = f.dirs[dir as 0 | 1];
      if (streams.gap) {
        rs.reset();
        if (!TlsRecordStream.looksLikeRecord(streams.buf, streams.start, streams.end)) {
          streams.keep(streams.end);
          return; // wait for a segment that starts a record
        }
      }
      curPacket = p;
      curSlot = slot;
      curFlows = fl;
      const stop = rs.parse(streams.buf, streams.start, streams.end);
      curPacket = null;
      if (rs.status === STREAM_BAD_RECORD) {
        weird('tls_bad_record', dir);
        f.done[dir] = true;
        streams.drop(key);
        if (dir === 1) {
          f.done[0] = true;
          return false;
        }
        return;
      }
      streams.keep(stop);
      // A server that goes straight to ChangeCipherSpec (resumption) or data sends no certificate.
      if (dir === 1 && f.pending && (rs.sawAppData || rs.sawCcs)) emit(f, slot, fl);
      // Once application data flows (or the handshake is encrypted) there is nothing more to read.
      if (rs.sawAppData || (rs.encrypted && !rs.tls13)) {
        f.done[dir] = true;
        streams.drop(key);
      }
      // Once the server's side is encrypted the client has nothing more to say in the clear.
      if (f.done[1]) {
        f.done[0] = true;
        streams.drop(TcpStreams.key(slot, 0));
        return false;
      }
      return undefined;
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const f = flows.get(slot);
      if (f === undefined || f.gen !== fl.generation(slot)) return;
      emit(f, slot, fl);
      if (isInterim(rec)) return;
      flows.delete(slot);
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    },
    finish(): void {
      flows.clear();
    },
  };
}
