import type { TlsRecord } from '../../schema/tls.js';
import { flowFields } from '../flow-fields.js';
import type { FlowContext } from '../types.js';
import type { CertFacts } from './certificate.js';
import { ja3String, ja3sString, ja4, ja4s, md5Hex } from './fingerprint.js';
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
  const j3 = ch !== null ? ja3String(ch) : null;
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
    ja3: j3 !== null ? md5Hex(j3) : null,
    ja3_string: j3,
    ja3s: sh !== null ? md5Hex(ja3sString(sh)) : null,
    ja4: ch !== null ? ja4(ch, quic ? 'q' : 't') : null,
    ja4s: sh !== null ? ja4s(sh, quic ? 'q' : 't') : null,
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
