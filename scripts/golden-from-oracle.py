#!/usr/bin/env python3
"""Derive the expected values the tests compare against from tshark oracles.

usage: scripts/golden-from-oracle.py ORACLE.json... [-o test/fixtures/golden]

An oracle (<capture>.oracle.json) is made by tshark 4.0 for a capture; this keeps the part
the tests check: TCP/UDP conversations (frames and bytes per direction), handshake RTTs,
retransmission count, DNS queries/response codes, HTTP requests/status codes, TLS SNI/JA3/JA3S,
and the count of flow-export records. Run it while developing (tshark is not needed by tests).
"""
import json
import os
import sys

def main():
    args = sys.argv[1:]
    out = 'test/fixtures/golden'
    if '-o' in args:
        i = args.index('-o')
        out = args[i + 1]
        del args[i:i + 2]
    os.makedirs(out, exist_ok=True)
    for path in args:
        o = json.load(open(path))
        conv = o.get('conversations') or {}
        frag = o.get('fragments') or {}
        g = {
            'capture': o.get('file'),
            'sha256': o.get('sha256'),
            'tshark_version': o.get('tshark_version'),
            'packets': o.get('packet_count'),
            'fragmented': (frag.get('ipv4_fragment_frames') or 0) + (frag.get('ipv6_fragment_frames') or 0) > 0,
            'read_error': (o.get('robustness') or {}).get('tshark_read_error') is not None,
            'conversations': [
                {k: c[k] for k in ('a', 'a_port', 'b', 'b_port', 'frames_a_to_b', 'frames_b_to_a', 'bytes_a_to_b', 'bytes_b_to_a')}
                | {'proto': proto}
                for proto in ('tcp', 'udp') for c in conv.get(proto) or []
            ],
            'rtt_ms': [float(s['initial_rtt_s']) * 1000 for s in (o.get('tcp_initial_rtt') or {}).get('per_stream', [])],
            'retransmissions': o.get('retransmissions') or 0,
            'dns_queries': [[(d.get('qname') or '').lower().rstrip('.'), d.get('qtype')]
                            for d in (o.get('dns') or {}).get('list') or [] if not d.get('response') and d.get('qname') is not None],
            'dns_responses': [[(d.get('qname') or '').lower().rstrip('.'), d.get('rcode')]
                              for d in (o.get('dns') or {}).get('list') or [] if d.get('response') and d.get('qname') is not None],
            'http_requests': [[d.get('method'), (d.get('host') or '').lower(), d.get('uri')]
                              for d in (o.get('http') or {}).get('list') or [] if d.get('method')],
            'http_status': [d.get('response_code') for d in (o.get('http') or {}).get('list') or [] if d.get('response_code') is not None],
            'tls_sni': [c['sni'] for c in (o.get('tls') or {}).get('client_hello_list') or [] if c.get('sni') and c.get('carrier', 'tls') == 'tls'],
            'tls_ja3': [c['ja3'] for c in (o.get('tls') or {}).get('client_hello_list') or [] if c.get('ja3') and c.get('carrier', 'tls') == 'tls'],
            'tls_ja3s': [c['ja3s'] for c in (o.get('tls') or {}).get('server_hello_list') or [] if c.get('ja3s') and c.get('carrier', 'tls') == 'tls'],
            'exported_flow_records': (o.get('flow_export') or {}).get('decoded_flow_records'),
        }
        name = os.path.basename(path).replace('.oracle.json', '')
        with open(os.path.join(out, name + '.json'), 'w') as f:
            json.dump(g, f, indent=1)
            f.write('\n')

main()
