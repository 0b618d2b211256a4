import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CryptoStream, InitialKeyCache, initialKeys, readVarint, varintLen, walkFrames } from './initial.js';

describe('QUIC Initial', () => {
  test('keys from the DCID (RFC 9001 appendix A.1)', () => {
    const dcid = Buffer.from('8394c8f03e515708', 'hex');
    const c = initialKeys(dcid, 'client');
    assert.equal(c.key.toString('hex'), '1f369613dd76d5467730efcbe3b1a22d');
    assert.equal(c.iv.toString('hex'), 'fa044b2f42a3fd3b46fb255c');
    assert.equal(c.hp.toString('hex'), '9f50449e04a0e810283a1e9933adedd2');
    const s = initialKeys(dcid, 'server');
    assert.equal(s.key.toString('hex'), 'cf3a5331653c364c88f0f379b6067e37');
    assert.equal(s.iv.toString('hex'), '0ac1493ca1905853b0bba03e');
    assert.equal(s.hp.toString('hex'), 'c206b8d9b9f0f37644430b490eeaa314');
  });

  test('the key cache gives the RFC keys, and drops its oldest id at the cap, counted', () => {
    const dcid = Buffer.from('ff8394c8f03e515708ff', 'hex');
    const cache = new InitialKeyCache('server', 2);
    const id = dcid.toString('latin1', 1, 9);
    const a = cache.get(id, dcid, 1, 8);
    assert.equal(a.key.toString('hex'), 'cf3a5331653c364c88f0f379b6067e37');
    assert.equal(a.hp.toString('hex'), 'c206b8d9b9f0f37644430b490eeaa314');
    assert.equal(cache.get(id, dcid, 1, 8), a);
    assert.equal(cache.hits, 1);
    const other = (n: number): Buffer => Buffer.from([n, 1, 2, 3, 4, 5, 6, 7]);
    cache.get('x', other(1), 0, 8);
    cache.get('y', other(2), 0, 8);
    assert.equal(cache.evictions, 1);
    assert.equal(cache.size, 2);
    const again = cache.get(id, dcid, 1, 8);
    assert.notEqual(again, a, 'derived again after eviction');
    assert.equal(again.key.toString('hex'), 'cf3a5331653c364c88f0f379b6067e37');
  });

  test('variable-length integers (RFC 9000 appendix A.1)', () => {
    const cases: [string, number][] = [
      ['c2197c5eff14e88c', Number(151288809941952652n)],
      ['9d7f3e7d', 494878333],
      ['7bbd', 15293],
      ['25', 37],
    ];
    for (const [hex, v] of cases) {
      const b = Buffer.from(hex, 'hex');
      assert.equal(readVarint(b, 0, b.length), v);
      assert.equal(varintLen, b.length);
    }
    readVarint(Buffer.from('7b', 'hex'), 0, 1);
    assert.equal(varintLen, 0);
  });

  test('CRYPTO frames out of order, with PADDING, PING and ACK between them', () => {
    const msg = Buffer.from([1, 0, 0, 6, 10, 11, 12, 13, 14, 15]);
    const frames = Buffer.concat([
      Buffer.from([0x06, 0x05, 0x05]),
      msg.subarray(5),
      Buffer.from([0x00, 0x00, 0x01, 0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01]),
      Buffer.from([0x06, 0x00, 0x05]),
      msg.subarray(0, 5),
    ]);
    const cs = new CryptoStream();
    assert.equal(walkFrames(frames, frames.length, cs), true);
    assert.equal(cs.message(1), 10);
    assert.deepEqual(cs.buf!.subarray(0, 10), msg);
  });

  test('a frame type not allowed in Initial packets stops the walk', () => {
    assert.equal(walkFrames(Buffer.from([0x08, 0x00]), 2, { add() {} }), false);
  });
});
