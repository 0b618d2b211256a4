import { defineRecord, type RecordOf } from './registry.js';

const n = true;

/** Identity fields every L7 record carries, so it joins with its flow. */
export const l7FlowFields = {
  flow_id: { type: 'int', doc: 'Flow the record belongs to (flow record’s flow_id).' },
  community_id: { type: 'string', doc: 'Community ID v1 of the flow.' },
  proto: { type: 'int', doc: 'IP protocol number (6 TCP, 17 UDP).', ipfix: 4 },
  client_ip: { type: 'ip', doc: 'Address of the flow’s initiator.', ipfix: 8 },
  client_port: { type: 'int', doc: 'Port of the initiator.', ipfix: 7 },
  server_ip: { type: 'ip', doc: 'Address of the responder.', ipfix: 12 },
  server_port: { type: 'int', doc: 'Port of the responder.', ipfix: 11 },
  vlan: { type: 'int', nullable: n, doc: 'Outer 802.1Q VLAN id of the flow.', ipfix: 58 },
  vni: { type: 'int', nullable: n, doc: 'VXLAN/Geneve network identifier of the flow.' },
} as const;

export const tlsRecord = defineRecord(
  'tls',
  'One TLS handshake (TLS over TCP, or a QUIC v1 Initial).',
  'ts',
  {
    ts: {
      type: 'ts',
      doc: 'Time of the ClientHello (of the ServerHello when the ClientHello was not seen).',
    },
    ...l7FlowFields,
    quic: { type: 'bool', doc: 'The handshake was read from QUIC Initial packets (UDP).' },
    sni: { type: 'string', nullable: n, doc: 'Server name the client asked for (server_name extension).' },
    alpn: { type: 'string[]', doc: 'Application protocols the client offered, in order (ALPN).' },
    alpn_selected: { type: 'string', nullable: n, doc: 'Application protocol the server chose.' },
    client_version: {
      type: 'string',
      nullable: n,
      doc: 'Highest version the client offered (supported_versions, else the hello version).',
    },
    supported_versions: {
      type: 'string[]',
      doc: 'Versions in the client’s supported_versions extension, GREASE removed.',
    },
    version: { type: 'string', nullable: n, doc: 'Version the server chose (TLSv1.2, TLSv1.3...).' },
    cipher_suites: { type: 'int[]', doc: 'Cipher suites the client offered, in order, GREASE removed.' },
    cipher: { type: 'string', nullable: n, doc: 'Cipher suite the server chose, hex (0x1301).' },
    ja3: {
      type: 'string',
      nullable: n,
      doc: 'JA3 of the ClientHello (MD5, GREASE removed; equals tshark’s tls.handshake.ja3).',
    },
    ja3_string: { type: 'string', nullable: n, doc: 'The string JA3 hashes.' },
    ja3s: { type: 'string', nullable: n, doc: 'JA3S of the ServerHello.' },
    ja4: { type: 'string', nullable: n, doc: 'JA4 of the ClientHello (FoxIO).' },
    ja4s: { type: 'string', nullable: n, doc: 'JA4S of the ServerHello (FoxIO).' },
    hello_retry: { type: 'bool', doc: 'The server answered with a HelloRetryRequest.' },
    cert_subject: {
      type: 'string',
      nullable: n,
      doc: 'Subject of the server’s leaf certificate (TLS ≤ 1.2 only).',
    },
    cert_issuer: { type: 'string', nullable: n, doc: 'Issuer of the server’s leaf certificate.' },
    cert_not_before: { type: 'ts', nullable: n, doc: 'Start of the leaf certificate’s validity.' },
    cert_not_after: { type: 'ts', nullable: n, doc: 'End of the leaf certificate’s validity.' },
    cert_san: {
      type: 'string[]',
      doc: 'Subject alternative names of the leaf certificate (DNS:, IP Address:... prefixes removed).',
    },
    cert_serial: { type: 'string', nullable: n, doc: 'Serial number of the leaf certificate, hex.' },
    cert_sha256: { type: 'string', nullable: n, doc: 'SHA-256 of the leaf certificate’s DER, hex.' },
  },
);

export type TlsRecord = RecordOf<typeof tlsRecord>;
