import { AlertAggregator, type AlertEmitter, type AnyRecord } from '../common/alerts.js';
import type { AlertRecord } from '../schema/alert.js';
import type { SightingRecord } from '../schema/sighting.js';
import type { Cond } from '../store/filter.js';
import type { HuntQuery, Rec, RecordStore } from '../store/types.js';
import { cidrToRange, ipToBigint } from '../store/values.js';
import { Matcher } from './matcher.js';
import { type Ioc, isoOrNull } from './model.js';
import { IntelWatcher } from './watcher.js';

/** What a hunt found for one indicator: "how long has it been here, and who talked to it". */
export interface HuntFinding {
  type: string;
  value: string;
  first_seen: string | null;
  last_seen: string | null;
  /** Distinct flows (flow_id or Community ID) among the matching records. */
  flows: number;
  records: number;
  hosts: string[];
  /** last_seen − first_seen, seconds. */
  dwell_s: number;
  /** Packets of the packet store's index for the address, when asked and present. */
  packets_seen?: boolean;
}

export interface HuntProgress {
  state: 'running' | 'done' | 'failed' | 'cancelled';
  scanned: number;
  /** Record types finished out of those searched. */
  types_done: number;
  types_total: number;
  sightings: number;
  error?: string;
}

/** The connection fields every L7 record shares with its flow (src/schema/tls.ts l7FlowFields). */
const CONN = ['flow_id', 'community_id', 'proto', 'client_ip', 'client_port', 'server_ip', 'server_port'];

/** Record types a hunt reads, with the fields the matcher needs (a narrow read is a fast one). */
const HUNT_TYPES: Record<string, string[]> = {
  flow: [...CONN, 'first_ts', 'last_ts'],
  dns: [...CONN, 'ts', 'query', 'answers'],
  http: [...CONN, 'ts', 'host', 'uri'],
  tls: [...CONN, 'ts', 'sni', 'ja3', 'ja3s', 'ja4', 'cert_sha256'],
  exported_flow: ['community_id', 'proto', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'first_ts', 'last_ts'],
};

const NEEDS: Record<string, readonly string[]> = {
  flow: ['ipv4', 'ipv6', 'cidr'],
  exported_flow: ['ipv4', 'ipv6', 'cidr'],
  dns: ['domain', 'domain_suffix', 'ipv4', 'ipv6', 'cidr'],
  http: ['domain', 'domain_suffix', 'http_host', 'url'],
  tls: ['domain', 'domain_suffix', 'sni', 'ja3', 'ja3s', 'ja4', 'cert_sha256', 'cert_sha1'],
};

const IP_FIELDS: Record<string, [string, string]> = {
  flow: ['client_ip', 'server_ip'],
  exported_flow: ['src_ip', 'dst_ip'],
};

/** Past this many, a hunt reads every flow rather than send the addresses to the store. */
const MAX_PREFILTER = 20_000;

/**
 * The store condition that keeps only flows with an end among the hunted addresses and
 * networks, so the store skips the rest of history (a hunt over ten million flows for a
 * thousand addresses reads thousands of rows, not ten million). The matcher still decides on
 * each row that comes back. Null when there are no address indicators or too many of them.
 */
export function ipPrefilter(iocs: readonly Ioc[], fields: readonly [string, string]): Cond | null {
  const values: bigint[] = [];
  const ranges: { lo: bigint; hi: bigint }[] = [];
  for (const i of iocs) {
    if (i.type === 'ipv4' || i.type === 'ipv6') {
      const v = ipToBigint(i.value);
      if (v !== null) values.push(v);
    } else if (i.type === 'cidr') {
      const r = cidrToRange(i.value);
      if (r) ranges.push(r);
    }
  }
  if (values.length + ranges.length === 0 || values.length + ranges.length > MAX_PREFILTER) return null;
  const items: Cond[] = [];
  for (const field of fields) {
    for (let k = 0; k < values.length; k += 1000)
      items.push({ kind: 'in', field, values: values.slice(k, k + 1000) });
    for (const r of ranges) items.push({ kind: 'range', field, lo: r.lo, hi: r.hi });
  }
  return { kind: 'or', items };
}

/**
 * The hunted addresses and networks as prefixes for a store-side join (`RecordStore.hunt`):
 * an address is itself (shift 0), a network its first address shifted right by its host bits.
 * Null when there are none, or one the join cannot express (a /0 of IPv6).
 */
export function huntNets(iocs: readonly Ioc[]): HuntQuery['nets'] | null {
  const nets: { shift: number; net: bigint }[] = [];
  for (const i of iocs) {
    if (i.type === 'ipv4' || i.type === 'ipv6') {
      const v = ipToBigint(i.value);
      if (v !== null) nets.push({ shift: 0, net: v });
    } else if (i.type === 'cidr') {
      const r = cidrToRange(i.value);
      if (!r) continue;
      let shift = 0;
      for (let span = r.hi - r.lo + 1n; span > 1n; span >>= 1n) shift++;
      if (shift >= 128) return null;
      nets.push({ shift, net: r.lo >> BigInt(shift) });
    }
  }
  return nets.length > 0 ? nets : null;
}

/**
 * Search stored history for indicators: every record of the types that can carry them, in the
 * range, through the same matcher as live traffic, with alerts and sightings marked retro.
 * One pass per record type whatever the number of indicators.
 */
export async function retroHunt(
  store: RecordStore,
  iocs: readonly Ioc[],
  range: { after?: number; before?: number },
  out: {
    alert?: (a: AlertRecord) => void;
    sighting?: (s: SightingRecord) => void;
    progress?: (p: HuntProgress) => void;
    cancelled?: () => boolean;
  } = {},
): Promise<{ findings: HuntFinding[]; progress: HuntProgress }> {
  const matcher = Matcher.build(iocs);
  const byKey = new Map<
    string,
    { ioc: Ioc; first: number; last: number; flows: Set<string>; records: number; hosts: Set<string> }
  >();
  const sightingSink = (s: SightingRecord): void => {
    const k = `${s.indicator_type}\u0000${s.indicator_value}`;
    let f = byKey.get(k);
    if (!f) {
      const ioc = iocs.find((i) => i.type === s.indicator_type && i.value === s.indicator_value)!;
      f = {
        ioc,
        first: Number.POSITIVE_INFINITY,
        last: Number.NEGATIVE_INFINITY,
        flows: new Set(),
        records: 0,
        hosts: new Set(),
      };
      byKey.set(k, f);
    }
    const a = Date.parse(s.first_ts);
    const b = Date.parse(s.ts);
    if (a < f.first) f.first = a;
    if (b > f.last) f.last = b;
    f.records++;
    f.flows.add(s.record_id ?? s.community_id ?? `${f.records}`);
    if (s.host && f.hosts.size < 1000) f.hosts.add(s.host);
    progress.sightings++;
    out.sighting?.(s);
  };
  const agg = new AlertAggregator((a) => out.alert?.(a), { mode: 'final', sensor: 'retro-hunt' });
  const emitter: AlertEmitter = agg;
  const w = new IntelWatcher(matcher, emitter, sightingSink, true);
  const present = new Set(iocs.map((i) => i.type as string));
  const types = Object.keys(HUNT_TYPES).filter(
    (t) => NEEDS[t]!.some((x) => present.has(x)) && store.defs.some((d) => d.type === t),
  );
  const progress: HuntProgress = {
    state: 'running',
    scanned: 0,
    types_done: 0,
    types_total: types.length,
    sightings: 0,
  };
  for (const type of types) {
    if (out.cancelled?.()) {
      progress.state = 'cancelled';
      break;
    }
    const flowLike = type === 'flow' || type === 'exported_flow';
    const time = {
      ...(range.after !== undefined ? { after: range.after * 1000 } : {}),
      ...(range.before !== undefined ? { before: range.before * 1000 } : {}),
    };
    const onRows = (rows: Rec[]): void => {
      for (const r of rows) {
        (r as AnyRecord).type = type;
        w.onRecord(r as AnyRecord);
      }
      progress.scanned += rows.length;
      out.progress?.(progress);
    };
    // Flows only carry addresses: the store joins them against the hunted ones when it can.
    const nets = flowLike && store.hunt ? huntNets(iocs) : null;
    if (store.hunt && nets) {
      await store.hunt(
        { type, fields: HUNT_TYPES[type]!, ipFields: IP_FIELDS[type]!, nets, ...time },
        onRows,
      );
    } else {
      const pre = flowLike ? ipPrefilter(iocs, IP_FIELDS[type]!) : null;
      await store.stream(
        { type, fields: HUNT_TYPES[type]!, ...(pre ? { filter: pre } : {}), ...time },
        onRows,
      );
    }
    progress.types_done++;
    out.progress?.(progress);
  }
  agg.flush();
  if (progress.state === 'running') progress.state = 'done';
  out.progress?.(progress);
  const findings: HuntFinding[] = [...byKey.values()].map((f) => ({
    type: f.ioc.type,
    value: f.ioc.value,
    first_seen: isoOrNull(f.first),
    last_seen: isoOrNull(f.last),
    flows: f.flows.size,
    records: f.records,
    hosts: [...f.hosts].sort(),
    dwell_s: Math.max(0, (f.last - f.first) / 1000),
  }));
  return { findings, progress };
}
