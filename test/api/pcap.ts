/**
 * Hand-made capture for the API tests: a few TCP conversations (handshake, request,
 * response, FIN) and DNS-port UDP exchanges between 10.1.0.0/24 clients and three servers,
 * written as a classic little-endian pcap (Ethernet link type).
 */
function csum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function ipv4(src: number[], dst: number[], proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, payload]);
}

function tcp(
  sp: number,
  dp: number,
  seq: number,
  ack: number,
  flags: number,
  data: Uint8Array = new Uint8Array(0),
): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sp, 0);
  h.writeUInt16BE(dp, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 0x50;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, data]);
}

function udp(sp: number, dp: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sp, 0);
  h.writeUInt16BE(dp, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

function eth(srcMac: number, dstMac: number, ip: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(0x0200, 0);
  h.writeUInt32BE(dstMac, 2);
  h.writeUInt16BE(0x0200, 6);
  h.writeUInt32BE(srcMac, 8);
  h.writeUInt16BE(0x0800, 12);
  return Buffer.concat([h, ip]);
}

export interface SampleInfo {
  pcap: Buffer;
  tcpFlows: number;
  udpFlows: number;
  startSec: number;
}

export function samplePcap(conversations = 12, startSec = 1_700_000_000): SampleInfo {
  const recs: Buffer[] = [];
  const push = (t: number, frame: Buffer) => {
    const h = Buffer.alloc(16);
    const sec = Math.floor(t);
    h.writeUInt32LE(sec, 0);
    h.writeUInt32LE(Math.round((t - sec) * 1e6), 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    recs.push(h, frame);
  };
  const servers = [
    [93, 184, 216, 34],
    [142, 250, 1, 1],
    [1, 1, 1, 1],
  ];
  let t = startSec;
  const at = (dt: number): number => {
    t += dt;
    return t;
  };
  let udpFlows = 0;
  for (let i = 0; i < conversations; i++) {
    const c = [10, 1, 0, 10 + (i % 5)];
    const s = servers[i % 3]!;
    const cm = 0x1000 + (i % 5);
    const sm = 0x2000 + (i % 3);
    const cp = 40000 + i;
    const sp = i % 2 === 0 ? 443 : 80;
    const C = (flags: number, seq: number, ack: number, d?: Uint8Array) =>
      eth(cm, sm, ipv4(c, s, 6, tcp(cp, sp, seq, ack, flags, d)));
    const S = (flags: number, seq: number, ack: number, d?: Uint8Array) =>
      eth(sm, cm, ipv4(s, c, 6, tcp(sp, cp, seq, ack, flags, d)));
    const req = Buffer.from(`GET /${i} HTTP/1.1\r\nHost: example${i}.test\r\n\r\n`);
    const resp = Buffer.alloc(900 + i * 10, 0x41);
    push(at(0.01), C(0x02, 1000, 0));
    push(at(0.02), S(0x12, 5000, 1001));
    push(at(0.001), C(0x10, 1001, 5001));
    push(at(0.001), C(0x18, 1001, 5001, req));
    push(at(0.03), S(0x18, 5001, 1001 + req.length, resp));
    push(at(0.001), C(0x11, 1001 + req.length, 5001 + resp.length));
    push(at(0.001), S(0x11, 5001 + resp.length, 1002 + req.length));
    push(at(0.001), C(0x10, 1002 + req.length, 5002 + resp.length));
    if (i % 4 === 0) {
      udpFlows++;
      push(at(0.001), eth(cm, sm, ipv4(c, [8, 8, 8, 8], 17, udp(50000 + i, 53, Buffer.alloc(30, 1)))));
      push(at(0.01), eth(sm, cm, ipv4([8, 8, 8, 8], c, 17, udp(53, 50000 + i, Buffer.alloc(60, 2)))));
    }
    t += 1;
  }
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20);
  return { pcap: Buffer.concat([gh, ...recs]), tcpFlows: conversations, udpFlows, startSec };
}
