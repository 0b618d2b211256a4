import type { AnyRecord } from '../../src/common/alerts.js';
import { rng } from './capture-kit.js';

/** Records as the sensor emits them, for detector tests that need no capture. */
export const T = Date.parse('2026-03-02T10:00:00Z');
const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : 'not a time');

export function flow(o: {
  ms: number;
  src: string;
  dst: string;
  sport?: number;
  dport: number;
  proto?: number;
  durMs?: number;
  outPkts?: number;
  outBytes?: number;
  inPkts?: number;
  inBytes?: number;
  cflags?: string | null;
  sflags?: string | null;
  payload?: number;
}): AnyRecord {
  return {
    type: 'flow',
    flow_id: Math.floor(o.ms) % 1e9,
    community_id: '1:x',
    proto: o.proto ?? 6,
    client_ip: o.src,
    client_port: o.sport ?? 40000,
    server_ip: o.dst,
    server_port: o.dport,
    first_ts: iso(o.ms),
    last_ts: iso(o.ms + (o.durMs ?? 10)),
    client_packets: o.outPkts ?? 1,
    server_packets: o.inPkts ?? 0,
    client_ip_bytes: o.outBytes ?? 60,
    server_ip_bytes: o.inBytes ?? 0,
    client_payload_bytes: o.payload ?? 0,
    client_tcp_flags: o.cflags === undefined ? 'S' : o.cflags,
    server_tcp_flags: o.sflags === undefined ? null : o.sflags,
  };
}

export function dns(
  ms: number,
  client: string,
  query: string,
  qtype = 1,
  rcode: number | null = 0,
): AnyRecord {
  return {
    type: 'dns',
    ts: iso(ms),
    flow_id: 1,
    client_ip: client,
    server_ip: '10.0.0.53',
    service: 'dns',
    query,
    qtype,
    rcode,
    answers: [],
  };
}

export function http(ms: number, client: string, server: string, status: number): AnyRecord {
  return {
    type: 'http',
    ts: iso(ms),
    client_ip: client,
    server_ip: server,
    server_port: 80,
    method: 'POST',
    uri: '/login',
    status,
  };
}

const randomLabel = (r: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(r() * 26));
  return s;
};

/** One workload per detector that it must find. */
export function attackRecords(name: string): AnyRecord[] {
  const r = rng(7);
  const out: AnyRecord[] = [];
  switch (name) {
    case 'scan':
      for (let p = 1; p <= 100; p++)
        out.push(
          flow({ ms: T + p * 100, src: '10.9.9.9', dst: '10.0.0.1', dport: p, inPkts: 1, sflags: 'RA' }),
        );
      break;
    case 'flood':
      for (let i = 0; i < 30_000; i++) {
        out.push(
          flow({
            ms: T + i / 3,
            src: `${1 + (i % 200)}.${i % 256}.${(i >> 8) % 256}.9`,
            dst: '10.0.0.80',
            dport: 80,
            sport: 1024 + (i % 6000),
            inPkts: 1,
            sflags: 'SA',
          }),
        );
      }
      break;
    case 'bruteforce':
      for (let i = 0; i < 30; i++)
        out.push(
          flow({
            ms: T + i * 5000,
            src: '203.0.113.10',
            dst: '10.0.0.22',
            dport: 22,
            durMs: 3000,
            outPkts: 15,
            outBytes: 2000,
            inPkts: 14,
            inBytes: 3000,
            cflags: 'SAPF',
            sflags: 'SAPF',
            payload: 1500,
          }),
        );
      break;
    case 'dnsTunnel':
      for (let i = 0; i < 300; i++)
        out.push(dns(T + i * 1000, '10.9.9.14', `${randomLabel(r, 50)}.t.tunnelbox.net`, 10));
      break;
    case 'dga':
      for (let i = 0; i < 40; i++)
        out.push(dns(T + i * 1000, '10.9.9.15', `${randomLabel(r, 12)}.com`, 1, 3));
      break;
    case 'beacon':
      for (let i = 0; i < 50; i++)
        out.push(
          flow({
            ms: T + i * 60_000 + (r() - 0.5) * 6000,
            src: '10.9.9.16',
            dst: '198.51.100.50',
            dport: 443,
            outPkts: 6,
            outBytes: 700,
            inPkts: 5,
            inBytes: 500,
            cflags: 'SAPF',
            sflags: 'SAPF',
            payload: 400,
          }),
        );
      break;
    case 'exfil':
      for (let i = 0; i < 3; i++)
        out.push(
          flow({
            ms: T + i * 60_000,
            src: '10.9.9.18',
            dst: '198.51.100.60',
            dport: 443,
            durMs: 50_000,
            outPkts: 14_000,
            outBytes: 20_000_000,
            inPkts: 7000,
            inBytes: 300_000,
            cflags: 'SAPF',
            sflags: 'SAPF',
            payload: 19_000_000,
          }),
        );
      break;
    case 'rareDest':
      for (let i = 0; i < 10; i++) {
        out.push(
          flow({
            ms: T + i * 1000,
            src: '10.9.9.1',
            dst: `198.51.${i}.1`,
            dport: 443,
            inPkts: 1,
            sflags: 'SA',
            cflags: 'SA',
          }),
        );
      }
      out.push(
        flow({
          ms: T + 120_000,
          src: '10.9.9.2',
          dst: '203.0.113.200',
          dport: 443,
          inPkts: 1,
          sflags: 'SA',
          cflags: 'SA',
        }),
      );
      break;
  }
  return out;
}

/** Hostile input: one-packet flows from random sources to random hosts, random names, bad times. */
export function* junk(n: number, seed = 3): Generator<AnyRecord> {
  const r = rng(seed);
  const ip = (): string =>
    `${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
  for (let i = 0; i < n; i++) {
    const jump = i % 5000 === 0 ? ([0, 4102444800000, Number.NaN, T - 86_400_000 * 365][i % 4] ?? 0) : 0;
    const ms = jump || T + i * 0.1 + (r() - 0.5) * 60_000;
    const k = i % 10;
    if (k < 6) {
      yield flow({
        ms,
        src: ip(),
        dst: ip(),
        dport: Math.floor(r() * 65536),
        sport: Math.floor(r() * 65536),
        proto: [6, 17, 1][i % 3] ?? 6,
        outBytes: 40 + Math.floor(r() * 1500),
        cflags: i % 7 ? 'S' : null,
      });
    } else if (k < 8)
      yield dns(
        ms,
        ip(),
        `${randomLabel(r, 5 + Math.floor(r() * 50))}.${randomLabel(r, 8)}.com`,
        r() < 0.3 ? 16 : 1,
        r() < 0.5 ? 3 : 0,
      );
    else if (k < 9) yield http(ms, ip(), ip(), 401);
    else
      yield {
        type: 'exported_flow',
        src_ip: ip(),
        dst_ip: ip(),
        src_port: 1,
        dst_port: Math.floor(r() * 65536),
        proto: 17,
        packets: 1,
        bytes: 40,
        sampling_rate: 100,
        first_ts: new Date(ms).toISOString(),
        last_ts: 'garbage',
      };
  }
}
