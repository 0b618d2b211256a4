import { X509Certificate } from 'node:crypto';
import { isoNs } from '../../common/time.js';

export interface CertFacts {
  subject: string;
  issuer: string;
  not_before: string | null;
  not_after: string | null;
  san: string[];
  serial: string;
  sha256: string;
}

/**
 * The server's leaf certificate from a TLS (≤ 1.2) Certificate message body in b[off, end):
 * a 3-byte list length, then 3-byte-length-prefixed DER certificates, the leaf first.
 * Returns null when the body or the DER is malformed (Node's X509 parser throws on it).
 */
export function parseLeafCertificate(b: Buffer, off: number, end: number): CertFacts | null {
  if (end - off < 6) return null;
  const certLen = b.readUIntBE(off + 3, 3);
  const d = off + 6;
  if (certLen === 0 || d + certLen > end) return null;
  let x: X509Certificate;
  try {
    x = new X509Certificate(b.subarray(d, d + certLen));
  } catch {
    return null;
  }
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    not_before: isoDate(x.validFrom),
    not_after: isoDate(x.validTo),
    san: sanNames(x.subjectAltName),
    serial: x.serialNumber.toLowerCase(),
    sha256: x.fingerprint256.replaceAll(':', '').toLowerCase(),
  };
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

function isoDate(s: string): string | null {
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : isoNs(Math.floor(t / 1000), 0);
}

function sanNames(s: string | undefined): string[] {
  if (!s) return [];
  const out: string[] = [];
  for (const part of s.split(', ')) {
    const i = part.indexOf(':');
    if (i > 0) out.push(part.slice(i + 1));
  }
  return out;
}
