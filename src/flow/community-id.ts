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

// The hash input (seed, 2 addresses, proto, pad, optional ports) is built in one scratch buffer
// per length: nothing is allocated per flow but the result string. (A SHA-1 of the one block in
// plain JavaScript measured the same ~0.4 µs as node:crypto's one-shot hash here.)
const SCRATCH = new Map<number, Buffer>();
const BLOCK = Buffer.alloc(64);

function hashBlock(n: number): string {
  let b = SCRATCH.get(n);
  if (b === undefined) {
    b = BLOCK.subarray(0, n);
    SCRATCH.set(n, b);
  }
  return `1:${hash('sha1', b, 'base64')}`;
}

/** ICMP: the ports of the hash and whether the flow is one-way (no counterpart type). */
let icmpSp = 0;
let icmpDp = 0;
function icmpPorts(proto: number, type: number, code: number): boolean {
  const peer = (proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS).get(type);
  icmpSp = type;
  icmpDp = peer === undefined ? code : peer;
  return peer === undefined;
}

/** Writes proto, pad and ports after the addresses at `p`; returns the input length. */
function tail(p: number, proto: number, hasPorts: boolean, a: number, c: number): number {
  const b = BLOCK;
  b[p] = proto;
  b[p + 1] = 0;
  if (!hasPorts) return p + 2;
  b[p + 2] = (a >>> 8) & 255;
  b[p + 3] = a & 255;
  b[p + 4] = (c >>> 8) & 255;
  b[p + 5] = c & 255;
  return p + 6;
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
    oneWay = icmpPorts(proto, sport, dport);
    sp = icmpSp;
    dp = icmpDp;
  }
  const hasPorts = icmp || proto === 6 || proto === 17 || proto === 132;
  if (alen > 16)
    return hashLong(
      proto,
      sb.subarray(so, so + alen),
      db.subarray(do_, do_ + alen),
      sp,
      dp,
      hasPorts,
      oneWay,
      seed,
    );
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
  const b = BLOCK;
  b[0] = seed >>> 8;
  b[1] = seed & 255;
  const o1 = swap ? 2 + alen : 2;
  const o2 = swap ? 2 : 2 + alen;
  for (let i = 0; i < alen; i++) {
    b[o1 + i] = sb[so + i]!;
    b[o2 + i] = db[do_ + i]!;
  }
  return hashBlock(tail(2 + alen * 2, proto, hasPorts, swap ? dp : sp, swap ? sp : dp));
}

/** Inputs longer than one SHA-1 block (no real address is): node:crypto, as the spec reads. */
function hashLong(
  proto: number,
  s: Uint8Array,
  d: Uint8Array,
  sp: number,
  dp: number,
  hasPorts: boolean,
  oneWay: boolean,
  seed: number,
): string {
  let swap = false;
  if (!oneWay) {
    const c = Buffer.compare(s, d);
    swap = c > 0 || (c === 0 && sp > dp);
  }
  const b = Buffer.alloc(2 + s.length * 2 + 2 + (hasPorts ? 4 : 0));
  b.writeUInt16BE(seed, 0);
  b.set(swap ? d : s, 2);
  b.set(swap ? s : d, 2 + s.length);
  const p = 2 + s.length * 2;
  b[p] = proto;
  if (hasPorts) {
    b.writeUInt16BE(swap ? dp : sp, p + 2);
    b.writeUInt16BE(swap ? sp : dp, p + 4);
  }
  return `1:${hash('sha1', b, 'base64')}`;
}

/**
 * `communityId` over addresses held as big-endian words (the flow table's key): `nw` words
 * (1 or 4) at `so` and at `do_` in `U`.
 */
export function communityIdWords(
  proto: number,
  U: Uint32Array,
  so: number,
  do_: number,
  nw: number,
  sport: number,
  dport: number,
): string {
  let sp = sport;
  let dp = dport;
  let oneWay = false;
  const icmp = proto === 1 || proto === 58;
  if (icmp) {
    oneWay = icmpPorts(proto, sport, dport);
    sp = icmpSp;
    dp = icmpDp;
  }
  const hasPorts = icmp || proto === 6 || proto === 17 || proto === 132;
  let swap = false;
  if (!oneWay) {
    let cmp = 0;
    for (let i = 0; i < nw; i++) {
      const a = U[so + i]!;
      const c = U[do_ + i]!;
      if (a !== c) {
        cmp = a < c ? -1 : 1;
        break;
      }
    }
    swap = cmp > 0 || (cmp === 0 && sp > dp);
  }
  const b = BLOCK;
  b[0] = 0;
  b[1] = 0;
  const o1 = swap ? 2 + nw * 4 : 2;
  const o2 = swap ? 2 : 2 + nw * 4;
  for (let i = 0; i < nw; i++) {
    const x = U[so + i]!;
    const y = U[do_ + i]!;
    const p = o1 + i * 4;
    const q = o2 + i * 4;
    b[p] = x >>> 24;
    b[p + 1] = x >>> 16;
    b[p + 2] = x >>> 8;
    b[p + 3] = x;
    b[q] = y >>> 24;
    b[q + 1] = y >>> 16;
    b[q + 2] = y >>> 8;
    b[q + 3] = y;
  }
  return hashBlock(tail(2 + nw * 8, proto, hasPorts, swap ? dp : sp, swap ? sp : dp));
}
