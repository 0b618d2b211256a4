import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { feedFrames } from '../../../test/support/l7-kit.js';
import { eth, ipv4, tcp, udp } from '../../../test/support/packets.js';
import { Sensor, type SensorRecord } from '../../flow/sensor.js';
import { FlowNotes } from '../flow-notes.js';
import { createDnsAnalyzer, type DnsConfig, type DnsRecord } from './analyzer.js';
import { DnsNameCache } from './name-cache.js';
import { dnsMessage, PTR_QNAME, rr, u16 } from './testing.js';

const C = '10.0.0.1';
const S = '10.0.0.53';

function run(frames: [number, number[]][], cfg: Partial<DnsConfig> = {}) {
  const out: SensorRecord[] = [];
  const s = new Sensor((r) => out.push(r));
  const names = new DnsNameCache();
  const notes = new FlowNotes();
  const dns = createDnsAnalyzer((r) => out.push(r), { names, notes }, cfg);
  s.addHook(dns);
  feedFrames(s, frames);
  s.finish();
  const recs = out.filter((r) => r.type === 'dns') as unknown as DnsRecord[];
  const weird = out.filter((r) => r.type === 'weird').map((r) => String((r as { name?: unknown }).name));
  return { recs, weird, names, dns };
}

const q = (id: number, name: string, type = 1) => dnsMessage({ id, flags: 0x0100, qd: [[name, type]] });
const a = (id: number, name: string, addr: number[], rcode = 0) =>
  dnsMessage({
    id,
    flags: 0x8180 | rcode,
    qd: [[name, 1]],
    an: addr.length ? [rr({ name: PTR_QNAME, type: 1, rdata: addr })] : [],
  });
const c2s = (msg: number[], sport = 40000) =>
  eth(0x0800, ipv4({ proto: 17, src: C, dst: S }, udp(sport, 53, msg)));
const s2c = (msg: number[], dport = 40000) =>
  eth(0x0800, ipv4({ proto: 17, src: S, dst: C }, udp(53, dport, msg)));

describe('DNS analyzer', () => {
  test('query and response become one transaction with its RTT', () => {
    const { recs, names } = run([
      [0, c2s(q(7, 'www.example.com'))],
      [0.0125, s2c(a(7, 'www.example.com', [192, 0, 2, 7]))],
    ]);
    assert.equal(recs.length, 1);
    const r = recs[0]!;
    assert.equal(r.status, 'answered');
    assert.equal(r.query, 'www.example.com');
    assert.equal(r.qtype_name, 'A');
    assert.equal(r.rcode_name, 'NoError');
    assert.equal(r.rtt_ms, 12.5);
    assert.equal(r.client_ip, C);
    assert.equal(r.server_port, 53);
    assert.equal(r.rd, true);
    assert.equal(r.ra, true);
    assert.deepEqual(r.answers, [
      { name: 'www.example.com', type: 1, type_name: 'A', ttl: 300, data: '192.0.2.7' },
    ]);
    assert.equal(names.lookup('192.0.2.7'), 'www.example.com');
  });

  test('a retransmitted query is a transaction of its own; the response answers the first', () => {
    const { recs } = run([
      [0, c2s(q(9, 'a.test'))],
      [1, c2s(q(9, 'a.test'))],
      [1.5, s2c(a(9, 'a.test', [], 3))],
    ]);
    assert.deepEqual(
      recs.map((r) => [r.status, r.rcode, r.rtt_ms]),
      [
        ['answered', 3, 1500],
        ['unanswered', null, null],
      ],
    );
  });

  test('a response for another name does not pair; the query times out in packet time', () => {
    const { recs } = run(
      [
        [0, c2s(q(1, 'one.test'))],
        [0.1, s2c(a(1, 'two.test', [1, 1, 1, 1]))],
        [30, c2s(q(2, 'late.test'), 40001)],
      ],
      { timeoutSec: 5 },
    );
    assert.deepEqual(
      recs.map((r) => [r.status, r.query]),
      [
        ['unsolicited', 'two.test'],
        ['unanswered', 'one.test'],
        ['unanswered', 'late.test'],
      ],
    );
    // The unsolicited response is oriented from the asker's side.
    assert.equal(recs[0]!.client_ip, C);
  });

  test('DNS over TCP: two messages in one segment, one message across two segments', () => {
    const m1 = q(1, 'x.test');
    const m2 = q(2, 'y.test');
    const r1 = a(1, 'x.test', [10, 1, 1, 1]);
    const r2 = a(2, 'y.test', [10, 2, 2, 2]);
    const framed = (m: number[]) => [...u16(m.length), ...m];
    const req = [...framed(m1), ...framed(m2)];
    const rsp = [...framed(r1), ...framed(r2)];
    const cut = 20;
    const ct = (flags: number, seq: number, ack: number, pl: number[] = []) =>
      eth(0x0800, ipv4({ proto: 6, src: C, dst: S }, tcp({ sport: 40000, dport: 53, seq, ack, flags }, pl)));
    const st = (flags: number, seq: number, ack: number, pl: number[] = []) =>
      eth(0x0800, ipv4({ proto: 6, src: S, dst: C }, tcp({ sport: 53, dport: 40000, seq, ack, flags }, pl)));
    const { recs } = run([
      [0, ct(0x02, 100, 0)],
      [0.001, st(0x12, 500, 101)],
      [0.002, ct(0x10, 101, 501)],
      [0.003, ct(0x18, 101, 501, req)],
      [0.01, st(0x18, 501, 101 + req.length, rsp.slice(0, cut))],
      [0.02, st(0x18, 501 + cut, 101 + req.length, rsp.slice(cut))],
    ]);
    assert.deepEqual(
      recs.map((r) => [r.status, r.query, r.proto, r.answers[0]?.data]),
      [
        ['answered', 'x.test', 6, '10.1.1.1'],
        ['answered', 'y.test', 6, '10.2.2.2'],
      ],
    );
  });

  test('a response in two IPv4 fragments is reassembled', () => {
    const big = Array.from({ length: 40 }, (_, i) => rr({ name: PTR_QNAME, type: 1, rdata: [10, 0, 0, i] }));
    const rsp = dnsMessage({ id: 5, flags: 0x8180, qd: [['frag.test', 1]], an: big });
    const dgram = udp(53, 40000, rsp);
    const cut = 480; // multiple of 8
    const f1 = eth(0x0800, ipv4({ proto: 17, src: S, dst: C, id: 77, mf: true }, dgram.slice(0, cut)));
    const f2 = eth(0x0800, ipv4({ proto: 17, src: S, dst: C, id: 77, fragOffset: cut }, dgram.slice(cut)));
    const { recs, dns } = run([
      [0, c2s(q(5, 'frag.test'))],
      [0.01, f2],
      [0.011, f1],
    ]);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.status, 'answered');
    assert.equal(recs[0]!.answers.length, 40);
    assert.equal(dns.counters.responses, 1);
  });

  test('malformed messages are recorded as weird, never thrown', () => {
    const loop = [...q(3, 'l.test').slice(0, 12), 0xc0, 12, 0, 1, 0, 1];
    const { recs, weird } = run([
      [0, c2s([1, 2, 3])],
      [0.1, c2s(loop, 40002)],
    ]);
    assert.deepEqual(weird.sort(), ['dns_name_pointer_loop', 'dns_truncated_header']);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.query, null);
  });

  test('mDNS multicast queries are recorded at once', () => {
    const m = eth(
      0x0800,
      ipv4({ proto: 17, src: C, dst: '224.0.0.251' }, udp(5353, 5353, q(0, 'printer.local', 12))),
    );
    const { recs } = run([[0, m]]);
    assert.deepEqual(
      recs.map((r) => [r.service, r.status, r.qtype_name]),
      [['mdns', 'unanswered', 'PTR']],
    );
  });
});
