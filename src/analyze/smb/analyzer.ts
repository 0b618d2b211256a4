/**
 * SMB2/3 over TCP (NetBIOS session framing, port 445 or any other), recognised by content and
 * picked up mid-stream: dialect, share names and message counts, one `smb` record per
 * connection at flow end. Only the first bytes of each message are read; READ/WRITE data is
 * skipped without being kept.
 */

import { isoNs } from '../../common/time.js';
import { type Packet, PROTO_TCP } from '../../decode/packet.js';
import type { SmbRecord } from '../../schema/smb.js';
import { flowFields, isInterim } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { SlotMap } from '../slot-map.js';
import { TcpStreams } from '../tcp-reassembly.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import {
  commandName,
  dialectName,
  looksLikeSmbFrame,
  protocolId,
  SMB2_FLAGS_RESPONSE,
  SMB2_HEADER,
  SMB2_NEGOTIATE,
  SMB2_TREE_CONNECT,
  treeConnectPath,
} from './smb2.js';

export interface SmbOptions {
  notes?: FlowNotes;
}

export interface SmbCounters {
  connections: number;
  messages: number;
  records: number;
}

/** Bytes of a message read: the header and enough of the body for a TREE_CONNECT path. */
const PREFIX = SMB2_HEADER + 1024;
/** Segments looked at for a NetBIOS/SMB frame start before a direction is left alone. */
const SYNC_TRIES = 8;
const MAX_SHARES = 32;
const STATUS_PENDING = 0x00000103;
const STATUS_MORE_PROCESSING = 0xc0000016;

class Dir {
  synced = false;
  tries = 0;
  stop = false;
  /** Bytes to pass over before the next header, and bytes left in the NetBIOS message. */
  skip = 0;
  msgRemain = 0;
}

class SmbFlow {
  readonly dirs: [Dir, Dir] = [new Dir(), new Dir()];
  seen = false;
  tsSec = 0;
  tsNs = 0;
  dialect: number | null = null;
  shares: string[] = [];
  commands = new Map<number, number>();
  requests = 0;
  responses = 0;
  errors = 0;
  encrypted = 0;
  smb1 = 0;
  constructor(readonly gen: number) {}
}

export function createSmbAnalyzer(
  sink: RecordSink,
  opts: SmbOptions = {},
): Analyzer & { counters: SmbCounters } {
  const notes = opts.notes ?? null;
  const streams = new TcpStreams();
  const flows = new SlotMap<SmbFlow>();
  const counters: SmbCounters = { connections: 0, messages: 0, records: 0 };

  /**
   * The first bytes b[m, e) of an SMB message (from a NetBIOS frame start or a compounded
   * header). Returns the offset from m of a further compounded header that lies beyond e, else 0.
   */
  function message(f: SmbFlow, b: Buffer, m: number, e: number): number {
    const id = protocolId(b, m, e);
    if (id === 0xfd) {
      f.encrypted++;
      return 0;
    }
    if (id === 0xff) {
      f.smb1++;
      return 0;
    }
    if (id !== 0xfe) return 0;
    // compounded requests/responses follow each other via NextCommand
    let h = m;
    for (let guard = 0; guard < 64; guard++) {
      if (h + SMB2_HEADER > e) return h - m;
      if (protocolId(b, h, e) !== 0xfe) return 0;
      counters.messages++;
      const cmd = b.readUInt16LE(h + 12);
      const flags = b.readUInt32LE(h + 16);
      const status = b.readUInt32LE(h + 8);
      const next = b.readUInt32LE(h + 20);
      f.commands.set(cmd, (f.commands.get(cmd) ?? 0) + 1);
      if (flags & SMB2_FLAGS_RESPONSE) {
        f.responses++;
        if (status !== 0 && status !== STATUS_PENDING && status !== STATUS_MORE_PROCESSING) f.errors++;
        if (cmd === SMB2_NEGOTIATE && status === 0 && h + SMB2_HEADER + 6 <= e)
          f.dialect = b.readUInt16LE(h + SMB2_HEADER + 4);
      } else {
        f.requests++;
        if (cmd === SMB2_TREE_CONNECT && f.shares.length < MAX_SHARES) {
          const path = treeConnectPath(b, h, next > 0 ? Math.min(e, h + next) : e);
          if (path !== null && !f.shares.includes(path)) f.shares.push(path);
        }
      }
      if (next === 0 || next < SMB2_HEADER) return 0;
      h += next;
    }
    return 0;
  }

  /** Parse b[start, end) of one direction; returns where unconsumed bytes begin. */
  function parse(f: SmbFlow, d: Dir, b: Buffer, start: number, end: number): number {
    let p = start;
    while (p < end) {
      if (d.skip > 0) {
        const n = Math.min(d.skip, end - p);
        d.skip -= n;
        d.msgRemain -= n;
        p += n;
        continue;
      }
      if (d.msgRemain === 0) {
        // NetBIOS session message header
        if (end - p < 4) return p;
        if (b[p] !== 0) {
          d.synced = false; // lost framing
          return end;
        }
        d.msgRemain = b.readUIntBE(p + 1, 3);
        p += 4;
        continue;
      }
      // an SMB header inside the message: read its first bytes, then skip to the next
      // compounded header or to the end of the message
      const want = Math.min(d.msgRemain, PREFIX);
      if (end - p < want) return p;
      const next = want >= 4 ? message(f, b, p, p + want) : 0;
      d.skip = next > 0 && next < d.msgRemain ? next : d.msgRemain;
    }
    return p;
  }

  function emit(f: SmbFlow, slot: number, fl: FlowLookup): void {
    if (!f.seen) return;
    counters.records++;
    const commands: Record<string, number> = {};
    for (const [c, n] of [...f.commands].sort((a, b) => a[0] - b[0])) commands[commandName(c)] = n;
    const rec: SmbRecord = {
      type: 'smb',
      ts: isoNs(f.tsSec, f.tsNs),
      ...flowFields(fl.context(slot)),
      dialect: f.dialect !== null ? dialectName(f.dialect) : null,
      shares: f.shares,
      commands,
      requests: f.requests,
      responses: f.responses,
      errors: f.errors,
      encrypted: f.encrypted,
      smb1: f.smb1,
    };
    sink(rec);
  }

  return {
    name: 'smb',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_TCP) return false;
      if (slot < 0) return;
      const gen = fl.generation(slot);
      let f = flows.get(slot);
      if (f === undefined || f.gen !== gen) {
        if (p.payloadCapLen <= 0) return;
        f = new SmbFlow(gen);
        flows.set(slot, f);
        streams.drop(TcpStreams.key(slot, 0));
        streams.drop(TcpStreams.key(slot, 1));
      }
      const d = f.dirs[dir as 0 | 1];
      if (f.dirs[0].stop && f.dirs[1].stop) return false;
      if (d.stop) return;
      const key = TcpStreams.key(slot, dir);
      if (!streams.push(key, gen, p)) return;
      if (streams.gap) {
        if (d.synced && d.skip > 0 && streams.lost > 0 && streams.lost <= d.skip) {
          d.skip -= streams.lost;
          d.msgRemain -= streams.lost;
        } else {
          d.synced = false;
          d.skip = 0;
          d.msgRemain = 0;
        }
      }
      if (!d.synced) {
        if (!looksLikeSmbFrame(streams.buf, streams.start, streams.end)) {
          if (++d.tries >= SYNC_TRIES && !f.seen) d.stop = true;
          streams.keep(streams.end);
          return;
        }
        d.synced = true;
        if (!f.seen) {
          f.seen = true;
          f.tsSec = p.tsSec;
          f.tsNs = p.tsNs;
          counters.connections++;
          if (notes !== null) notes.get(slot, gen).proto = 'smb';
        }
      }
      streams.keep(parse(f, d, streams.buf, streams.start, streams.end));
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const f = flows.get(slot);
      if (f === undefined || f.gen !== fl.generation(slot)) return;
      if (isInterim(rec)) return;
      emit(f, slot, fl);
      flows.delete(slot);
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    },
    finish(): void {
      flows.clear();
    },
  };
}
