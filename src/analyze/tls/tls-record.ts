import type { TlsRecord } from '../../schema/tls.js';
import { setFlowFields } from '../flow-fields.js';
import type { FlowContext } from '../types.js';
import type { CertFacts } from './certificate.js';
import { clientFingerprints, serverFingerprints } from './fingerprint.js';
import { type ClientHello, isGrease, type ServerHello, versionName } from './hello.js';

/** "0x1301": one string per cipher suite number seen (at most 65,536). */
const cipherTexts = new Map<number, string>();
function cipherText(n: number): string {
  let t = cipherTexts.get(n);
  if (t === undefined) {
    t = `0x${n.toString(16).padStart(4, '0')}`;
    cipherTexts.set(n, t);
  }
  return t;
}

/** Every empty list of a record: one list, which nothing mutates (four per handshake were new). */
const NONE = Object.freeze([]) as unknown as never[];

/** The `tls` record of one handshake; strings are made here, once per handshake. */
export function buildTlsRecord(
  ctx: FlowContext,
  ts: string,
  ch: ClientHello | null,
  sh: ServerHello | null,
  cert: CertFacts | null,
  quic: boolean,
): TlsRecord {
  const rec = { type: 'tls', ts } as TlsRecord;
  fillTlsRecord(rec, ctx, ch, sh, cert, quic);
  return rec;
}

/**
 * Every field of a `tls` record but its type and time, written into `out` in the order they are
 * declared (a fresh record prints as it always did; column mode refills one record).
 */
export function fillTlsRecord(
  out: TlsRecord,
  ctx: FlowContext,
  ch: ClientHello | null,
  sh: ServerHello | null,
  cert: CertFacts | null,
  quic: boolean,
): void {
  let clientVersion = 0;
  if (ch !== null) {
    for (const v of ch.supportedVersions) if (!isGrease(v) && v > clientVersion) clientVersion = v;
    if (clientVersion === 0) clientVersion = ch.version;
  }
  const t = quic ? 'q' : 't';
  const cf = ch !== null ? clientFingerprints(ch, t) : null;
  const sf = sh !== null ? serverFingerprints(sh, t) : null;
  setFlowFields(out, ctx);
  out.quic = quic;
  out.sni = ch?.sni ?? null;
  out.alpn = ch?.alpn ?? NONE;
  out.alpn_selected = sh?.alpn ?? null;
  out.client_version = ch !== null ? versionName(clientVersion) : null;
  out.supported_versions = cf !== null ? cf.versions : NONE;
  out.version = sh !== null ? versionName(sh.selectedVersion !== 0 ? sh.selectedVersion : sh.version) : null;
  out.cipher_suites = cf !== null ? cf.suites : NONE;
  out.cipher = sh !== null ? cipherText(sh.cipher) : null;
  out.ja3 = cf?.ja3 ?? null;
  out.ja3_string = cf?.ja3String ?? null;
  out.ja3s = sf?.ja3s ?? null;
  out.ja4 = cf?.ja4 ?? null;
  out.ja4s = sf?.ja4s ?? null;
  out.hello_retry = sh?.retryRequest ?? false;
  out.cert_subject = cert?.subject ?? null;
  out.cert_issuer = cert?.issuer ?? null;
  out.cert_not_before = cert?.not_before ?? null;
  out.cert_not_after = cert?.not_after ?? null;
  out.cert_san = cert?.san ?? NONE;
  out.cert_serial = cert?.serial ?? null;
  out.cert_sha256 = cert?.sha256 ?? null;
}
