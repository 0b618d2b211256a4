import { defineRecord } from './registry.js';

const n = true;

/** One DHCPv4 message (a record per message; a DORA exchange is four records sharing `xid`). */
export const dhcpRecord = defineRecord('dhcp', 'A DHCPv4 message.', 'ts', {
  ts: { type: 'ts', doc: 'Time of the message.' },
  flow_id: { type: 'int', doc: 'Flow that carried the message.' },
  community_id: { type: 'string', doc: 'Community ID of that flow.' },
  proto: { type: 'int', doc: 'IP protocol (17).' },
  client_ip: { type: 'ip', doc: 'Source address of the flow’s first packet (often 0.0.0.0).' },
  client_port: { type: 'int', doc: 'Its port (68 for a client, 67 for a relay).' },
  server_ip: { type: 'ip', doc: 'Destination address of the flow (often 255.255.255.255).' },
  server_port: { type: 'int', doc: 'Its port.' },
  vlan: { type: 'int', nullable: n, doc: 'Outer 802.1Q VLAN id of the flow.' },
  msg_type: {
    type: 'int',
    nullable: n,
    doc: 'DHCP message type (option 53): 1 DISCOVER ... 8 INFORM; null for plain BOOTP.',
  },
  msg_type_name: {
    type: 'string',
    nullable: n,
    doc: 'DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM...',
  },
  xid: { type: 'int', doc: 'Transaction id chosen by the client.' },
  client_mac: {
    type: 'mac',
    nullable: n,
    doc: 'Client hardware address (chaddr) when it is an Ethernet MAC.',
  },
  ciaddr: { type: 'ip', doc: 'Client address the client already has.' },
  yiaddr: { type: 'ip', doc: 'Address the server offers or assigns.' },
  siaddr: { type: 'ip', doc: 'Next server address.' },
  giaddr: { type: 'ip', doc: 'Relay agent address.' },
  requested_ip: { type: 'ip', nullable: n, doc: 'Requested address (option 50).' },
  hostname: { type: 'string', nullable: n, doc: 'Host name (option 12).' },
  client_fqdn: { type: 'string', nullable: n, doc: 'Client FQDN (option 81).' },
  vendor_class: { type: 'string', nullable: n, doc: 'Vendor class identifier (option 60).' },
  client_id: { type: 'string', nullable: n, doc: 'Client identifier (option 61), hex.' },
  server_id: { type: 'ip', nullable: n, doc: 'Server identifier (option 54).' },
  lease_time: { type: 'int', unit: 's', nullable: n, doc: 'Lease time in seconds (option 51).' },
  subnet_mask: { type: 'ip', nullable: n, doc: 'Subnet mask (option 1).' },
  routers: { type: 'string[]', doc: 'Routers (option 3).' },
  dns_servers: { type: 'string[]', doc: 'Domain name servers (option 6).' },
  domain: { type: 'string', nullable: n, doc: 'Domain name (option 15).' },
  param_list: { type: 'int[]', doc: 'Parameter request list (option 55).' },
  message: { type: 'string', nullable: n, doc: 'Server message (option 56), e.g. why a NAK.' },
});
