/**
 * Writes the "realistic" benchmark capture: traffic shaped like a real office network rather
 * than like a load generator. Most flows are a few packets (DNS, one-packet UDP, failed
 * connections, small HTTPS fetches) and a few heavy-tailed flows carry most of the bytes;
 * flows start at random times over five minutes of packet time and last as long as their
 * size says, so short flows expire while long ones run. 4,000 hosts (3,000 clients, 1,000
 * servers, popularity skewed), a TLS/HTTP/QUIC mix, an IPv6 share and clients on 802.1Q
 * VLANs. Deterministic: the same options give the same bytes.
 *
 * usage: node dist/bench/gen-realistic.js OUT.pcap [--packets N] [--flows N]
 */
import { createCipheriv } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { initialKeys } from '../src/analyze/quic/initial.js';
import { clientHello, dnsMessage, httpRequest, serverHello } from '../src/demo/l7.js';

export interface RealisticOptions {
  /** Packets to aim for (the flow sizes are scaled to meet it within a fraction of a percent). */
  packets?: number;
  flows?: number;
  clients?: number;
  servers?: number;
  /** Packet-time span of the capture in seconds. */
  seconds?: number;
  seed?: number;
}

export interface GeneratedCapture {
  packets: number;
  bytes: number;
  flows: number;
  /** Flows by kind, and the share of bytes in the largest 1% of flows. */
  kinds: Record<string, number>;
  topPercentByteShare: number;
}

type Kind = 'dns' | 'udp1' | 'ntp' | 'quic' | 'tls' | 'http' | 'tcp' | 'syn';

/** Flow shares, of flows (not packets): DNS-heavy as measured on enterprise links. */
const SHARES: [Kind, number][] = [
  ['dns', 0.42],
  ['udp1', 0.1],
  ['ntp', 0.03],
  ['quic', 0.06],
  ['tls', 0.26],
  ['http', 0.07],
  ['tcp', 0.03],
  ['syn', 0.03],
];

const SYN = 2;
const RST = 4;
const PSH = 8;
const ACK = 16;
const FIN = 1;
const MSS = 1448;
/** The body runs to the end of the connection, whatever its size. */
const HTTP_OK = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n',
);

interface Flow {
  kind: Kind;
  v6: boolean;
  vlan: number;
  client: number;
  server: number;
  cport: number;
  sport: number;
  /** Server data segments (TCP) or server packets (QUIC). */
  data: number;
  packets: number;
  start: number;
  duration: number;
  // progress
  i: number;
  cseq: number;
  sseq: number;
  name: number;
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Packets of a flow of `kind` with `data` server segments. */
function packetsOf(kind: Kind, data: number): number {
  switch (kind) {
    case 'dns':
    case 'ntp':
      return data; // 1 (unanswered) or 2
    case 'udp1':
      return 1;
    case 'syn':
      return data; // SYN retries, or SYN + RST
    case 'quic':
      return 1 + data + Math.ceil(data / 3);
    default:
      // handshake, request, data with an ACK every two segments, FIN/FIN/ACK
      return 4 + data + Math.ceil(data / 2) + 3;
  }
}

export function generateRealistic(path: string, o: RealisticOptions = {}): GeneratedCapture {
  const target = o.packets ?? 1_360_000;
  const nFlows = o.flows ?? Math.round(target / 17);
  const nClients = o.clients ?? 3000;
  const nServers = o.servers ?? 1000;
  const span = o.seconds ?? 300;
  const rnd = xorshift(o.seed ?? 0x5eed1357);
  const ri = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  // Hosts: clients on four VLANs (one in four tagged), a tenth of them dual-stack.
  const clientVlan = new Uint16Array(nClients);
  for (let c = 0; c < nClients; c++) clientVlan[c] = rnd() < 0.25 ? 10 * ri(1, 4) : 0;
  const names: string[] = [];
  for (let i = 0; i < 400; i++)
    names.push(`${['www', 'api', 'cdn', 'static', 'login'][i % 5]}.site${i}.example`);
  const pick = (n: number, skew: number): number => Math.min(n - 1, Math.floor(n * rnd() ** skew));

  // Draw every flow's shape first; the heavy tail's scale is then solved for the packet target.
  const flows: Flow[] = [];
  const tail = new Float64Array(nFlows);
  const kinds: Record<string, number> = {};
  // Client ports from the Linux ephemeral range, which holds no port that the decoder reads as a
  // tunnel (4789, 6081) or the collector as flow export (2055, 4739, 6343, 9995, 9996).
  let nextPort = 32768;
  for (let f = 0; f < nFlows; f++) {
    let u = rnd();
    let kind: Kind = 'tcp';
    for (const [k, share] of SHARES) {
      if (u < share) {
        kind = k;
        break;
      }
      u -= share;
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const client = pick(nClients, 1.4);
    // DNS goes to the two internal resolvers (servers 0 and 1); the rest to popular servers.
    const server = kind === 'dns' ? ri(0, 1) : 2 + pick(nServers - 2, 3);
    nextPort = nextPort >= 60999 ? 32768 : nextPort + 1;
    const sport =
      kind === 'dns'
        ? 53
        : kind === 'ntp'
          ? 123
          : kind === 'udp1'
            ? [514, 1900, 137, 161, 162][ri(0, 4)]!
            : kind === 'quic' || kind === 'tls'
              ? 443
              : kind === 'http'
                ? 80
                : [22, 3389, 5432, 8443, 445][ri(0, 4)]!;
    // Pareto(alpha 1.15): most flows a few segments, the largest hundreds of thousands.
    tail[f] = rnd() ** (-1 / 1.15);
    const data = kind === 'dns' ? (rnd() < 0.03 ? 1 : 2) : kind === 'ntp' ? 2 : kind === 'syn' ? ri(1, 3) : 0;
    flows.push({
      kind,
      v6: rnd() < 0.15,
      vlan: clientVlan[client]!,
      client,
      server,
      cport: nextPort,
      sport,
      data,
      packets: 0,
      start: 0,
      duration: 0,
      i: 0,
      cseq: ri(0, 0x7fffffff),
      sseq: ri(0, 0x7fffffff),
      name: pick(names.length, 2),
    });
  }
  const sized = (f: Flow): boolean =>
    f.kind === 'tls' || f.kind === 'http' || f.kind === 'tcp' || f.kind === 'quic';
  const total = (scale: number): number => {
    let n = 0;
    for (let f = 0; f < nFlows; f++) {
      const fl = flows[f]!;
      n += packetsOf(
        fl.kind,
        sized(fl) ? Math.min(200_000, Math.max(1, Math.round(tail[f]! * scale))) : fl.data,
      );
    }
    return n;
  };
  let lo = 0.01;
  let hi = 1000;
  for (let k = 0; k < 50; k++) {
    const mid = Math.sqrt(lo * hi);
    if (total(mid) < target) lo = mid;
    else hi = mid;
  }
  const scale = lo;
  for (let f = 0; f < nFlows; f++) {
    const fl = flows[f]!;
    if (sized(fl)) fl.data = Math.min(200_000, Math.max(1, Math.round(tail[f]! * scale)));
    fl.packets = packetsOf(fl.kind, fl.data);
    // Durations follow size: a round trip per exchange, ~0.4 ms per segment on a busy link,
    // and a fifth of the TCP flows are kept-alive connections that idle for minutes.
    const rtt = 0.002 + rnd() * 0.06;
    let d = fl.packets <= 2 ? rtt : rtt * 3 + fl.packets * 0.0004 * (0.5 + rnd());
    if (sized(fl) && rnd() < 0.2) d += rnd() * 120;
    if (fl.kind === 'syn' && fl.packets > 1) d = fl.data === 2 ? rtt : 3 * (fl.packets - 1);
    fl.duration = Math.min(d, span * 0.9);
    fl.start = rnd() * (span - fl.duration);
  }
  flows.sort((a, b) => a.start - b.start);

  const out = new Writer(path);
  const quic = quicInitials(rnd, names);
  const hellos = names.map((n) => clientHello(n, rnd));
  const shello = serverHello(rnd);
  const heap = new FlowHeap();
  let next = 0;
  const t0 = 1_700_000_000;
  while (next < flows.length || heap.size > 0) {
    let fl: Flow;
    if (heap.size === 0 || (next < flows.length && flows[next]!.start <= heap.peekTime())) {
      fl = flows[next++]!;
    } else fl = heap.pop();
    const t = timeOf(fl);
    emitPacket(out, fl, t0 + t, rnd, quic, hellos, shello, names);
    fl.i++;
    if (fl.i < fl.packets) heap.push(fl, timeOf(fl));
  }
  out.close();
  let bytesAll = 0;
  const sizes = flows.map((f) => {
    const b = f.kind === 'tls' || f.kind === 'http' || f.kind === 'tcp' ? f.data * MSS : f.packets * 200;
    bytesAll += b;
    return b;
  });
  sizes.sort((a, b) => b - a);
  let top = 0;
  for (let i = 0; i < Math.ceil(sizes.length / 100); i++) top += sizes[i]!;
  return {
    packets: out.packets,
    bytes: out.bytes,
    flows: nFlows,
    kinds,
    topPercentByteShare: top / bytesAll,
  };
}

const timeOf = (f: Flow): number =>
  f.packets <= 1 ? f.start : f.start + (f.duration * f.i) / (f.packets - 1);

/** A binary min-heap of flows by the time of their next packet. */
class FlowHeap {
  private flows: Flow[] = [];
  private times: number[] = [];
  get size(): number {
    return this.flows.length;
  }
  peekTime(): number {
    return this.times[0]!;
  }
  push(f: Flow, t: number): void {
    let i = this.flows.length;
    this.flows.push(f);
    this.times.push(t);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.times[p]! <= t) break;
      this.flows[i] = this.flows[p]!;
      this.times[i] = this.times[p]!;
      i = p;
    }
    this.flows[i] = f;
    this.times[i] = t;
  }
  pop(): Flow {
    const top = this.flows[0]!;
    const lastF = this.flows.pop()!;
    const lastT = this.times.pop()!;
    const n = this.flows.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && this.times[c + 1]! < this.times[c]!) c++;
        if (this.times[c]! >= lastT) break;
        this.flows[i] = this.flows[c]!;
        this.times[i] = this.times[c]!;
        i = c;
      }
      this.flows[i] = lastF;
      this.times[i] = lastT;
    }
    return top;
  }
}

/** Pcap writer in 8 MiB blocks (microsecond timestamps, Ethernet). */
class Writer {
  private buf = Buffer.allocUnsafe(8 << 20);
  private len = 0;
  private fd: number;
  packets = 0;
  bytes = 0;
  readonly frame = Buffer.alloc(2048);
  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const h = this.buf;
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(0, 8);
    h.writeUInt32LE(0, 12);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(1, 20);
    this.len = 24;
  }
  write(t: number, n: number): void {
    if (this.len + 16 + n > this.buf.length) this.flush();
    const sec = Math.floor(t);
    this.buf.writeUInt32LE(sec, this.len);
    this.buf.writeUInt32LE(Math.min(999_999, Math.floor((t - sec) * 1e6)), this.len + 4);
    this.buf.writeUInt32LE(n, this.len + 8);
    this.buf.writeUInt32LE(n, this.len + 12);
    this.frame.copy(this.buf, this.len + 16, 0, n);
    this.len += 16 + n;
    this.packets++;
    this.bytes += n;
  }
  flush(): void {
    writeSync(this.fd, this.buf, 0, this.len);
    this.len = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Build one packet of `f` (its f.i-th) in out.frame and write it. */
function emitPacket(
  out: Writer,
  f: Flow,
  t: number,
  rnd: () => number,
  quic: Buffer[],
  hellos: Buffer[],
  shello: Buffer,
  names: string[],
): void {
  const i = f.i;
  let fromClient = true;
  let flags = 0;
  let payload: Buffer | null = null;
  let payLen = 0;
  const udp = f.kind === 'dns' || f.kind === 'udp1' || f.kind === 'ntp' || f.kind === 'quic';
  switch (f.kind) {
    case 'dns': {
      fromClient = i === 0;
      const name = names[f.name]!;
      const qtype = f.v6 ? 28 : 1;
      const nx = f.name % 23 === 7;
      payload = fromClient
        ? dnsMessage(f.cport, name, qtype)
        : dnsMessage(
            f.cport,
            name,
            qtype,
            nx
              ? []
              : [
                  f.v6
                    ? { type: 'AAAA', ip: `2001:db8:ff::${f.name}` }
                    : { type: 'A', ip: `93.184.${f.name >> 8}.${f.name & 255}` },
                ],
            nx ? 3 : 0,
          );
      payLen = payload.length;
      break;
    }
    case 'ntp':
      fromClient = i === 0;
      payLen = 48;
      break;
    case 'udp1':
      payLen = 40 + Math.floor(rnd() * 300);
      break;
    case 'quic':
      if (i === 0) {
        payload = quic[f.name % quic.length]!;
        payLen = payload.length;
      } else {
        // after the Initial: three server packets of 1-RTT data per client acknowledgement
        fromClient = i % 4 === 0;
        payLen = fromClient ? 40 : 1200 + Math.floor(rnd() * 50);
      }
      break;
    case 'syn':
      if (f.data === 2 && i === 1) {
        fromClient = false;
        flags = RST | ACK;
      } else flags = SYN;
      break;
    default: {
      const n = f.packets;
      if (i === 0) flags = SYN;
      else if (i === 1) {
        fromClient = false;
        flags = SYN | ACK;
      } else if (i === 2) flags = ACK;
      else if (i === 3) {
        flags = PSH | ACK;
        payload =
          f.kind === 'tls'
            ? hellos[f.name]!
            : f.kind === 'http'
              ? httpRequest(
                  'GET',
                  names[f.name]!,
                  `/p/${f.cport}/${f.sseq & 0xffff}`,
                  'Mozilla/5.0 (Windows NT 10.0)',
                )
              : null;
        payLen = payload ? payload.length : 64;
      } else if (i >= n - 3) {
        fromClient = i !== n - 2;
        flags = i === n - 1 ? ACK : FIN | ACK;
      } else {
        const k = i - 4; // data phase: two server segments, then a client ACK
        if (k % 3 === 2) flags = ACK;
        else {
          fromClient = false;
          flags = ACK;
          payLen = f.data <= 2 || rnd() < 0.45 ? 100 + Math.floor(rnd() * (MSS - 100)) : MSS;
          if (k === 0) {
            payload = f.kind === 'tls' ? shello : f.kind === 'http' ? HTTP_OK : null;
            if (payload) payLen = Math.max(payLen, payload.length);
          }
        }
      }
    }
  }
  const n = frameOf(out.frame, f, fromClient, flags, payload, payLen, udp);
  if (!udp) {
    if (fromClient) f.cseq = (f.cseq + payLen + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    else f.sseq = (f.sseq + payLen + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
  }
  out.write(t, n);
}

function frameOf(
  b: Buffer,
  f: Flow,
  fromClient: boolean,
  flags: number,
  payload: Buffer | null,
  payLen: number,
  udp: boolean,
): number {
  b.fill(0, 0, 80);
  // Clients have their own MAC; servers sit behind the gateway (02:00:00:00:00:01).
  const cmac = 0x1000 + f.client;
  b.writeUInt32BE(0x02000000, 0);
  b.writeUInt16BE(fromClient ? 1 : cmac, 4);
  b.writeUInt32BE(0x02000000, 6);
  b.writeUInt16BE(fromClient ? cmac : 1, 10);
  let o = 12;
  if (f.vlan) {
    b.writeUInt16BE(0x8100, o);
    b.writeUInt16BE(f.vlan, o + 2);
    o += 4;
  }
  b.writeUInt16BE(f.v6 ? 0x86dd : 0x0800, o);
  o += 2;
  const l4len = (udp ? 8 : 20) + payLen;
  const proto = udp ? 17 : 6;
  if (f.v6) {
    b[o] = 0x60;
    b.writeUInt16BE(l4len, o + 4);
    b[o + 6] = proto;
    b[o + 7] = 64;
    const cl = o + (fromClient ? 8 : 24);
    const sv = o + (fromClient ? 24 : 8);
    b.writeUInt32BE(0x20010db8, cl);
    b.writeUInt32BE(0x00010000 | (f.vlan || 1), cl + 4);
    b.writeUInt32BE(f.client, cl + 12);
    b.writeUInt32BE(0x20010db8, sv);
    b.writeUInt32BE(0x00ff0000, sv + 4);
    b.writeUInt32BE(f.server + 1, sv + 12);
    o += 40;
  } else {
    b[o] = 0x45;
    b.writeUInt16BE(20 + l4len, o + 2);
    b.writeUInt16BE((f.i * 7 + f.cport) & 0xffff, o + 4);
    b[o + 8] = 64;
    b[o + 9] = proto;
    // clients 10.<vlan>.x.y; internal resolvers 10.0.0.53/54; other servers public addresses
    const c = (0x0a000000 | ((f.vlan & 0xff) << 16) | (f.client + 10)) >>> 0;
    const s = f.server < 2 ? 0x0a000035 + f.server : (0x5db80000 + f.server * 37) >>> 0;
    b.writeUInt32BE(fromClient ? c : s, o + 12);
    b.writeUInt32BE(fromClient ? s : c, o + 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += b.readUInt16BE(o + k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, o + 10);
    o += 20;
  }
  b.writeUInt16BE(fromClient ? f.cport : f.sport, o);
  b.writeUInt16BE(fromClient ? f.sport : f.cport, o + 2);
  if (udp) {
    b.writeUInt16BE(l4len, o + 4);
    o += 8;
  } else {
    b.writeUInt32BE(fromClient ? f.cseq : f.sseq, o + 4);
    b.writeUInt32BE(flags & ACK ? (fromClient ? f.sseq : f.cseq) : 0, o + 8);
    b[o + 12] = 0x50;
    b[o + 13] = flags;
    b.writeUInt16BE(64240, o + 14);
    o += 20;
  }
  if (payload) payload.copy(b, o, 0, payLen);
  if (payLen > (payload?.length ?? 0)) b.fill(0x61, o + (payload?.length ?? 0), o + payLen);
  return o + payLen;
}

/** QUIC v1 client Initials (RFC 9001 protection) carrying a ClientHello, one per name. */
function quicInitials(rnd: () => number, names: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < 64; k++) {
    const dcid = Buffer.from(Array.from({ length: 8 }, () => Math.floor(rnd() * 256)));
    const keys = initialKeys(dcid, 'client');
    const ch = clientHello(names[k * 5]!, rnd).subarray(5); // the handshake message, no record layer
    const crypto = Buffer.concat([Buffer.from([0x06, 0x00, 0x40 | (ch.length >> 8), ch.length & 0xff]), ch]);
    const pnLen = 4;
    const headerLen = 1 + 4 + 1 + 8 + 1 + 0 + 1 + 2 + pnLen;
    const payloadLen = 1200 - headerLen - 16;
    const plain = Buffer.alloc(payloadLen); // PADDING frames are zeros
    crypto.copy(plain);
    const h = Buffer.alloc(headerLen);
    let p = 0;
    h[p++] = 0xc0 | (pnLen - 1);
    h.writeUInt32BE(1, p);
    p += 4;
    h[p++] = 8;
    dcid.copy(h, p);
    p += 8;
    h[p++] = 0; // no SCID
    h[p++] = 0; // no token
    h.writeUInt16BE(0x4000 | (payloadLen + 16 + pnLen), p);
    p += 2;
    const pnOff = p;
    h.writeUInt32BE(k, p); // packet number
    const nonce = Buffer.from(keys.iv);
    for (let i = 0; i < 4; i++) nonce[11 - i]! ^= (k >>> (8 * i)) & 0xff;
    const gcm = createCipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(h);
    const ct = Buffer.concat([gcm.update(plain), gcm.final(), gcm.getAuthTag()]);
    const pkt = Buffer.concat([h, ct]);
    const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
    ecb.setAutoPadding(false);
    const mask = ecb.update(pkt.subarray(pnOff + 4, pnOff + 20));
    pkt[0]! ^= mask[0]! & 0x0f;
    for (let i = 0; i < pnLen; i++) pkt[pnOff + i]! ^= mask[1 + i]!;
    out.push(pkt);
  }
  return out;
}

if (process.argv[1]?.endsWith('gen-realistic.js')) {
  const path = process.argv[2] ?? 'bench/out/realistic.pcap';
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const p = arg('packets');
  const f = arg('flows');
  const r = generateRealistic(path, { ...(p ? { packets: p } : {}), ...(f ? { flows: f } : {}) });
  process.stdout.write(
    `${path}: ${r.packets} packets, ${r.bytes} bytes (mean ${Math.round(r.bytes / r.packets)} B), ${r.flows} flows ${JSON.stringify(r.kinds)}; the largest 1% of flows carry ${(r.topPercentByteShare * 100).toFixed(0)}% of the bytes\n`,
  );
}
