/**
 * De-duplication of packets seen twice within a window (the same packet captured at two SPAN
 * points, or through two mirror sessions).
 *
 * The key is a 53-bit hash of the packet from its innermost IP header to the end of the
 * captured bytes, with the fields that change hop by hop left out: the IPv4 TTL and header
 * checksum, the IPv6 hop limit. MAC addresses, VLAN tags and tunnel headers are not part of it.
 * Packets without IP are hashed whole (from their Ethernet header). The captured length is part
 * of the key, so a sliced and an unsliced copy are different packets.
 */

let h1 = 0;
let h2 = 0;

function mixWord(k: number): void {
  let a = Math.imul(k, 0xcc9e2d51);
  a = (a << 15) | (a >>> 17);
  a = Math.imul(a, 0x1b873593);
  h1 ^= a;
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  let b = Math.imul(k, 0x85ebca6b);
  b = (b << 13) | (b >>> 19);
  b = Math.imul(b, 0xc2b2ae35);
  h2 ^= b;
  h2 = (h2 << 17) | (h2 >>> 15);
  h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
}

function hashRange(buf: Uint8Array, a: number, b: number): void {
  let i = a;
  for (; i + 4 <= b; i += 4)
    mixWord(buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
  let tail = 0;
  for (let s = 0; i < b; i++, s += 8) tail |= buf[i]! << s;
  if (b > a) mixWord(tail ^ 0x5a);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const scratch = new Uint8Array(12);

/**
 * Key of a packet. `l3` is the offset of the innermost IP header (or -1), `ipVer` 4/6/0,
 * `start`/`end` the delivered frame's bytes (used when there is no IP header).
 */
export function packetKey(buf: Buffer, l3: number, ipVer: number, start: number, end: number): number {
  h1 = 0x3c6ef372 ^ (end - start);
  h2 = 0x5be0cd19 ^ Math.imul(end - start, 0x9e3779b1);
  if (ipVer === 4 && l3 >= 0 && l3 + 12 <= end) {
    for (let i = 0; i < 12; i++) scratch[i] = buf[l3 + i]!;
    scratch[8] = 0; // TTL
    scratch[10] = 0; // header checksum
    scratch[11] = 0;
    hashRange(scratch, 0, 12);
    hashRange(buf, l3 + 12, end);
  } else if (ipVer === 6 && l3 >= 0 && l3 + 8 <= end) {
    for (let i = 0; i < 8; i++) scratch[i] = buf[l3 + i]!;
    scratch[7] = 0; // hop limit
    hashRange(scratch, 0, 8);
    hashRange(buf, l3 + 8, end);
  } else hashRange(buf, start, end);
  return fmix(h1) * 2097152 + (fmix(h2 ^ h1) & 0x1fffff);
}

/** Remembers keys for `windowMs` of packet time; two generations bound the memory. */
export class DedupWindow {
  private cur = new Map<number, number>();
  private prev = new Map<number, number>();
  private rotateAt = Number.NEGATIVE_INFINITY;

  constructor(readonly windowMs: number) {}

  /** True when `key` was recorded less than the window before `tMs`; else records it. */
  seen(key: number, tMs: number): boolean {
    if (tMs >= this.rotateAt) {
      if (tMs >= this.rotateAt + this.windowMs) this.prev = new Map();
      else this.prev = this.cur;
      this.cur = new Map();
      this.rotateAt = tMs + this.windowMs;
    }
    const last = this.cur.get(key) ?? this.prev.get(key);
    if (last !== undefined && tMs - last <= this.windowMs && tMs >= last) return true;
    this.cur.set(key, tMs);
    return false;
  }

  get size(): number {
    return this.cur.size + this.prev.size;
  }
}
