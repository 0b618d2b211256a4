import { alertId } from '../common/alerts.js';
import type { Rec, RecordStore } from '../store/types.js';
import { isoToMicros, microsToIso } from '../store/values.js';
import type { IocStore } from './ioc-store.js';
import { isIocType, makeIoc } from './model.js';
import { indicatorId, indicatorObject } from './serve.js';
import { TAXII_MEDIA } from './taxii-client.js';

/**
 * Vantage's sightings served as a TAXII 2.1 collection, so that a TIP (OpenCTI, MISP's TAXII
 * pull, anything on taxii2-client) reads back what was seen here. One API root, one read-only
 * collection with a fixed id (clients configure it once); each sighting record becomes a STIX
 * `sighting` of the `indicator` it matched, the indicator sent once per page before it.
 */
export const TAXII_ROOT = 'vantage';
export const SIGHTINGS_COLLECTION = 'b1c7a2de-56f4-4a47-9c3e-7a6e74616701';
export { TAXII_MEDIA };

export const discoveryDoc = (base: string): Record<string, unknown> => ({
  title: 'Vantage',
  description: 'Sightings of threat-intel indicators in this network',
  default: `${base}/taxii2/${TAXII_ROOT}/`,
  api_roots: [`${base}/taxii2/${TAXII_ROOT}/`],
});

export const API_ROOT_INFO = {
  title: 'Vantage sightings',
  versions: [TAXII_MEDIA],
  max_content_length: 0,
};

export const COLLECTION_INFO = {
  id: SIGHTINGS_COLLECTION,
  title: 'vantage-sightings',
  description: 'Every record that matched an indicator: a STIX sighting with the indicator it is of',
  can_read: true,
  can_write: false,
  media_types: ['application/stix+json;version=2.1'],
};

export interface ObjectsQuery {
  limit: number;
  next?: string;
  /** µs; only sightings stored strictly after it. */
  addedAfter?: number;
  /** match[type]: which object types to send (default both). */
  types: ReadonlySet<string>;
}

export interface ObjectsPage {
  envelope: { more: boolean; next?: string; objects: Record<string, unknown>[] };
  first: string | null;
  last: string | null;
}

/** A TAXII time with the records' microseconds (added_after given back must not repeat a record). */
const taxiiTime = (ts: unknown): string => {
  const us = typeof ts === 'string' ? isoToMicros(ts) : Number.NaN;
  return Number.isFinite(us) ? microsToIso(us) : new Date(0).toISOString();
};

export function sightingObject(r: Rec, indicatorRef: string): Record<string, unknown> {
  const added = taxiiTime(r.ts);
  let first = taxiiTime(r.first_ts ?? r.ts);
  if (first > added) first = added;
  const o: Record<string, unknown> = {
    type: 'sighting',
    spec_version: '2.1',
    id: `sighting--${alertId([
      'vantage-sighting',
      String(r.ts),
      String(r.indicator_type),
      String(r.indicator_value),
      String(r.matched_field),
      String(r.record_id ?? ''),
      String(r.host ?? ''),
      String(r.client_port ?? ''),
    ])}`,
    created: added,
    modified: added,
    first_seen: first,
    last_seen: added,
    count: 1,
    sighting_of_ref: indicatorRef,
    description: `${String(r.matched_field)} ${String(r.matched_value)} in a ${String(r.record_type)} record${r.host ? ` of host ${String(r.host)}` : ''}`,
    x_vantage_record_type: r.record_type,
    x_vantage_matched_field: r.matched_field,
    x_vantage_matched_value: r.matched_value,
    x_vantage_retro: r.retro === true,
  };
  if (r.host) o.x_vantage_host = r.host;
  if (r.community_id) o.x_vantage_community_id = r.community_id;
  return o;
}

/**
 * One page of the collection: sightings in the order they were stored (oldest first), paged by
 * the store's own cursor. A page holds at most `limit` objects: half the page is left for the
 * indicators the sightings refer to.
 */
export async function sightingsPage(
  store: RecordStore,
  iocs: IocStore,
  q: ObjectsQuery,
  nowMs: number,
): Promise<ObjectsPage> {
  const wantInd = q.types.has('indicator');
  const wantSig = q.types.has('sighting');
  if (!wantInd && !wantSig) return { envelope: { more: false, objects: [] }, first: null, last: null };
  const per = wantInd && wantSig ? Math.max(1, Math.floor(q.limit / 2)) : q.limit;
  const page = await store.list({
    type: 'sighting',
    limit: per,
    sort: 'ts',
    desc: false,
    ...(q.addedAfter !== undefined ? { after: q.addedAfter + 1 } : {}),
    ...(q.next ? { cursor: q.next } : {}),
  });
  const objects: Record<string, unknown>[] = [];
  const sent = new Set<string>();
  for (const r of page.items) {
    const t = String(r.indicator_type);
    const v = String(r.indicator_value);
    const ioc =
      (isIocType(t) ? iocs.byType[t].get(v) : undefined) ??
      makeIoc(isIocType(t) ? t : 'domain', v, Array.isArray(r.sources) ? r.sources.map(String) : []);
    const ref = indicatorId(ioc);
    if (wantInd && !sent.has(ref)) {
      sent.add(ref);
      objects.push(indicatorObject(ioc, nowMs));
    }
    if (wantSig) objects.push(sightingObject(r, ref));
  }
  const first = page.items.length > 0 ? taxiiTime(page.items[0]!.ts) : null;
  const last = page.items.length > 0 ? taxiiTime(page.items[page.items.length - 1]!.ts) : null;
  return {
    envelope: page.next ? { more: true, next: page.next, objects } : { more: false, objects },
    first,
    last,
  };
}
