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

/**
 * A hello's lists are read into scratch lists, then replaced by the equal lists of a shape seen
 * before (a network's clients run a handful of TLS stacks): a handshake costs one small object
 * instead of eight growing arrays, and the lists its record and the fingerprint memo hold are
 * shared. Shared lists are never mutated (records and fingerprints only read them).
 */
class Scratch {
  v = new Uint16Array(256);
  n = 0;
  push(x: number): void {
    if (this.n === this.v.length) {
      const w = new Uint16Array(this.v.length * 2);
      w.set(this.v);
      this.v = w;
    }
    this.v[this.n++] = x;
  }
  mix(h: number): number {
    h = Math.imul(h ^ this.n, 0x01000193);
    for (let i = 0; i < this.n; i++) h = Math.imul(h ^ this.v[i]!, 0x01000193);
    return h;
  }
  same(a: readonly number[]): boolean {
    if (a.length !== this.n) return false;
    for (let i = 0; i < this.n; i++) if (a[i] !== this.v[i]) return false;
    return true;
  }
  list(): number[] {
    const a: number[] = [];
    for (let i = 0; i < this.n; i++) a.push(this.v[i]!);
    return a;
  }
}

const sCiphers = new Scratch();
const sExtensions = new Scratch();
const sGroups = new Scratch();
const sPointFormats = new Scratch();
const sSigAlgs = new Scratch();
const sVersions = new Scratch();
/** ALPN names of the hello being read (the first `sAlpnN` entries). */
const sAlpn: string[] = [];
let sAlpnN = 0;

interface ClientShape {
  key: number;
  ciphers: number[];
  extensions: number[];
  groups: number[];
  pointFormats: number[];
  sigAlgs: number[];
  supportedVersions: number[];
  alpn: string[];
}

/** Hello shapes by their lists' hash, direct-mapped: a different shape in a slot replaces it. */
const SHAPES = 1024;
const clientShapes: (ClientShape | undefined)[] = new Array<ClientShape | undefined>(SHAPES).fill(undefined);
const extShapes: (number[] | undefined)[] = new Array<number[] | undefined>(SHAPES).fill(undefined);
/** Lists longer than real stacks send are not kept (bounds the table's bytes). */
const SHAPE_MAX_FIELDS = 512;

function sameAlpn(a: readonly string[]): boolean {
  if (a.length !== sAlpnN) return false;
  for (let i = 0; i < sAlpnN; i++) if (a[i] !== sAlpn[i]) return false;
  return true;
}

function clientShape(): ClientShape {
  let k = sCiphers.mix(0x811c9dc5);
  k = sExtensions.mix(k);
  k = sGroups.mix(k);
  k = sPointFormats.mix(k);
  k = sSigAlgs.mix(k);
  k = sVersions.mix(k);
  k = Math.imul(k ^ sAlpnN, 0x01000193);
  for (let i = 0; i < sAlpnN; i++) {
    const a = sAlpn[i]!;
    k = Math.imul(k ^ a.length, 0x01000193);
    if (a.length > 0) k = Math.imul(k ^ a.charCodeAt(0), 0x01000193);
  }
  const at = (k ^ (k >>> 15)) & (SHAPES - 1);
  const c = clientShapes[at];
  if (
    c !== undefined &&
    c.key === k &&
    sCiphers.same(c.ciphers) &&
    sExtensions.same(c.extensions) &&
    sGroups.same(c.groups) &&
    sPointFormats.same(c.pointFormats) &&
    sSigAlgs.same(c.sigAlgs) &&
    sVersions.same(c.supportedVersions) &&
    sameAlpn(c.alpn)
  )
    return c;
  const shape: ClientShape = {
    key: k,
    ciphers: sCiphers.list(),
    extensions: sExtensions.list(),
    groups: sGroups.list(),
    pointFormats: sPointFormats.list(),
    sigAlgs: sSigAlgs.list(),
    supportedVersions: sVersions.list(),
    alpn: sAlpn.slice(0, sAlpnN),
  };
  const size = sCiphers.n + sExtensions.n + sGroups.n + sPointFormats.n + sSigAlgs.n + sVersions.n + sAlpnN;
  if (size <= SHAPE_MAX_FIELDS) clientShapes[at] = shape;
  return shape;
}

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
  sCiphers.n = 0;
  sExtensions.n = 0;
  sGroups.n = 0;
  sPointFormats.n = 0;
  sSigAlgs.n = 0;
  sVersions.n = 0;
  sAlpnN = 0;
  for (let i = 0; i < csLen; i += 2) sCiphers.push(b.readUInt16BE(p + i));
  p += csLen;
  if (p + 1 > end) return null;
  const compLen = b[p]!;
  p += 1 + compLen;
  if (p > end) return null;
  let sni: string | null = null;
  if (p + 2 > end) return p === end ? clientHello(version, sni) : null; // no extensions (SSL 3 / early TLS)
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > end) return null;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const d = p + 4;
    const e = d + len;
    if (e > extEnd) return null;
    sExtensions.push(type);
    switch (type) {
      case EXT_SNI:
        sni = parseSni(b, d, e);
        break;
      case EXT_SUPPORTED_GROUPS:
        readU16List(b, d + 2, Math.min(e, d + 2 + (len >= 2 ? b.readUInt16BE(d) : 0)), sGroups);
        break;
      case EXT_EC_POINT_FORMATS:
        if (len >= 1) for (let i = d + 1; i < Math.min(e, d + 1 + b[d]!); i++) sPointFormats.push(b[i]!);
        break;
      case EXT_SIGNATURE_ALGORITHMS:
        readU16List(b, d + 2, Math.min(e, d + 2 + (len >= 2 ? b.readUInt16BE(d) : 0)), sSigAlgs);
        break;
      case EXT_ALPN:
        sAlpnN = readAlpn(b, d, e, sAlpnN);
        break;
      case EXT_SUPPORTED_VERSIONS:
        if (len >= 1) readU16List(b, d + 1, Math.min(e, d + 1 + b[d]!), sVersions);
        break;
    }
    p = e;
  }
  return clientHello(version, sni);
}

function clientHello(version: number, sni: string | null): ClientHello {
  const c = clientShape();
  return {
    version,
    ciphers: c.ciphers,
    extensions: c.extensions,
    groups: c.groups,
    pointFormats: c.pointFormats,
    sigAlgs: c.sigAlgs,
    supportedVersions: c.supportedVersions,
    sni,
    alpn: c.alpn,
  };
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
  sExtensions.n = 0;
  if (p + 2 > end) return p === end ? serverHello(version, cipher, 0, null, retryRequest) : null;
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > end) return null;
  let selectedVersion = 0;
  let alpn: string | null = null;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const d = p + 4;
    const e = d + len;
    if (e > extEnd) return null;
    sExtensions.push(type);
    if (type === EXT_SUPPORTED_VERSIONS && len >= 2) selectedVersion = b.readUInt16BE(d);
    else if (type === EXT_ALPN) alpn = readAlpn(b, d, e, 0) > 0 ? sAlpn[0]! : null;
    p = e;
  }
  return serverHello(version, cipher, selectedVersion, alpn, retryRequest);
}

function serverHello(
  version: number,
  cipher: number,
  selectedVersion: number,
  alpn: string | null,
  retryRequest: boolean,
): ServerHello {
  const k = sExtensions.mix(0x811c9dc5);
  const at = (k ^ (k >>> 15)) & (SHAPES - 1);
  let extensions = extShapes[at];
  if (extensions === undefined || !sExtensions.same(extensions)) {
    extensions = sExtensions.list();
    if (sExtensions.n <= SHAPE_MAX_FIELDS) extShapes[at] = extensions;
  }
  return { version, cipher, extensions, selectedVersion, alpn, retryRequest };
}

function readU16List(b: Buffer, from: number, to: number, out: Scratch): void {
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

/** ALPN names of the extension in b[d, e) appended to `sAlpn` from entry `n`; the new count. */
function readAlpn(b: Buffer, d: number, e: number, n: number): number {
  if (e - d < 2) return n;
  const listEnd = Math.min(e, d + 2 + b.readUInt16BE(d));
  let p = d + 2;
  while (p < listEnd) {
    const len = b[p]!;
    if (p + 1 + len > listEnd) return n;
    const t = TLS_TEXT.latin1(b, p + 1, p + 1 + len);
    if (n < sAlpn.length) sAlpn[n] = t;
    else sAlpn.push(t);
    n++;
    p += 1 + len;
  }
  return n;
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
