import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { communityId, communityIdAt, communityIdWords } from './community-id.js';

const addr = (s: string): Uint8Array => {
  const v4 = parseIpv4(s);
  if (v4 !== null) return Uint8Array.from([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
  const v6 = parseIpv6(s);
  assert.ok(v6, s);
  return v6;
};

// Published test vectors of the Community ID spec (corelight/community-id-spec baseline).
const VECTORS: [string, string, number, number, number, string][] = [
  ['128.232.110.120', '66.35.250.204', 6, 34855, 80, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
  ['66.35.250.204', '128.232.110.120', 6, 80, 34855, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
  ['192.168.1.52', '8.8.8.8', 17, 54585, 53, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
  ['8.8.8.8', '192.168.1.52', 17, 53, 54585, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
  ['192.168.170.8', '192.168.170.56', 132, 7, 7, '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='],
  ['192.168.0.89', '192.168.0.1', 1, 8, 0, '1:X0snYXpgwiv9TZtqg64sgzUn6Dk='],
  ['192.168.0.1', '192.168.0.89', 1, 0, 0, '1:X0snYXpgwiv9TZtqg64sgzUn6Dk='],
  ['fe80::260:97ff:fe07:69ea', 'ff02::1', 58, 134, 0, '1:pkvHqCL88/tg1k4cPigmZXUtL00='],
  [
    '2001:470:e5bf:dead:4957:2174:e82c:4887',
    '2607:f8b0:400c:c03::1a',
    6,
    63943,
    25,
    '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=',
  ],
];

test('Community ID v1 matches the spec test vectors', () => {
  for (const [s, d, proto, sp, dp, want] of VECTORS) {
    assert.equal(communityId(proto, addr(s), addr(d), sp, dp), want, `${s} ${d} ${proto} ${sp} ${dp}`);
  }
});

const wordsOf = (b: Uint8Array): number[] => {
  const w: number[] = [];
  for (let i = 0; i < b.length; i += 4)
    w.push(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
  return w;
};

test('Community ID from the flow key words matches the spec test vectors', () => {
  for (const [s, d, proto, sp, dp, want] of VECTORS) {
    const U = Uint32Array.from([7, ...wordsOf(addr(s)), ...wordsOf(addr(d))]);
    const nw = addr(s).length / 4;
    assert.equal(communityIdWords(proto, U, 1, 1 + nw, nw, sp, dp), want, `${s} ${d} ${proto} ${sp} ${dp}`);
  }
});

// The spec's steps written plainly with node:crypto's SHA-1: an independent reading to hold the
// in-place hash against on any input.
const ICMP_PEERS: Record<number, Record<number, number>> = {
  1: { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10 },
  58: {
    128: 129,
    129: 128,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    130: 131,
    131: 130,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
  },
};
function reference(
  proto: number,
  s: Uint8Array,
  d: Uint8Array,
  sport: number,
  dport: number,
  seed: number,
): string {
  const sp = sport;
  let dp = dport;
  let oneWay = false;
  const peers = ICMP_PEERS[proto];
  if (peers) {
    const peer = peers[sport];
    if (peer === undefined) oneWay = true;
    else dp = peer;
  }
  const ports = peers !== undefined || proto === 6 || proto === 17 || proto === 132;
  const c = Buffer.compare(Buffer.from(s), Buffer.from(d));
  const swap = !oneWay && (c > 0 || (c === 0 && sp > dp));
  const parts = [
    Buffer.from([seed >>> 8, seed & 255]),
    Buffer.from(swap ? d : s),
    Buffer.from(swap ? s : d),
    Buffer.from([proto, 0]),
  ];
  if (ports) {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(swap ? dp : sp, 0);
    p.writeUInt16BE(swap ? sp : dp, 2);
    parts.push(p);
  }
  return `1:${createHash('sha1').update(Buffer.concat(parts)).digest('base64')}`;
}

test('Community ID in place (bytes and key words) equals the spec computed with node:crypto', () => {
  const proto = fc.constantFrom(1, 6, 17, 58, 132, 47, 50, 0, 255);
  const port = fc.oneof(
    fc.integer({ min: 0, max: 65535 }),
    fc.constantFrom(0, 8, 128, 134, 135, 140, 145, 200),
  );
  fc.assert(
    fc.property(
      fc.boolean(),
      proto,
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      port,
      port,
      fc.integer({ min: 0, max: 65535 }),
      fc.boolean(),
      (v4, pr, a, b, sp, dp, seed, same) => {
        const n = v4 ? 4 : 16;
        const s = a.subarray(0, n);
        const d = same ? s : b.subarray(0, n);
        const want = reference(pr, s, d, sp, dp, seed);
        const sb = new Uint8Array(n + 3);
        sb.set(s, 3);
        assert.equal(communityIdAt(pr, sb, 3, d, 0, n, sp, dp, seed), want);
        {
          const U = Uint32Array.from([...wordsOf(s), ...wordsOf(d)]);
          assert.equal(communityIdWords(pr, U, 0, n / 4, n / 4, sp, dp), reference(pr, s, d, sp, dp, 0));
        }
      },
    ),
    { numRuns: runs(2000) },
  );
});
