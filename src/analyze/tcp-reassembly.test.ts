import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { TcpStreamsModel } from '../../test/support/tcp-streams-model.js';
import { Packet, TCP_ACK, TCP_SYN } from '../decode/packet.js';
import { TcpStreams } from './tcp-reassembly.js';

function seg(seq: number, data: string, flags = TCP_ACK, wireLen?: number): Packet {
  const p = new Packet();
  p.buf = Buffer.from(`xxxx${data}`, 'latin1');
  p.payloadOff = 4;
  p.payloadCapLen = data.length;
  p.payloadLen = wireLen ?? data.length;
  p.seq = seq >>> 0;
  p.tcpFlags = flags;
  return p;
}

/** Push a packet and consume the whole window; returns the bytes seen. */
function take(s: TcpStreams, p: Packet, keepFrom?: number): string | null {
  if (!s.push(1, 1, p)) return null;
  const out = s.buf.toString('latin1', s.start, s.end);
  s.keep(keepFrom === undefined ? s.end : s.start + keepFrom);
  return out;
}

describe('TcpStreams', () => {
  test('in-order segments are read in place, without a copy', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(99, '', TCP_SYN));
    const p = seg(100, 'hello');
    assert.equal(s.push(1, 1, p), true);
    assert.equal(s.buf, p.buf);
    assert.equal(s.gap, false);
    s.keep(s.end);
    assert.equal(take(s, seg(105, ' world')), ' world');
  });

  test('unconsumed bytes are kept and joined with the next segment', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0, '', TCP_SYN));
    assert.equal(take(s, seg(1, 'GET / HT'), 4), 'GET / HT');
    assert.equal(s.pendingBytes(1), 4);
    assert.equal(take(s, seg(9, 'TP/1.1')), '/ HTTP/1.1');
    assert.equal(s.pendingBytes(1), 0);
  });

  test('retransmissions are skipped and overlaps trimmed', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0, '', TCP_SYN));
    assert.equal(take(s, seg(1, 'abcd')), 'abcd');
    assert.equal(take(s, seg(1, 'abcd')), null);
    assert.equal(take(s, seg(3, 'cdef')), 'ef');
    assert.equal(s.gap, false);
  });

  test('a retransmitted SYN does not restart the stream, a new ISN does', () => {
    const s = new TcpStreams();
    assert.equal(take(s, seg(1, 'abcd')), 'abcd'); // picked up before the SYN was seen
    s.push(1, 1, seg(0, '', TCP_SYN));
    assert.equal(take(s, seg(1, 'abcd')), null);
    assert.equal(take(s, seg(5, 'ef')), 'ef');
    s.push(1, 1, seg(7000, '', TCP_SYN));
    assert.equal(take(s, seg(7001, 'new')), 'new');
    assert.equal(s.gap, false);
  });

  test('a gap is flagged with the number of bytes lost and drops what was pending', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0, '', TCP_SYN));
    take(s, seg(1, 'abcd'), 2); // keeps "cd"
    assert.equal(take(s, seg(15, 'xyz')), 'xyz');
    assert.equal(s.gap, true);
    assert.equal(s.lost, 10 + 2);
    assert.equal(take(s, seg(18, 'next')), 'next');
    assert.equal(s.gap, false);
  });

  test('a stream picked up mid-way starts with a gap of unknown size', () => {
    const s = new TcpStreams();
    assert.equal(take(s, seg(5000, 'mid')), 'mid');
    assert.equal(s.gap, true);
    assert.equal(s.lost, 0);
  });

  test('a sliced segment makes the next one follow a gap of the missing bytes', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0, '', TCP_SYN));
    assert.equal(take(s, seg(1, 'abc', TCP_ACK, 10)), 'abc');
    assert.equal(s.gap, false);
    assert.equal(take(s, seg(11, 'def')), 'def');
    assert.equal(s.gap, true);
    assert.equal(s.lost, 7);
  });

  test('pending bytes are bounded by the limit', () => {
    const s = new TcpStreams(16);
    s.push(1, 1, seg(0, '', TCP_SYN));
    take(s, seg(1, '0123456789'), 0); // keep all 10
    assert.equal(take(s, seg(11, 'abcdefghij')), 'abcdefghij');
    assert.equal(s.gap, true);
    assert.equal(s.overflows, 1);
    assert.ok(s.pendingBytes(1) <= 16);
  });

  test('sequence numbers wrap around', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0xfffffffd, '', TCP_SYN));
    assert.equal(take(s, seg(0xfffffffe, 'ab')), 'ab');
    assert.equal(take(s, seg(0, 'cd')), 'cd');
    assert.equal(s.gap, false);
  });

  test('a new generation of the slot starts a new stream', () => {
    const s = new TcpStreams();
    s.push(1, 1, seg(0, '', TCP_SYN));
    take(s, seg(1, 'ab'), 0);
    assert.equal(s.push(1, 2, seg(900, 'zz')), true);
    assert.equal(s.buf.toString('latin1', s.start, s.end), 'zz');
    s.drop(1);
    assert.equal(s.size, 0);
  });
});

/**
 * Streams live in typed-array rows by key, and pending buffers go back to a spare list when a
 * stream is dropped: checked against the object-per-direction model on random segments of
 * several keys and generations (retransmissions, gaps, SYNs, slices, keeps, drops, overflows).
 */
describe('TcpStreams against the object model', () => {
  test("a dropped stream's buffer serves another stream and is no longer its own", () => {
    const s = new TcpStreams();
    const at = (key: number, gen: number, p: Packet, keepFrom: number): string => {
      assert.equal(s.push(key, gen, p), true);
      const out = s.buf.toString('latin1', s.start, s.end);
      s.keep(s.start + keepFrom);
      return out;
    };
    s.push(0, 1, seg(0, '', TCP_SYN));
    at(0, 1, seg(1, 'abcdef'), 2); // keeps "cdef"
    s.drop(0);
    s.push(2, 1, seg(0, '', TCP_SYN));
    at(2, 1, seg(1, 'GET / HT'), 4); // keeps "/ HT", maybe in key 0's old buffer
    s.push(0, 2, seg(0, '', TCP_SYN));
    at(0, 2, seg(1, 'zzzzzz'), 1); // keeps "zzzzz"
    assert.equal(at(2, 1, seg(9, 'TP/1.1'), 10), '/ HTTP/1.1');
    assert.equal(at(0, 2, seg(7, 'y'), 6), 'zzzzzy');
  });

  const op = fc.oneof(
    fc.record({
      t: fc.constant('seg' as const),
      key: fc.integer({ min: 0, max: 3 }),
      gen: fc.integer({ min: 1, max: 3 }),
      /** Offset from the key's last sent sequence number: behind, at, or ahead of it. */
      dseq: fc.oneof(fc.constant(0), fc.integer({ min: -12, max: 12 })),
      len: fc.oneof(fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 1500 })),
      cut: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
      syn: fc.boolean(),
      keep: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 1500 })),
    }),
    fc.record({ t: fc.constant('drop' as const), key: fc.integer({ min: 0, max: 3 }) }),
  );
  test('same windows, gaps, losses, pending bytes and sizes as the model', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.constantFrom(16, 40, 3000, 5000), (ops, limit) => {
        const s = new TcpStreams(limit);
        const m = new TcpStreamsModel(limit);
        const sent = new Map<number, number>();
        let byte = 0;
        for (const o of ops) {
          if (o.t === 'drop') {
            s.drop(o.key);
            m.drop(o.key);
          } else {
            const base = sent.get(o.key) ?? 1000 * o.key;
            const seq = (base + o.dseq) >>> 0;
            const cap = Math.max(0, o.len - o.cut);
            const data = Buffer.alloc(4 + cap);
            for (let i = 0; i < cap; i++) data[4 + i] = 0x41 + (byte++ % 26);
            const p = new Packet();
            p.buf = data;
            p.payloadOff = 4;
            p.payloadCapLen = o.syn ? 0 : cap;
            p.payloadLen = o.syn ? 0 : o.len;
            p.seq = seq;
            p.tcpFlags = o.syn ? TCP_SYN : TCP_ACK;
            sent.set(o.key, o.syn ? seq + 1 : seq + o.len);
            const a = s.push(o.key, o.gen, p);
            const b = m.push(o.key, o.gen, p);
            assert.equal(a, b);
            if (a) {
              assert.equal(
                s.buf.toString('latin1', s.start, s.end),
                m.buf.toString('latin1', m.start, m.end),
              );
              assert.equal(s.gap, m.gap);
              assert.equal(s.lost, m.lost);
              const from = o.keep < 0 ? s.end : Math.min(s.end, s.start + o.keep);
              s.keep(from);
              m.keep(from - s.start + m.start);
            }
          }
          assert.equal(s.overflows, m.overflows);
          assert.equal(s.size, m.size);
          for (let k = 0; k <= 3; k++) assert.equal(s.pendingBytes(k), m.pendingBytes(k), `key ${k}`);
        }
      }),
      { numRuns: runs(400) },
    );
  });
});
