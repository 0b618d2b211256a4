import { sightingRecord } from '../schema/sighting.js';
import { parseFilter } from '../store/filter.js';
import type { RecordStore } from '../store/types.js';
import type { IocStore } from './ioc-store.js';
import { FEED_FAMILIES, type Ioc, type IocType } from './model.js';
import type { ServedIoc } from './serve.js';

export interface FeedQuery {
  family: string;
  limit: number;
  /** ms; indicators seen (or, with sighted, sighted) in [after, before). */
  after?: number;
  before?: number;
  confidence: number;
  severity: number;
  source?: string;
  sighted: boolean;
}

/**
 * The indicators of a feed family that pass the filters, newest first. With `sighted`, only
 * those seen in this network, with their first and last sighting and the hosts involved.
 */
export async function queryFeed(
  iocs: IocStore,
  store: RecordStore | null,
  q: FeedQuery,
): Promise<ServedIoc[]> {
  const types = new Set<IocType>(FEED_FAMILIES[q.family] ?? []);
  const pass = (i: Ioc): boolean =>
    types.has(i.type) &&
    i.confidence >= q.confidence &&
    i.severity >= q.severity &&
    (q.source === undefined || i.sources.includes(q.source));
  if (!q.sighted) {
    const inRange = (i: Ioc): boolean => {
      const t = Number.isFinite(i.last_seen) ? i.last_seen : i.first_seen;
      if (q.after !== undefined && !(t >= q.after)) return false;
      if (q.before !== undefined && !(t < q.before)) return false;
      return true;
    };
    const out: Ioc[] = [];
    for (const i of iocs.values()) if (pass(i) && inRange(i)) out.push(i);
    const t = (i: Ioc): number =>
      Number.isFinite(i.last_seen) ? i.last_seen : Number.isFinite(i.first_seen) ? i.first_seen : 0;
    out.sort((a, b) => t(b) - t(a) || (a.value < b.value ? -1 : 1));
    return out.slice(0, q.limit).map((ioc) => ({ ioc }));
  }
  if (!store) return [];
  const range = {
    ...(q.after !== undefined ? { after: q.after * 1000 } : {}),
    ...(q.before !== undefined ? { before: q.before * 1000 } : {}),
  };
  const typeList = [...types].map((t) => `"${t}"`).join(', ');
  const seen = await store.distinct('sighting', 'indicator_value', {
    ...range,
    filter: parseFilter(`indicator_type in (${typeList})`, sightingRecord),
    limit: 100_000,
  });
  const out: ServedIoc[] = [];
  for (const s of seen.sort((a, b) => (a.last < b.last ? 1 : -1))) {
    if (out.length >= q.limit) break;
    const v = String(s.value);
    let ioc: Ioc | undefined;
    for (const t of types) {
      ioc = iocs.get(`${t}\u0000${v}`);
      if (ioc) break;
    }
    if (!ioc || !pass(ioc)) continue;
    const hosts = await store.distinct('sighting', 'host', {
      ...range,
      filter: parseFilter(`indicator_value = "${v.replace(/["\\]/g, '\\$&')}"`, sightingRecord),
      limit: 100,
    });
    out.push({
      ioc,
      sighting: {
        first: s.first,
        last: s.last,
        count: s.count,
        hosts: hosts.map((h) => String(h.value)).filter((h) => h !== 'null' && h !== ''),
      },
    });
  }
  return out;
}
