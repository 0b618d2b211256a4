import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { AlertAggregator } from '../common/alerts.js';
import { ConfigError } from '../common/errors.js';
import type { AlertRecord } from '../schema/alert.js';
import { parseEventsConfig } from './config.js';
import { SyslogFramer } from './framing.js';
import { IdentityMap } from './identity.js';
import { ingestText } from './ingest.js';
import type { IdentityEvent } from './types.js';

const T0 = Date.UTC(2024, 0, 18, 10);

function eveAlert(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    timestamp: new Date(T0 + i).toISOString().replace('Z', '+0000'),
    flow_id: 1000 + i,
    event_type: 'alert',
    src_ip: '10.0.0.1',
    src_port: 40000 + (i % 1000),
    dest_ip: '10.0.0.2',
    dest_port: 80,
    proto: 'TCP',
    alert: {
      gid: 1,
      signature_id: 2018358,
      rev: 10,
      signature: 'ET TEST',
      category: 'Potentially Bad Traffic',
      severity: 2,
    },
    ...over,
  });
}

describe('events into alerts', () => {
  it('folds 10,000 identical Suricata alerts into one alert with count 10,000', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final' });
    const body = Array.from({ length: 10_000 }, (_, i) => eveAlert(i)).join('\n');
    const r = ingestText('eve', body, { emitter: agg });
    agg.flush();
    assert.deepEqual(r, { accepted: 10_000, alerts: 10_000, identities: 0, other: 0, weird: {} });
    assert.equal(out.length, 1);
    const a = out[0]!;
    assert.equal(a.count, 10_000);
    assert.equal(a.source, 'suricata');
    assert.equal(a.signature_id, 2018358);
    assert.equal(a.first_ts, new Date(T0).toISOString());
    assert.equal(a.last_ts, new Date(T0 + 9_999).toISOString());
    assert.equal(a.src_port, null); // many connections: no single source port
    assert.equal((a.evidence as { rev: number }).rev, 10);
  });

  it('keeps different signatures or host pairs apart', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final' });
    const body = [
      eveAlert(0),
      eveAlert(1, { dest_ip: '10.0.0.3' }),
      eveAlert(2, { alert: { signature_id: 7, signature: 'other', severity: 1 } }),
      eveAlert(3),
    ].join('\n');
    ingestText('eve', body, { emitter: agg });
    agg.flush();
    assert.deepEqual(
      out.map((a) => [a.dst_ip, a.signature_id, a.count]).sort(),
      [
        ['10.0.0.2', 2018358, 2],
        ['10.0.0.2', 7, 1],
        ['10.0.0.3', 2018358, 1],
      ].sort(),
    );
  });

  it('names the user at the source address from the identity map', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final' });
    const identity = new IdentityMap();
    const recs: unknown[] = [];
    ingestText(
      'syslog',
      '<13>Jan 18 09:00:00 dc EventID=4624 TargetUserName=alice TargetDomainName=CORP IpAddress=10.0.0.1',
      { emitter: agg, identity, onIdentity: (r) => recs.push(r) },
      { nowMs: T0 },
    );
    ingestText('eve', eveAlert(0), { emitter: agg, identity });
    agg.flush();
    assert.equal(out[0]!.src_user, 'CORP\\alice');
    assert.equal(recs.length, 1);
    assert.equal((recs[0] as { ts: string }).ts, '2024-01-18T09:00:00.000Z');
  });

  it('counts every line of a mixed body by what it became', () => {
    const body = [
      eveAlert(0),
      '{"timestamp":"2024-01-18T10:00:00+0000","event_type":"flow"}',
      'not json',
      '',
      'x'.repeat(2000),
      eveAlert(1),
    ].join('\r\n');
    const r = ingestText('eve', body, { emitter: { raise() {} } }, { maxLine: 1024 });
    assert.deepEqual(r, {
      accepted: 5,
      alerts: 2,
      identities: 0,
      other: 1,
      weird: { eve_bad_json: 1, line_too_long: 1 },
    });
    const idm = new IdentityMap();
    const w = ingestText(
      'json',
      '{"@timestamp":"2024-01-18T09:00:00Z","winlog":{"event_id":4624,"event_data":{"TargetUserName":"bob","IpAddress":"10.0.0.4"}}}',
      { emitter: { raise() {} }, identity: idm },
    );
    assert.deepEqual([w.identities, idm.who('10.0.0.4', Date.UTC(2024, 0, 18, 9, 30))], [1, 'bob']);
    const j = ingestText('json', '[{"rule":{"name":"a"}},{"x":1},3]', { emitter: { raise() {} } });
    assert.deepEqual(j, {
      accepted: 3,
      alerts: 1,
      identities: 0,
      other: 0,
      weird: { webhook_unmapped: 1, webhook_not_object: 1 },
    });
  });
});

describe('syslog stream framing (RFC 6587)', () => {
  const frame = (m: string, octet: boolean): string => (octet ? `${Buffer.byteLength(m)} ${m}` : `${m}\n`);

  it('delivers the same messages whatever the chunking, octet-counted or LF-framed, mixed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 80 }), fc.boolean()), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (msgs, cuts) => {
          // Delimited messages cannot hold their delimiters, nor start with a digit (it would
          // read as a length); octet-counted ones may hold anything.
          const items = msgs.map(([m, o]) => [o ? m : `<13>${m.replace(/[\n\0\r]/g, ' ')}`, o] as const);
          const stream = Buffer.from(items.map(([m, o]) => frame(m, o)).join(''));
          const got: string[] = [];
          const f = new SyslogFramer((b) => got.push(b.toString()), 1024);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          let p = 0;
          for (const c of [...points, stream.length]) {
            f.push(stream.subarray(p, c));
            p = c;
          }
          f.end();
          const want = items.map(([m]) => m.replace(/[\n\r\0]+$/, '')).filter((m) => m !== '');
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: runs(800) },
    );
  });

  it('cuts an over-long message at the bound and keeps the next one', () => {
    for (const octet of [true, false]) {
      const got: string[] = [];
      const f = new SyslogFramer((b) => got.push(b.toString()), 1000);
      const long = `<13>${'a'.repeat(5000)}`;
      const stream = Buffer.from(frame(long, octet) + frame('<13>next', octet));
      for (let i = 0; i < stream.length; i += 333) f.push(stream.subarray(i, i + 333));
      assert.deepEqual(got, [long.slice(0, 1000), '<13>next'], `octet=${octet}`);
      assert.equal(f.counters.truncated, 1);
    }
  });
});

describe('identity map', () => {
  const id = (
    ts: number,
    ip: string | null,
    user: string,
    event: IdentityEvent['event'],
    session: string | null = null,
  ): IdentityEvent => ({
    kind: 'identity',
    ts,
    ip,
    user,
    domain: null,
    mac: null,
    source: 'radius',
    event,
    session,
  });

  it('answers who was at an address at a time, with history', () => {
    const m = new IdentityMap();
    m.observe(id(100, '10.0.0.5', 'alice', 'start', 's1'));
    m.observe(id(200, null, 'alice', 'stop', 's1'));
    m.observe(id(300, '10.0.0.5', 'bob', 'start'));
    m.observe(id(400, '10.0.0.5', 'carol', 'start')); // bob's span ends when carol takes the address
    assert.equal(m.who('10.0.0.5', 50), null);
    assert.equal(m.who('10.0.0.5', 150), 'alice');
    assert.equal(m.who('10.0.0.5', 250), null);
    assert.equal(m.who('10.0.0.5', 350), 'bob');
    assert.equal(m.who('10.0.0.5', 10_000), 'carol');
    assert.equal(m.history('10.0.0.5').length, 3);
  });

  it('stays bounded: addresses and spans beyond the caps are evicted and counted', () => {
    const m = new IdentityMap({ maxIps: 100, historyPerIp: 4 });
    for (let i = 0; i < 1000; i++) m.observe(id(i, `10.0.${i >> 8}.${i & 255}`, `u${i}`, 'start'));
    for (let i = 0; i < 10; i++) m.observe(id(2000 + i, '10.9.9.9', `v${i}`, 'start'));
    assert.equal(m.size, 100);
    assert.equal(m.history('10.9.9.9').length, 4);
    assert.equal(m.counters.evictedIps, 901);
    assert.equal(m.counters.evictedSpans, 6);
  });
});

describe('events config', () => {
  const bad = (raw: unknown, key: string): void => {
    assert.throws(
      () => parseEventsConfig(raw),
      (e: unknown) => e instanceof ConfigError && e.key === key,
      `expected an error naming ${key}`,
    );
  };

  it("accepts Suricata's socket filetypes as the socket type", () => {
    const c = parseEventsConfig({
      eve: [
        { socket: '/run/suricata/eve.sock', type: 'unix_dgram' },
        { socket: '/run/suricata/eve2.sock', type: 'unix_stream' },
      ],
    });
    assert.deepEqual(
      c.eve.map((e) => ('socket' in e ? [e.type, e.key] : [])),
      [
        ['dgram', 'events.eve[0]'],
        ['stream', 'events.eve[1]'],
      ],
    );
  });

  it('accepts the documented shape with defaults', () => {
    const c = parseEventsConfig({
      eve: [{ path: '/var/log/suricata/eve.json' }, { socket: '/run/suricata/eve.sock', type: 'stream' }],
      syslog: [{ listen: 'udp://0.0.0.0:5514' }, { listen: 'tcp://[::1]:6514', format: 'cef' }],
      webhook: { mapping: { title: 'alert.name' } },
      radius: { listen: '0.0.0.0:1813', secret: 's3cret' },
    });
    assert.deepEqual(c.eve[0], {
      path: '/var/log/suricata/eve.json',
      from: 'start',
      pollMs: 250,
      maxLine: 65536,
    });
    assert.deepEqual(
      [c.syslog[1]!.transport, c.syslog[1]!.host, c.syslog[1]!.port, c.syslog[1]!.format],
      ['tcp', '::1', 6514, 'cef'],
    );
    assert.equal(c.syslog[0]!.maxMessage, 65536);
    assert.deepEqual(c.webhook.rawMapping.title, 'alert.name');
    assert.deepEqual(c.radius, [{ host: '0.0.0.0', port: 1813, secret: 's3cret' }]);
  });

  it('names the exact key at fault', () => {
    bad([], 'events');
    bad({ evee: [] }, 'events.evee');
    bad({ eve: [{ path: '' }] }, 'events.eve[0].path');
    bad({ eve: [{ path: '/x', from: 'middle' }] }, 'events.eve[0].from');
    bad({ eve: [{ socket: '/x', type: 'fifo' }] }, 'events.eve[0].type');
    bad({ syslog: [{ listen: 'udp://0.0.0.0:5514' }, { listen: 'http://x:1' }] }, 'events.syslog[1].listen');
    bad({ syslog: [{ listen: 'udp://0.0.0.0:70000' }] }, 'events.syslog[0].listen');
    bad({ syslog: [{ listen: 'udp://0.0.0.0:514', format: 'json' }] }, 'events.syslog[0].format');
    bad({ syslog: [{ listen: 'tls://0.0.0.0:6514' }] }, 'events.syslog[0].cert');
    bad(
      { syslog: [{ listen: 'tls://0.0.0.0:6514', cert: '/nonexistent.pem', key: '/x' }] },
      'events.syslog[0].cert',
    );
    bad({ syslog: [{ listen: 'udp://0.0.0.0:514', maxMessage: 10 }] }, 'events.syslog[0].maxMessage');
    bad({ webhook: { mapping: { titel: 'x' } } }, 'events.webhook.mapping.titel');
    bad({ webhook: { mapping: { title: 'a..b' } } }, 'events.webhook.mapping.title');
    bad({ radius: { listen: '0.0.0.0:1813' } }, 'events.radius.secret');
    bad({ radius: [{ listen: 'x', secret: 's' }] }, 'events.radius[0].listen');
    bad({ identity: { maxIps: 0 } }, 'events.identity.maxIps');
  });
});
