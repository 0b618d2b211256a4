import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoundedMap } from './bounded.js';

/**
 * Exponentially weighted baselines per key (a host, a victim, a service) and per hour of the
 * week, so that Monday 9:00 is compared with earlier Mondays 9:00 once it has been seen, and
 * with the key's overall level before. Persisted in the data directory so a restart does not
 * learn again from zero. Bounded: least recently updated keys are forgotten past the cap.
 */
export interface BaselineEntry {
  /** Samples folded in (an hour of data for an hourly metric). */
  n: number;
  mean: number;
  /** EWMA of the squared deviation. */
  var: number;
  /** Per hour of the week (0 = Monday 00:00 UTC); NaN where never seen. */
  how: Float32Array;
  firstMs: number;
}

export interface BaselineView {
  samples: number;
  expected: number;
  stddev: number;
  learned: boolean;
  /** Which level `expected` comes from. */
  basis: 'hour_of_week' | 'overall' | 'none';
}

export const BASELINE_FILE = 'detect-baselines.json';

export class Baselines {
  private readonly map: BoundedMap<string, BaselineEntry>;

  constructor(
    readonly alpha = 0.1,
    /** Samples before a key's baseline counts (the learning period). */
    readonly minSamples = 24,
    cap = 50_000,
    private readonly dataDir?: string,
  ) {
    this.map = new BoundedMap(cap);
    if (dataDir) this.load();
  }

  get size(): number {
    return this.map.size;
  }

  get evictions(): number {
    return this.map.evictions;
  }

  update(key: string, value: number, tsMs: number): void {
    if (!Number.isFinite(value) || !Number.isFinite(tsMs)) return;
    const e = this.map.touch(key, () => ({
      n: 0,
      mean: 0,
      var: 0,
      how: new Float32Array(168).fill(Number.NaN),
      firstMs: tsMs,
    }));
    if (e.n === 0) {
      e.mean = value;
    } else {
      const d = value - e.mean;
      e.mean += this.alpha * d;
      e.var = (1 - this.alpha) * (e.var + this.alpha * d * d);
    }
    const h = hourOfWeek(tsMs);
    const prev = e.how[h] ?? Number.NaN;
    e.how[h] = Number.isNaN(prev) ? value : prev + 0.3 * (value - prev);
    e.n++;
  }

  view(key: string, tsMs: number): BaselineView {
    const e = this.map.get(key);
    if (!e || e.n === 0) return { samples: 0, expected: 0, stddev: 0, learned: false, basis: 'none' };
    const slot = e.how[hourOfWeek(tsMs)] ?? Number.NaN;
    const learned = e.n >= this.minSamples;
    const useSlot = learned && !Number.isNaN(slot);
    return {
      samples: e.n,
      expected: useSlot ? slot : e.mean,
      stddev: Math.sqrt(e.var),
      learned,
      basis: useSlot ? 'hour_of_week' : 'overall',
    };
  }

  save(): void {
    if (!this.dataDir) return;
    const out: Record<string, [number, number, number, number, (number | null)[]]> = {};
    for (const [k, e] of this.map.entries()) {
      out[k] = [e.n, e.mean, e.var, e.firstMs, Array.from(e.how, (v) => (Number.isNaN(v) ? null : v))];
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
      const arr = new Float32Array(168).fill(Number.NaN);
      for (let i = 0; i < 168 && i < how.length; i++) {
        const x = how[i];
        if (typeof x === 'number') arr[i] = x;
      }
      this.map.touch(k, () => ({ n, mean, var: variance, how: arr, firstMs }));
    }
  }
}

export function hourOfWeek(ms: number): number {
  const d = new Date(ms);
  const h = ((d.getUTCDay() + 6) % 7) * 24 + d.getUTCHours();
  return Number.isFinite(h) ? h : 0;
}
