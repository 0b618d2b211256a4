/**
 * Whole conversations as packets, the way a SPAN port on a core switch sees them: 802.1Q
 * tags of the client's VLAN, IPv4 or IPv6, a TCP handshake with a real round trip, request and
 * response segmented at 1448 bytes with the client's ACKs, and a FIN teardown; or a UDP
 * request and its answer.
 */
import { parseIpv6 } from '../common/addr.js';
import type { TestPacket } from './pcap-writer.js';

/** One exchange of a TCP session: what the client sends, then what the server answers. */
export interface Exchange {
  /** Payload, or a byte count of filler. */
  request: Buffer | number;
  response: Buffer | number;
  /** The response's opening bytes when `response` is a count (status line, ServerHello). */
  responseHead?: Buffer;
}

export interface TcpSession {
  /** Start, seconds since the epoch. */
  t: number;
  client: string;
  server: string;
  cport: number;
  sport: number;
  vlan: number;
  /** Round trip between client and server, seconds. */
  rtt: number;
  exchanges: Exchange[];
  /** The port is closed: the SYN is answered by a RST. */
  refused?: boolean;
  /** The port is open but the client resets after the SYN/ACK (a half-open scan). */
  halfOpen?: boolean;
}

export interface UdpExchange {
  t: number;
  client: string;
  server: string;
  cport: number;
  sport: number;
  vlan: number;
  rtt: number;
  request: Buffer;
  /** No answer when null (flow export to a collector). */
  response: Buffer | null;
}

const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const FIN = 0x01;
const MSS = 1448;

/** A locally administered MAC per address; outside addresses are behind the router's MAC. */
function macOf(ip: string): string {
  if (!isInside(ip)) return '02:00:5e:00:01:01';
  const n = ip.includes(':') ? (parseIpv6(ip) ?? new Uint8Array(16)).subarray(12) : ip.split('.').map(Number);
  return `02:1a:${[...n].map((x) => (x ?? 0).toString(16).padStart(2, '0')).join(':')}`;
}

const isInside = (ip: string): boolean => ip.startsWith('10.') || ip.startsWith('fd');

const macBytes = new Map<string, Buffer>();
function mac(ip: string): Buffer {
  let m = macBytes.get(ip);
  if (!m) {
    m = Buffer.from(
      macOf(ip)
        .split(':')
        .map((x) => Number.parseInt(x, 16)),
    );
    macBytes.set(ip, m);
  }
  return m;
}

const addrBytes = new Map<string, Buffer>();
function addr(ip: string): Buffer {
  let a = addrBytes.get(ip);
  if (!a) {
    a = ip.includes(':')
      ? Buffer.from(parseIpv6(ip) ?? new Uint8Array(16))
      : Buffer.from(ip.split('.').map(Number));
    addrBytes.set(ip, a);
  }
  return a;
}

/**
 * One Ethernet frame written straight into a Buffer: hundreds of thousands of them are made
 * at every first start, which the number-array builders of packets.ts are too slow for.
 */
function frame(
  src: string,
  dst: string,
  vlan: number,
  proto: number,
  l4: Buffer,
  payload: Buffer | null,
): Buffer {
  const v6 = src.includes(':');
  const ipLen = v6 ? 40 : 20;
  const plen = payload?.length ?? 0;
  const l2 = vlan > 0 ? 18 : 14;
  const b = Buffer.alloc(l2 + ipLen + l4.length + plen);
  mac(dst).copy(b, 0);
  mac(src).copy(b, 6);
  let o = 12;
  if (vlan > 0) {
    b.writeUInt16BE(0x8100, 12);
    b.writeUInt16BE(vlan, 14);
    o = 16;
  }
  b.writeUInt16BE(v6 ? 0x86dd : 0x0800, o);
  o += 2;
  if (v6) {
    b[o] = 0x60;
    b.writeUInt16BE(l4.length + plen, o + 4);
    b[o + 6] = proto;
    b[o + 7] = 64;
    addr(src).copy(b, o + 8);
    addr(dst).copy(b, o + 24);
  } else {
    b[o] = 0x45;
    b.writeUInt16BE(20 + l4.length + plen, o + 2);
    b.writeUInt16BE(0x4000, o + 6);
    b[o + 8] = isInside(src) ? 64 : 52;
    b[o + 9] = proto;
    addr(src).copy(b, o + 12);
    addr(dst).copy(b, o + 16);
  }
  o += ipLen;
  l4.copy(b, o);
  if (payload) payload.copy(b, o + l4.length);
  return b;
}

function tcpHeader(sport: number, dport: number, seq: number, ack: number, flags: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 0x50;
  h[13] = flags;
  h.writeUInt16BE(64_240, 14);
  return h;
}

function udpHeader(sport: number, dport: number, len: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + len, 4);
  return h;
}

function at(t: number): { tsSec: number; tsNs: number } {
  const s = Math.floor(t);
  return { tsSec: s, tsNs: Math.min(999_999_999, Math.round((t - s) * 1e9)) };
}

const bytesOf = (p: Buffer | number, head?: Buffer): Buffer => {
  if (typeof p !== 'number') return p;
  const b = Buffer.alloc(Math.max(p, head?.length ?? 0), 0x61);
  head?.copy(b);
  return b;
};

/** The packets of a TCP session, in time order. */
export function tcpSessionPackets(s: TcpSession): TestPacket[] {
  const out: TestPacket[] = [];
  let t = s.t;
  let cseq = 1_000_000 + ((s.cport * 7919) % 1_000_000);
  let sseq = 5_000_000 + ((s.cport * 104_729) % 1_000_000);
  const half = s.rtt / 2;
  const C = (flags: number, payload: Buffer | null = null) =>
    out.push({
      data: frame(s.client, s.server, s.vlan, 6, tcpHeader(s.cport, s.sport, cseq, sseq, flags), payload),
      ...at(t),
    });
  const S = (flags: number, payload: Buffer | null = null) =>
    out.push({
      data: frame(s.server, s.client, s.vlan, 6, tcpHeader(s.sport, s.cport, sseq, cseq, flags), payload),
      ...at(t),
    });
  C(SYN);
  cseq++;
  t += half;
  if (s.refused) {
    S(RST | ACK);
    return out;
  }
  S(SYN | ACK);
  sseq++;
  t += half;
  if (s.halfOpen) {
    C(RST);
    return out;
  }
  C(ACK);
  for (const x of s.exchanges) {
    const req = bytesOf(x.request);
    for (let o = 0; o < req.length; o += MSS) {
      t += 0.0002;
      const seg = req.subarray(o, o + MSS);
      C(PSH | ACK, seg);
      cseq += seg.length;
    }
    t += s.rtt + 0.002;
    const res = bytesOf(x.response, x.responseHead);
    let n = 0;
    for (let o = 0; o < res.length; o += MSS) {
      const seg = res.subarray(o, o + MSS);
      S((o + MSS >= res.length ? PSH : 0) | ACK, seg);
      sseq += seg.length;
      t += 0.00012;
      // Delayed ACKs: one per two segments, seen half a round trip later in the middle.
      if (++n % 2 === 0 || o + MSS >= res.length) C(ACK);
    }
    t += 0.01;
  }
  C(FIN | ACK);
  cseq++;
  t += half;
  S(FIN | ACK);
  sseq++;
  t += half;
  C(ACK);
  return out;
}

/** A UDP request and its answer. */
export function udpPackets(u: UdpExchange): TestPacket[] {
  const out: TestPacket[] = [
    {
      data: frame(u.client, u.server, u.vlan, 17, udpHeader(u.cport, u.sport, u.request.length), u.request),
      ...at(u.t),
    },
  ];
  if (u.response) {
    out.push({
      data: frame(u.server, u.client, u.vlan, 17, udpHeader(u.sport, u.cport, u.response.length), u.response),
      ...at(u.t + u.rtt),
    });
  }
  return out;
}
