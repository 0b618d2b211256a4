import { defineRecord } from './registry.js';

const n = true;

/**
 * One DNS transaction: a query paired with its response (same flow, id and question), or a
 * query that got no response, or a response whose query was not seen, or a message quoted in
 * an ICMP error. Identity fields are those of the flow that carried the message, oriented so
 * that `client_*` is the side that asked.
 */
export const dnsRecord = defineRecord(
  'dns',
  'A DNS, mDNS or LLMNR transaction (query and its response).',
  'ts',
  {
    ts: { type: 'ts', doc: 'Time of the query, or of the response when no query was seen.' },
    flow_id: { type: 'int', doc: 'Flow that carried the transaction.' },
    community_id: { type: 'string', doc: 'Community ID of that flow.' },
    proto: { type: 'int', doc: 'IP protocol of that flow: 17 UDP, 6 TCP (1/58 for ICMP-quoted messages).' },
    client_ip: { type: 'ip', doc: 'Address that sent the query.' },
    client_port: { type: 'int', doc: 'Port that sent the query.' },
    server_ip: { type: 'ip', doc: 'Address the query went to.' },
    server_port: { type: 'int', doc: 'Port the query went to.' },
    vlan: { type: 'int', nullable: n, doc: 'Outer 802.1Q VLAN id of the flow.' },
    service: { type: 'string', doc: 'dns, mdns (UDP 5353) or llmnr (5355).' },
    status: {
      type: 'string',
      doc: 'answered, unanswered (no response within the timeout), unsolicited (response without a seen query), icmp_quoted (message quoted in an ICMP error).',
    },
    trans_id: { type: 'int', doc: 'DNS message id.' },
    opcode: { type: 'int', doc: 'DNS opcode (0 QUERY, 4 NOTIFY, 5 UPDATE...).' },
    query: {
      type: 'string',
      nullable: n,
      doc: 'First question name (presentation form; the root is "<Root>").',
    },
    qclass: {
      type: 'int',
      nullable: n,
      doc: 'Question class (1 IN); the mDNS unicast-response bit removed.',
    },
    qclass_name: { type: 'string', nullable: n, doc: 'Question class mnemonic.' },
    qtype: { type: 'int', nullable: n, doc: 'Question type (1 A, 28 AAAA...).' },
    qtype_name: {
      type: 'string',
      nullable: n,
      doc: 'Question type mnemonic (A, AAAA, TYPE<n> when unknown).',
    },
    rcode: { type: 'int', nullable: n, doc: 'Response code; null when no response was seen.' },
    rcode_name: { type: 'string', nullable: n, doc: 'Response code mnemonic (NoError, NXDomain...).' },
    aa: { type: 'bool', nullable: n, doc: 'Authoritative answer (response flag).' },
    tc: { type: 'bool', nullable: n, doc: 'Truncated (response flag).' },
    rd: { type: 'bool', doc: 'Recursion desired (query flag).' },
    ra: { type: 'bool', nullable: n, doc: 'Recursion available (response flag).' },
    ad: { type: 'bool', nullable: n, doc: 'Authentic data (response flag).' },
    cd: { type: 'bool', doc: 'Checking disabled (query flag).' },
    answers: {
      type: 'json',
      doc: 'Answer section: [{name, type, type_name, ttl, data}], data in presentation form (RFC 3597 hex for types not spelled out).',
    },
    authority: { type: 'json', doc: 'Authority section, same shape as answers.' },
    additional_count: {
      type: 'int',
      nullable: n,
      doc: 'Records in the response’s additional section (OPT included).',
    },
    rtt_ms: { type: 'float', unit: 'ms', nullable: n, doc: 'Query to response.' },
    edns_udp_size: {
      type: 'int',
      nullable: n,
      doc: 'EDNS UDP payload size the client advertised (else the server’s).',
    },
    edns_do: { type: 'bool', nullable: n, doc: 'EDNS DNSSEC OK bit of the query.' },
    edns_client_subnet: {
      type: 'string',
      nullable: n,
      doc: 'EDNS Client Subnet of the query (address/source prefix).',
    },
    edns_client_subnet_scope: {
      type: 'int',
      nullable: n,
      doc: 'Client Subnet scope prefix length returned by the server.',
    },
  },
);
