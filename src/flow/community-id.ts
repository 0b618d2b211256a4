import { hash } from 'node:crypto';

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): a hash of the flow's
 * 5-tuple that Zeek, Suricata and others compute the same way, so records join across tools.
 */

// ICMP types that have a counterpart; a packet of one of these and its reply share one ID.
const ICMP4_PAIRS = new Map<number, number>([
  [8, 0],
  [0, 8],
  [13, 14],
  [14, 13],
  [15, 16],
  [16, 15],
  [17, 18],
  [18, 17],
  [10, 9],
  [9, 10],
]);
const ICMP6_PAIRS = new Map<number, number>([
  [128, 129],
  [129, 128],
  [133, 134],
  [134, 133],
  [135, 136],
  [136, 135],
  [130, 131],
  [131, 130],
  [139, 140],
  [140, 139],
  [144, 145],
  [145, 144],
]);

/**
 * @param src/dst address bytes (4 or 16), in the packet's direction
 * @param sport/dport ports, or ICMP type/code
 */
export function communityId(
  proto: number,
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
  seed = 0,
): string {
  let s = src;
  let d = dst;
  let sp = sport;
  let dp = dport;
  let oneWay = false;
  const icmp = proto === 1 || proto === 58;
  if (icmp) {
    const pairs = proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS;
    const type = sport;
    const peer = pairs.get(type);
    if (peer === undefined) {
      oneWay = true;
      dp = dport; // code
    } else dp = peer;
    sp = type;
  }
  const hasPorts = icmp || proto === 6 || proto === 17 || proto === 132;
  if (!oneWay && !lessOrEqual(s, d, sp, dp)) {
    s = dst;
    d = src;
    const t = sp;
    sp = dp;
    dp = t;
  }
  const n = 2 + s.length * 2 + 2 + (hasPorts ? 4 : 0);
  const b = Buffer.alloc(n);
  b.writeUInt16BE(seed, 0);
  b.set(s, 2);
  b.set(d, 2 + s.length);
  b[2 + s.length * 2] = proto;
  b[3 + s.length * 2] = 0;
  if (hasPorts) {
    b.writeUInt16BE(sp, 4 + s.length * 2);
    b.writeUInt16BE(dp, 6 + s.length * 2);
  }
  return `1:${hash('sha1', b, 'base64')}`;
}

function lessOrEqual(a: Uint8Array, b: Uint8Array, pa: number, pb: number): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return true;
    if (a[i]! > b[i]!) return false;
  }
  return pa <= pb;
}
