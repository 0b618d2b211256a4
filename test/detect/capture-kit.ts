import { eth, ipv4, tcp, udp } from '../support/packets.js';
import type { TestPacket } from '../support/pcap-writer.js';

/** Deterministic PRNG (mulberry32): the labelled captures are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;

export interface SessionOpts {
  /** Bytes the client sends: real payload (Buffer) or a declared size (bulk, headers only kept). */
  req?: Buffer | number;
  resp?: Buffer | number;
  /** The server does not answer / answers with RST. */
  noAnswer?: boolean;
  refuse?: boolean;
  /** The client resets right after the SYN-ACK (nmap -sS on an open port). */
  clientReset?: boolean;
  /** Seconds between the handshake and the request, and the session's length. */
  durSec?: number;
  segment?: number;
}

/** Packets of many hosts, written as one time-ordered capture (headers only for bulk data). */
export class CaptureKit {
  readonly pkts: { t: number; data: Buffer; wirelen: number }[] = [];
  flows = 0;

  private frame(t: number, src: string, dst: string, proto: number, l4: number[], declared?: number): void {
    const total = declared ?? 20 + l4.length;
    const data = Buffer.from(eth(0x0800, ipv4({ src, dst, proto, totalLength: total }, l4)));
    this.pkts.push({ t, data, wirelen: 14 + total });
  }

  tcpSession(t: number, c: string, s: string, cport: number, sport: number, o: SessionOpts = {}): void {
    this.flows++;
    let cs = 1000;
    let ss = 5000;
    this.frame(t, c, s, 6, tcp({ sport: cport, dport: sport, seq: cs, flags: SYN }));
    if (o.noAnswer) return;
    if (o.refuse) {
      this.frame(t + 0.0005, s, c, 6, tcp({ sport, dport: cport, ack: cs + 1, flags: RST | ACK }));
      return;
    }
    this.frame(t + 0.001, s, c, 6, tcp({ sport, dport: cport, seq: ss, ack: cs + 1, flags: SYN | ACK }));
    cs++;
    ss++;
    if (o.clientReset) {
      this.frame(t + 0.0015, c, s, 6, tcp({ sport: cport, dport: sport, seq: cs, flags: RST }));
      return;
    }
    const dur = o.durSec ?? 0.05;
    this.frame(t + 0.002, c, s, 6, tcp({ sport: cport, dport: sport, seq: cs, ack: ss, flags: ACK }));
    let now = t + 0.003;
    // Bulk data is written as large (GSO-style) segments so the capture stays small.
    const seg = o.segment ?? 1460;
    const send = (from: 'c' | 's', body: Buffer | number | undefined, span: number): void => {
      if (body === undefined) return;
      const [a, b, ap, bp] = from === 'c' ? [c, s, cport, sport] : [s, c, sport, cport];
      if (typeof body !== 'number') {
        const seq = from === 'c' ? cs : ss;
        const ack = from === 'c' ? ss : cs;
        this.frame(now, a, b, 6, tcp({ sport: ap, dport: bp, seq, ack, flags: PSH | ACK }, [...body]));
        if (from === 'c') cs += body.length;
        else ss += body.length;
        now += 0.001;
        return;
      }
      const sz = body > 200_000 ? 60_000 : seg;
      const n = Math.max(1, Math.ceil(body / sz));
      for (let i = 0; i < n; i++) {
        const len = Math.floor(i === n - 1 ? body - sz * (n - 1) : sz);
        const seq = from === 'c' ? cs : ss;
        const ack = from === 'c' ? ss : cs;
        this.frame(now, a, b, 6, tcp({ sport: ap, dport: bp, seq, ack, flags: ACK }), 40 + len);
        if (from === 'c') cs += len;
        else ss += len;
        now += span / n;
      }
    };
    send('c', o.req, dur / 3);
    send('s', o.resp, dur / 3);
    now = Math.max(now, t + dur);
    this.frame(now, c, s, 6, tcp({ sport: cport, dport: sport, seq: cs, ack: ss, flags: FIN | ACK }));
    this.frame(now + 0.001, s, c, 6, tcp({ sport, dport: cport, seq: ss, ack: cs + 1, flags: FIN | ACK }));
    this.frame(
      now + 0.002,
      c,
      s,
      6,
      tcp({ sport: cport, dport: sport, seq: cs + 1, ack: ss + 1, flags: ACK }),
    );
  }

  /** One UDP exchange: a request and, unless null, an answer (sizes declared when numbers). */
  udp(
    t: number,
    c: string,
    s: string,
    cport: number,
    sport: number,
    req: Buffer | number,
    resp: Buffer | number | null,
  ): void {
    this.flows++;
    const put = (tt: number, a: string, b: string, ap: number, bp: number, body: Buffer | number): void => {
      if (typeof body === 'number') this.frame(tt, a, b, 17, udp(ap, bp, [], 8 + body), 28 + body);
      else this.frame(tt, a, b, 17, udp(ap, bp, [...body]));
    };
    put(t, c, s, cport, sport, req);
    if (resp !== null) put(t + 0.002, s, c, sport, cport, resp);
  }

  /** A one-packet flow (floods): SYN, UDP datagram or ICMP echo request. */
  single(
    t: number,
    src: string,
    dst: string,
    proto: 'syn' | 'udp' | 'icmp',
    sport: number,
    dport: number,
    size = 60,
  ): void {
    this.flows++;
    if (proto === 'syn') this.frame(t, src, dst, 6, tcp({ sport, dport, seq: 7, flags: SYN }));
    else if (proto === 'udp') this.frame(t, src, dst, 17, udp(sport, dport, [], size - 20), size);
    else this.frame(t, src, dst, 1, [8, 0, 0, 0, (sport >> 8) & 255, sport & 255, 0, 1], size);
  }

  /** An ICMP port unreachable quoting a UDP probe (what a closed UDP port answers). */
  unreachable(t: number, from: string, to: string, sport: number, dport: number): void {
    const quoted = ipv4({ src: to, dst: from, proto: 17 }, udp(sport, dport, []));
    this.frame(t, from, to, 1, [3, 3, 0, 0, 0, 0, 0, 0, ...quoted]);
  }

  dns(
    t: number,
    c: string,
    s: string,
    cport: number,
    name: string,
    qtype: number,
    rcode: number,
    answers: Answer[] = [],
  ): void {
    const id = (cport * 7) & 0xffff;
    this.udp(
      t,
      c,
      s,
      cport,
      53,
      dnsMessage(id, false, name, qtype, 0, []),
      dnsMessage(id, true, name, qtype, rcode, answers),
    );
  }

  /** Time-ordered pcap packets, times relative to `t0` seconds. */
  packets(t0: number): TestPacket[] {
    this.pkts.sort((a, b) => a.t - b.t);
    return this.pkts.map((p) => {
      const abs = t0 + p.t;
      const sec = Math.floor(abs);
      return { data: p.data, tsSec: sec, tsNs: Math.round((abs - sec) * 1e6) * 1000, wirelen: p.wirelen };
    });
  }
}

export interface Answer {
  type: number;
  data: Buffer;
}

function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const l of name.split('.')) {
    if (!l) continue;
    out.push(l.length, ...Buffer.from(l, 'latin1'));
  }
  out.push(0);
  return out;
}

export function dnsMessage(
  id: number,
  response: boolean,
  name: string,
  qtype: number,
  rcode: number,
  answers: Answer[],
): Buffer {
  const flags = response ? 0x8180 | rcode : 0x0100;
  const h = [id >> 8, id & 255, flags >> 8, flags & 255, 0, 1, 0, response ? answers.length : 0, 0, 0, 0, 0];
  const q = [...nameBytes(name), qtype >> 8, qtype & 255, 0, 1];
  const a: number[] = [];
  if (response) {
    for (const an of answers) {
      const len = an.data.length;
      a.push(0xc0, 12, an.type >> 8, an.type & 255, 0, 1, 0, 0, 1, 44, len >> 8, len & 255, ...an.data);
    }
  }
  return Buffer.from([...h, ...q, ...a]);
}

export const httpRequest = (method: string, host: string, uri: string): Buffer =>
  Buffer.from(
    `${method} ${uri} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0\r\nContent-Length: 0\r\n\r\n`,
  );
export const httpResponse = (status: number, reason: string, len = 0): Buffer =>
  Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nServer: nginx\r\nContent-Length: ${len}\r\n\r\n${'x'.repeat(len)}`,
  );

/** Two labelled attacks the detectors must report: a scan of 200 refused ports from 10.1.9.9
 *  and an SSH brute force of 20 sessions from 203.0.113.10. */
export function scanAndSshBruteForce(): CaptureKit {
  const kit = new CaptureKit();
  for (let p = 1; p <= 200; p++)
    kit.tcpSession(1 + p * 0.01, '10.1.9.9', '10.0.0.20', 40_000, p, { refuse: true });
  for (let i = 0; i < 20; i++)
    kit.tcpSession(10 + i * 5, '203.0.113.10', '10.0.0.22', 50_000 + i, 22, {
      req: 1800,
      resp: 2600,
      durSec: 3,
    });
  return kit;
}
