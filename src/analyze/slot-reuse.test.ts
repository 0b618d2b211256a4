import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alpnExt,
  clientHelloMsg,
  oneFlow,
  records,
  serverHelloMsg,
  sniExt,
} from '../../test/support/l7-kit.js';
import { Packet, TCP_ACK, TCP_SYN } from '../decode/packet.js';
import { createHttpAnalyzer } from './http/analyzer.js';
import { createTlsAnalyzer } from './tls/analyzer.js';
import type { Analyzer, FlowLookup } from './types.js';

/**
 * TLS and HTTP keep a flow slot's state for the slot's next flow (typed-array rows, refilled
 * objects, reassembly rows, message buffers handed on). A slot's second flow must read as it
 * does in a fresh analyzer, whether its first flow ended (its end seen) or was replaced without
 * one, and whatever the first left half done. The truth is the second flow alone.
 */

/** The one slot's flow table: `gen` moves on for the slot's next flow. */
class OneSlot {
  gen = 1;
  readonly lookup: FlowLookup = oneFlow(6, () => this.gen);
}

/** A flow's packets: a SYN each way (no gap: what the slot kept is not reset by one), then `segs`. */
function feed(a: Analyzer, fl: OneSlot, segs: [number, Buffer][], seq0: number): void {
  const p = new Packet();
  const seq = [seq0, seq0 + 50_000];
  for (const dir of [0, 1]) {
    p.buf = Buffer.alloc(0);
    p.payloadOff = 0;
    p.payloadCapLen = 0;
    p.payloadLen = 0;
    p.proto = 6;
    p.tcpFlags = TCP_SYN;
    p.seq = seq[dir]!++ >>> 0;
    p.tsSec = 1_700_000_000;
    a.onPacket(p, fl.lookup, 0, dir);
  }
  for (const [dir, data] of segs) {
    p.buf = data;
    p.payloadOff = 0;
    p.payloadCapLen = data.length;
    p.payloadLen = data.length;
    p.proto = 6;
    p.tcpFlags = TCP_ACK;
    p.seq = seq[dir]! >>> 0;
    p.tsSec = 1_700_000_000;
    seq[dir]! += data.length;
    a.onPacket(p, fl.lookup, 0, dir);
  }
}

const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const CH = records(
  22,
  clientHelloMsg({ ciphers: [0x1301, 0xc02f], exts: [sniExt('second.example'), alpnExt(['h2'])] }),
  60,
);
const SH = records(22, serverHelloMsg({ cipher: 0xc02f, exts: [] }));
const CH1 = records(22, clientHelloMsg({ ciphers: [0x1302], exts: [sniExt('first.example')] }), 40);

/** What the first flow leaves behind: nothing, half a message head or body, half a hello. */
const FIRSTS: Record<string, [number, Buffer][][]> = {
  http: [
    [],
    [[0, B('POST /a HTTP/1.1\r\nHost: one\r\nContent-Length: 100\r\n\r\nabc')]],
    [[0, B('GET /b HTTP/1.1\r\nHo')]],
    [
      [0, B('GET /c HTTP/1.1\r\nHost: one\r\n\r\n')],
      [1, B('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\nxx')],
    ],
    // segments that are not HTTP, looked at for a message start
    Array.from({ length: 7 }, (): [number, Buffer] => [0, B('\x00not http')]),
  ],
  tls: [
    [],
    [[0, CH1.subarray(0, 50)]],
    [[0, CH1]],
    [
      [0, CH1],
      [1, SH.subarray(0, 20)],
    ],
    // the server's side encrypted after ChangeCipherSpec, the client's mid-record
    [
      [0, CH1],
      [1, SH],
      [1, records(20, B('\x01'))],
      [0, CH1.subarray(0, 30)],
    ],
    // segments that are not TLS, looked at while detecting
    Array.from({ length: 6 }, (): [number, Buffer] => [0, B('not tls at all')]),
  ],
};
const SECOND: Record<string, [number, Buffer][]> = {
  http: [
    [0, B('\x00junk')],
    [0, B('GET /second HTTP/1.1\r\nHost: two\r\nUser-Agent: u\r\n\r\n')],
    [1, B('HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno')],
  ],
  tls: [
    [0, B('junk')],
    [0, B('more junk')],
    [0, CH.subarray(0, 33)],
    [0, CH.subarray(33)],
    [1, SH],
    [1, records(20, B('\x01'))],
  ],
};
const make = (name: string, sink: (r: { type: string }) => void): Analyzer =>
  name === 'http' ? createHttpAnalyzer(sink) : createTlsAnalyzer(sink);
const shown = (r: { type: string }): string => JSON.stringify({ ...r, ts: null });

for (const name of ['http', 'tls']) {
  test(`${name}: a slot's next flow reads as in a fresh analyzer`, () => {
    const alone: string[] = [];
    const fresh = make(name, (r) => alone.push(shown(r)));
    const fl0 = new OneSlot();
    feed(fresh, fl0, SECOND[name]!, 7000);
    fresh.onFlowEnd!({ app: null }, 0, fl0.lookup);
    assert.ok(alone.some((r) => r.includes(name === 'http' ? '/second' : 'second.example')));
    for (const first of FIRSTS[name]!)
      for (const ended of [true, false]) {
        const got: string[] = [];
        let on = false;
        const a = make(name, (r) => {
          if (on) got.push(shown(r));
        });
        const fl = new OneSlot();
        feed(a, fl, first, 100);
        if (ended) a.onFlowEnd!({ app: null }, 0, fl.lookup);
        fl.gen = 2;
        on = true;
        feed(a, fl, SECOND[name]!, 7000);
        a.onFlowEnd!({ app: null }, 0, fl.lookup);
        assert.deepEqual(
          got,
          alone,
          `first ${JSON.stringify(first.map(([d, b]) => [d, b.length]))}, ended ${ended}`,
        );
      }
  });
}
