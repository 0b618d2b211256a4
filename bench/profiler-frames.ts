import { eth, ipv4, tcp, udp } from '../src/demo/packets.js';

const payload = Array.from({ length: 200 }, (_, i) => i & 255);

/** Frames the host profiler must pass over without work: TCP data and UDP on other ports. */
export function buildFrames(): [string, Buffer][] {
  return [
    [
      'a TCP data segment',
      Buffer.from(eth(0x0800, ipv4({ proto: 6 }, tcp({ sport: 443, dport: 50000, flags: 0x18 }, payload)))),
    ],
    ['a UDP datagram (port 443)', Buffer.from(eth(0x0800, ipv4({ proto: 17 }, udp(50001, 443, payload))))],
  ];
}
