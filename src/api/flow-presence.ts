import type { PresenceAnswer } from '../pcapstore/presence.js';
import { flowRecord } from '../schema/records.js';
import { parseFilter } from '../store/filter.js';
import type { RecordStore } from '../store/types.js';
import { parseUserTime } from '../store/values.js';

/**
 * The flow store's answer to "is this host (pair) still talking?": the latest flow end among
 * the most recent flows involving the address (and its peer), and how many flows since.
 */
export function flowPresence(store: RecordStore) {
  return async (ip: string, peer: string | null, sinceUs: number): Promise<PresenceAnswer | null> => {
    const q = (s: string) => JSON.stringify(s);
    const src = peer
      ? `(client_ip = ${q(ip)} and server_ip = ${q(peer)}) or (client_ip = ${q(peer)} and server_ip = ${q(ip)})`
      : `client_ip = ${q(ip)} or server_ip = ${q(ip)}`;
    const filter = parseFilter(src, flowRecord);
    const range = { after: sinceUs };
    const page = await store.list({ type: 'flow', filter, ...range, limit: 200 });
    const flows = await store.count('flow', { ...range, filter });
    let last: number | null = null;
    let first: number | null = null;
    const peers = new Map<string, { ip: string; lastSeenUs: number; flows: number }>();
    for (const r of page.items) {
      const end = parseUserTime(String(r.last_ts));
      const start = parseUserTime(String(r.first_ts));
      if (end !== null && (last === null || end > last)) last = end;
      if (start !== null && (first === null || start < first)) first = start;
      const other = String(r.client_ip === ip ? r.server_ip : r.client_ip);
      const e = peers.get(other) ?? { ip: other, lastSeenUs: 0, flows: 0 };
      e.flows++;
      if (end !== null && end > e.lastSeenUs) e.lastSeenUs = end;
      peers.set(other, e);
    }
    return {
      ip,
      peer,
      since: sinceUs,
      lastSeenUs: last,
      lastSeen: last === null ? null : new Date(last / 1000).toISOString(),
      firstSeenUs: first,
      flows,
      peers: [...peers.values()].sort((a, b) => b.lastSeenUs - a.lastSeenUs).slice(0, 10),
      sources: ['flows'],
    };
  };
}
