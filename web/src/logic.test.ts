import { describe, expect, it } from 'vitest';
import { bytes, cell, si } from './format';
import { parseMetrics, stageOf } from './pages/Sensors';
import { parseCapture } from './pcap';
import { keyFilter } from './queries';
import { pcapParams, searchFilter } from './search';
import { defaultSpec, paramToSpec, pickStep, resolve, specToParam, stepParam } from './time';

describe('time ranges', () => {
  it('round-trips presets and absolute ranges through links', () => {
    expect(paramToSpec(specToParam({ preset: '7d' }))).toEqual({ preset: '7d' });
    expect(paramToSpec(specToParam({ from: 1000, to: 5000 }))).toEqual({ from: 1000, to: 5000 });
    expect(paramToSpec('5000-1000')).toBeNull();
    expect(paramToSpec('bogus')).toBeNull();
  });

  it('keeps a series under 600 buckets with a nice step', () => {
    expect(pickStep(15 * 60_000)).toBe(5);
    expect(pickStep(30 * 86_400_000)).toBe(3 * 3600);
    expect(stepParam(6 * 3600)).toBe('6h');
    expect(stepParam(86400 * 7)).toBe('7d');
  });

  it('defaults to all data when the data is old, so the first view is not empty', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const old = { first: Date.parse('2009-01-01T00:00:00Z'), last: Date.parse('2026-01-06T00:00:00Z') };
    expect(defaultSpec(old, now)).toEqual({ preset: 'all' });
    expect(defaultSpec({ first: now - 3600_000, last: now - 60_000 }, now)).toEqual({ preset: '24h' });
    const r = resolve({ preset: 'all' }, old, now);
    expect(r.after).toBeUndefined();
    expect(r.fromMs).toBe(old.first);
    expect(resolve({ preset: '1h' }, old, now).after).toBe('2026-05-31T23:00:00.000Z');
  });
});

describe('search and filters', () => {
  const fields = [
    { name: 'client_ip', type: 'ip' },
    { name: 'server_ip', type: 'ip' },
    { name: 'server_port', type: 'int' },
    { name: 'app', type: 'string' },
    { name: 'answers', type: 'string[]' },
  ].map((f) => ({ ...f, label: f.name, doc: '', unit: null, nullable: false }));

  it('builds the same condition the server search uses', () => {
    expect(searchFilter('ip', '10.0.0.1', fields)).toBe('client_ip = 10.0.0.1 or server_ip = 10.0.0.1');
    expect(searchFilter('port', '443', fields)).toBe('server_port = 443');
    expect(searchFilter('domain', 'example.com', fields)).toBe(
      'app ~ "example.com" or answers ~ "example.com"',
    );
    expect(pcapParams('cidr', '10.0.0.0/8')).toEqual({ filter: 'net 10.0.0.0/8' });
    expect(typeof pcapParams('text', 'hello')).toBe('string');
  });

  it('quotes text values and leaves numbers and addresses bare', () => {
    expect(keyFilter('app', 'http/google')).toBe('app = "http/google"');
    expect(keyFilter('server_port', 443)).toBe('server_port = 443');
    expect(keyFilter('server_ip', '2001:db8::1')).toBe('server_ip = 2001:db8::1');
    expect(keyFilter('app', null)).toBe('not app exists');
  });
});

describe('formatting', () => {
  it('reads like a person writes', () => {
    expect(si(1_500_000, 'b/s')).toBe('1.5 Mb/s');
    expect(bytes(1536)).toBe('1.5 KiB');
    expect(cell('proto', 'int', 6)).toBe('TCP');
    expect(cell('first_ts', 'ts', '2024-05-01T10:00:00.123456Z')).toBe('2024-05-01 10:00:00');
  });
});

describe('metrics', () => {
  it('parses the Prometheus text format and groups by stage', () => {
    const m = parseMetrics(
      '# HELP vantage_ingest_packets_total Packets read.\n# TYPE vantage_ingest_packets_total counter\nvantage_ingest_packets_total 42\nvantage_store_rows{type="flow"} 7\n',
    );
    expect(m).toEqual([
      { name: 'vantage_ingest_packets_total', labels: {}, value: 42, help: 'Packets read.' },
      { name: 'vantage_store_rows', labels: { type: 'flow' }, value: 7, help: '' },
    ]);
    expect(stageOf('vantage_store_rows')).toBe('store');
  });
});

describe('pcap summary lines', () => {
  it('lists a TCP SYN the way tcpdump does', () => {
    const frame = new Uint8Array(14 + 20 + 20);
    const dv = new DataView(frame.buffer);
    dv.setUint16(12, 0x0800);
    frame[14] = 0x45;
    dv.setUint16(16, 40);
    frame[23] = 6;
    frame.set([10, 0, 0, 1], 26);
    frame.set([10, 0, 0, 2], 30);
    dv.setUint16(34, 40000);
    dv.setUint16(36, 443);
    dv.setUint32(38, 1000);
    frame[46] = 0x50;
    frame[47] = 0x02;
    dv.setUint16(48, 65535);
    const file = new Uint8Array(24 + 16 + frame.length);
    const f = new DataView(file.buffer);
    f.setUint32(0, 0xa1b2c3d4, true);
    f.setUint16(4, 2, true);
    f.setUint16(6, 4, true);
    f.setUint32(16, 65535, true);
    f.setUint32(20, 1, true);
    f.setUint32(24, 1_700_000_000, true);
    f.setUint32(28, 5, true);
    f.setUint32(32, frame.length, true);
    f.setUint32(36, frame.length, true);
    file.set(frame, 40);
    const { packets } = parseCapture(file.buffer);
    expect(packets).toHaveLength(1);
    expect(packets[0]!.tsUs).toBe(1_700_000_000_000_005);
    expect(packets[0]!.summary).toBe(
      'IP 10.0.0.1.40000 > 10.0.0.2.443: Flags [S], seq 1000, win 65535, length 0',
    );
    expect(() => parseCapture(new ArrayBuffer(30))).toThrow(/not a pcap/);
  });
});
