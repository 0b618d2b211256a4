import { ipBytesToString } from '../common/addr.js';

/**
 * Strings of the bytes they were read from, kept in a fixed direct-mapped table so that a name
 * seen again (a DNS name asked by thousands of clients, an SNI, an answer's address) is the
 * same string object instead of a new one: no allocation, and the string's hash, cached by the
 * engine on first use, serves every later dictionary lookup and `===` test in the record
 * columns, the name cache and the detectors. A slot holds one string; a different one with the
 * same hash replaces it (counted as an eviction), so memory is bounded by `size` strings of at
 * most `maxLen` bytes. Longer inputs are decoded as usual and not kept.
 */
export class TextCache {
  private readonly strs: (string | undefined)[];
  private readonly mask: number;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    size = 4096,
    private readonly maxLen = 128,
  ) {
    let n = 16;
    while (n < size) n *= 2;
    this.strs = new Array<string | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  /** The latin1 text of b[s, e) (what `b.toString('latin1', s, e)` gives). */
  latin1(b: Buffer, s: number, e: number): string {
    const n = e - s;
    if (n <= 0) return '';
    if (n > this.maxLen) return (b as unknown as Latin1).latin1Slice(s, e);
    let h = 0x811c9dc5 ^ n;
    for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return this.lookup(b, s, n, h);
  }

  /**
   * The UTF-8 text of b[s, e) (what `b.toString('utf8', s, e)` gives). Only ASCII is kept: it
   * reads the same in latin1, which the comparison relies on.
   */
  utf8(b: Buffer, s: number, e: number): string {
    const n = e - s;
    if (n <= 0) return '';
    if (n > this.maxLen) return b.toString('utf8', s, e);
    let h = 0x811c9dc5 ^ n;
    let hi = 0;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      hi |= c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    if (hi >= 0x80) return b.toString('utf8', s, e);
    return this.lookup(b, s, n, h);
  }

  private lookup(b: Buffer, s: number, n: number, h: number): string {
    const at = (h ^ (h >>> 15)) & this.mask;
    const c = this.strs[at];
    if (c !== undefined && c.length === n) {
      let k = 0;
      while (k < n && c.charCodeAt(k) === b[s + k]) k++;
      if (k === n) {
        this.hits++;
        return c;
      }
    }
    const v = (b as unknown as Latin1).latin1Slice(s, s + n);
    if (c !== undefined) this.evictions++;
    this.strs[at] = v;
    this.misses++;
    return v;
  }
}

interface Latin1 {
  latin1Slice(start: number, end: number): string;
}

/**
 * Text forms of addresses read from packet bytes (DNS answers), by the address's bytes, in a
 * direct-mapped table as TextCache: one string per address however often it is answered.
 */
export class AddrTextCache {
  private readonly keys: Uint8Array;
  private readonly vers: Uint8Array;
  private readonly strs: (string | undefined)[];
  private readonly mask: number;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(size = 4096) {
    let n = 16;
    while (n < size) n *= 2;
    this.keys = new Uint8Array(n * 16);
    this.vers = new Uint8Array(n);
    this.strs = new Array<string | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  /** `ipBytesToString(b, off, ver)`: ver 4 reads 4 bytes, 6 reads 16. */
  get(b: Uint8Array, off: number, ver: number): string {
    const n = ver === 4 ? 4 : 16;
    let h = 0x811c9dc5 ^ ver;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[off + i]!, 0x01000193);
    const at = (h ^ (h >>> 15)) & this.mask;
    const c = this.strs[at];
    const k = at * 16;
    const keys = this.keys;
    if (c !== undefined && this.vers[at] === ver) {
      let i = 0;
      while (i < n && keys[k + i] === b[off + i]) i++;
      if (i === n) {
        this.hits++;
        return c;
      }
    }
    const v = ipBytesToString(b, off, ver);
    if (c !== undefined) this.evictions++;
    this.strs[at] = v;
    this.vers[at] = ver;
    for (let i = 0; i < n; i++) keys[k + i] = b[off + i]!;
    this.misses++;
    return v;
  }
}
