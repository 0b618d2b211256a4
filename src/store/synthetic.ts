import type { FlowRecord } from '../schema/records.js';
import { microsToIso } from './values.js';

/**
 * Deterministic synthetic flow records for tests and benchmarks: a few hundred clients in
 * 10.0.0.0/16 talking to a few dozen servers, with realistic field fill (most performance
 * fields set for TCP, nulls for the rest).
 */
export function syntheticFlows(
  n: number,
  opts: { startUs?: number; spanUs?: number; seed?: number; idBase?: number } = {},
): FlowRecord[] {
  const start = opts.startUs ?? Date.UTC(2024, 0, 1) * 1000;
  const span = opts.spanUs ?? 3_600_000_000;
  let s = opts.seed ?? 1;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const apps = ['https', 'dns', 'google', 'ssh', 'http', null, 'microsoft', 'zoom'];
  const out: FlowRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const tcp = rnd() < 0.8;
    const t = start + Math.floor((i / n) * span);
    const dur = Math.floor(rnd() * 5_000_000);
    const cp = 1 + Math.floor(rnd() * 40);
    const sp = 1 + Math.floor(rnd() * 60);
    const c = Math.floor(rnd() * 500);
    const sv = Math.floor(rnd() * 40);
    const six = rnd() < 0.05;
    out[i] = {
      type: 'flow',
      flow_id: (opts.idBase ?? 0) + i,
      community_id: `1:${Buffer.from([i & 255, (i >> 8) & 255, (i >> 16) & 255, c & 255]).toString('base64')}synthetic==`,
      proto: tcp ? 6 : 17,
      client_ip: six ? `2001:db8::${(c + 1).toString(16)}` : `10.0.${c >> 8}.${c & 255}`,
      client_port: 32768 + Math.floor(rnd() * 28000),
      server_ip: six ? `2001:db8:1::${(sv + 1).toString(16)}` : `192.168.${sv >> 4}.${sv & 15}`,
      server_port: tcp ? [443, 80, 22, 8443][sv & 3]! : 53,
      first_ts: microsToIso(t),
      last_ts: microsToIso(t + dur),
      duration_ms: dur / 1000,
      client_packets: cp,
      server_packets: sp,
      client_ip_bytes: cp * 80,
      server_ip_bytes: sp * 900,
      client_wire_bytes: cp * 94,
      server_wire_bytes: sp * 914,
      client_payload_bytes: cp * 28,
      server_payload_bytes: sp * 848,
      client_tcp_flags: tcp ? 'SAPF' : null,
      server_tcp_flags: tcp ? 'SAPF' : null,
      rtt_client_ms: tcp ? Math.round(rnd() * 2000) / 1000 : null,
      rtt_server_ms: tcp ? Math.round(rnd() * 30000) / 1000 : null,
      rtt_ms: tcp ? Math.round(rnd() * 32000) / 1000 : null,
      srt_ms: tcp ? Math.round(rnd() * 80000) / 1000 : null,
      client_retransmissions: rnd() < 0.1 ? 1 : 0,
      server_retransmissions: rnd() < 0.1 ? 2 : 0,
      client_out_of_order: 0,
      server_out_of_order: 0,
      client_zero_windows: 0,
      server_zero_windows: 0,
      resets: rnd() < 0.05 ? 1 : 0,
      client_ipd_mean_ms: Math.round(rnd() * 100000) / 1000,
      server_ipd_mean_ms: Math.round(rnd() * 100000) / 1000,
      client_jitter_ms: Math.round(rnd() * 10000) / 1000,
      server_jitter_ms: Math.round(rnd() * 10000) / 1000,
      icmp_type: null,
      icmp_code: null,
      client_mac: `02:00:00:00:${(c >> 8).toString(16).padStart(2, '0')}:${(c & 255).toString(16).padStart(2, '0')}`,
      server_mac: '02:00:00:00:ff:01',
      vlan: rnd() < 0.5 ? 100 : null,
      vlan_inner: null,
      tunnel: null,
      tunnel_outer_src: null,
      tunnel_outer_dst: null,
      vni: null,
      gre_key: null,
      erspan_session: null,
      fragments: 0,
      end_reason: tcp ? 'fin' : 'idle',
      interim: false,
      app: apps[Math.floor(rnd() * apps.length)] ?? null,
    };
  }
  return out;
}
