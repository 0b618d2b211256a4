/**
 * Stable names for malformed input. A packet that cannot be fully decoded is counted under
 * one of these and emitted as a `weird` record; the numeric code is what the hot path stores.
 * Append only: codes are array indexes and names are a public contract.
 */
export const WEIRD_NAMES = [
  'none',
  'truncated_link_header',
  'unknown_link_type',
  'truncated_vlan_header',
  'truncated_mpls_header',
  'mpls_label_stack_too_deep',
  'truncated_pppoe_header',
  'truncated_ipv4_header',
  'bad_ip_version',
  'ipv4_bad_header_length',
  'ipv4_total_length_too_small',
  'ipv4_total_length_exceeds_frame',
  'truncated_ipv6_header',
  'ipv6_payload_length_exceeds_frame',
  'truncated_ipv6_extension_header',
  'ipv6_too_many_extension_headers',
  'truncated_tcp_header',
  'tcp_bad_data_offset',
  'tcp_bad_option_length',
  'truncated_udp_header',
  'udp_bad_length',
  'truncated_icmp_header',
  'truncated_sctp_header',
  'truncated_gre_header',
  'gre_unsupported_version',
  'truncated_erspan_header',
  'truncated_vxlan_header',
  'truncated_geneve_header',
  'tunnel_too_deep',
  'zero_length_frame',
  'truncated_ppp_header',
] as const;

export type WeirdName = (typeof WEIRD_NAMES)[number];

export const W: { readonly [K in WeirdName]: number } = Object.fromEntries(
  WEIRD_NAMES.map((n, i) => [n, i]),
) as { [K in WeirdName]: number };
