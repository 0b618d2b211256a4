import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytes, eth, ethVlans, gre, ipv4, ipv6, tcp, udp, v6, vxlan } from '../../test/support/packets.js';
import { Decoder } from './decoder.js';
import type { Packet } from './packet.js';
import { TUNNEL_GRE, TUNNEL_VXLAN } from './packet.js';
import { WEIRD_NAMES } from './weird.js';

const dec = new Decoder();
function decode(frame: number[], linkType = 1): Packet {
  const b = bytes(frame);
  return dec.decodeBytes(b, 0, b.length, b.length, linkType, 1_700_000_000, 0, 0);
}
const weird = (p: Packet): string => WEIRD_NAMES[p.weird]!;
const SYN = 0x02;
const ACK = 0x10;

describe('decoder', () => {
  test('Ethernet / IPv4 / TCP with options (MSS, window scale, SACK permitted, timestamps)', () => {
    // tcpdump: 10.0.0.1.40000 > 10.0.0.2.443: Flags [S], seq 1000, win 65535,
    //   options [mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7]
    const opts = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0, 1, 3, 3, 7];
    const p = decode(
      eth(
        0x0800,
        ipv4({ proto: 6 }, tcp({ sport: 40000, dport: 443, seq: 1000, flags: SYN, options: opts })),
      ),
    );
    assert.equal(weird(p), 'none');
    assert.deepEqual(
      [
        p.ipVer,
        p.proto,
        p.srcPort,
        p.dstPort,
        p.seq,
        p.tcpFlags,
        p.mss,
        p.wscale,
        p.sackPerm,
        p.tsVal,
        p.tsEcr,
      ],
      [4, 6, 40000, 443, 1000, SYN, 1460, 7, true, 7, 0],
    );
    assert.equal(p.payloadLen, 0);
    assert.equal(p.ipLen, 20 + 40);
  });

  test('802.1Q, QinQ (802.1ad) and the legacy 0x9100 outer tag', () => {
    const inner = ipv4({ proto: 17 }, udp(1, 53, [1, 2, 3]));
    let p = decode(ethVlans([[0x8100, 123]], 0x0800, inner));
    assert.deepEqual([p.vlanCount, p.vlan0, p.srcPort, p.dstPort], [1, 123, 1, 53]);
    p = decode(
      ethVlans(
        [
          [0x88a8, 201],
          [0x8100, 200],
        ],
        0x0800,
        inner,
      ),
    );
    assert.deepEqual([p.vlanCount, p.vlan0, p.vlan1, p.payloadLen], [2, 201, 200, 3]);
    p = decode(
      ethVlans(
        [
          [0x9100, 7],
          [0x8100, 8],
        ],
        0x0800,
        inner,
      ),
    );
    assert.deepEqual([p.vlan0, p.vlan1], [7, 8]);
  });

  test('MPLS label stack, then IPv4 by the first nibble', () => {
    const ip = ipv4({ proto: 17 }, udp(5, 6, []));
    const labels = [0x00, 0x01, 0xd0, 0x40, 0x00, 0x02, 0x01, 0x40]; // 29 (not bottom), 32 (bottom)
    const p = decode(eth(0x8847, [...labels, ...ip]));
    assert.deepEqual([p.mplsCount, p.mplsLabel, p.ipVer, p.dstPort], [2, 29, 4, 6]);
  });

  test('PPPoE session carrying IPv6', () => {
    const ip = ipv6(v6(1), v6(2), 17, udp(546, 547, [9, 9]));
    const pppoe = [0x11, 0x00, 0x12, 0x34, 0, ip.length + 2, 0x00, 0x57, ...ip];
    const p = decode(eth(0x8864, pppoe));
    assert.deepEqual([p.pppoeSession, p.ipVer, p.srcPort, p.dstPort, p.payloadLen], [0x1234, 6, 546, 547, 2]);
  });

  test('IPv4 header options and fragments', () => {
    const opt = [0x94, 0x04, 0, 0]; // router alert
    let p = decode(
      eth(
        0x0800,
        ipv4({ proto: 17, options: opt, id: 77, mf: true }, udp(1000, 53, new Array(40).fill(1), 1000)),
      ),
    );
    assert.deepEqual([p.ipHdrLen, p.ipId, p.moreFrags, p.fragOffset, p.srcPort], [24, 77, true, 0, 1000]);
    p = decode(eth(0x0800, ipv4({ proto: 17, id: 77, fragOffset: 48 }, new Array(30).fill(2))));
    assert.deepEqual([p.fragOffset, p.l4Off, p.payloadLen, weird(p)], [48, -1, 30, 'none']);
  });

  test('IPv6 extension headers (hop-by-hop, destination options) and fragment header', () => {
    const hbh = [60, 0, 5, 2, 0, 0, 1, 0]; // next: destination options
    const dst = [44, 0, 1, 4, 0, 0, 0, 0]; // next: fragment
    const frag = [6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]; // offset 0, M=1, id
    const seg = tcp({ sport: 22, dport: 5000, flags: ACK }, [1, 2, 3, 4]);
    const p = decode(eth(0x86dd, ipv6(v6(1), v6(2), 0, [...hbh, ...dst, ...frag, ...seg])));
    assert.deepEqual(
      [p.proto, p.ipHdrLen, p.moreFrags, p.ipId, p.srcPort, p.payloadLen],
      [6, 64, true, 0xdeadbeef, 22, 4],
    );
  });

  test('GRE with key carrying IPv4, decapsulated with the carrier kept', () => {
    const inner = ipv4(
      { proto: 6, src: '192.168.1.1', dst: '192.168.1.2' },
      tcp({ sport: 1, dport: 22, flags: SYN }),
    );
    const p = decode(
      eth(0x0800, ipv4({ proto: 47, src: '1.1.1.1', dst: '2.2.2.2' }, gre(0x0800, inner, 42))),
    );
    assert.equal(p.tunnelType, TUNNEL_GRE);
    assert.equal(p.greKey, 42);
    assert.equal(p.buf.readUInt32BE(p.outerSrcOff), 0x01010101);
    assert.equal(p.buf.readUInt32BE(p.srcOff), 0xc0a80101);
    assert.deepEqual([p.proto, p.dstPort], [6, 22]);
  });

  test('VXLAN: inner Ethernet/VLAN frame, VNI kept, outer VLAN moved aside', () => {
    const inner = ethVlans([[0x8100, 10]], 0x0800, ipv4({ proto: 17 }, udp(3333, 53, [0])));
    const outer = ethVlans(
      [[0x8100, 99]],
      0x0800,
      ipv4({ proto: 17, src: '172.16.0.1', dst: '172.16.0.2' }, udp(50000, 4789, vxlan(5001, inner))),
    );
    const p = decode(outer);
    assert.deepEqual(
      [p.tunnelType, p.vni, p.outerVlan, p.vlan0, p.srcPort, p.dstPort],
      [TUNNEL_VXLAN, 5001, 99, 10, 3333, 53],
    );
  });

  test('Geneve carrying an Ethernet frame', () => {
    const inner = eth(0x0800, ipv4({ proto: 17 }, udp(1, 2, [])));
    const gen = [0x00, 0x00, 0x65, 0x58, 0x00, 0x01, 0x02, 0x00, ...inner];
    const p = decode(eth(0x0800, ipv4({ proto: 17 }, udp(9999, 6081, gen))));
    assert.deepEqual([p.vni, p.srcPort, p.dstPort], [0x102, 1, 2]);
  });

  test('link types: raw IP, BSD loopback, Linux SLL', () => {
    const ip = ipv4({ proto: 17 }, udp(7, 8, []));
    assert.equal(decode(ip, 101).dstPort, 8);
    assert.equal(decode([2, 0, 0, 0, ...ip], 0).dstPort, 8);
    assert.equal(decode([0, 0, 0, 2, ...ip], 108).dstPort, 8);
    const sll = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    const p = decode([...sll, ...ip], 113);
    assert.deepEqual([p.dstPort, p.srcMacOff], [8, 6]);
  });

  test('malformed input becomes a named weird, never an exception', () => {
    assert.equal(weird(decode([1, 2, 3])), 'truncated_link_header');
    assert.equal(weird(decode(eth(0x0800, [0x45, 0, 0]))), 'truncated_ipv4_header');
    assert.equal(weird(decode(eth(0x0800, ipv4({ proto: 6 }, [0, 1, 0, 2])))), 'truncated_tcp_header');
    assert.equal(weird(decode(eth(0x0800, [0x55, ...new Array(30).fill(0)]))), 'bad_ip_version');
    assert.equal(
      weird(decode(eth(0x0800, ipv4({ proto: 17, totalLength: 9000 }, udp(1, 2, []))))),
      'ipv4_total_length_exceeds_frame',
    );
    assert.equal(weird(decode(eth(0x0800, ipv4({ proto: 17 }, udp(1, 2, [], 400))))), 'udp_bad_length');
    const badOff = tcp({ sport: 1, dport: 2, flags: ACK });
    badOff[12] = 0x20; // data offset 8 bytes
    assert.equal(weird(decode(eth(0x0800, ipv4({ proto: 6 }, badOff)))), 'tcp_bad_data_offset');
    assert.equal(weird(decode(eth(0x86dd, [0x60, 0, 0]))), 'truncated_ipv6_header');
    assert.equal(weird(decode([0, 0, 0, 0], 147)), 'unknown_link_type');
    // The packet still yields what was decoded: the truncated UDP datagram keeps its ports.
    const p = decode(eth(0x0800, ipv4({ proto: 17, totalLength: 9000 }, udp(1, 2, []))));
    assert.deepEqual([p.srcPort, p.dstPort], [1, 2]);
  });

  test('tunnels nested too deep are flagged', () => {
    let pkt = ipv4({ proto: 17 }, udp(1, 2, []));
    for (let i = 0; i < 6; i++) pkt = ipv4({ proto: 4 }, pkt);
    assert.equal(weird(decode(pkt, 101)), 'tunnel_too_deep');
  });
});
