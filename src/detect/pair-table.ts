/**
 * A bounded map keyed by a pair of strings (source and destination addresses, a source and a
 * domain), optionally a number (a port), and the key's 32-bit hash, with `BoundedMap`'s order and eviction: touching an entry
 * makes it the newest unless it is in the newer half, and inserting beyond the cap evicts the
 * least recently touched one (handed to `onEvict`).
 *
 * The key strings are the ones the records already hold (a batch's dictionary entries), kept by
 * reference and compared only when the hashes agree: a lookup makes no string. A `Map` keyed by
 * `${src}|${dst}` made a string per record, flattened and hashed it on each lookup, and kept it
 * with a `{v, seq}` wrapper per entry: most of what survived the detectors' scavenges.
 *
 * Slots: linear probing over a power-of-two Int32Array of entry numbers (-1 free) at most half
 * full, deletions by backward shift (no tombstones). Entries: a doubly linked list in insertion
 * order over typed arrays, freed entries chained through `next`. Tables grow by doubling up to the
 * cap, so a large configured cap costs nothing until it fills.
 */
export class PairTable<V> {
  private slots: Int32Array;
  private mask: number;
  private hashes: Int32Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Insertions and moves so far when the entry was last placed: its distance from the back. */
  private seqs: Float64Array;
  /** The key's number (0 when the table is keyed by the strings alone). */
  private cs: Float64Array;
  private ka: string[] = [];
  private kb: string[] = [];
  private vals: (V | undefined)[] = [];
  private head = -1;
  private tail = -1;
  private free = -1;
  /** Entries ever used (the free chain holds the released ones below it). */
  private used = 0;
  private n = 0;
  private seq = 0;
  evictions = 0;

  constructor(
    readonly cap: number,
    private readonly onEvict?: (a: string, b: string, v: V, c: number) => void,
    initial = 1024,
  ) {
    if (!(cap >= 1)) throw new RangeError(`PairTable: cap must be at least 1 (got ${cap})`);
    const entries = Math.max(1, Math.min(cap, initial));
    this.hashes = new Int32Array(entries);
    this.prev = new Int32Array(entries);
    this.next = new Int32Array(entries);
    this.seqs = new Float64Array(entries);
    this.cs = new Float64Array(entries);
    this.slots = new Int32Array(slotCount(entries)).fill(-1);
    this.mask = this.slots.length - 1;
  }

  get size(): number {
    return this.n;
  }

  /** Entries the typed arrays hold room for (grows by doubling up to the cap). */
  get room(): number {
    return this.hashes.length;
  }

  /** The entry number of (a, b, c), -1 when absent. */
  find(a: string, b: string, h: number, c = 0): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = slots[i]!;
      if (e < 0) return -1;
      if (this.hashes[e] === h && this.cs[e] === c && this.ka[e] === a && this.kb[e] === b) return e;
    }
  }

  get(a: string, b: string, h: number, c = 0): V | undefined {
    const e = this.find(a, b, h, c);
    return e < 0 ? undefined : this.vals[e];
  }

  /** The value made recent, as `BoundedMap.recent` does, or undefined when missing. */
  recent(a: string, b: string, h: number, c = 0): V | undefined {
    const e = this.find(a, b, h, c);
    if (e < 0) return undefined;
    // Entries in the newer half are not moved (a hot pair would otherwise move on every record).
    if (this.seq - this.seqs[e]! > this.cap >> 1) {
      this.unlink(e);
      this.append(e);
      this.seqs[e] = ++this.seq;
    }
    return this.vals[e];
  }

  /** Add a missing pair as the newest, evicting the oldest first when full. */
  insert(a: string, b: string, h: number, v: V, c = 0): void {
    if (this.n >= this.cap) this.evictOldest();
    if (this.free < 0 && this.used === this.hashes.length) this.grow();
    let e: number;
    if (this.free >= 0) {
      e = this.free;
      this.free = this.next[e]!;
    } else e = this.used++;
    this.hashes[e] = h;
    this.cs[e] = c;
    this.ka[e] = a;
    this.kb[e] = b;
    this.vals[e] = v;
    this.seqs[e] = ++this.seq;
    this.append(e);
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    while (slots[i]! >= 0) i = (i + 1) & mask;
    slots[i] = e;
    this.n++;
  }

  delete(a: string, b: string, h: number, c = 0): void {
    const e = this.find(a, b, h, c);
    if (e >= 0) this.remove(e);
  }

  /** The oldest entry, -1 when empty; with `after`, the order `BoundedMap.entries()` yields. */
  first(): number {
    return this.head;
  }

  /** The entry after `e` in order (read it before removing `e`). */
  after(e: number): number {
    return this.next[e]!;
  }

  keyA(e: number): string {
    return this.ka[e]!;
  }

  keyB(e: number): string {
    return this.kb[e]!;
  }

  keyC(e: number): number {
    return this.cs[e]!;
  }

  value(e: number): V {
    return this.vals[e] as V;
  }

  /** Replace entry `e`'s value in place (its place in the order kept). */
  setValue(e: number, v: V): void {
    this.vals[e] = v;
  }

  /** Remove entry `e` (from `find` or `first`/`after`). */
  remove(e: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.hashes[e]! & mask;
    while (slots[i] !== e) i = (i + 1) & mask;
    // Backward shift: pull later entries of the probe run into the hole when their home allows.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const x = slots[j]!;
      if (x < 0) break;
      const home = this.hashes[x]! & mask;
      // x may move to i when its home is not cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        slots[i] = x;
        i = j;
      }
    }
    slots[i] = -1;
    this.unlink(e);
    this.ka[e] = '';
    this.kb[e] = '';
    this.vals[e] = undefined;
    this.next[e] = this.free;
    this.free = e;
    this.n--;
  }

  clear(): void {
    this.slots.fill(-1);
    this.ka.length = 0;
    this.kb.length = 0;
    this.vals.length = 0;
    this.head = this.tail = this.free = -1;
    this.used = 0;
    this.n = 0;
  }

  /** Evict the least recently touched entry now (handed to `onEvict`), as a full insert would. */
  evictOne(): void {
    this.evictOldest();
  }

  private evictOldest(): void {
    const e = this.head;
    if (e < 0) return;
    const a = this.ka[e]!;
    const b = this.kb[e]!;
    const v = this.vals[e] as V;
    const c = this.cs[e]!;
    this.remove(e);
    this.evictions++;
    this.onEvict?.(a, b, v, c);
  }

  private append(e: number): void {
    this.prev[e] = this.tail;
    this.next[e] = -1;
    if (this.tail >= 0) this.next[this.tail] = e;
    else this.head = e;
    this.tail = e;
  }

  private unlink(e: number): void {
    const p = this.prev[e]!;
    const q = this.next[e]!;
    if (p >= 0) this.next[p] = q;
    else this.head = q;
    if (q >= 0) this.prev[q] = p;
    else this.tail = p;
  }

  private grow(): void {
    const entries = Math.min(this.cap, this.hashes.length * 2);
    const widen = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(entries);
      b.set(a);
      return b;
    };
    this.hashes = widen(this.hashes, (n) => new Int32Array(n));
    this.prev = widen(this.prev, (n) => new Int32Array(n));
    this.next = widen(this.next, (n) => new Int32Array(n));
    this.seqs = widen(this.seqs, (n) => new Float64Array(n));
    this.cs = widen(this.cs, (n) => new Float64Array(n));
    const slots = new Int32Array(slotCount(entries)).fill(-1);
    const mask = slots.length - 1;
    // Every entry below `used` is live (the free chain is empty when the table grows).
    for (let e = 0; e < this.used; e++) {
      let i = this.hashes[e]! & mask;
      while (slots[i]! >= 0) i = (i + 1) & mask;
      slots[i] = e;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** Slots for `entries`: a power of two at least twice as many (probe runs stay short). */
function slotCount(entries: number): number {
  let s = 16;
  while (s < entries * 2) s *= 2;
  return s;
}

/**
 * A string's 32-bit hash (FNV-1a and a murmur finalizer): computed once per distinct string of
 * a batch, or once per record where a record's string is all there is.
 */
export function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix(h);
}

/** The hash of a pair from its parts' hashes (order matters: (a, b) and (b, a) differ). */
export function pairHash(ha: number, hb: number): number {
  return fmix(Math.imul(ha, 0x9e3779b1) ^ (hb + 0x7f4a7c15));
}

/** murmur3's 32-bit finalizer (a bijection: `unfmix` in flood.ts inverts it). */
export function fmix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Distinct (host, port) pairs in the order first seen, without a string per pair: the host
 * strings by reference, with the ports and the hosts' hashes, in one array grown by doubling. Up
 * to LINEAR pairs a lookup scans them (a window's few probes cost one array); past that an index
 * keyed by an int32 of the host's hash and the port (a small integer key, as V8 keys maps best)
 * with colliding pairs chained. Replaces a Set of `host|port` texts, which made a string per
 * probe to ask whether it was new.
 */
export class HostPortSet {
  /** host, port, host's hash, host, port... (`size` triples). */
  private items: (string | number)[] = new Array(12);
  private n = 0;
  private heads: Map<number, number> | null = null;
  private chain: number[] | null = null;

  get size(): number {
    return this.n;
  }

  host(i: number): string {
    return this.items[3 * i] as string;
  }

  port(i: number): number {
    return this.items[3 * i + 1] as number;
  }

  has(host: string, hostHash: number, port: number): boolean {
    const items = this.items;
    if (this.heads === null) {
      for (let i = 0; i < this.n; i++) if (items[3 * i + 1] === port && items[3 * i] === host) return true;
      return false;
    }
    const i = this.heads.get(hpKey(hostHash, port));
    for (let j = i === undefined ? -1 : i; j >= 0; j = this.chain![j]!)
      if (items[3 * j + 1] === port && items[3 * j] === host) return true;
    return false;
  }

  /** Add a pair `has` said was missing (a host is always given with the same hash). */
  add(host: string, hostHash: number, port: number): void {
    const at = 3 * this.n;
    if (at === this.items.length) {
      const grown = new Array<string | number>(this.items.length * 2);
      for (let i = 0; i < at; i++) grown[i] = this.items[i]!;
      this.items = grown;
    }
    this.items[at] = host;
    this.items[at + 1] = port;
    this.items[at + 2] = hostHash;
    if (this.heads !== null) this.index(this.n);
    else if (this.n === LINEAR) {
      this.heads = new Map();
      this.chain = [];
      for (let i = 0; i <= this.n; i++) this.index(i);
    }
    this.n++;
  }

  private index(i: number): void {
    const k = hpKey(this.items[3 * i + 2] as number, this.items[3 * i + 1] as number);
    const head = this.heads!.get(k);
    this.chain![i] = head === undefined ? -1 : head;
    this.heads!.set(k, i);
  }
}

/** Pairs a HostPortSet scans before it builds its index. */
const LINEAR = 8;

function hpKey(hostHash: number, port: number): number {
  return (hostHash ^ Math.imul(port, 0x9e3779b1)) | 0;
}

/**
 * A set of ports as a table by port (1: in the set), asked once per flow where a `Set` hashed the
 * number; a value that is not a port number is in no table, as no flow's port equals it.
 */
export function portTable(ports: readonly number[]): Uint8Array {
  const t = new Uint8Array(65536);
  for (const p of ports) if (Number.isInteger(p) && p >= 0 && p < 65536) t[p] = 1;
  return t;
}
