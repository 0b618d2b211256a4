/**
 * Opening Initials through both paths: the addon (OpenSSL through Node's exported symbols) and
 * Node's cipher objects. The truth is RFC 9001 appendix A (keys, the client Initial of A.2 and
 * the server Initial of A.3, whose bytes and plaintexts the RFC gives), not either path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { drive } from '../../../test/support/l7-kit.js';
import type { TlsRecord } from '../../schema/tls.js';
import { createQuicAnalyzer } from './analyzer.js';
import { initialKeys, type LongHeader, openInitial, parseLongHeader } from './initial.js';
import { type QuicBinding, quicBinding } from './native.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const DCID = hex('8394c8f03e515708');

// RFC 9001 A.2: the client's CRYPTO frame (a ClientHello for example.com, ALPN "alpn"), padded
// with zeros to 1,162 bytes, sent as packet number 2 with a 4-byte packet number.
const A2_PLAIN = Buffer.concat([
  hex(`060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
       04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
       616d706c652e636f6dff01000100000a00080006001d00170018001000070005
       04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
       baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
       0d0010000e0403050306030203080408050806002d00020101001c0002400100
       3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
       75300901100f088394c8f03e51570806048000ffff`),
  Buffer.alloc(917),
]);
const A2_PACKET = hex(`
  c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
  d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
  1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
  8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
  30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
  457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
  4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
  4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
  485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
  059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
  7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
  9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
  be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
  68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
  c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
  f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
  291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
  25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
  14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
  ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
  e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
  c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
  203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
  cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
  fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
  a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
  90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
  162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
  40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
  6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
  8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
  be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
  54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
  760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
  f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
  056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
  7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
  e221af44860018ab0856972e194cd934`);

// RFC 9001 A.3: the server's Initial (ACK + CRYPTO with a ServerHello), packet number 1 in 2
// bytes, protected with the server keys of the client's DCID.
const A3_PLAIN = hex(`
  02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
  88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
  0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00
  020304`);
const A3_PACKET = hex(`
  cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
  5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
  dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
  022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
  2158407dd074ee`);

/** Both paths when the addon is built; the JavaScript one alone otherwise, said in the name. */
const PATHS: [string, QuicBinding | null][] = [['js', null]];
const MISSING =
  'the addon path: vantage-pcap is not built or lacks the QUIC functions (npm rebuild vantage-pcap)';
if (quicBinding !== null) PATHS.unshift(['addon', quicBinding]);
// CI builds the addon, so there its absence is a failure, not a skip.
else if (process.env.CI === 'true')
  test(MISSING, () => {
    assert.fail(MISSING);
  });
else test.skip(MISSING);

function open(b: Buffer, off: number, end: number, side: 'client' | 'server', binding: QuicBinding | null) {
  const h = parseLongHeader(b, off, end);
  const keys = initialKeys(DCID, side, binding);
  const out = Buffer.alloc(2048, 0xee);
  // A header that no longer parses is as unopened as a failed tag.
  const n = h === null ? -1 : openInitial(b, off, h, keys, out, binding);
  return { n, plain: out.subarray(0, Math.max(n, 0)), h, keys, out };
}

for (const [name, binding] of PATHS) {
  describe(`QUIC Initial opened by the ${name} path`, () => {
    test('keys of RFC 9001 A.1', () => {
      const c = initialKeys(DCID, 'client', binding);
      assert.equal(
        c.raw.toString('hex'),
        '1f369613dd76d5467730efcbe3b1a22dfa044b2f42a3fd3b46fb255c9f50449e04a0e810283a1e9933adedd2',
      );
      const s = initialKeys(Buffer.concat([hex('ffff'), DCID, hex('ff')]), 'server', binding, 2, 8);
      assert.equal(s.key.toString('hex'), 'cf3a5331653c364c88f0f379b6067e37');
      assert.equal(s.iv.toString('hex'), '0ac1493ca1905853b0bba03e');
      assert.equal(s.hp.toString('hex'), 'c206b8d9b9f0f37644430b490eeaa314');
    });

    test('the client Initial of RFC 9001 A.2, the capture buffer untouched', () => {
      const b = Buffer.from(A2_PACKET);
      const { n, plain } = open(b, 0, b.length, 'client', binding);
      assert.equal(n, 1162);
      assert.deepEqual(plain, A2_PLAIN);
      assert.deepEqual(b, A2_PACKET);
    });

    test('the server Initial of RFC 9001 A.3 (2-byte packet number)', () => {
      const { n, plain } = open(A3_PACKET, 0, A3_PACKET.length, 'server', binding);
      assert.equal(n, A3_PLAIN.length);
      assert.deepEqual(plain, A3_PLAIN);
    });

    test('a packet inside a larger buffer, followed by another', () => {
      const b = Buffer.concat([Buffer.alloc(42, 0xab), A2_PACKET, A3_PACKET]);
      const { n, plain, h } = open(b, 42, b.length, 'client', binding);
      assert.equal(h?.end, 42 + A2_PACKET.length);
      assert.equal(n, 1162);
      assert.deepEqual(plain, A2_PLAIN);
    });

    test('a tampered tag, ciphertext, header or packet number fails; the next good packet opens', () => {
      for (const at of [A2_PACKET.length - 1, A2_PACKET.length - 16, 600, 22, 5, 7, 18, 21]) {
        const b = Buffer.from(A2_PACKET);
        b[at]! ^= 0x01;
        assert.equal(open(b, 0, b.length, 'client', binding).n, -1, `byte ${at} flipped`);
        const good = open(A2_PACKET, 0, A2_PACKET.length, 'client', binding);
        assert.deepEqual(good.plain, A2_PLAIN, `after byte ${at}`);
      }
      // The wrong side's keys are the wrong keys.
      assert.equal(open(A2_PACKET, 0, A2_PACKET.length, 'server', binding).n, -1);
    });

    test('a plaintext larger than the buffer is refused, not written past it', () => {
      const h = parseLongHeader(A2_PACKET, 0, A2_PACKET.length)!;
      const big = Buffer.alloc(1200, 0xee);
      const small = big.subarray(0, 1161);
      assert.equal(openInitial(A2_PACKET, 0, h, initialKeys(DCID, 'client', binding), small, binding), -1);
      assert.ok(big.subarray(1161).every((x) => x === 0xee));
    });

    test('the analyzer reads the A.2 ClientHello and the A.3 ServerHello', () => {
      const recs: TlsRecord[] = [];
      const a = createQuicAnalyzer((r) => recs.push(r as TlsRecord), { binding });
      drive(
        a,
        [
          [0, A2_PACKET],
          [1, A3_PACKET],
        ],
        17,
      );
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.sni, 'example.com');
      assert.deepEqual(recs[0]!.alpn, ['alpn']);
      assert.equal(recs[0]!.quic, true);
      assert.equal(recs[0]!.cipher, '0x1301');
      assert.equal(a.counters.decryptFailures, 0);
      assert.equal(a.counters.initials, 2);
    });
  });
}

describe('QUIC Initial: the two paths agree', () => {
  const native = quicBinding;
  test('on mutated and truncated A.2 / A.3 packets, byte for byte', { skip: native === null }, () => {
    const seeds = [A2_PACKET, A3_PACKET];
    fc.assert(
      fc.property(
        fc.nat(1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        (which, edits, cut, server) => {
          const b = Buffer.from(seeds[which]!);
          for (const [i, v] of edits) b[i % b.length] = v;
          const end = b.length - (cut % 64 === 0 ? 0 : cut % b.length);
          const h = parseLongHeader(b, 0, end);
          if (h === null) return;
          const side = server ? 'server' : 'client';
          const outA = Buffer.alloc(2048);
          const outB = Buffer.alloc(2048);
          const a = openInitial(b, 0, h, initialKeys(DCID, side, native), outA, native);
          const j = openInitial(b, 0, h, initialKeys(DCID, side, null), outB, null);
          assert.equal(a, j);
          if (a >= 0) assert.deepEqual(outA.subarray(0, a), outB.subarray(0, j));
        },
      ),
      { numRuns: runs(500) },
    );
  });
});

describe('QUIC Initial: the addon call on bad input', () => {
  const q = quicBinding;
  test('random bytes, offsets and lengths: -1 or a length within the buffer, never a throw', {
    skip: q === null,
  }, () => {
    const keys = initialKeys(DCID, 'client', q).raw;
    const out = Buffer.alloc(1500);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1400 }),
        fc.integer({ min: -5, max: 1500 }),
        fc.integer({ min: -5, max: 1500 }),
        fc.integer({ min: -5, max: 1500 }),
        (bytes, off, pnOff, end) => {
          const b = Buffer.from(bytes);
          const n = q!.quicOpenInitial(b, off, pnOff, end, keys, out);
          assert.ok(n === -1 || (n >= 0 && n <= out.length && n <= b.length), `returned ${n}`);
          const k = Buffer.alloc(44);
          const r = q!.quicInitialKeys(b, off, pnOff, false, k);
          assert.ok(r === -1 || r === 44);
          assert.equal(r === 44, off >= 0 && pnOff >= 0 && pnOff <= 255 && off + pnOff <= b.length);
        },
      ),
      { numRuns: runs(2000) },
    );
  });

  test('A.2 cut at every length: each a clean -1, the whole packet opens', { skip: q === null }, () => {
    const h = parseLongHeader(A2_PACKET, 0, A2_PACKET.length) as LongHeader;
    const keys = initialKeys(DCID, 'client', q).raw;
    const out = Buffer.alloc(1500);
    for (let len = 0; len <= A2_PACKET.length; len++) {
      const b = Buffer.from(A2_PACKET.subarray(0, len));
      const n = q!.quicOpenInitial(b, 0, h.pnOff, len, keys, out);
      assert.equal(n, len === A2_PACKET.length ? 1162 : -1, `cut at ${len}`);
      // The end beyond the buffer: refused whatever the bytes.
      assert.equal(
        q!.quicOpenInitial(b, 0, h.pnOff, A2_PACKET.length, keys, out),
        len === A2_PACKET.length ? 1162 : -1,
      );
    }
  });

  test('wrong argument types and short key buffers: -1, never a throw', { skip: q === null }, () => {
    const out = Buffer.alloc(1500);
    const keys = initialKeys(DCID, 'client', q).raw;
    const call = q!.quicOpenInitial as (...a: unknown[]) => number;
    assert.equal(call(null, 0, 18, 1200, keys, out), -1);
    assert.equal(call(A2_PACKET, '0', 18, 1200, keys, out), -1);
    assert.equal(call(A2_PACKET, 0, 18, 1200, keys.subarray(0, 43), out), -1);
    assert.equal(call(A2_PACKET, 0, 18, 1200, new Uint16Array(22), out), -1);
    assert.equal(call(A2_PACKET, 0, 18, 1200, keys), -1);
    assert.equal(call(A2_PACKET, 0, 18, 1200, keys, out), 1162);
    const kcall = q!.quicInitialKeys as (...a: unknown[]) => number;
    assert.equal(kcall(DCID, 0, 8, false, Buffer.alloc(43)), -1);
    assert.equal(kcall({}, 0, 8, false, Buffer.alloc(44)), -1);
  });
});
