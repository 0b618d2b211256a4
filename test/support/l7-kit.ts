/**
 * Test kit for the L7 analyzers: hand-made TCP/UDP conversations (Ethernet/IPv4 frames) run
 * through a real Sensor with the analyzers under test. Used by the tests only.
 */

import type { Analyzer, FlowLookup, RecordSink } from '../../src/analyze/types.js';
import { newFrame } from '../../src/capture/frame.js';
import { Packet, TCP_ACK } from '../../src/decode/packet.js';
import { Sensor, type SensorRecord } from '../../src/flow/sensor.js';
import { eth, ipv4, tcp, udp } from './packets.js';

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

export type Rec = { type: string; [k: string]: unknown };

export class Conversation {
  readonly frames: [number, Buffer][] = [];
  private seq: [number, number] = [1000, 5000];
  private t = 0;

  constructor(
    private readonly proto: 'tcp' | 'udp' = 'tcp',
    private readonly cport = 40000,
    private readonly sport = 443,
    handshake = true,
  ) {
    if (proto === 'tcp' && handshake) {
      this.raw(0, SYN, []);
      this.seq[0]++;
      this.raw(1, SYN | ACK, []);
      this.seq[1]++;
      this.raw(0, ACK, []);
    }
  }

  private raw(dir: number, flags: number, payload: number[], seq = this.seq[dir as 0 | 1]): void {
    const [sp, dp] = dir === 0 ? [this.cport, this.sport] : [this.sport, this.cport];
    const [src, dst] = dir === 0 ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.2', '10.0.0.1'];
    const l4 =
      this.proto === 'tcp'
        ? tcp({ sport: sp, dport: dp, seq, ack: 1, flags }, payload)
        : udp(sp, dp, payload);
    this.frames.push([
      this.t,
      Buffer.from(eth(0x0800, ipv4({ src, dst, proto: this.proto === 'tcp' ? 6 : 17 }, l4))),
    ]);
    this.t += 0.001;
  }

  /** Send bytes from the client (dir 0) or server (dir 1), optionally cut into segments of `seg` bytes. */
  send(dir: number, data: Buffer | string, seg = 1400): this {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (let i = 0; i < b.length; i += seg) {
      const part = [...b.subarray(i, i + seg)];
      this.raw(dir, ACK | PSH, part);
      this.seq[dir as 0 | 1] = (this.seq[dir as 0 | 1] + part.length) >>> 0;
    }
    if (b.length === 0 && this.proto === 'udp') this.raw(dir, 0, []);
    return this;
  }

  /** Skip `n` bytes of a direction's stream (as if those segments were lost). */
  lose(dir: number, n: number): this {
    this.seq[dir as 0 | 1] = (this.seq[dir as 0 | 1] + n) >>> 0;
    return this;
  }

  /** Re-send earlier bytes (a retransmission) at an explicit sequence offset from the start. */
  resend(dir: number, data: Buffer | string, seq: number): this {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.raw(dir, ACK | PSH, [...b], seq);
    return this;
  }

  fin(): this {
    if (this.proto === 'tcp') {
      this.raw(0, FIN | ACK, []);
      this.raw(1, FIN | ACK, []);
    }
    return this;
  }

  /** Sequence number of a direction's first payload byte (for `resend`). */
  static firstSeq(dir: number): number {
    return dir === 0 ? 1001 : 5001;
  }
}

/**
 * Feed [seconds, bytes] frames to a Sensor through one reused frame, as a capture source does
 * (`before` runs ahead of each frame with its time). Does not finish the sensor.
 */
export function feedFrames(
  s: Sensor,
  frames: readonly (readonly [number, Buffer | readonly number[]])[],
  before?: (t: number) => void,
): void {
  const f = newFrame();
  for (const [t, data] of frames) {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
    f.buf = b;
    f.off = 0;
    f.caplen = b.length;
    f.wirelen = b.length;
    f.tsSec = 1_700_000_000 + Math.floor(t);
    f.tsNs = Math.round((t - Math.floor(t)) * 1e9);
    before?.(t);
    s.onFrame(f);
  }
}

/** Run frames through a Sensor with the analyzers `make` builds; the L7 and weird records. */
export function runFrames(frames: [number, Buffer][], make: (sink: RecordSink) => Analyzer[]): Rec[] {
  const out: SensorRecord[] = [];
  const sink = (r: SensorRecord): void => {
    out.push(r);
  };
  const s = new Sensor(sink);
  for (const a of make(sink)) s.addHook(a);
  feedFrames(s, frames);
  s.finish();
  return out.filter((r) => r.type !== 'flow') as Rec[];
}

export const ofType = (recs: Rec[], type: string): Rec[] => recs.filter((r) => r.type === type);

const u16 = (v: number): number[] => [(v >> 8) & 255, v & 255];
const u24 = (v: number): number[] => [(v >> 16) & 255, (v >> 8) & 255, v & 255];

/** A ClientHello handshake message (type + length + body). */
export function clientHelloMsg(o: {
  version?: number;
  ciphers: number[];
  exts: [number, number[]][];
  sessionId?: number;
}): Buffer {
  const sid = Array.from({ length: o.sessionId ?? 32 }, (_, i) => i);
  const cs = o.ciphers.flatMap(u16);
  const ext = o.exts.flatMap(([t, d]) => [...u16(t), ...u16(d.length), ...d]);
  const body = [
    ...u16(o.version ?? 0x0303),
    ...new Array(32).fill(7),
    sid.length,
    ...sid,
    ...u16(cs.length),
    ...cs,
    1,
    0,
    ...u16(ext.length),
    ...ext,
  ];
  return Buffer.from([1, ...u24(body.length), ...body]);
}

export function serverHelloMsg(o: { version?: number; cipher: number; exts: [number, number[]][] }): Buffer {
  const ext = o.exts.flatMap(([t, d]) => [...u16(t), ...u16(d.length), ...d]);
  const body = [
    ...u16(o.version ?? 0x0303),
    ...new Array(32).fill(9),
    0,
    ...u16(o.cipher),
    0,
    ...u16(ext.length),
    ...ext,
  ];
  return Buffer.from([2, ...u24(body.length), ...body]);
}

export function sniExt(name: string): [number, number[]] {
  const n = [...Buffer.from(name)];
  return [0, [...u16(n.length + 3), 0, ...u16(n.length), ...n]];
}

export function alpnExt(protos: string[]): [number, number[]] {
  const l = protos.flatMap((p) => [p.length, ...Buffer.from(p)]);
  return [16, [...u16(l.length), ...l]];
}

export function u16ListExt(type: number, vals: number[], lenBytes = 2): [number, number[]] {
  const l = vals.flatMap(u16);
  return [type, [...(lenBytes === 2 ? u16(l.length) : [l.length]), ...l]];
}

/** Wrap handshake bytes in TLS records of at most `max` body bytes. */
export function records(type: number, data: Buffer, max = 16384): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length || i === 0; i += max) {
    const body = data.subarray(i, i + max);
    parts.push(Buffer.from([type, 3, 1, ...u16(body.length)]), body);
    if (data.length === 0) break;
  }
  return Buffer.concat(parts);
}

/**
 * A flow table stand-in with one flow in slot 0 (for driving an analyzer without a Sensor);
 * `gen` gives the slot's generation (a new flow in the same slot when it changes).
 */
export function oneFlow(proto = 6, gen: () => number = () => 1): FlowLookup {
  const ctx = {
    gen: 1,
    flow_id: 1,
    community_id: '1:test',
    proto,
    client_ip: '10.0.0.1',
    client_port: 40000,
    server_ip: '10.0.0.2',
    server_port: 443,
    vlan: null,
    vni: null,
  };
  return { generation: gen, context: () => ctx };
}

/**
 * Feed payloads straight to an analyzer as packets of one flow (TCP with consecutive sequence
 * numbers, or UDP), then end the flow. Fast enough for fuzzing.
 */
export function drive(a: Analyzer, segs: [number, Buffer][], proto = 6): void {
  const fl = oneFlow(proto);
  const p = new Packet();
  const seq = [1000, 9000];
  for (const [dir, data] of segs) {
    p.buf = data;
    p.payloadOff = 0;
    p.payloadCapLen = data.length;
    p.payloadLen = data.length;
    p.proto = proto;
    p.tcpFlags = TCP_ACK;
    p.seq = seq[dir]! >>> 0;
    p.tsSec = 1_700_000_000;
    seq[dir]! += data.length;
    a.onPacket(p, fl, 0, dir);
  }
  a.onFlowEnd?.({ app: null }, 0, fl);
  a.finish?.();
}
