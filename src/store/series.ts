import type { Series, SeriesQuery } from './types.js';
import { microsToIso } from './values.js';

/** One bucket of one group as a backend's query returns it: the metric's numerator and denominator. */
export interface SeriesPart {
  bucket: number;
  group: string | null;
  num: number;
  den: number;
}

/**
 * A KPI series from additive parts, the same for every backend: groups ranked by their total,
 * the rest summed into "other", rates per second for bps/pps/flows, ratios otherwise, every
 * bucket of any group present in every series.
 */
export function seriesFromParts(parts: Iterable<SeriesPart>, sq: SeriesQuery, unit: string): Series {
  const per = sq.metric === 'bps' || sq.metric === 'pps' || sq.metric === 'flows' ? sq.step : 0;
  type Acc = Map<number, [number, number]>;
  const groups = new Map<string | null, { total: number; acc: Acc }>();
  const buckets = new Set<number>();
  for (const p of parts) {
    buckets.add(p.bucket);
    let e = groups.get(p.group);
    if (!e) {
      e = { total: 0, acc: new Map() };
      groups.set(p.group, e);
    }
    e.total += p.num;
    const a = e.acc.get(p.bucket) ?? [0, 0];
    a[0] += p.num;
    a[1] += p.den;
    e.acc.set(p.bucket, a);
  }
  const keep = sq.groups ?? 10;
  const sorted = [...groups.entries()].sort((x, y) => y[1].total - x[1].total);
  const top = sorted.slice(0, keep);
  if (sorted.length > keep) {
    const other: Acc = new Map();
    for (const [, e] of sorted.slice(keep)) {
      for (const [b, [n, d]] of e.acc) {
        const a = other.get(b) ?? [0, 0];
        a[0] += n;
        a[1] += d;
        other.set(b, a);
      }
    }
    top.push(['other', { total: 0, acc: other }]);
  }
  const allBuckets = [...buckets].sort((a, b) => a - b);
  return {
    metric: sq.metric,
    step: sq.step,
    unit,
    series: top.map(([group, e]) => ({
      group,
      points: allBuckets.map((b): [string, number | null] => {
        const a = e.acc.get(b);
        if (!a) return [microsToIso(b), per ? 0 : null];
        const v = per ? a[0] / per : a[1] > 0 ? a[0] / a[1] : null;
        return [microsToIso(b), v === null ? null : Number(v.toPrecision(9))];
      }),
    })),
  };
}

/** One bucket of one group of a quantile (or max) series: the value and the flows it measured. */
export interface StatPart {
  bucket: number;
  group: string | null;
  value: number;
  n: number;
}

/**
 * A quantile (or max) series from per-bucket values, the same for every backend: groups ranked
 * by the flows they measured. A quantile of "the rest" cannot be made from the groups'
 * quantiles, so there is no "other" group.
 */
export function statSeriesFromParts(
  parts: Iterable<StatPart>,
  sq: SeriesQuery,
  stat: NonNullable<SeriesQuery['stat']>,
  unit: string,
): Series {
  const groups = new Map<string | null, { n: number; at: Map<number, number> }>();
  const buckets = new Set<number>();
  for (const p of parts) {
    buckets.add(p.bucket);
    const e = groups.get(p.group) ?? { n: 0, at: new Map<number, number>() };
    e.n += p.n;
    e.at.set(p.bucket, p.value);
    groups.set(p.group, e);
  }
  const top = [...groups.entries()].sort((x, y) => y[1].n - x[1].n).slice(0, sq.groups ?? 10);
  const all = [...buckets].sort((a, b) => a - b);
  return {
    metric: sq.metric,
    stat,
    step: sq.step,
    unit,
    series: top.map(([group, e]) => ({
      group,
      points: all.map((b): [string, number | null] => {
        const v = e.at.get(b);
        return [microsToIso(b), v === undefined ? null : Number(v.toPrecision(9))];
      }),
    })),
  };
}

/**
 * Parts from a backend's result rows `[bucket, group?, a, b]` (a, b: numerator and denominator,
 * or value and flows measured); `keyOf` turns the backend's group value into its API form.
 */
function partsOf<T>(
  rows: readonly (readonly unknown[])[],
  grouped: boolean,
  keyOf: (v: unknown) => unknown,
  make: (bucket: number, group: string | null, a: unknown, b: unknown) => T,
): T[] {
  const at = grouped ? 2 : 1;
  return rows.map((r) => {
    const key = grouped ? keyOf(r[1] ?? null) : null;
    return make(Number(r[0]), key === null ? null : String(key), r[at], r[at + 1]);
  });
}

export function seriesParts(
  rows: readonly (readonly unknown[])[],
  grouped: boolean,
  keyOf: (v: unknown) => unknown,
): SeriesPart[] {
  return partsOf(rows, grouped, keyOf, (bucket, group, num, den) => ({
    bucket,
    group,
    num: Number(num ?? 0),
    den: Number(den ?? 0),
  }));
}

export function statParts(
  rows: readonly (readonly unknown[])[],
  grouped: boolean,
  keyOf: (v: unknown) => unknown,
): StatPart[] {
  return partsOf(rows, grouped, keyOf, (bucket, group, value, n) => ({
    bucket,
    group,
    value: Number(value),
    n: Number(n),
  }));
}
