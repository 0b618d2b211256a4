import type { FieldInfo } from './api';
import { filterValue } from './queries';

export type SearchKind = 'cidr' | 'ip' | 'mac' | 'port' | 'community_id' | 'ja3' | 'ja4' | 'domain' | 'text';

const quote = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/**
 * The search's condition on one record type as a filter expression, so a result can be
 * sorted, paged and exported through the list API exactly as the search matched it. Mirrors
 * the server's searchCond (src/api/routes/search.ts).
 */
export function searchFilter(kind: SearchKind, q: string, fields: FieldInfo[]): string | null {
  const s = q.trim();
  const pick = (pred: (f: FieldInfo) => boolean, op: string, value: string) => {
    const parts = fields.filter(pred).map((f) => `${f.name} ${op} ${value}`);
    return parts.length ? parts.join(' or ') : null;
  };
  const text = (f: FieldInfo) => f.type === 'string' || f.type === 'string[]';
  switch (kind) {
    case 'cidr':
    case 'ip':
      return pick((f) => f.type === 'ip', '=', filterValue(s));
    case 'mac':
      return pick((f) => f.type === 'mac', '=', filterValue(s));
    case 'port':
      return pick((f) => f.type === 'int' && f.name.endsWith('port'), '=', String(Number(s)));
    case 'community_id':
      return pick((f) => f.name === 'community_id', '=', quote(s));
    case 'ja3':
      return pick((f) => text(f) && f.name.includes('ja3'), '~', quote(s.toLowerCase()));
    case 'ja4':
      return pick((f) => text(f) && f.name.includes('ja4'), '~', quote(s.toLowerCase()));
    default:
      return pick(text, '~', quote(s));
  }
}

/** Packet-store query parameters for a search, or why packets cannot be searched that way. */
export function pcapParams(kind: SearchKind, q: string): Record<string, string> | string {
  const s = q.trim();
  switch (kind) {
    case 'ip':
      return { filter: `host ${s}` };
    case 'cidr':
      return { filter: `net ${s}` };
    case 'port':
      return { filter: `port ${Number(s)}` };
    case 'community_id':
      return { community_id: s };
    default:
      return 'Packets can be retrieved for an address, a network, a port or a Community ID; this search is for text.';
  }
}
