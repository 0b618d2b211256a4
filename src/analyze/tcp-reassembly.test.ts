import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
