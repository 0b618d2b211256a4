/** Quantiles and the RITA beacon subscores (activecm/rita analysis/beacons.go). */

export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? 0;
  return a + (b - a) * (pos - lo);
}

export interface Dispersion {
  median: number;
  mad: number;
  skew: number;
  /** (skewScore + madScore) / 2 as RITA computes it. */
  score: number;
}

/**
 * Bowley skew and median absolute deviation of a list: a regular series has both near 0.
 * `minIqr` is RITA's guard (skew counts only when Q3 − Q1 ≥ 10, so tiny jitter is not skew).
 */
export function dispersion(values: number[], minIqr = 10): Dispersion {
  const s = [...values].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q2 = quantile(s, 0.5);
  const q3 = quantile(s, 0.75);
  const den = q3 - q1;
  let skew = 0;
  if (den >= minIqr && q2 !== q1 && q2 !== q3) skew = (q1 + q3 - 2 * q2) / den;
  const dev = s.map((v) => Math.abs(v - q2)).sort((a, b) => a - b);
  const mad = quantile(dev, 0.5);
  const skewScore = 1 - Math.abs(skew);
  let madScore = 0;
  if (q2 >= 1) madScore = Math.max(0, (q2 - mad) / q2);
  else madScore = mad === 0 ? 1 : 0;
  return { median: q2, mad, skew, score: (skewScore + madScore) / 2 };
}

const COUNTS = new Int32Array(256);

/**
 * `entropy` of `s` with every `skip` character removed, without making that string: the same
 * counts, summed in the same order, so the same bits.
 */
export function entropySkipping(s: string, skip: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === skip) continue;
    COUNTS[c & 255]!++;
    n++;
  }
  if (n === 0) return 0;
  let h = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === skip) continue;
    const c = ch & 255;
    const k = COUNTS[c] ?? 0;
    if (k === 0) continue;
    const p = k / n;
    h -= p * Math.log2(p);
    COUNTS[c] = 0;
  }
  return h;
}

/** Shannon entropy in bits per character (characters above 255 are folded together). */
export function entropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  for (let i = 0; i < n; i++) COUNTS[s.charCodeAt(i) & 255]!++;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) & 255;
    const k = COUNTS[c] ?? 0;
    if (k === 0) continue;
    const p = k / n;
    h -= p * Math.log2(p);
    COUNTS[c] = 0;
  }
  return h;
}

/** Coefficient of variation score of a histogram: 1 for even counts, towards 0 for bursts. */
export function histogramScore(counts: number[]): number {
  const n = counts.length;
  if (n === 0) return 0;
  let sum = 0;
  for (const c of counts) sum += c;
  const mean = sum / n;
  if (mean === 0) return 0;
  let v = 0;
  for (const c of counts) v += (c - mean) ** 2;
  const cv = Math.sqrt(v / n) / mean;
  return Math.max(0, 1 - cv);
}

/**
 * RITA's bimodal fit of a histogram: the share of bins whose count is one of the two most
 * common counts, after dropping `outliers` bins (beats missed or doubled leave a second mode).
 */
export function bimodalScore(counts: number[], outliers = 1): number {
  if (counts.length <= outliers + 2) return 0;
  const freq = new Map<number, number>();
  for (const c of counts) freq.set(c, (freq.get(c) ?? 0) + 1);
  const modes = [...freq.values()].sort((a, b) => b - a);
  const fit = (modes[0] ?? 0) + (modes[1] ?? 0);
  return Math.max(0, Math.min(1, fit / (counts.length - outliers)));
}
