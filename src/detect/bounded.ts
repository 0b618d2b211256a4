import { strHash } from './pair-table.js';

/**
 * A map with a hard cap: touching an entry makes it the newest, and inserting beyond the cap
 * evicts the least recently touched one (handed to `onEvict` so a detector can still decide on
 * it). Every detector keeps its per-host state in these, so memory stays bounded whatever the
 * traffic (a spoofed flood of a million sources only churns the map).
 */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, { v: V; seq: number }>();
  /**
   * A live iterator over the map's order. Restarting `entries()` for every eviction would scan
   * the deleted slots V8 keeps at the front of the table (quadratic under a flood); a live
   * iterator resumes where it stopped, and everything before it has been evicted or moved.
   */
  private cursor: Iterator<[K, { v: V; seq: number }]> | null = null;
  /** Insertions and moves so far: an entry's distance from the back of the order. */
  private seq = 0;
  evictions = 0;

  constructor(
    readonly cap: number,
    private readonly onEvict?: (k: K, v: V) => void,
  ) {
    // A cap of 0 (a config's "from the budget" not resolved) would never evict: unbounded.
    if (!(cap >= 1)) throw new RangeError(`BoundedMap: cap must be at least 1 (got ${cap})`);
  }

  get size(): number {
    return this.m.size;
  }

  get(k: K): V | undefined {
    return this.m.get(k)?.v;
  }

  /** The entry, made recent; created with `make` when missing. */
  touch(k: K, make: () => V): V {
    const v = this.recent(k);
    if (v !== undefined) return v;
    const made = make();
    this.insert(k, made);
    return made;
  }

  /**
   * The entry made recent, as `touch` does, or undefined when missing: with `insert`, the
   * per-record path's form of `touch` (no closure made per call).
   */
  recent(k: K): V | undefined {
    const e = this.m.get(k);
    if (e === undefined) return undefined;
    // Entries in the newer half are not moved: a hot key (a flood's victim) would otherwise
    // be deleted and re-inserted on every record, filling the table with deleted slots.
    if (this.seq - e.seq > this.cap >> 1) {
      this.m.delete(k);
      e.seq = ++this.seq;
      this.m.set(k, e);
    }
    return e.v;
  }

  /** Add a missing entry as the newest, evicting the oldest first when full. */
  insert(k: K, v: V): void {
    if (this.m.size >= this.cap) this.evictOldest();
    this.m.set(k, { v, seq: ++this.seq });
  }

  delete(k: K): void {
    this.m.delete(k);
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, e] of this.m) yield [k, e.v];
  }

  clear(): void {
    this.m.clear();
    this.cursor = null;
  }

  /** Evict the least recently touched entry now (handed to `onEvict`), as a full insert would. */
  evictOne(): void {
    this.evictOldest();
  }

  private evictOldest(): void {
    this.cursor ??= this.m.entries();
    let first = this.cursor.next();
    if (first.done) {
      this.cursor = this.m.entries();
      first = this.cursor.next();
      if (first.done) return;
    }
    this.m.delete(first.value[0]);
    this.evictions++;
    this.onEvict?.(first.value[0], first.value[1].v);
  }
}

/** A set that stops growing at its cap but keeps counting what it could not hold. */
export class CappedSet<T> {
  readonly items = new Set<T>();
  /** Distinct items beyond the cap are not known to be distinct: counted as new (upper bound). */
  overflow = 0;

  constructor(readonly cap: number) {}

  add(v: T): boolean {
    if (this.items.has(v)) return false;
    if (this.items.size >= this.cap) {
      this.overflow++;
      return true;
    }
    this.items.add(v);
    return true;
  }

  get count(): number {
    return this.items.size + this.overflow;
  }
}

/** HyperLogLog with 2^10 registers (1 KiB, ~3% error): distinct sources of a flood. */
export class Hll {
  private readonly reg = new Uint8Array(1024);

  add(s: string): void {
    // FNV-1a 32 then a murmur finalizer: cheap and good enough to spread the registers.
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    this.addHash(h);
  }

  /**
   * Add an item by the hash `add` makes of it (`strHash`'s, the same function): the detectors
   * hold their addresses' hashes already, one per distinct address of a batch.
   */
  addHash(h: number): void {
    const idx = h >>> 22;
    const w = (h << 10) | 0x200;
    const rank = Math.clz32(w) + 1;
    if (rank > (this.reg[idx] ?? 0)) this.reg[idx] = rank;
  }

  count(): number {
    const m = 1024;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      const r = this.reg[i] ?? 0;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const est = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
    if (est <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    return Math.round(est);
  }
}

/**
 * Space-Saving top-k: the heaviest sources of a flood in constant memory. Keys and weights sit
 * in two arrays in the order a map would hold them (a replaced key goes last), so that ties
 * break as they always have; a full table's miss scans k entries without making an object.
 */
export class TopK {
  private readonly keys: string[] = [];
  private readonly weights: number[] = [];
  /** The keys' hashes: a victim's every flow is compared with up to k keys, hashes first. */
  private readonly hashes: number[] = [];

  constructor(readonly k: number) {}

  /** `h` is the key's `strHash` (the detectors hold it already). */
  add(key: string, w: number, h = strHash(key)): void {
    const keys = this.keys;
    const hashes = this.hashes;
    const n = keys.length;
    for (let i = 0; i < n; i++) {
      if (hashes[i] === h && keys[i] === key) {
        this.weights[i]! += w;
        return;
      }
    }
    if (n < this.k) {
      keys.push(key);
      this.weights.push(w);
      hashes.push(h);
      return;
    }
    let min = 0;
    let minV = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = this.weights[i]!;
      if (v < minV) {
        minV = v;
        min = i;
      }
    }
    // The smallest leaves; the new key takes its weight and goes last.
    for (let i = min; i < n - 1; i++) {
      keys[i] = keys[i + 1]!;
      this.weights[i] = this.weights[i + 1]!;
      hashes[i] = hashes[i + 1]!;
    }
    keys[n - 1] = key;
    this.weights[n - 1] = minV + w;
    hashes[n - 1] = h;
  }

  top(n: number): { key: string; weight: number }[] {
    return this.keys
      .map((key, i) => ({ key, weight: this.weights[i]! }))
      .sort((a, b) => b.weight - a.weight)
      .slice(0, n);
  }
}
