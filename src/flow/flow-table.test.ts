import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { feedFrames } from '../../test/support/l7-kit.js';
import { eth, ipv4, tcp, udp, vxlan } from '../../test/support/packets.js';
import type { FlowRecord } from '../schema/records.js';
import { Sensor, type SensorRecord } from './sensor.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const PSH = 0x08;

function run(frames: [number, number[]][], cfg = {}): FlowRecord[] {
  const out: SensorRecord[] = [];
  const s = new Sensor((r) => out.push(r), cfg);
  feedFrames(s, frames);
  s.finish();
  return out.filter((r): r is FlowRecord => r.type === 'flow');
}

const c2s = (flags: number, seq: number, ack: number, payload: number[] = []): number[] =>
  eth(
    0x0800,
    ipv4(
      { proto: 6, src: '10.0.0.1', dst: '10.0.0.2' },
      tcp({ sport: 40000, dport: 80, seq, ack, flags }, payload),
    ),
  );
const s2c = (flags: number, seq: number, ack: number, payload: number[] = []): number[] =>
  eth(
    0x0800,
    ipv4(
      { proto: 6, src: '10.0.0.2', dst: '10.0.0.1' },
      tcp({ sport: 80, dport: 40000, seq, ack, flags }, payload),
    ),
  );

describe('flow table', () => {
  test('TCP handshake RTT split, server response time, per-direction counters', () => {
    const flows = run([
      [0.0, c2s(SYN, 100, 0)],
      [0.01, s2c(SYN | ACK, 500, 101)],
      [0.013, c2s(ACK, 101, 501)],
      [0.02, c2s(PSH | ACK, 101, 501, new Array(100).fill(65))],
      [0.07, s2c(PSH | ACK, 501, 201, new Array(300).fill(66))],
      [0.08, c2s(FIN | ACK, 201, 801)],
      [0.09, s2c(FIN | ACK, 801, 202)],
      [0.1, c2s(ACK, 202, 802)],
    ]);
    assert.equal(flows.length, 1);
    const f = flows[0]!;
    assert.deepEqual(
      [f.client_ip, f.client_port, f.server_ip, f.server_port, f.client_packets, f.server_packets],
      ['10.0.0.1', 40000, '10.0.0.2', 80, 5, 3],
    );
    assert.equal(f.rtt_server_ms, 10);
    assert.equal(f.rtt_client_ms, 3);
    assert.equal(f.srt_ms, 50);
    assert.equal(f.client_payload_bytes, 100);
    assert.equal(f.server_payload_bytes, 300);
    assert.equal(f.client_tcp_flags, 'FSPA');
    assert.equal(f.end_reason, 'fin');
    assert.equal(f.first_ts, '2023-11-14T22:13:20.000000000Z');
  });

  test('the client is the SYN sender even when the SYN/ACK is seen first', () => {
    const flows = run([
      [0.0, s2c(SYN | ACK, 500, 101)],
      [0.001, c2s(ACK, 101, 501)],
    ]);
    assert.equal(flows[0]!.client_ip, '10.0.0.1');
    assert.equal(flows[0]!.rtt_ms, null);
  });

  test('the same inner 5-tuple mirrored from two VXLAN networks stays two flows', () => {
    const inner = eth(0x0800, ipv4({ proto: 17, src: '10.1.1.1', dst: '10.1.1.2' }, udp(5000, 53, [1])));
    const wrap = (vni: number): number[] =>
      eth(
        0x0800,
        ipv4({ proto: 17, src: '172.31.0.1', dst: '172.31.0.9' }, udp(40000, 4789, vxlan(vni, inner))),
      );
    const flows = run([
      [0, wrap(100)],
      [0.1, wrap(200)],
      [0.2, wrap(100)],
    ]);
    assert.equal(flows.length, 2);
    const byVni = Object.fromEntries(flows.map((f) => [f.vni, f.client_packets]));
    assert.deepEqual(byVni, { 100: 2, 200: 1 });
    assert.equal(flows[0]!.tunnel, 'vxlan');
    assert.equal(flows[0]!.tunnel_outer_src, '172.31.0.1');
    // with tunnel keying off they merge
    assert.equal(
      run(
        [
          [0, wrap(100)],
          [0.1, wrap(200)],
        ],
        { keyTunnel: false },
      ).length,
      1,
    );
  });

  test('IP fragments are attributed to their flow, even when a later fragment comes first', () => {
    const first = eth(0x0800, ipv4({ proto: 17, id: 9, mf: true }, udp(5353, 53, new Array(32).fill(0), 72)));
    const second = eth(0x0800, ipv4({ proto: 17, id: 9, fragOffset: 40 }, new Array(32).fill(1)));
    for (const order of [
      [first, second],
      [second, first],
    ]) {
      const flows = run([
        [0, order[0]!],
        [0.001, order[1]!],
      ]);
      assert.equal(flows.length, 1);
      assert.equal(flows[0]!.client_packets, 2);
      assert.equal(flows[0]!.fragments, 2);
      assert.equal(flows[0]!.client_ip_bytes, 60 + 52);
    }
  });

  test('idle timeout splits a flow; active timeout emits interim records whose sums are the totals', () => {
    const pkt = eth(0x0800, ipv4({ proto: 17 }, udp(1, 2, [0])));
    const idle = run([
      [0, pkt],
      [100, pkt],
    ]);
    assert.deepEqual(
      idle.map((f) => [f.client_packets, f.end_reason]),
      [
        [1, 'idle'],
        [1, 'end_of_capture'],
      ],
    );
    const frames: [number, number[]][] = [];
    for (let t = 0; t < 50; t++) frames.push([t, pkt]);
    const active = run(frames, { activeTimeout: 10 });
    assert.ok(active.length >= 4);
    assert.ok(active.slice(0, -1).every((f) => f.interim));
    assert.equal(
      active.reduce((s, f) => s + f.client_packets, 0),
      50,
    );
  });

  test('each flow ends at the first sweep after its last packet plus its timeout (UDP idle, TCP idle, TCP closed)', () => {
    // Defaults: UDP idle 60 s, TCP idle 300 s, 5 s after FIN both ways; a sweep each second.
    const clock = eth(0x0800, ipv4({ proto: 17, src: '10.9.9.9', dst: '10.9.9.8' }, udp(9, 9, [0])));
    const dgram = eth(0x0800, ipv4({ proto: 17, src: '10.0.0.3', dst: '10.0.0.4' }, udp(5000, 53, [1])));
    const frames: [number, number[]][] = [
      [0.5, dgram],
      [30.25, dgram], // UDP: due at 90.25
      [10.0, c2s(SYN, 100, 0)],
      [10.01, s2c(SYN | ACK, 500, 101)],
      [10.02, c2s(ACK, 101, 501)],
      [10.03, c2s(FIN | ACK, 101, 501)],
      [10.04, s2c(FIN | ACK, 501, 102)],
      [12.5, c2s(ACK, 102, 502)], // the last ACK after both FINs: due at 17.5
    ];
    const open = (sport: number, t: number): [number, number[]] => [
      t,
      eth(
        0x0800,
        ipv4(
          { proto: 6, src: '10.0.0.5', dst: '10.0.0.6' },
          tcp({ sport, dport: 22, seq: 1, ack: 1, flags: ACK }, [1]),
        ),
      ),
    ];
    frames.push(open(41000, 20.75), open(41000, 40)); // TCP idle: due at 340
    for (let t = 1; t <= 400; t++) frames.push([t, clock]);
    frames.sort((a, b) => a[0] - b[0]);
    const ended: [string, number, string][] = [];
    let now = 0;
    const s = new Sensor((r) => {
      if (r.type === 'flow')
        ended.push([String((r as FlowRecord).client_ip), now, String((r as FlowRecord).end_reason)]);
    });
    feedFrames(s, frames, (t) => {
      now = t;
    });
    now = -1;
    s.finish();
    // Sweeps run at the clock's whole seconds (the first at 0.5 s, then once t passes the next).
    assert.deepEqual(ended, [
      ['10.0.0.1', 18, 'fin'],
      ['10.0.0.3', 91, 'idle'],
      ['10.0.0.5', 340.0, 'idle'],
      ['10.9.9.9', -1, 'end_of_capture'],
    ]);
  });

  test('a new SYN after the connection closed starts a new flow (port reuse)', () => {
    const flows = run([
      [0.0, c2s(SYN, 100, 0)],
      [0.01, s2c(SYN | ACK, 500, 101)],
      [0.02, c2s(ACK, 101, 501)],
      [0.03, c2s(FIN | ACK, 101, 501)],
      [0.04, s2c(FIN | ACK, 501, 102)],
      [1.0, c2s(SYN, 9000, 0)],
      [1.01, s2c(SYN | ACK, 7000, 9001)],
    ]);
    assert.equal(flows.length, 2);
    assert.equal(flows[0]!.end_reason, 'port_reuse');
    assert.equal(flows[1]!.client_packets, 1);
  });

  test('ICMP echo request and reply share a flow keyed by identifier', () => {
    const echo = (type: number, src: string, dst: string, id: number): number[] =>
      eth(0x0800, ipv4({ proto: 1, src, dst }, [type, 0, 0, 0, id >> 8, id & 255, 0, 1]));
    const flows = run([
      [0, echo(8, '10.0.0.1', '10.0.0.2', 7)],
      [0.001, echo(0, '10.0.0.2', '10.0.0.1', 7)],
      [0.002, echo(8, '10.0.0.1', '10.0.0.2', 8)],
    ]);
    assert.equal(flows.length, 2);
    const f = flows.find((x) => x.server_packets === 1)!;
    assert.deepEqual([f.client_ip, f.icmp_type, f.client_packets], ['10.0.0.1', 8, 1]);
    assert.equal(f.community_id, flows[1]!.community_id);
  });
});

describe('time going backwards between inputs', () => {
  test('a flow from a later input with older timestamps keeps its inter-packet statistics', () => {
    const pkt = (src: string): number[] =>
      eth(0x0800, ipv4({ proto: 17, src, dst: '10.9.9.9' }, udp(1, 2, [0])));
    // first input in 2023, second in 2010: relative times of the second are negative
    const flows = run([
      [700_000_000, pkt('10.0.0.1')],
      [-300_000_000, pkt('10.0.0.2')],
      [-299_999_999, pkt('10.0.0.2')],
      [-299_999_998, pkt('10.0.0.2')],
    ]);
    const f = flows.find((x) => x.client_ip === '10.0.0.2')!;
    assert.equal(f.client_packets, 3);
    assert.equal(f.client_ipd_mean_ms, 1000);
    assert.equal(f.client_jitter_ms, 0);
  });
});
