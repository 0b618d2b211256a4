import { eth, ipv4, tcp, udp } from './packets.js';
import { pcapFile, type TestPacket } from './pcap-writer.js';

/** One connection of generated traffic: a whole TCP session or a UDP request/answer. */
export interface Conversation {
  client: string;
  server: string;
  proto: 6 | 17;
  cport: number;
  sport: number;
  /** Start, seconds since the epoch. */
  t: number;
  request?: number;
  response?: number;
  /** TCP: the server refuses (SYN answered by RST), as a closed port does to a scan. */
  refused?: boolean;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

function at(t: number): { tsSec: number; tsNs: number } {
  const s = Math.floor(t);
  return { tsSec: s, tsNs: Math.round((t - s) * 1e9) };
}

/** The packets of one conversation, a few milliseconds apart. */
export function conversationPackets(c: Conversation): TestPacket[] {
  const out: TestPacket[] = [];
  const C = (payload: number[], flags: number, seq: number, ack: number, dt: number) =>
    out.push({
      data: Buffer.from(
        eth(
          0x0800,
          ipv4(
            { src: c.client, dst: c.server, proto: 6 },
            tcp({ sport: c.cport, dport: c.sport, seq, ack, flags }, payload),
          ),
        ),
      ),
      ...at(c.t + dt),
    });
  const S = (payload: number[], flags: number, seq: number, ack: number, dt: number) =>
    out.push({
      data: Buffer.from(
        eth(
          0x0800,
          ipv4(
            { src: c.server, dst: c.client, proto: 6 },
            tcp({ sport: c.sport, dport: c.cport, seq, ack, flags }, payload),
          ),
          '02:00:00:00:00:02',
          '02:00:00:00:00:01',
        ),
      ),
      ...at(c.t + dt),
    });
  const req = new Array<number>(c.request ?? 120).fill(0x41);
  const res = new Array<number>(c.response ?? 600).fill(0x42);
  if (c.proto === 17) {
    out.push({
      data: Buffer.from(
        eth(0x0800, ipv4({ src: c.client, dst: c.server, proto: 17 }, udp(c.cport, c.sport, req))),
      ),
      ...at(c.t),
    });
    out.push({
      data: Buffer.from(
        eth(
          0x0800,
          ipv4({ src: c.server, dst: c.client, proto: 17 }, udp(c.sport, c.cport, res)),
          '02:00:00:00:00:02',
          '02:00:00:00:00:01',
        ),
      ),
      ...at(c.t + 0.002),
    });
    return out;
  }
  C([], SYN, 1000, 0, 0);
  if (c.refused) {
    S([], 0x04 | ACK, 0, 1001, 0.001);
    return out;
  }
  S([], SYN | ACK, 5000, 1001, 0.001);
  C([], ACK, 1001, 5001, 0.002);
  C(req, PSH | ACK, 1001, 5001, 0.003);
  S(res, PSH | ACK, 5001, 1001 + req.length, 0.006);
  C([], FIN | ACK, 1001 + req.length, 5001 + res.length, 0.007);
  S([], FIN | ACK, 5001 + res.length, 1002 + req.length, 0.008);
  C([], ACK, 1002 + req.length, 5002 + res.length, 0.009);
  return out;
}

/** A pcap of conversations, packets in time order. */
export function trafficPcap(convs: readonly Conversation[]): Buffer {
  const pkts = convs.flatMap(conversationPackets);
  pkts.sort((a, b) => a.tsSec - b.tsSec || a.tsNs - b.tsNs);
  return pcapFile(pkts, { ns: true });
}

/** A small deterministic random source (tests must be repeatable). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}
