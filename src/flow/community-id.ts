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
  if (src.length === dst.length) return communityIdAt(proto, src, 0, dst, 0, src.length, sport, dport, seed);
  // Mixed lengths do not occur in a real flow; hash them as given (spec: concatenation).
  const b = Buffer.alloc(2 + src.length + dst.length + 2 + 4);
  b.writeUInt16BE(seed, 0);
  b.set(src, 2);
  b.set(dst, 2 + src.length);
  b[2 + src.length + dst.length] = proto;
  return `1:${hash('sha1', b, 'base64')}`;
}

// Hash input scratch buffers (seed, 2 addresses, proto, pad, optional ports), one per shape:
// the per-record cost is the hash itself, nothing is allocated but the result string.
const SCRATCH = new Map<number, Buffer>();
function scratch(n: number): Buffer {
  let b = SCRATCH.get(n);
  if (b === undefined) {
    b = Buffer.alloc(n);
    SCRATCH.set(n, b);
  }
  return b;
}

/**
 * `communityId` over addresses read in place: `alen` bytes at `so` in `sb` and at `do_` in `db`
 * (4 or 16). Same result as `communityId(proto, sb.subarray(so, so + alen), ...)`.
 */
export function communityIdAt(
  proto: number,
  sb: Uint8Array,
  so: number,
  db: Uint8Array,
  do_: number,
  alen: number,
  sport: number,
  dport: number,
  seed = 0,
): string {
  let sp = sport;
  let dp = dport;
  let oneWay = false;
  const icmp = proto === 1 || proto === 58;
  if (icmp) {
    const type = sport;
    const peer = (proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS).get(type);
    if (peer === undefined)
      oneWay = true; // dp stays the code
    else dp = peer;
    sp = type;
  }
  const hasPorts = icmp || proto === 6 || proto === 17 || proto === 132;
  let swap = false;
  if (!oneWay) {
    let cmp = 0;
    for (let i = 0; i < alen; i++) {
      const a = sb[so + i]!;
      const c = db[do_ + i]!;
      if (a !== c) {
        cmp = a < c ? -1 : 1;
        break;
      }
    }
    swap = cmp > 0 || (cmp === 0 && sp > dp);
  }
  const b = scratch(4 + alen * 2 + (hasPorts ? 4 : 0));
  b[0] = seed >>> 8;
  b[1] = seed & 255;
  const o1 = swap ? 2 + alen : 2;
  const o2 = swap ? 2 : 2 + alen;
  for (let i = 0; i < alen; i++) {
    b[o1 + i] = sb[so + i]!;
    b[o2 + i] = db[do_ + i]!;
  }
  const p = 2 + alen * 2;
  b[p] = proto;
  b[p + 1] = 0;
  if (hasPorts) {
    const a = swap ? dp : sp;
    const c = swap ? sp : dp;
    b[p + 2] = (a >>> 8) & 255;
    b[p + 3] = a & 255;
    b[p + 4] = (c >>> 8) & 255;
    b[p + 5] = c & 255;
  }
  return `1:${hash('sha1', b, 'base64')}`;
}
