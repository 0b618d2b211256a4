/**
 * Records made from flow export protocols (NetFlow v5/v9, IPFIX, sFlow v5).
 *
 * Mapping onto the sensor's bidirectional `flow` record: an exported record is unidirectional
 * and the exporter does not say who initiated the connection, so instead of client/server it
 * has src/dst as the exporter saw them:
 *
 * | exported_flow     | flow record (same meaning)                         | IPFIX IE |
 * |-------------------|----------------------------------------------------|----------|
 * | src_ip / dst_ip   | client_ip / server_ip when the record is the       | 8/27, 12/28 |
 * |                   | initiator's direction (biflowDirection 1), else reversed | |
 * | src_port/dst_port | client_port / server_port (same rule)              | 7, 11 |
 * | packets, bytes    | client_packets / client_ip_bytes of that direction | 2, 1 |
 * | proto, first_ts, last_ts, duration_ms, vlan, community_id | same names          | 4, 152/153, 58 |
 * | tcp_flags         | client_tcp_flags (letters FSRPAUEC)                | 6 |
 *
 * Bytes are IP-layer bytes (octetDeltaCount), like `client_ip_bytes`. Counts are scaled by the
 * sampling rate; `packets_raw`/`bytes_raw` keep what the exporter sent. `community_id` makes
 * the two directions of one connection (and the sensor's own flow for it) join.
 */
import { defineRecord } from './registry.js';

const n = true;

export const exportedFlowRecord = defineRecord(
  'exported_flow',
  'A unidirectional flow record received from a NetFlow/IPFIX exporter or built from an sFlow flow sample.',
  'first_ts',
  {
    source: { type: 'string', doc: 'Protocol it came in: netflow5, netflow9, ipfix or sflow.' },
    exporter: { type: 'ip', doc: 'Address of the exporter (datagram source; sFlow agent address).' },
    exporter_port: { type: 'int', doc: 'Source port of the export datagram (TCP connection for IPFIX/TCP).' },
    observation_domain: {
      type: 'int',
      doc: 'IPFIX observation domain, NetFlow v9 source id, v5 engine type<<8|id, sFlow sub-agent id.',
      ipfix: 149,
    },
    template_id: { type: 'int', nullable: n, doc: 'Template that described the record (v9/IPFIX).' },
    export_ts: { type: 'ts', doc: 'Export time the datagram header states.' },
    first_ts: {
      type: 'ts',
      doc: 'Time of the first packet of the flow (export time when not exported).',
      ipfix: 152,
    },
    last_ts: { type: 'ts', doc: 'Time of the last packet of the flow.', ipfix: 153 },
    duration_ms: { type: 'float', unit: 'ms', doc: 'last_ts - first_ts.' },
    ip_version: { type: 'int', nullable: n, doc: '4 or 6.', ipfix: 60 },
    src_ip: { type: 'ip', nullable: n, doc: 'Source address of the flow.', ipfix: 8 },
    dst_ip: { type: 'ip', nullable: n, doc: 'Destination address of the flow.', ipfix: 12 },
    src_port: { type: 'int', nullable: n, doc: 'Source transport port.', ipfix: 7 },
    dst_port: { type: 'int', nullable: n, doc: 'Destination transport port.', ipfix: 11 },
    proto: { type: 'int', nullable: n, doc: 'IP protocol number.', ipfix: 4 },
    community_id: { type: 'string', nullable: n, doc: 'Community ID v1 of the 5-tuple.' },
    packets: { type: 'int', unit: 'packets', doc: 'Packets, scaled by the sampling rate.', ipfix: 2 },
    bytes: { type: 'int', unit: 'bytes', doc: 'IP-layer bytes, scaled by the sampling rate.', ipfix: 1 },
    packets_raw: { type: 'int', unit: 'packets', doc: 'Packets as exported (before sampling scale).' },
    bytes_raw: { type: 'int', unit: 'bytes', doc: 'Bytes as exported (before sampling scale).' },
    sampling_rate: { type: 'int', doc: '1 in N packets sampled; 1 when unsampled or unknown.', ipfix: 305 },
    tcp_flags: { type: 'string', nullable: n, doc: 'Union of TCP flags (letters FSRPAUEC).', ipfix: 6 },
    tos: { type: 'int', nullable: n, doc: 'IP type of service / traffic class.', ipfix: 5 },
    icmp_type: { type: 'int', nullable: n, doc: 'ICMP type.', ipfix: 176 },
    icmp_code: { type: 'int', nullable: n, doc: 'ICMP code.', ipfix: 177 },
    input_if: { type: 'int', nullable: n, doc: 'SNMP ifIndex of the input interface.', ipfix: 10 },
    output_if: { type: 'int', nullable: n, doc: 'SNMP ifIndex of the output interface.', ipfix: 14 },
    input_if_name: {
      type: 'string',
      nullable: n,
      doc: 'ifName of the input interface, polled from the exporter by SNMP.',
    },
    input_if_alias: {
      type: 'string',
      nullable: n,
      doc: 'ifAlias (description) of the input interface, by SNMP.',
    },
    input_if_speed: {
      type: 'int',
      nullable: n,
      unit: 'bit/s',
      doc: 'Speed of the input interface, by SNMP.',
    },
    output_if_name: { type: 'string', nullable: n, doc: 'ifName of the output interface, by SNMP.' },
    output_if_alias: {
      type: 'string',
      nullable: n,
      doc: 'ifAlias (description) of the output interface, by SNMP.',
    },
    output_if_speed: {
      type: 'int',
      nullable: n,
      unit: 'bit/s',
      doc: 'Speed of the output interface, by SNMP.',
    },
    direction: {
      type: 'int',
      nullable: n,
      doc: 'Flow direction at the interface: 0 ingress, 1 egress.',
      ipfix: 61,
    },
    src_as: { type: 'int', nullable: n, doc: 'Source BGP autonomous system.', ipfix: 16 },
    dst_as: { type: 'int', nullable: n, doc: 'Destination BGP autonomous system.', ipfix: 17 },
    next_hop: { type: 'ip', nullable: n, doc: 'IP next hop.', ipfix: 15 },
    bgp_next_hop: { type: 'ip', nullable: n, doc: 'BGP next hop.', ipfix: 18 },
    src_mask: { type: 'int', nullable: n, doc: 'Source prefix length.', ipfix: 9 },
    dst_mask: { type: 'int', nullable: n, doc: 'Destination prefix length.', ipfix: 13 },
    vlan: { type: 'int', nullable: n, doc: 'VLAN id.', ipfix: 58 },
    src_mac: { type: 'mac', nullable: n, doc: 'Source MAC address.', ipfix: 56 },
    dst_mac: { type: 'mac', nullable: n, doc: 'Destination MAC address.', ipfix: 80 },
    end_reason: { type: 'int', nullable: n, doc: 'IPFIX flowEndReason.', ipfix: 136 },
    extra: {
      type: 'json',
      nullable: n,
      doc: 'Other fields of the template by IE name; unknown and enterprise IEs as "pen:id" with hex values.',
    },
  },
);

export const sflowCountersRecord = defineRecord(
  'sflow_counters',
  'One sFlow v5 counter sample: interface counters of one data source at one time (a time series point).',
  'ts',
  {
    ts: { type: 'ts', doc: 'Time the collector saw the datagram (sFlow carries only agent uptime).' },
    agent: { type: 'ip', doc: 'sFlow agent address.' },
    sub_agent: { type: 'int', doc: 'sFlow sub-agent id.' },
    exporter: { type: 'ip', doc: 'Datagram source address.' },
    sequence: { type: 'int', doc: 'Counter sample sequence number.' },
    source_id: { type: 'int', doc: 'Data source: type<<24 | index.' },
    if_index: { type: 'int', nullable: n, doc: 'ifIndex of the interface (generic interface counters).' },
    if_type: { type: 'int', nullable: n, doc: 'ifType.' },
    if_speed: { type: 'int', nullable: n, unit: 'bit/s', doc: 'ifSpeed.' },
    if_direction: { type: 'int', nullable: n, doc: '0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out.' },
    if_status: { type: 'int', nullable: n, doc: 'bit 0 admin up, bit 1 operational up.' },
    in_octets: { type: 'int', nullable: n, unit: 'bytes', doc: 'ifInOctets.' },
    in_ucast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifInUcastPkts.' },
    in_multicast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifInMulticastPkts.' },
    in_broadcast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifInBroadcastPkts.' },
    in_discards: { type: 'int', nullable: n, doc: 'ifInDiscards.' },
    in_errors: { type: 'int', nullable: n, doc: 'ifInErrors.' },
    in_unknown_protos: { type: 'int', nullable: n, doc: 'ifInUnknownProtos.' },
    out_octets: { type: 'int', nullable: n, unit: 'bytes', doc: 'ifOutOctets.' },
    out_ucast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifOutUcastPkts.' },
    out_multicast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifOutMulticastPkts.' },
    out_broadcast_pkts: { type: 'int', nullable: n, unit: 'packets', doc: 'ifOutBroadcastPkts.' },
    out_discards: { type: 'int', nullable: n, doc: 'ifOutDiscards.' },
    out_errors: { type: 'int', nullable: n, doc: 'ifOutErrors.' },
    promiscuous: { type: 'bool', nullable: n, doc: 'ifPromiscuousMode.' },
    record_formats: {
      type: 'int[]',
      doc: 'Counter record formats present in the sample (1 generic, 2 ethernet...).',
    },
  },
);

export const snmpInterfaceRecord = defineRecord(
  'snmp_interface',
  'One SNMP poll of one interface of a device (an exporter or a configured device): IF-MIB names, speed, 64-bit octet counters and the rates and utilisation since the previous poll.',
  'ts',
  {
    ts: { type: 'ts', doc: 'Time of the poll.' },
    device: { type: 'ip', doc: 'Address the device was polled at (the exporter address for exporters).' },
    if_index: { type: 'int', doc: 'ifIndex.' },
    if_name: { type: 'string', nullable: n, doc: 'ifName.' },
    if_alias: {
      type: 'string',
      nullable: n,
      doc: 'ifAlias: the description an operator gave the interface.',
    },
    if_descr: { type: 'string', nullable: n, doc: 'ifDescr.' },
    if_speed: { type: 'int', nullable: n, unit: 'bit/s', doc: 'ifHighSpeed × 10^6, else ifSpeed.' },
    in_octets: { type: 'int', nullable: n, unit: 'bytes', doc: 'ifHCInOctets.' },
    out_octets: { type: 'int', nullable: n, unit: 'bytes', doc: 'ifHCOutOctets.' },
    in_bps: { type: 'float', nullable: n, unit: 'bit/s', doc: 'Input rate since the previous poll.' },
    out_bps: { type: 'float', nullable: n, unit: 'bit/s', doc: 'Output rate since the previous poll.' },
    in_util: { type: 'float', nullable: n, doc: 'in_bps / if_speed (0–1).' },
    out_util: { type: 'float', nullable: n, doc: 'out_bps / if_speed (0–1).' },
  },
);
