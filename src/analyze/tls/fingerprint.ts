/**
 * TLS fingerprints: JA3 / JA3S (Salesforce, as tshark's tls.handshake.ja3 computes them) and
 * JA4 / JA4S (FoxIO). All drop GREASE values.
 */
import { hash } from 'node:crypto';
import { type ClientHello, EXT_ALPN, EXT_SNI, isGrease, type ServerHello } from './hello.js';

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
