import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { communityId } from './community-id.js';

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
