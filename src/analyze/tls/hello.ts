/**
 * ClientHello / ServerHello bodies (the bytes after the 4-byte handshake header), parsed in
 * place. A hello is parsed once per handshake, so the lists it yields are what the record
 * needs; nothing here runs per packet.
 */

import { TextCache } from '../text-cache.js';

/** GREASE values (RFC 8701): 0x?a?a with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export const EXT_SNI = 0x0000;
export const EXT_SUPPORTED_GROUPS = 0x000a;
export const EXT_EC_POINT_FORMATS = 0x000b;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;

export interface ClientHello {
  /** legacy_version of the handshake (0x0303 for TLS 1.2 and 1.3). */
  version: number;
  /** Cipher suites in wire order, GREASE included. */
  ciphers: number[];
  /** Extension types in wire order, GREASE included. */
  extensions: number[];
  groups: number[];
  pointFormats: number[];
  sigAlgs: number[];
  supportedVersions: number[];
  sni: string | null;
  alpn: string[];
}

export interface ServerHello {
  version: number;
  cipher: number;
  extensions: number[];
  /** supported_versions selected by the server (TLS 1.3), 0 when absent. */
  selectedVersion: number;
  alpn: string | null;
  /** A HelloRetryRequest (TLS 1.3): the client will send a second ClientHello. */
  retryRequest: boolean;
}

/** SNI and ALPN names: a few hundred distinct ones across tens of thousands of handshakes. */
export const TLS_TEXT = new TextCache(2048, 256);

const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** Parse a ClientHello body in b[off, end). Returns null when it is malformed. */
export function parseClientHello(b: Buffer, off: number, end: number): ClientHello | null {
  if (end > b.length || end - off < 38) return null;
  let p = off;
  const version = b.readUInt16BE(p);
  p += 34; // version + random
  const sidLen = b[p]!;
  p += 1 + sidLen;
  if (p + 2 > end) return null;
  const csLen = b.readUInt16BE(p);
  p += 2;
  if (p + csLen > end || csLen % 2 !== 0) return null;
  const ciphers: number[] = [];
  for (let i = 0; i < csLen; i += 2) ciphers.push(b.readUInt16BE(p + i));
  p += csLen;
  if (p + 1 > end) return null;
  const compLen = b[p]!;
  p += 1 + compLen;
  if (p > end) return null;
  const h: ClientHello = {
    version,
    ciphers,
    extensions: [],
    groups: [],
    pointFormats: [],
    sigAlgs: [],
    supportedVersions: [],
    sni: null,
    alpn: [],
  };
  if (p + 2 > end) return p === end ? h : null; // no extensions (SSL 3 / early TLS)
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > end) return null;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const d = p + 4;
    const e = d + len;
    if (e > extEnd) return null;
    h.extensions.push(type);
    switch (type) {
      case EXT_SNI:
        h.sni = parseSni(b, d, e);
        break;
      case EXT_SUPPORTED_GROUPS:
        readU16List(b, d + 2, Math.min(e, d + 2 + (len >= 2 ? b.readUInt16BE(d) : 0)), h.groups);
        break;
      case EXT_EC_POINT_FORMATS:
        if (len >= 1) for (let i = d + 1; i < Math.min(e, d + 1 + b[d]!); i++) h.pointFormats.push(b[i]!);
        break;
      case EXT_SIGNATURE_ALGORITHMS:
        readU16List(b, d + 2, Math.min(e, d + 2 + (len >= 2 ? b.readUInt16BE(d) : 0)), h.sigAlgs);
        break;
      case EXT_ALPN:
        parseAlpnList(b, d, e, h.alpn);
        break;
      case EXT_SUPPORTED_VERSIONS:
        if (len >= 1) readU16List(b, d + 1, Math.min(e, d + 1 + b[d]!), h.supportedVersions);
        break;
    }
    p = e;
  }
  return h;
}

/** Parse a ServerHello body in b[off, end). Returns null when it is malformed. */
export function parseServerHello(b: Buffer, off: number, end: number): ServerHello | null {
  if (end > b.length || end - off < 38) return null;
  let p = off;
  const version = b.readUInt16BE(p);
  const retryRequest = b.compare(HRR_RANDOM, 0, 32, p + 2, p + 34) === 0;
  p += 34;
  p += 1 + b[p]!;
  if (p + 3 > end) return null;
  const cipher = b.readUInt16BE(p);
  p += 3; // cipher + compression method
  const h: ServerHello = { version, cipher, extensions: [], selectedVersion: 0, alpn: null, retryRequest };
  if (p + 2 > end) return p === end ? h : null;
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > end) return null;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const d = p + 4;
    const e = d + len;
    if (e > extEnd) return null;
    h.extensions.push(type);
    if (type === EXT_SUPPORTED_VERSIONS && len >= 2) h.selectedVersion = b.readUInt16BE(d);
    else if (type === EXT_ALPN) {
      const list: string[] = [];
      parseAlpnList(b, d, e, list);
      h.alpn = list[0] ?? null;
    }
    p = e;
  }
  return h;
}

function readU16List(b: Buffer, from: number, to: number, out: number[]): void {
  for (let i = from; i + 2 <= to; i += 2) out.push(b.readUInt16BE(i));
}

function parseSni(b: Buffer, d: number, e: number): string | null {
  if (e - d < 2) return null;
  const listEnd = Math.min(e, d + 2 + b.readUInt16BE(d));
  let p = d + 2;
  while (p + 3 <= listEnd) {
    const t = b[p]!;
    const n = b.readUInt16BE(p + 1);
    if (p + 3 + n > listEnd) return null;
    if (t === 0) return TLS_TEXT.latin1(b, p + 3, p + 3 + n);
    p += 3 + n;
  }
  return null;
}

function parseAlpnList(b: Buffer, d: number, e: number, out: string[]): void {
  if (e - d < 2) return;
  const listEnd = Math.min(e, d + 2 + b.readUInt16BE(d));
  let p = d + 2;
  while (p < listEnd) {
    const n = b[p]!;
    if (p + 1 + n > listEnd) return;
    out.push(TLS_TEXT.latin1(b, p + 1, p + 1 + n));
    p += 1 + n;
  }
}

/** Human name of a TLS version number, e.g. 0x0303 → "TLSv1.2". */
export function versionName(v: number): string {
  switch (v) {
    case 0x0300:
      return 'SSLv3';
    case 0x0301:
      return 'TLSv1.0';
    case 0x0302:
      return 'TLSv1.1';
    case 0x0303:
      return 'TLSv1.2';
    case 0x0304:
      return 'TLSv1.3';
    case 0x0002:
      return 'SSLv2';
    default:
      return `0x${v.toString(16).padStart(4, '0')}`;
  }
}
