import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoundedMap } from './bounded.js';

/**
 * Exponentially weighted baselines per key (a host, a victim, a service) and per hour of the
 * week, so that Monday 9:00 is compared with earlier Mondays 9:00 once it has been seen, and
 * with the key's overall level before. Persisted in the data directory so a restart does not
 * learn again from zero. Bounded: least recently updated keys are forgotten past the cap.
 */
export interface BaselineView {
  samples: number;
  expected: number;
  stddev: number;
  learned: boolean;
  /** Which level `expected` comes from. */
  basis: 'hour_of_week' | 'overall' | 'none';
}

export const BASELINE_FILE = 'detect-baselines.json';

/** Per slot in `nums`: samples, mean, variance, first time. */
const N = 0;
const MEAN = 1;
const VAR = 2;
const FIRST = 3;
const NUMS = 4;
const HOURS = 168;

export class Baselines {
  /**
   * Key → slot. A key's numbers live in two slabs at its slot (a free list takes evicted slots
   * back), not in an object with a Float32Array of its own: per key that was an ArrayBuffer,
   * its malloc'd backing store and two boxed doubles, ~1,090 bytes in all; in the slabs ~800.
   */
  private readonly map: BoundedMap<string, number>;
  private nums = new Float64Array(0);
  /** Per hour of the week (0 = Monday 00:00 UTC) per slot; NaN where never seen. */
  private how = new Float32Array(0);
  private slots = 0;
  private readonly free: number[] = [];

  constructor(
    readonly alpha = 0.1,
    /** Samples before a key's baseline counts (the learning period). */
    readonly minSamples = 24,
    private readonly cap = 50_000,
    private readonly dataDir?: string,
  ) {
    this.map = new BoundedMap(cap, (_k, slot) => this.free.push(slot));
    if (dataDir) this.load();
  }

  get size(): number {
    return this.map.size;
  }

  get evictions(): number {
    return this.map.evictions;
  }

  /** A fresh slot (numbers zero, hours NaN): a freed one, else the slabs grow by doubling up to the cap. */
  private alloc(firstMs: number): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slots++;
      if (slot >= this.nums.length / NUMS) {
        const n = Math.min(this.cap, Math.max(64, slot * 2));
        const nums = new Float64Array(n * NUMS);
        nums.set(this.nums);
        const how = new Float32Array(n * HOURS);
        how.set(this.how);
        this.nums = nums;
        this.how = how;
      }
    }
    this.nums.fill(0, slot * NUMS, slot * NUMS + NUMS);
    this.nums[slot * NUMS + FIRST] = firstMs;
    this.how.fill(Number.NaN, slot * HOURS, slot * HOURS + HOURS);
    return slot;
  }

  /** The key's slot, made recent; made when missing (the insert may evict and free a slot first). */
  private slotOf(key: string, firstMs: number): number {
    const s = this.map.recent(key);
    if (s !== undefined) return s;
    // Full: the oldest key goes first, so its slot is reused rather than the slabs grown.
    if (this.map.size >= this.cap) this.map.evictOne();
    const slot = this.alloc(firstMs);
    this.map.insert(key, slot);
    return slot;
  }

  update(key: string, value: number, tsMs: number): void {
    if (!Number.isFinite(value) || !Number.isFinite(tsMs)) return;
    const slot = this.slotOf(key, tsMs);
    const o = slot * NUMS;
    const nums = this.nums;
    if (nums[o + N] === 0) {
      nums[o + MEAN] = value;
    } else {
      const d = value - nums[o + MEAN]!;
      nums[o + MEAN]! += this.alpha * d;
      nums[o + VAR] = (1 - this.alpha) * (nums[o + VAR]! + this.alpha * d * d);
    }
    const h = slot * HOURS + hourOfWeek(tsMs);
    const prev = this.how[h] ?? Number.NaN;
    this.how[h] = Number.isNaN(prev) ? value : prev + 0.3 * (value - prev);
    nums[o + N]!++;
  }

  view(key: string, tsMs: number): BaselineView {
    const slot = this.map.get(key);
    const o = (slot ?? 0) * NUMS;
    const n = slot === undefined ? 0 : this.nums[o + N]!;
    if (slot === undefined || n === 0)
      return { samples: 0, expected: 0, stddev: 0, learned: false, basis: 'none' };
    const hour = this.how[slot * HOURS + hourOfWeek(tsMs)] ?? Number.NaN;
    const learned = n >= this.minSamples;
    const useSlot = learned && !Number.isNaN(hour);
    return {
      samples: n,
      expected: useSlot ? hour : this.nums[o + MEAN]!,
      stddev: Math.sqrt(this.nums[o + VAR]!),
      learned,
      basis: useSlot ? 'hour_of_week' : 'overall',
    };
  }

  save(): void {
    if (!this.dataDir) return;
    const out: Record<string, [number, number, number, number, (number | null)[]]> = {};
    for (const [k, slot] of this.map.entries()) {
      const o = slot * NUMS;
      const how = this.how.subarray(slot * HOURS, slot * HOURS + HOURS);
      out[k] = [
        this.nums[o + N]!,
        this.nums[o + MEAN]!,
        this.nums[o + VAR]!,
        this.nums[o + FIRST]!,
        Array.from(how, (v) => (Number.isNaN(v) ? null : v)),
      ];
    }
    mkdirSync(this.dataDir, { recursive: true });
    const file = join(this.dataDir, BASELINE_FILE);
    // Written beside and renamed: a crash mid-write leaves the previous baselines intact.
    writeFileSync(`${file}.tmp`, JSON.stringify({ version: 1, alpha: this.alpha, keys: out }));
    renameSync(`${file}.tmp`, file);
  }

  private load(): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(this.dataDir ?? '.', BASELINE_FILE), 'utf8'));
    } catch {
      return;
    }
    const keys = (raw as { keys?: Record<string, unknown> })?.keys;
    if (!keys || typeof keys !== 'object') return;
    for (const [k, v] of Object.entries(keys)) {
      if (!Array.isArray(v) || v.length !== 5 || !Array.isArray(v[4])) continue;
      const [n, mean, variance, firstMs, how] = v as [number, number, number, number, (number | null)[]];
      if (this.map.get(k) !== undefined) continue;
      const slot = this.slotOf(k, firstMs);
      const o = slot * NUMS;
      this.nums[o + N] = n;
      this.nums[o + MEAN] = mean;
      this.nums[o + VAR] = variance;
      for (let i = 0; i < HOURS && i < how.length; i++) {
        const x = how[i];
        if (typeof x === 'number') this.how[slot * HOURS + i] = x;
      }
    }
  }
}

export function hourOfWeek(ms: number): number {
  const d = new Date(ms);
  const h = ((d.getUTCDay() + 6) % 7) * 24 + d.getUTCHours();
  return Number.isFinite(h) ? h : 0;
}
