/**
 * Writes a realistic synthetic capture for benchmarks: many concurrent TCP sessions with
 * handshakes, HTTP and TLS requests, bulk responses and ACKs, FIN teardown; DNS over UDP; a share
 * of IPv6 and of 802.1Q-tagged frames. Deterministic (seeded), written in large blocks.
 *
 * usage: node dist/bench/gen-capture.js OUT.pcap [--packets N]
 */
import { closeSync, openSync, writeSync } from 'node:fs';

let seed = 0x9e3779b9;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
const ri = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));

const SITES = [
  'www.google.com',
  'api.github.com',
  'cdn.example.net',
  'login.microsoftonline.com',
  'www.wikipedia.org',
];

function clientHello(sni: string): Buffer {
  const name = Buffer.from(sni);
  const sniExt = Buffer.alloc(9 + name.length);
  sniExt.writeUInt16BE(0, 0);
  sniExt.writeUInt16BE(5 + name.length, 2);
  sniExt.writeUInt16BE(3 + name.length, 4);
  sniExt[6] = 0;
  sniExt.writeUInt16BE(name.length, 7);
  name.copy(sniExt, 9);
  const alpn = Buffer.from([0, 16, 0, 14, 0, 12, 2, 0x68, 0x32, 8, ...Buffer.from('http/1.1')]);
  const groups = Buffer.from([0, 10, 0, 8, 0, 6, 0, 29, 0, 23, 0, 24]);
  const ext = Buffer.concat([sniExt, alpn, groups]);
  const ciphers = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035,
  ];
  const body = Buffer.alloc(2 + 32 + 1 + 2 + ciphers.length * 2 + 2 + 2 + ext.length);
  let o = 0;
  body.writeUInt16BE(0x0303, o);
  o += 2;
  for (let i = 0; i < 32; i++) body[o++] = ri(0, 255);
  body[o++] = 0;
  body.writeUInt16BE(ciphers.length * 2, o);
  o += 2;
  for (const c of ciphers) {
    body.writeUInt16BE(c, o);
    o += 2;
  }
  body[o++] = 1;
  body[o++] = 0;
  body.writeUInt16BE(ext.length, o);
  o += 2;
  ext.copy(body, o);
  const hs = Buffer.alloc(4 + body.length);
  hs[0] = 1;
  hs.writeUIntBE(body.length, 1, 3);
  body.copy(hs, 4);
  const rec = Buffer.alloc(5 + hs.length);
  rec[0] = 22;
  rec.writeUInt16BE(0x0301, 1);
  rec.writeUInt16BE(hs.length, 3);
  hs.copy(rec, 5);
  return rec;
}

/** A TLS 1.3 ServerHello record (the rest of the handshake is encrypted). */
function serverHello(): Buffer {
  const ext = Buffer.from([
    0x00,
    0x2b,
    0x00,
    0x02,
    0x03,
    0x04,
    0x00,
    0x33,
    0x00,
    0x24,
    0x00,
    0x1d,
    0x00,
    0x20,
    ...Buffer.alloc(32, 7),
  ]);
  const body = Buffer.alloc(2 + 32 + 1 + 32 + 2 + 1 + 2 + ext.length);
  let o = 0;
  body.writeUInt16BE(0x0303, o);
  o += 2;
  for (let i = 0; i < 32; i++) body[o++] = ri(0, 255);
  body[o++] = 32;
  for (let i = 0; i < 32; i++) body[o++] = ri(0, 255);
  body.writeUInt16BE(0x1301, o);
  o += 2;
  body[o++] = 0;
  body.writeUInt16BE(ext.length, o);
  o += 2;
  ext.copy(body, o);
  const hs = Buffer.alloc(4 + body.length);
  hs[0] = 2;
  hs.writeUIntBE(body.length, 1, 3);
  body.copy(hs, 4);
  const rec = Buffer.alloc(5 + hs.length);
  rec[0] = 22;
  rec.writeUInt16BE(0x0303, 1);
  rec.writeUInt16BE(hs.length, 3);
  hs.copy(rec, 5);
  return rec;
}
// ServerHello, ChangeCipherSpec, then encrypted records (the first record header starts here).
const SERVER_HELLO = Buffer.concat([serverHello(), Buffer.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0x40, 0x00])]);

function httpGet(host: string, i: number): Buffer {
  return Buffer.from(
    `GET /assets/${i}/index.html?q=${i * 7} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n`,
  );
}

function dnsQuery(id: number, name: string, response: boolean): Buffer {
  const labels = Buffer.concat([
    ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(response ? 0x8180 : 0x0100, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(response ? 1 : 0, 6);
  const q = Buffer.concat([labels, Buffer.from([0, 1, 0, 1])]);
  const ans = response
    ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, ri(1, 254)])
    : Buffer.alloc(0);
  return Buffer.concat([h, q, ans]);
}

interface Session {
  kind: 'tcp' | 'dns';
  v6: boolean;
  vlan: number;
  c: number;
  s: number;
  cport: number;
  sport: number;
  cseq: number;
  sseq: number;
  step: number;
  segments: number;
  request: Buffer;
  /** Start of the server's first data segment (status line and headers, or ServerHello). */
  response: Buffer | null;
  host: string;
  pendingAck: number;
}

const OUT = Buffer.allocUnsafe(8 << 20);
let outLen = 0;
let fd = -1;
let packets = 0;
let bytes = 0;
let tSec = 1_700_000_000;
let tNs = 0;

function flush(): void {
  writeSync(fd, OUT, 0, outLen);
  outLen = 0;
}

const frame = Buffer.alloc(2048);

function emit(
  s: Session,
  fromClient: boolean,
  flags: number,
  payload: Buffer | null,
  payLen: number,
  udpProto: boolean,
): void {
  let o = 0;
  frame.fill(0, 0, 64);
  frame.writeUInt32BE(0x02000000, 0);
  frame.writeUInt16BE(fromClient ? 2 : 1, 4);
  frame.writeUInt32BE(0x02000000, 6);
  frame.writeUInt16BE(fromClient ? 1 : 2, 10);
  o = 12;
  if (s.vlan) {
    frame.writeUInt16BE(0x8100, o);
    frame.writeUInt16BE(s.vlan, o + 2);
    o += 4;
  }
  frame.writeUInt16BE(s.v6 ? 0x86dd : 0x0800, o);
  o += 2;
  const l4len = (udpProto ? 8 : 20) + payLen;
  const src = fromClient ? s.c : s.s;
  const dst = fromClient ? s.s : s.c;
  if (s.v6) {
    frame[o] = 0x60;
    frame.writeUInt16BE(l4len, o + 4);
    frame[o + 6] = udpProto ? 17 : 6;
    frame[o + 7] = 64;
    frame.writeUInt32BE(0x20010db8, o + 8);
    frame.writeUInt32BE(src, o + 20);
    frame.writeUInt32BE(0x20010db8, o + 24);
    frame.writeUInt32BE(dst, o + 36);
    o += 40;
  } else {
    frame[o] = 0x45;
    frame.writeUInt16BE(20 + l4len, o + 2);
    frame.writeUInt16BE(packets & 0xffff, o + 4);
    frame[o + 8] = 64;
    frame[o + 9] = udpProto ? 17 : 6;
    frame.writeUInt32BE(src, o + 12);
    frame.writeUInt32BE(dst, o + 16);
    o += 20;
  }
  frame.writeUInt16BE(fromClient ? s.cport : s.sport, o);
  frame.writeUInt16BE(fromClient ? s.sport : s.cport, o + 2);
  if (udpProto) {
    frame.writeUInt16BE(l4len, o + 4);
    o += 8;
  } else {
    frame.writeUInt32BE(fromClient ? s.cseq : s.sseq, o + 4);
    frame.writeUInt32BE(fromClient ? s.sseq : s.cseq, o + 8);
    frame[o + 12] = 0x50;
    frame[o + 13] = flags;
    frame.writeUInt16BE(64240, o + 14);
    o += 20;
  }
  if (payload) payload.copy(frame, o, 0, payLen);
  else frame.fill(0x61, o, o + payLen);
  o += payLen;
  if (outLen + 16 + o > OUT.length) flush();
  tNs += ri(200, 1200);
  if (tNs >= 1e9) {
    tSec++;
    tNs -= 1e9;
  }
  OUT.writeUInt32LE(tSec, outLen);
  OUT.writeUInt32LE(Math.floor(tNs / 1000), outLen + 4);
  OUT.writeUInt32LE(o, outLen + 8);
  OUT.writeUInt32LE(o, outLen + 12);
  frame.copy(OUT, outLen + 16, 0, o);
  outLen += 16 + o;
  packets++;
  bytes += o;
}

let nextPort = 1024;
function newSession(i: number): Session {
  const dns = rnd() < 0.15;
  const host = SITES[ri(0, SITES.length - 1)]!;
  const tls = rnd() < 0.6;
  nextPort = nextPort >= 65000 ? 1024 : nextPort + 1;
  return {
    kind: dns ? 'dns' : 'tcp',
    v6: rnd() < 0.1,
    vlan: rnd() < 0.1 ? ri(2, 4000) : 0,
    c: 0x0a000000 + ri(1, 50_000),
    s: dns ? 0x08080808 : 0xc6336400 + ri(1, 5000),
    cport: nextPort,
    sport: dns ? 53 : tls ? 443 : 80,
    cseq: ri(0, 0x7fffffff),
    sseq: ri(0, 0x7fffffff),
    step: 0,
    segments: ri(1, 24),
    request: dns ? dnsQuery(i & 0xffff, host, false) : tls ? clientHello(host) : httpGet(host, i),
    response: null,
    host,
    pendingAck: 0,
  };
}

const SYN = 2;
const ACK = 16;
const PSH = 8;
const FIN = 1;

/** Advance a session by one packet; returns false when it is finished. */
function advance(s: Session, i: number): boolean {
  if (s.kind === 'dns') {
    if (s.step === 0) emit(s, true, 0, s.request, s.request.length, true);
    else {
      const r = dnsQuery(i & 0xffff, s.host, true);
      emit(s, false, 0, r, r.length, true);
    }
    return ++s.step < 2;
  }
  switch (s.step) {
    case 0:
      emit(s, true, SYN, null, 0, false);
      s.cseq++;
      break;
    case 1:
      emit(s, false, SYN | ACK, null, 0, false);
      s.sseq++;
      break;
    case 2:
      emit(s, true, ACK, null, 0, false);
      break;
    case 3:
      emit(s, true, PSH | ACK, s.request, s.request.length, false);
      s.cseq += s.request.length;
      break;
    default: {
      const k = s.step - 4;
      if (k < s.segments * 3) {
        // two data segments then an ACK
        if (k % 3 === 2) emit(s, true, ACK, null, 0, false);
        else {
          let len = rnd() < 0.5 ? 1448 : ri(100, 1448);
          let head: Buffer | null = null;
          if (k === 0) {
            // the response opens with its protocol's header; the body length is the rest of the transfer
            if (s.sport === 443) head = SERVER_HELLO;
            else {
              const body = s.segments * 2 * 1448;
              head = Buffer.from(
                `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body}\r\n\r\n`,
              );
            }
            len = Math.max(len, head.length);
          }
          if (head) {
            const seg = Buffer.alloc(len, 0x61);
            head.copy(seg);
            emit(s, false, ACK, seg, len, false);
          } else emit(s, false, ACK, null, len, false);
          s.sseq += len;
        }
      } else if (k === s.segments * 3) {
        emit(s, true, FIN | ACK, null, 0, false);
        s.cseq++;
      } else if (k === s.segments * 3 + 1) {
        emit(s, false, FIN | ACK, null, 0, false);
        s.sseq++;
      } else {
        emit(s, true, ACK, null, 0, false);
        return false;
      }
    }
  }
  s.step++;
  return true;
}

export function generate(path: string, target: number): { packets: number; bytes: number } {
  fd = openSync(path, 'w');
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  h.copy(OUT, 0);
  outLen = 24;
  const active: Session[] = [];
  let made = 0;
  while (packets < target) {
    while (active.length < 3000) active.push(newSession(made++));
    const idx = ri(0, active.length - 1);
    if (!advance(active[idx]!, made)) {
      active[idx] = active[active.length - 1]!;
      active.pop();
    }
  }
  flush();
  closeSync(fd);
  return { packets, bytes };
}

if (process.argv[1]?.endsWith('gen-capture.js')) {
  const out = process.argv[2] ?? 'bench/out/synthetic.pcap';
  const i = process.argv.indexOf('--packets');
  const n = i > 0 ? Number(process.argv[i + 1]) : 1_600_000;
  const r = generate(out, n);
  process.stdout.write(
    `${out}: ${r.packets} packets, ${r.bytes} bytes, mean ${Math.round(r.bytes / r.packets)} B\n`,
  );
}
