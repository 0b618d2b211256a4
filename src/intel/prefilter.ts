/**
 * A blocked Bloom filter in front of the indicator maps: almost every address and name a
 * sensor sees is on no feed, and with a million indicators each map probe is a cache miss
 * (and a string hash). The filter answers "certainly not" from one 32-bit word per probe, two
 * bits of it, in a bit array of about 16 bits per key (2 MiB for a million keys, so it stays
 * in cache); about 1.5% of misses get through to the maps. It is built with the matcher and
 * swapped with it, so it never disagrees with the maps it guards.
 */
export class BloomBits {
  private readonly words: Int32Array;
  private readonly mask: number;

  constructor(keys: number) {
    // 16 bits a key, a power of two of 32-bit words, at least 64 words
    let n = 64;
    while (n * 2 < keys && n < 1 << 26) n <<= 1;
    this.words = new Int32Array(n);
    this.mask = n - 1;
  }

  add(h: number): void {
    const x = Math.imul(h, 0x9e3779b1);
    this.words[fmix(h) & this.mask]! |= (1 << (x >>> 27)) | (1 << ((x >>> 22) & 31));
  }

  has(h: number): boolean {
    const x = Math.imul(h, 0x9e3779b1);
    const m = (1 << (x >>> 27)) | (1 << ((x >>> 22) & 31));
    return (this.words[fmix(h) & this.mask]! & m) === m;
  }

  get bytes(): number {
    return this.words.byteLength;
  }
}

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
export function fmix(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Key of an IPv4 network (an address is the /32) for the filter. */
export const v4Key = (masked: number, len: number): number =>
  fmix((masked | 0) ^ Math.imul(len + 1, 0x9e3779b9));

/** Tags that keep kinds of string keys apart in one filter. */
export const TAG = {
  name: 0x1b873593,
  suffix: 0x68e31da4,
  url: 0x2c1b3c6d,
  exact: 0x297a2d39,
} as const;

/** FNV-1a step; strings are hashed right to left so that every label suffix of a name falls out of one pass. */
export const step = (h: number, c: number): number => Math.imul(h ^ c, 0x01000193);
export const SEED = 0x811c9dc5 | 0;

/** Hash of a whole string (ASCII upper case folded), the same value `nameMay` computes for it. */
export function strHash(s: string): number {
  let h = SEED;
  for (let i = s.length - 1; i >= 0; i--) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    h = step(h, c);
  }
  return h;
}
