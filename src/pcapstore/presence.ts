import { ipv4ToString, ipv6WordsToString } from '../common/addr.js';
import { badRequest } from '../common/errors.js';
import { postingFlows, prepareQuery } from './query.js';
import type { PcapStore } from './store.js';
import { pcapTsToIso } from './time.js';

/**
 * "Is this host (pair) still talking?" One answer per source; the API merges the packet
 * store's answer with the flow store's through `mergePresence`.
 */
export interface PresenceAnswer {
  ip: string;
  peer: string | null;
  /** Epoch microseconds the question starts from. */
  since: number;
  /** Last packet (or flow end) seen at or after `since`; null when none. */
  lastSeenUs: number | null;
  lastSeen: string | null;
  firstSeenUs: number | null;
  /** Flows seen since `since` (per segment, so a flow crossing segments counts in each). */
  flows: number;
  /** The busiest peers since `since` (up to 10) with their last-seen times. */
  peers: { ip: string; lastSeenUs: number; flows: number }[];
  sources: string[];
}

export function presence(store: PcapStore, ipA: string, ipB: string | null, sinceUs: number): PresenceAnswer {
  if (!Number.isFinite(sinceUs)) throw badRequest('since must be a time');
  const pq = prepareQuery({ ip: ipB ? [ipA, ipB] : [ipA] });
  const a = pq.ips[0]!;
  const sinceSec = Math.floor(sinceUs / 1e6);
  let last = -1;
  let first = Number.POSITIVE_INFINITY;
  let flows = 0;
  const peers = new Map<string, { ip: string; lastSeenUs: number; flows: number }>();
  for (const v of store.views()) {
    if (v.meta.lastSec < sinceSec) continue;
    const idx = store.index(v.seq);
    if (!idx) continue;
    const d = idx.d;
    const cand = postingFlows(pq, idx);
    if (!cand) continue;
    for (let i = 0; i < cand.length; i++) {
      const f = cand[i]!;
      if (d.pktStart[f + 1] === d.pktStart[f]) continue;
      const lastUs = d.lastSec[f]! * 1e6 + Math.floor(d.lastNs[f]! / 1000);
      if (lastUs < sinceUs) continue;
      const o = f * 8;
      const isA = (side: number): boolean => {
        for (let w = 0; w < (a.v === 4 ? 1 : 4); w++) if (d.addr[o + side * 4 + w] !== a.w[w]) return false;
        return true;
      };
      const aSide = isA(0) ? 0 : isA(1) ? 1 : -1;
      if (aSide < 0 || d.ipVer[f] !== a.v) continue;
      const other = 1 - aSide;
      const po = o + other * 4;
      const peer =
        a.v === 4
          ? ipv4ToString(d.addr[po]!)
          : ipv6WordsToString(d.addr[po]!, d.addr[po + 1]!, d.addr[po + 2]!, d.addr[po + 3]!);
      if (ipB !== null) {
        const b = pq.ips[1]!;
        let ok = true;
        for (let w = 0; w < 4; w++) if (d.addr[po + w] !== b.w[w]) ok = false;
        if (!ok) continue;
      }
      const firstUs = d.firstSec[f]! * 1e6 + Math.floor(d.firstNs[f]! / 1000);
      flows++;
      if (lastUs > last) last = lastUs;
      if (firstUs < first) first = Math.max(firstUs, sinceUs);
      const e = peers.get(peer);
      if (e) {
        e.flows++;
        if (lastUs > e.lastSeenUs) e.lastSeenUs = lastUs;
      } else peers.set(peer, { ip: peer, lastSeenUs: lastUs, flows: 1 });
    }
  }
  return {
    ip: ipA,
    peer: ipB,
    since: sinceUs,
    lastSeenUs: last >= 0 ? last : null,
    lastSeen: last >= 0 ? pcapTsToIso(last) : null,
    firstSeenUs: Number.isFinite(first) ? first : null,
    flows,
    peers: [...peers.values()].sort((x, y) => y.lastSeenUs - x.lastSeenUs).slice(0, 10),
    sources: ['packets'],
  };
}

/** Combine answers from several sources (packet store, flow store, other sensors). */
export function mergePresence(answers: PresenceAnswer[]): PresenceAnswer {
  if (answers.length === 0) throw new Error('mergePresence: no answers');
  const base = answers[0]!;
  let last: number | null = null;
  let first: number | null = null;
  let flows = 0;
  const peers = new Map<string, { ip: string; lastSeenUs: number; flows: number }>();
  const sources = new Set<string>();
  for (const x of answers) {
    if (x.lastSeenUs !== null && (last === null || x.lastSeenUs > last)) last = x.lastSeenUs;
    if (x.firstSeenUs !== null && (first === null || x.firstSeenUs < first)) first = x.firstSeenUs;
    flows = Math.max(flows, x.flows);
    for (const p of x.peers) {
      const e = peers.get(p.ip);
      if (!e) peers.set(p.ip, { ...p });
      else {
        e.lastSeenUs = Math.max(e.lastSeenUs, p.lastSeenUs);
        e.flows = Math.max(e.flows, p.flows);
      }
    }
    for (const s of x.sources) sources.add(s);
  }
  return {
    ...base,
    lastSeenUs: last,
    lastSeen: last === null ? null : pcapTsToIso(last),
    firstSeenUs: first,
    flows,
    peers: [...peers.values()].sort((x, y) => y.lastSeenUs - x.lastSeenUs).slice(0, 10),
    sources: [...sources],
  };
}
