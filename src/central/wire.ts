import { badRequest } from '../common/errors.js';
import type { Cond } from '../store/filter.js';
import type { ListQuery, RecordStore, SeriesQuery, TimeRange, TopQuery, TopRow } from '../store/types.js';

/**
 * The central ↔ sensor protocol: a RecordStore call as JSON (filters travel as the parsed,
 * coded condition tree; addresses are bigints, sent as {"$n": "…"}). The sensor runs the call
 * on its own store; the central merges. The same `runOp` serves the central's local store.
 */
export type Op =
  | { op: 'list'; q: ListQuery }
  | { op: 'count'; type: string; q: TimeRange & { filter?: Cond | null } }
  | { op: 'top'; q: TopQuery; min?: number }
  | { op: 'distinct'; type: string; field: string; q: TimeRange & { filter?: Cond | null; limit: number } }
  | { op: 'series'; q: SeriesQuery };

export const encodeOp = (o: unknown): string =>
  JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? { $n: v.toString() } : v));

export const decodeOp = (s: string): Op =>
  JSON.parse(s, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.$n === 'string'
      ? BigInt(v.$n)
      : v,
  ) as Op;

/** Groups asked of each sensor when merging: all of them, so the central ranks exactly. */
export const ALL_GROUPS = 1_000_000;
/** Most top/distinct rows one sensor sends for one merge round. */
export const ROUND_CAP = 100_000;

/** One bucket of a mergeable series: additive numerator and denominator. */
export type SeriesPart = { group: string | null; points: [string, number, number][] };

export async function runOp(store: RecordStore, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'list':
      return store.list(o.q);
    case 'count':
      return store.count(o.type, o.q);
    case 'top': {
      const rows = await store.top(o.min === undefined ? o.q : { ...o.q, limit: ROUND_CAP });
      const by = o.q.by;
      return o.min === undefined ? rows : rows.filter((r: TopRow) => r[by] >= o.min!);
    }
    case 'distinct':
      return store.distinct(o.type, o.field, o.q);
    case 'series':
      return seriesParts(store, o.q);
  }
}

/**
 * A series as additive parts per bucket. Rates (bps, pps, flows) add up; a mean is rebuilt
 * from its count (flows having the metric), a retransmission rate from its packets; max is
 * the max. Quantiles cannot be merged from the sensors' quantiles, so they are refused.
 */
async function seriesParts(
  store: RecordStore,
  q: SeriesQuery,
): Promise<{ unit: string; parts: SeriesPart[] }> {
  const stat = q.stat ?? 'mean';
  if (stat !== 'mean' && stat !== 'max')
    throw badRequest(`stat ${stat} cannot be merged across sensors; ask a sensor, or use mean or max`);
  const all = { ...q, groups: ALL_GROUPS };
  const main = await store.timeseries(all);
  const step = q.step;
  let weight: typeof main | null = null;
  if (stat === 'mean' && (q.metric === 'rtt_ms' || q.metric === 'srt_ms')) {
    const has: Cond = { kind: 'not', item: { kind: 'null', field: q.metric } };
    weight = await store.timeseries({
      ...all,
      metric: 'flows',
      filter: q.filter ? { kind: 'and', items: [q.filter, has] } : has,
    });
  } else if (q.metric === 'retrans_rate') {
    weight = await store.timeseries({ ...all, metric: 'pps' });
  }
  const w = new Map<string, number>();
  for (const s of weight?.series ?? [])
    for (const [t, v] of s.points) w.set(`${s.group}\u0000${t}`, Number(v ?? 0) * step);
  const rate = q.metric === 'bps' || q.metric === 'pps' || q.metric === 'flows';
  return {
    unit: main.unit,
    parts: main.series.map((s) => ({
      group: s.group,
      points: s.points.map(([t, v]): [string, number, number] => {
        if (v === null) return [t, 0, 0];
        if (rate) return [t, v * step, 1];
        if (stat === 'max') return [t, v, 1];
        const d = w.get(`${s.group}\u0000${t}`) ?? 0;
        return [t, v * d, d];
      }),
    })),
  };
}

/** Undo encodeOp's bigint boxing on an already parsed body. */
export function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.$n === 'string' && /^\d{1,40}$/.test(o.$n)) return BigInt(o.$n);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = revive(o[k]);
    return out;
  }
  return v;
}
