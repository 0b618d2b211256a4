import { defineRecord, type RecordOf } from './registry.js';

const n = true;

/**
 * One record that matched an intel indicator: which indicator, in which record and field,
 * the connection it belongs to and when. Intel alerts fold sightings per indicator and host;
 * the sightings keep every occurrence for the "first seen, last seen, how many" questions.
 */
export const sightingRecord = defineRecord(
  'sighting',
  'A record that matched a threat-intel indicator.',
  'ts',
  {
    ts: { type: 'ts', doc: 'Time of the matching record (flow end, query, request, handshake).' },
    first_ts: { type: 'ts', doc: 'Start of the matching record (the first packet of a flow).' },
    indicator_type: {
      type: 'string',
      doc: 'Indicator type: ipv4, ipv6, cidr, domain, domain_suffix, url, sni, ja3...',
    },
    indicator_value: { type: 'string', doc: 'The indicator as the feeds give it (normalised).' },
    sources: { type: 'string[]', doc: 'Feeds that carry the indicator.' },
    confidence: { type: 'int', doc: 'Indicator confidence 0–100.' },
    severity: { type: 'int', doc: 'Indicator severity 0–100.' },
    matched_field: {
      type: 'string',
      doc: 'Field of the record that matched (server_ip, query, sni, ja3...).',
    },
    matched_value: { type: 'string', doc: 'The value seen in the record.' },
    record_type: { type: 'string', doc: 'Type of the matching record: flow, dns, http, tls, exported_flow.' },
    record_id: { type: 'string', nullable: n, doc: 'flow_id of the matching record (or its Community ID).' },
    host: {
      type: 'ip',
      nullable: n,
      doc: 'The host on our side: the other end of an address match, the client otherwise.',
    },
    client_ip: { type: 'ip', nullable: n, doc: 'Initiator (src_ip of exported flows).' },
    client_port: { type: 'int', nullable: n, doc: 'Port of the initiator.' },
    server_ip: { type: 'ip', nullable: n, doc: 'Responder (dst_ip of exported flows).' },
    server_port: { type: 'int', nullable: n, doc: 'Port of the responder.' },
    proto: { type: 'int', nullable: n, doc: 'IP protocol number.' },
    community_id: { type: 'string', nullable: n, doc: 'Community ID of the connection.' },
    retro: { type: 'bool', doc: 'Found by a retro-hunt over stored history, not live.' },
  },
);

export type SightingRecord = RecordOf<typeof sightingRecord>;
