import { describe, expect, it } from 'vitest';
import {
  alertFilter,
  bySeverity,
  evidenceShapes,
  groupFilter,
  histogram,
  mergeGroups,
  mitreUrl,
  NO_QUICK,
  parsePivot,
  parsePivotTime,
  pivotTarget,
  quickFromParams,
} from './alerts';
import { sinkBody } from './sinks';
import { isoRangeToSpec, paramToSpec } from './time';

const top = (key: string | null, flows: number) => ({ key, bytes: 0, packets: 0, flows });

describe('evidence shapes', () => {
  it('draws a beacon, a scan fan-out and a flood, and keeps the rest as pairs', () => {
    const { shapes, rest } = evidenceShapes({
      intervals: [60, 61, 59.5, 60],
      ports: [22, 80, 443, 80],
      hosts: { '10.0.0.1': 3, '10.0.0.2': 7 },
      rate: 12000,
      baseline: 300,
      flow_ids: [1, 2],
      threshold: 20,
    });
    expect(shapes.map((s) => s.kind)).toEqual(['intervals', 'fanout', 'fanout', 'rate']);
    const ports = shapes[1]!;
    expect(ports).toMatchObject({ kind: 'fanout', field: 'ports', total: 4 });
    // Most-hit first, then in numeric order.
    expect(ports.kind === 'fanout' && ports.items).toEqual([
      { key: '80', count: 2 },
      { key: '22', count: 1 },
      { key: '443', count: 1 },
    ]);
    expect(shapes[2]!.kind === 'fanout' && shapes[2]!.items[0]).toEqual({ key: '10.0.0.2', count: 7 });
    expect(shapes[3]).toMatchObject({ rate: 12000, baseline: 300 });
    expect(rest).toEqual([
      ['flow_ids', [1, 2]],
      ['threshold', 20],
    ]);
  });

  it('reads counted objects and refuses what it cannot draw', () => {
    const s = evidenceShapes({ ports: [{ port: 22, count: 5 }, { port: 23 }] }).shapes[0];
    expect(s?.kind === 'fanout' && s.items).toEqual([
      { key: '22', count: 5 },
      { key: '23', count: 1 },
    ]);
    // Mixed or odd values are shown as they are, never half-drawn.
    const odd = evidenceShapes({ intervals: [1, 'x'], ports: [{ nope: true }], rate: 5, hosts: [] });
    expect(odd.shapes).toEqual([]);
    expect(odd.rest.map(([k]) => k)).toEqual(['intervals', 'ports', 'rate', 'hosts']);
    expect(evidenceShapes(null)).toEqual({ shapes: [], rest: [] });
  });

  it('bins inter-arrival times; regular ones fall in one bin', () => {
    const h = histogram([10, 20, 30, 40], 2);
    expect(h.map((b) => b.count)).toEqual([2, 2]);
    expect(h[0]!.from).toBe(10);
    expect(h[1]!.to).toBe(40);
    expect(histogram([60, 60, 60])).toEqual([{ from: 60, to: 60, count: 3 }]);
    expect(histogram([])).toEqual([]);
    expect(histogram([1, 2, 3, 100], 12).reduce((s, b) => s + b.count, 0)).toBe(4);
  });
});

describe('alert filters and groups', () => {
  it('joins the analyst filter and the quick filters, parenthesised', () => {
    expect(alertFilter('', NO_QUICK)).toBe('');
    expect(alertFilter(' src_ip = 10.0.0.1 ', NO_QUICK)).toBe('src_ip = 10.0.0.1');
    const q = quickFromParams(new URLSearchParams('sev=70&category=scan&status=open&source=suricata'));
    expect(alertFilter('a = 1 or b = 2', q)).toBe(
      '(a = 1 or b = 2) and (severity >= 70) and (category = "scan") and (status in ("new", "acknowledged")) and (source = "suricata")',
    );
    expect(alertFilter('', { ...NO_QUICK, status: 'closed' })).toBe('status = "closed"');
    expect(quickFromParams(new URLSearchParams('sev=abc')).minSeverity).toBe(0);
  });

  it('counts a host on either side and drops the one-sided "none"', () => {
    const g = mergeGroups([
      [top('10.0.0.1', 3), top('10.0.0.2', 1), top(null, 4)],
      [top('10.0.0.2', 5), top(null, 2)],
    ]);
    expect(g).toEqual([
      { key: '10.0.0.2', count: 6 },
      { key: '10.0.0.1', count: 3 },
    ]);
    expect(mergeGroups([[top('scan', 2), top(null, 1)]])).toEqual([
      { key: 'scan', count: 2 },
      { key: null, count: 1 },
    ]);
    expect(groupFilter('host', '10.0.0.2')).toBe('src_ip = 10.0.0.2 or dst_ip = 10.0.0.2');
    expect(groupFilter('category', 'dns_tunnel')).toBe('category = "dns_tunnel"');
    expect(groupFilter('detector', null)).toBe('not detector exists');
  });

  it('lists every severity band, empty ones at zero', () => {
    expect(bySeverity([top('high', 2), top('info', 1)])).toEqual([
      { label: 'critical', count: 0 },
      { label: 'high', count: 2 },
      { label: 'medium', count: 0 },
      { label: 'low', count: 0 },
      { label: 'info', count: 1 },
    ]);
  });

  it('links MITRE techniques and sub-techniques', () => {
    expect(mitreUrl('T1046')).toBe('https://attack.mitre.org/techniques/T1046/');
    expect(mitreUrl('t1071.004')).toBe('https://attack.mitre.org/techniques/T1071/004/');
    expect(mitreUrl('javascript:alert(1)')).toBeNull();
  });
});

describe('pivot links', () => {
  const ts = '2024-05-01T10:00:00Z';
  const at = Date.parse(ts);

  it('opens a host ±15 minutes around ts', () => {
    const pv = parsePivot(new URLSearchParams(`ip=10.1.2.3&ts=${encodeURIComponent(ts)}`));
    expect(pv).toEqual({ kind: 'host', ip: '10.1.2.3', t: `${at - 900_000}-${at + 900_000}` });
    if (pv.kind === 'error') throw new Error('unreachable');
    expect(pivotTarget(pv)).toEqual({ path: '/host/10.1.2.3', params: { t: pv.t } });
  });

  it('opens the flows of a Community ID; an explicit range wins over ts', () => {
    const pv = parsePivot(
      new URLSearchParams('community_id=1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=&ts=1714557600&t=1000-2000'),
    );
    expect(pv).toEqual({ kind: 'flow', communityId: '1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=', t: '1000-2000' });
    if (pv.kind === 'error') throw new Error('unreachable');
    expect(pivotTarget(pv)).toEqual({
      path: '/records/flow',
      params: { filter: 'community_id = "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="', t: '1000-2000' },
    });
    expect(paramToSpec(pv.t)).toEqual({ from: 1000, to: 2000 });
  });

  it('reads the times SIEMs send and says what is wrong', () => {
    expect(parsePivotTime('1714557600')).toBe(at);
    expect(parsePivotTime('1714557600.5')).toBe(at + 500);
    expect(parsePivotTime('1714557600000')).toBe(at);
    expect(parsePivotTime(ts)).toBe(at);
    expect(parsePivotTime('yesterday')).toBeNull();
    expect(parsePivot(new URLSearchParams('ip=10.0.0.1&ts=yesterday'))).toMatchObject({
      kind: 'error',
      message: /ts/,
    });
    expect(parsePivot(new URLSearchParams('ip=<script>'))).toMatchObject({ kind: 'error', message: /ip/ });
    expect(parsePivot(new URLSearchParams('ts=1714557600'))).toMatchObject({ kind: 'error' });
    const encoded = parsePivot(new URLSearchParams(`community_id=${encodeURIComponent('1:a+b/c=')}`));
    expect(encoded).toMatchObject({ kind: 'flow', communityId: '1:a+b/c=' });
    // No time at all: keep the range already on screen.
    expect(parsePivot(new URLSearchParams('ip=::1'))).toEqual({ kind: 'host', ip: '::1', t: '' });
  });
});

describe('context links', () => {
  it('read from/to as ISO-8601 (the server\'s "Open dashboards at this time" link)', () => {
    expect(isoRangeToSpec('2024-05-01T10:00:00Z', '2024-05-01T10:02:00Z')).toEqual({
      from: Date.parse('2024-05-01T10:00:00Z'),
      to: Date.parse('2024-05-01T10:02:00Z'),
    });
    expect(isoRangeToSpec('2024-05-01T10:02:00Z', '2024-05-01T10:00:00Z')).toBeNull();
    expect(isoRangeToSpec('x', '2024-05-01T10:00:00Z')).toBeNull();
    expect(isoRangeToSpec(null, null)).toBeNull();
  });
});

describe('sink form', () => {
  it('builds the config-file shape and refuses bad input in words', () => {
    expect(sinkBody('soc-hook', 'webhook', ' severity >= 70 ', '{"url":"https://x"}')).toEqual({
      body: { name: 'soc-hook', kind: 'webhook', webhook: { url: 'https://x' }, filter: 'severity >= 70' },
    });
    // A whole sink pasted in: its kind's object is taken.
    expect(sinkBody('k', 'kafka', '', '{"kafka":{"brokers":["a:9092"]}}')).toEqual({
      body: { name: 'k', kind: 'kafka', kafka: { brokers: ['a:9092'] } },
    });
    expect(sinkBody('bad name', 'hec', '', '{}')).toMatchObject({ error: /Name/ });
    expect(sinkBody('n', 'hec', '', '{url')).toMatchObject({ error: /not JSON/ });
    expect(sinkBody('n', 'hec', '', '[1]')).toMatchObject({ error: /object/ });
  });
});
