import type { TlsRecord } from '../../schema/tls.js';
import { flowFields } from '../flow-fields.js';
import type { FlowContext } from '../types.js';
import type { CertFacts } from './certificate.js';
import { clientFingerprints, serverFingerprints } from './fingerprint.js';
import { type ClientHello, isGrease, type ServerHello, versionName } from './hello.js';

/** The `tls` record of one handshake; strings are made here, once per handshake. */
export function buildTlsRecord(
  ctx: FlowContext,
  ts: string,
  ch: ClientHello | null,
  sh: ServerHello | null,
  cert: CertFacts | null,
  quic: boolean,
): TlsRecord {
  let clientVersion = 0;
  if (ch !== null) {
    for (const v of ch.supportedVersions) if (!isGrease(v) && v > clientVersion) clientVersion = v;
    if (clientVersion === 0) clientVersion = ch.version;
  }
  const t = quic ? 'q' : 't';
  const cf = ch !== null ? clientFingerprints(ch, t) : null;
  const sf = sh !== null ? serverFingerprints(sh, t) : null;
  return {
    type: 'tls',
    ts,
    ...flowFields(ctx),
    quic,
    sni: ch?.sni ?? null,
    alpn: ch?.alpn ?? [],
    alpn_selected: sh?.alpn ?? null,
    client_version: ch !== null ? versionName(clientVersion) : null,
    supported_versions: ch !== null ? ch.supportedVersions.filter((v) => !isGrease(v)).map(versionName) : [],
    version: sh !== null ? versionName(sh.selectedVersion !== 0 ? sh.selectedVersion : sh.version) : null,
    cipher_suites: ch !== null ? ch.ciphers.filter((v) => !isGrease(v)) : [],
    cipher: sh !== null ? `0x${sh.cipher.toString(16).padStart(4, '0')}` : null,
    ja3: cf?.ja3 ?? null,
    ja3_string: cf?.ja3String ?? null,
    ja3s: sf?.ja3s ?? null,
    ja4: cf?.ja4 ?? null,
    ja4s: sf?.ja4s ?? null,
    hello_retry: sh?.retryRequest ?? false,
    cert_subject: cert?.subject ?? null,
    cert_issuer: cert?.issuer ?? null,
    cert_not_before: cert?.not_before ?? null,
    cert_not_after: cert?.not_after ?? null,
    cert_san: cert?.san ?? [],
    cert_serial: cert?.serial ?? null,
    cert_sha256: cert?.sha256 ?? null,
  };
}
