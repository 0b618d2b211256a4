/**
 * TLS fingerprints: JA3 / JA3S (Salesforce, as tshark's tls.handshake.ja3 computes them) and
 * JA4 / JA4S (FoxIO). All drop GREASE values.
 */
import { hash } from 'node:crypto';
import { type ClientHello, EXT_ALPN, EXT_SNI, isGrease, type ServerHello, versionName } from './hello.js';

const noGrease = (v: number): boolean => !isGrease(v);

export function ja3String(h: ClientHello): string {
  return [
    h.version,
    h.ciphers.filter(noGrease).join('-'),
    h.extensions.filter(noGrease).join('-'),
    h.groups.filter(noGrease).join('-'),
    h.pointFormats.join('-'),
  ].join(',');
}

export function ja3sString(h: ServerHello): string {
  return [h.version, h.cipher, h.extensions.filter(noGrease).join('-')].join(',');
}

export function md5Hex(s: string): string {
  return hash('md5', Buffer.from(s, 'latin1'), 'hex');
}

function sha12(s: string): string {
  return hash('sha256', Buffer.from(s, 'latin1'), 'hex').slice(0, 12);
}

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const two = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');

/** JA4's two-character version: 13, 12, 11, 10, s3, s2, d1, d2, d3, else 00. */
export function ja4Version(v: number): string {
  switch (v) {
    case 0x0304:
      return '13';
    case 0x0303:
      return '12';
    case 0x0302:
      return '11';
    case 0x0301:
      return '10';
    case 0x0300:
      return 's3';
    case 0x0002:
      return 's2';
    case 0xfeff:
      return 'd1';
    case 0xfefd:
      return 'd2';
    case 0xfefc:
      return 'd3';
    default:
      return '00';
  }
}

const isAlnum = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** First and last character of an ALPN value; hex nibbles when either is not alphanumeric. */
export function ja4Alpn(alpn: string | null | undefined): string {
  if (!alpn) return '00';
  const f = alpn.charCodeAt(0);
  const l = alpn.charCodeAt(alpn.length - 1);
  if (isAlnum(f) && isAlnum(l)) return alpn[0]! + alpn[alpn.length - 1]!;
  const fh = (f & 0xff).toString(16).padStart(2, '0');
  const lh = (l & 0xff).toString(16).padStart(2, '0');
  return fh[0]! + lh[1]!;
}

/** The raw (unhashed) JA4 parts: [a, sorted ciphers, sorted extensions, signature algorithms]. */
export function ja4Parts(h: ClientHello, transport: 't' | 'q' | 'd'): [string, string, string, string] {
  const ciphers = h.ciphers.filter(noGrease);
  const exts = h.extensions.filter(noGrease);
  let v = 0;
  for (const sv of h.supportedVersions) if (!isGrease(sv) && sv > v) v = sv;
  // DTLS versions count downwards; the highest is the smallest number.
  if (transport === 'd') {
    v = 0;
    for (const sv of h.supportedVersions) if (!isGrease(sv) && (v === 0 || sv < v)) v = sv;
  }
  if (v === 0) v = h.version;
  const a = `${transport}${ja4Version(v)}${h.sni !== null ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${ja4Alpn(h.alpn[0])}`;
  const cs = ciphers.map(hex4).sort().join(',');
  const es = exts
    .filter((e) => e !== EXT_SNI && e !== EXT_ALPN)
    .map(hex4)
    .sort()
    .join(',');
  const sig = h.sigAlgs.filter(noGrease).map(hex4).join(',');
  return [a, cs, es, sig];
}

/** JA4 from its raw parts (also used to check the published `ja4_r` examples). */
export function ja4FromParts(a: string, ciphers: string, exts: string, sigAlgs: string): string {
  const b = ciphers === '' ? '000000000000' : sha12(ciphers);
  const c =
    exts === '' && sigAlgs === '' ? '000000000000' : sha12(sigAlgs === '' ? exts : `${exts}_${sigAlgs}`);
  return `${a}_${b}_${c}`;
}

export function ja4(h: ClientHello, transport: 't' | 'q' | 'd' = 't'): string {
  const [a, cs, es, sig] = ja4Parts(h, transport);
  return ja4FromParts(a, cs, es, sig);
}

export function ja4s(h: ServerHello, transport: 't' | 'q' | 'd' = 't'): string {
  const v = h.selectedVersion !== 0 ? h.selectedVersion : h.version;
  const exts = h.extensions.filter(noGrease);
  const a = `${transport}${ja4Version(v)}${two(exts.length)}${ja4Alpn(h.alpn)}`;
  const c = exts.length === 0 ? '000000000000' : sha12(exts.map(hex4).join(','));
  return `${a}_${hex4(h.cipher)}_${c}`;
}

/** The fingerprints of one ClientHello shape, with the fields they were computed from. */
interface ClientPrint extends Omit<ClientHello, 'sni' | 'alpn'> {
  sni: boolean;
  alpn0: string | undefined;
  transport: string;
  ja3String: string;
  ja3: string;
  ja4: string;
  suites: number[];
  versions: string[];
}

interface ServerPrint {
  version: number;
  cipher: number;
  extensions: number[];
  selectedVersion: number;
  alpn: string | null;
  transport: string;
  ja3s: string;
  ja4s: string;
}

/**
 * Distinct hello shapes remembered. A network's clients run a handful of TLS stacks, so most
 * handshakes repeat a shape already fingerprinted: the strings and three hashes are then read
 * from here instead of being built again. A shape missing (or a hash collision) is computed.
 */
const MEMO_CAP = 1024;
/** Hellos with longer lists than real stacks send are not kept (bounds the memo's bytes). */
const MEMO_MAX_FIELDS = 512;
const clientMemo = new Map<number, ClientPrint>();
const serverMemo = new Map<number, ServerPrint>();
/** Hello shapes fingerprinted and looked up, for the bench and tests. */
export const fingerprintMemo = { hits: 0, misses: 0, evictions: 0 };

function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193);
}

function mixList(h: number, a: readonly number[]): number {
  h = mix(h, a.length);
  for (let i = 0; i < a.length; i++) h = mix(h, a[i]!);
  return h;
}

function mixText(h: number, s: string | null | undefined): number {
  if (s === null || s === undefined) return mix(h, 0x10000);
  h = mix(h, s.length);
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function remember<T>(m: Map<number, T>, k: number, v: T): void {
  if (!m.has(k) && m.size >= MEMO_CAP) {
    const oldest = m.keys().next();
    if (!oldest.done) m.delete(oldest.value);
    fingerprintMemo.evictions++;
  }
  m.set(k, v);
}

/**
 * JA3 string, JA3 and JA4 of a ClientHello (memoised by the fields they read), and the lists
 * its `tls` record carries: the cipher suites and the supported versions' names, GREASE left
 * out (shared by every record of the shape: records never change them).
 */
export function clientFingerprints(
  h: ClientHello,
  transport: 't' | 'q' | 'd',
): { ja3String: string; ja3: string; ja4: string; suites: number[]; versions: string[] } {
  const alpn0 = h.alpn[0];
  let k = mix(0x811c9dc5, h.version);
  k = mixList(k, h.ciphers);
  k = mixList(k, h.extensions);
  k = mixList(k, h.groups);
  k = mixList(k, h.pointFormats);
  k = mixList(k, h.sigAlgs);
  k = mixList(k, h.supportedVersions);
  k = mix(k, h.sni !== null ? 1 : 0);
  k = mixText(k, alpn0);
  k = mix(k, transport.charCodeAt(0));
  const m = clientMemo.get(k);
  if (
    m !== undefined &&
    m.version === h.version &&
    m.sni === (h.sni !== null) &&
    m.alpn0 === alpn0 &&
    m.transport === transport &&
    sameList(m.ciphers, h.ciphers) &&
    sameList(m.extensions, h.extensions) &&
    sameList(m.groups, h.groups) &&
    sameList(m.pointFormats, h.pointFormats) &&
    sameList(m.sigAlgs, h.sigAlgs) &&
    sameList(m.supportedVersions, h.supportedVersions)
  ) {
    fingerprintMemo.hits++;
    return m;
  }
  fingerprintMemo.misses++;
  const j3 = ja3String(h);
  const size =
    h.ciphers.length + h.extensions.length + h.groups.length + h.sigAlgs.length + h.supportedVersions.length;
  const suites = h.ciphers.filter((v) => !isGrease(v));
  const versions = h.supportedVersions.filter((v) => !isGrease(v)).map(versionName);
  if (size > MEMO_MAX_FIELDS)
    return { ja3String: j3, ja3: md5Hex(j3), ja4: ja4(h, transport), suites, versions };
  const p: ClientPrint = {
    version: h.version,
    ciphers: h.ciphers,
    extensions: h.extensions,
    groups: h.groups,
    pointFormats: h.pointFormats,
    sigAlgs: h.sigAlgs,
    supportedVersions: h.supportedVersions,
    sni: h.sni !== null,
    alpn0,
    transport,
    ja3String: j3,
    ja3: md5Hex(j3),
    ja4: ja4(h, transport),
    suites,
    versions,
  };
  remember(clientMemo, k, p);
  return p;
}

/** JA3S and JA4S of a ServerHello (memoised like the client's). */
export function serverFingerprints(
  h: ServerHello,
  transport: 't' | 'q' | 'd',
): { ja3s: string; ja4s: string } {
  let k = mix(0x811c9dc5, h.version);
  k = mix(k, h.cipher);
  k = mix(k, h.selectedVersion);
  k = mixList(k, h.extensions);
  k = mixText(k, h.alpn);
  k = mix(k, transport.charCodeAt(0));
  const m = serverMemo.get(k);
  if (
    m !== undefined &&
    m.version === h.version &&
    m.cipher === h.cipher &&
    m.selectedVersion === h.selectedVersion &&
    m.alpn === h.alpn &&
    m.transport === transport &&
    sameList(m.extensions, h.extensions)
  ) {
    fingerprintMemo.hits++;
    return m;
  }
  fingerprintMemo.misses++;
  if (h.extensions.length > MEMO_MAX_FIELDS) return { ja3s: md5Hex(ja3sString(h)), ja4s: ja4s(h, transport) };
  const p: ServerPrint = {
    version: h.version,
    cipher: h.cipher,
    extensions: h.extensions,
    selectedVersion: h.selectedVersion,
    alpn: h.alpn,
    transport,
    ja3s: md5Hex(ja3sString(h)),
    ja4s: ja4s(h, transport),
  };
  remember(serverMemo, k, p);
  return p;
}
