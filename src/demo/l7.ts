/**
 * Application payloads of generated traffic: DNS messages, TLS hellos with SNI, HTTP/1.1 and
 * SSH banners. Just enough of each protocol for Vantage's analyzers to read what a real
 * client and server would show (names, SNI, JA3/JA4, status codes). Randomness comes from the
 * caller so that a seeded generator stays repeatable.
 */

import { parseIpv6 } from '../common/addr.js';

export type Random = () => number;

const byte = (r: Random): number => Math.floor(r() * 256);

/** An answer record of a DNS response. */
export type DnsAnswer =
  | { type: 'A'; ip: string }
  | { type: 'AAAA'; ip: string }
  | { type: 'TXT'; text: string };

export const QTYPE = { A: 1, TXT: 16, AAAA: 28 } as const;

function dnsName(name: string): Buffer {
  return Buffer.concat([
    ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

/** A DNS query (answers undefined) or its response, one question. */
export function dnsMessage(
  id: number,
  name: string,
  qtype: number,
  answers?: DnsAnswer[],
  rcode = 0,
): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(answers ? 0x8180 | rcode : 0x0100, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(answers?.length ?? 0, 6);
  const q = Buffer.concat([dnsName(name), Buffer.from([qtype >> 8, qtype & 255, 0, 1])]);
  const rrs = (answers ?? []).map((a) => {
    const data =
      a.type === 'A'
        ? Buffer.from(a.ip.split('.').map(Number))
        : a.type === 'AAAA'
          ? Buffer.from(parseIpv6(a.ip) ?? new Uint8Array(16))
          : Buffer.concat([Buffer.from([a.text.length]), Buffer.from(a.text)]);
    const t = QTYPE[a.type];
    const rr = Buffer.from([
      0xc0,
      12,
      t >> 8,
      t & 255,
      0,
      1,
      0,
      0,
      0,
      60,
      data.length >> 8,
      data.length & 255,
    ]);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([h, q, ...rrs]);
}

/** A TLS ClientHello record with SNI, ALPN and groups (a browser-like cipher list). */
export function clientHello(sni: string, r: Random): Buffer {
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
  let o = body.writeUInt16BE(0x0303, 0);
  for (let i = 0; i < 32; i++) body[o++] = byte(r);
  body[o++] = 0;
  o = body.writeUInt16BE(ciphers.length * 2, o);
  for (const c of ciphers) o = body.writeUInt16BE(c, o);
  body[o++] = 1;
  body[o++] = 0;
  o = body.writeUInt16BE(ext.length, o);
  ext.copy(body, o);
  return record(1, body, 0x0301);
}

/** A TLS 1.3 ServerHello, ChangeCipherSpec and the header of the first encrypted record. */
export function serverHello(r: Random): Buffer {
  const ext = Buffer.from([
    0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,
  ]);
  const key = Buffer.alloc(32, 7);
  const exts = Buffer.concat([ext, key]);
  const body = Buffer.alloc(2 + 32 + 1 + 32 + 2 + 1 + 2 + exts.length);
  let o = body.writeUInt16BE(0x0303, 0);
  for (let i = 0; i < 32; i++) body[o++] = byte(r);
  body[o++] = 32;
  for (let i = 0; i < 32; i++) body[o++] = byte(r);
  o = body.writeUInt16BE(0x1301, o);
  body[o++] = 0;
  o = body.writeUInt16BE(exts.length, o);
  exts.copy(body, o);
  return Buffer.concat([record(2, body, 0x0303), Buffer.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0x40, 0x00])]);
}

function record(hsType: number, body: Buffer, version: number): Buffer {
  const hs = Buffer.alloc(4 + body.length);
  hs[0] = hsType;
  hs.writeUIntBE(body.length, 1, 3);
  body.copy(hs, 4);
  const rec = Buffer.alloc(5 + hs.length);
  rec[0] = 22;
  rec.writeUInt16BE(version, 1);
  rec.writeUInt16BE(hs.length, 3);
  hs.copy(rec, 5);
  return rec;
}

export function httpRequest(method: string, host: string, uri: string, userAgent: string): Buffer {
  return Buffer.from(
    `${method} ${uri} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
  );
}

/** Status line and headers; the body (`length` bytes) follows as filler. */
export function httpResponseHead(status: number, reason: string, length: number, type: string): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nServer: nginx\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`,
  );
}

export const sshBanner = (software: string): Buffer => Buffer.from(`SSH-2.0-${software}\r\n`);
