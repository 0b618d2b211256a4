/**
 * SSH identification banners, recognised by content on any TCP port: one `ssh` record per
 * connection with the client's and the server's software. Only the first payload packets of
 * each direction are looked at; everything after the banners is encrypted.
 */

import { isoNs } from '../../common/time.js';
import { type Packet, PROTO_TCP } from '../../decode/packet.js';
import type { SshRecord } from '../../schema/ssh.js';
import { flowFields, isInterim } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { SlotMap } from '../slot-map.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import { findBanner, splitBanner } from './banner.js';

export interface SshOptions {
  notes?: FlowNotes;
}

export interface SshCounters {
  connections: number;
  records: number;
}

/** Payload packets per direction looked at for a banner. */
const LOOK = 3;

class SshFlow {
  banners: [string | null, string | null] = [null, null];
  looked: [number, number] = [0, 0];
  tsSec = 0;
  tsNs = 0;
  emitted = false;
  constructor(readonly gen: number) {}
}

export function createSshAnalyzer(
  sink: RecordSink,
  opts: SshOptions = {},
): Analyzer & { counters: SshCounters } {
  const notes = opts.notes ?? null;
  const flows = new SlotMap<SshFlow>();
  const counters: SshCounters = { connections: 0, records: 0 };

  function emit(f: SshFlow, slot: number, fl: FlowLookup): void {
    if (f.emitted || (f.banners[0] === null && f.banners[1] === null)) return;
    f.emitted = true;
    counters.records++;
    const [c, s] = f.banners;
    const cs = c !== null ? splitBanner(c) : null;
    const ss = s !== null ? splitBanner(s) : null;
    const rec: SshRecord = {
      type: 'ssh',
      ts: isoNs(f.tsSec, f.tsNs),
      ...flowFields(fl.context(slot)),
      client_banner: c,
      server_banner: s,
      client_software: cs?.software ?? null,
      server_software: ss?.software ?? null,
      version: ss?.version ?? cs?.version ?? null,
    };
    sink(rec);
  }

  return {
    name: 'ssh',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_TCP) return false;
      if (slot < 0 || p.payloadCapLen <= 0) return;
      const gen = fl.generation(slot);
      let f = flows.get(slot);
      if (f === undefined || f.gen !== gen) {
        f = new SshFlow(gen);
        flows.set(slot, f);
      }
      const d = dir as 0 | 1;
      const fl0 = f;
      const doneWith = (x: number): boolean => fl0.banners[x] !== null || fl0.looked[x]! >= LOOK;
      if (doneWith(0) && doneWith(1)) return false;
      if (doneWith(d)) return;
      f.looked[d]++;
      const r = findBanner(p.buf, p.payloadOff, p.payloadOff + p.payloadCapLen);
      if (r === null) return;
      if (f.banners[0] === null && f.banners[1] === null) {
        counters.connections++;
        f.tsSec = p.tsSec;
        f.tsNs = p.tsNs;
        if (notes !== null) notes.get(slot, gen).proto = 'ssh';
      }
      f.banners[d] = p.buf.toString('latin1', r[0], r[1]);
      if (f.banners[0] !== null && f.banners[1] !== null) emit(f, slot, fl);
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const f = flows.get(slot);
      if (f === undefined || f.gen !== fl.generation(slot)) return;
      emit(f, slot, fl);
      if (!isInterim(rec)) flows.delete(slot);
    },
    finish(): void {
      flows.clear();
    },
  };
}
