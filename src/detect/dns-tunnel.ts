import { isoMs } from '../common/alerts.js';
import { Hll } from './bounded.js';
import type { DetectConfig } from './config.js';
import { registeredDomain } from './domain.js';
import { PairTable, pairHash, strHash } from './pair-table.js';
import { entropySkipping } from './stats.js';
import type { DetectContext, Detector } from './types.js';

/**
 * DNS tunnelling: one host asking one domain for many unique subdomains that look like
 * encoded data (long, high-entropy labels), or for TXT/NULL/large answers, within a window.
 * RITA's threshold (100 unique subdomains) with the shape of the labels as a second condition,
 * so that CDN and DNSBL lookups (many names, short labels) stay quiet.
 */
const TXT = 16;
const NULL = 10;
const SMALL = 32;
/** Query names whose facts are kept. */
const NAME_MEMO = 4096;

/** What the detector reads from a query name, the same every time the name is asked. */
interface NameFacts {
  name: string;
  domain: string;
  domainHash: number;
  allowed: boolean;
  sub: string;
  flatLen: number;
  maxLabel: number;
  entropy: number;
}

interface Pair {
  startMs: number;
  lastMs: number;
  queries: number;
  /**
   * The distinct subdomains: the first one alone, then a set from the second (most pairs of a
   * busy network ask one name), then a HyperLogLog past SMALL.
   */
  one: string | null;
  small: Set<string> | null;
  hll: Hll | null;
  lenSum: number;
  entSum: number;
  maxLabel: number;
  txtNull: number;
  large: number;
  answerBytes: number;
  /** Queries per type: the first type alone, then a map from the second type. */
  qt1: string | null;
  qt1n: number;
  qtypes: Map<string, number> | null;
  /** Made at the first long name (most pairs never ask one). */
  samples: string[] | null;
  /** The first flow id inline (NaN: none), the list made at the second: most pairs see one query. */
  fid0: number;
  flowIds: number[] | null;
  raised: number;
  reported: number;
}

export function createDnsTunnelDetector(cfg: DetectConfig['dnsTunnel'], ctx: DetectContext): Detector {
  const counters = { queries: 0, alerts: 0, evicted: 0, allowed: 0 };
  const W = cfg.windowSec * 1000;
  const allowDomains = cfg.allowDomains.map((d) => d.toLowerCase());
  const allowSuffixes = allowDomains.map((d) => `.${d}`);
  const allowedName = (name: string, domain: string): boolean => {
    for (let i = 0; i < allowDomains.length; i++)
      if (domain === allowDomains[i] || name.endsWith(allowSuffixes[i]!)) return true;
    return false;
  };
  // What a query name alone decides, kept per name: a network asks few names many times (the
  // realistic capture: 400 names in 33,647 queries), so most queries skip the lower-casing,
  // the registered-domain lookup and the subdomain's statistics. Bounded: cleared when full.
  const names = new Map<string, NameFacts>();
  const factsOf = (q: string): NameFacts => {
    let f = names.get(q);
    if (f !== undefined) return f;
    const name = q.toLowerCase();
    const domain = registeredDomain(name);
    const sub = name.length > domain.length ? name.slice(0, name.length - domain.length - 1) : '';
    // The subdomain's characters without its dots, and its longest label, read in one pass.
    let flatLen = 0;
    let labelLen = 0;
    let maxLabel = 0;
    for (let i = 0; i < sub.length; i++) {
      if (sub.charCodeAt(i) === 46) {
        if (labelLen > maxLabel) maxLabel = labelLen;
        labelLen = 0;
      } else {
        flatLen++;
        labelLen++;
      }
    }
    if (labelLen > maxLabel) maxLabel = labelLen;
    f = {
      name,
      domain,
      domainHash: strHash(domain),
      allowed: allowedName(name, domain),
      sub,
      flatLen,
      maxLabel,
      entropy: entropySkipping(sub, 46),
    };
    if (names.size >= NAME_MEMO) names.clear();
    names.set(q, f);
    return f;
  };
  const pairs = new PairTable<Pair>(cfg.maxPairs, (src, domain, p) => {
    counters.evicted++;
    decide(src, domain, p);
    release(p);
  });
  // Pairs decided and gone, made new again for the next pair: at the cap every new pair evicts
  // one, and the realistic capture makes a pair for nearly every query (an object per record).
  const spare: Pair[] = [];
  const release = (p: Pair): void => {
    if (spare.length < SPARE) spare.push(p);
  };
  const fresh = (ts: number, flowId: number | null): Pair => {
    const p = spare.pop();
    return p === undefined ? newPair(ts, flowId) : resetPair(p, ts, flowId);
  };
  let lastSweep = 0;

  const unique = (p: Pair): number =>
    p.hll ? p.hll.count() : p.small ? p.small.size : p.one !== null ? 1 : 0;

  function decide(client: string, registered: string, p: Pair): void {
    const u = unique(p);
    const meanLen = p.queries ? p.lenSum / p.queries : 0;
    const meanEnt = p.queries ? p.entSum / p.queries : 0;
    const encoded = meanLen >= cfg.minMeanSubdomainLength;
    const bySubdomains = u >= cfg.uniqueSubdomains && encoded;
    const byRecords =
      (p.txtNull >= cfg.txtNullQueries || p.large >= cfg.txtNullQueries) && u >= 20 && meanLen >= 12;
    if (!bySubdomains && !byRecords) return;
    if (u <= p.raised) return;
    const delta = p.queries - p.reported;
    p.raised = u;
    p.reported = p.queries;
    // The key as it always read (a name with a '|' in it reads up to it).
    const k = `${client}|${registered}`;
    const [src, domain] = k.split('|');
    ctx.emitter.raise({
      ts: p.lastMs,
      first_ts: p.startMs,
      category: 'dns_tunnel',
      detector: 'dns.tunnel',
      key: k,
      title: `DNS tunnel: ${src} sent ${p.queries} queries for ${u} unique encoded names under ${domain}`,
      severity: u >= 1000 ? 85 : u >= 500 ? 75 : 65,
      confidence: Math.min(95, 60 + (bySubdomains && byRecords ? 25 : 10) + (meanEnt > 3.5 ? 10 : 0)),
      src_ip: src ?? null,
      count: Math.max(1, delta),
      attack_technique: 'T1071.004',
      indicator: { type: 'domain', value: domain },
      evidence: {
        domain,
        window_sec: cfg.windowSec,
        window_start: isoMs(p.startMs),
        queries: p.queries,
        unique_subdomains: u,
        threshold_unique_subdomains: cfg.uniqueSubdomains,
        mean_subdomain_length: Math.round(meanLen * 10) / 10,
        threshold_mean_length: cfg.minMeanSubdomainLength,
        mean_entropy_bits: Math.round(meanEnt * 100) / 100,
        max_label_length: p.maxLabel,
        txt_null_queries: p.txtNull,
        large_answers: p.large,
        answer_bytes: p.answerBytes,
        qtypes: p.qtypes ? Object.fromEntries(p.qtypes) : p.qt1 !== null ? { [p.qt1]: p.qt1n } : {},
        example_queries: p.samples ?? [],
        example_flow_ids: p.flowIds ?? (Number.isNaN(p.fid0) ? [] : [p.fid0]),
        // RITA's bands: 100 / 500 / 800 / 1000 unique subdomains.
        rita_band: u >= 1000 ? 'critical' : u >= 800 ? 'high' : u >= 500 ? 'medium' : 'low',
      },
    });
    counters.alerts++;
  }

  return {
    name: 'dnsTunnel',
    counters,
    size: () => pairs.size,
    onDns(r, ts) {
      const q = r.query;
      const src = r.client_ip;
      if (typeof q !== 'string' || typeof src !== 'string' || q.length === 0) return;
      if (r.service !== undefined && r.service !== 'dns') return;
      counters.queries++;
      const nf = factsOf(q);
      const name = nf.name;
      const domain = nf.domain;
      if (ctx.allowed(src) || nf.allowed) {
        counters.allowed++;
        return;
      }
      const h = pairHash(strHash(src), nf.domainHash);
      // A new pair holds its first flow id inline; the later ones go to a list made at the second.
      const fid = typeof r.flow_id === 'number' ? r.flow_id : null;
      let made = false;
      let p = pairs.recent(src, domain, h);
      if (p === undefined) {
        p = fresh(ts, fid);
        pairs.insert(src, domain, h, p);
        made = true;
      }
      if (ts >= p.startMs + W || ts < p.startMs - W) {
        decide(src, domain, p);
        pairs.delete(src, domain, h);
        release(p);
        p = fresh(ts, fid);
        pairs.insert(src, domain, h, p);
        made = true;
      }
      if (ts > p.lastMs) p.lastMs = ts;
      p.queries++;
      const sub = nf.sub;
      if (p.hll) p.hll.add(sub);
      else if (p.small) {
        p.small.add(sub);
        if (p.small.size > SMALL) {
          p.hll = new Hll();
          for (const s of p.small) p.hll.add(s);
          p.small = null;
        }
      } else if (p.one === null) p.one = sub;
      else if (p.one !== sub) {
        p.small = new Set([p.one, sub]);
        p.one = null;
      }
      const flatLen = nf.flatLen;
      if (nf.maxLabel > p.maxLabel) p.maxLabel = nf.maxLabel;
      p.lenSum += flatLen;
      p.entSum += nf.entropy;
      const qt = typeof r.qtype === 'number' ? r.qtype : 0;
      const qn = typeof r.qtype_name === 'string' ? r.qtype_name : String(qt);
      if (p.qtypes) {
        if (p.qtypes.has(qn) || p.qtypes.size < 8) p.qtypes.set(qn, (p.qtypes.get(qn) ?? 0) + 1);
      } else if (p.qt1 === null) {
        p.qt1 = qn;
        p.qt1n = 1;
      } else if (p.qt1 === qn) p.qt1n++;
      else
        p.qtypes = new Map([
          [p.qt1, p.qt1n],
          [qn, 1],
        ]);
      if (qt === TXT || qt === NULL) p.txtNull++;
      let ab = 0;
      if (Array.isArray(r.answers)) {
        for (const a of r.answers as { data?: unknown }[])
          if (typeof a?.data === 'string') ab += a.data.length;
      }
      p.answerBytes += ab;
      if (ab >= cfg.largeAnswerBytes) p.large++;
      if (flatLen >= 16) {
        if (p.samples === null) p.samples = [name];
        else if (p.samples.length < 5) p.samples.push(name);
      }
      if (!made && fid !== null) {
        if (p.flowIds !== null) {
          if (p.flowIds.length < 5) p.flowIds.push(fid);
        } else if (Number.isNaN(p.fid0)) p.fid0 = fid;
        else p.flowIds = [p.fid0, fid];
      }
      if (p.raised === 0 && (p.queries & 31) === 0) decide(src, domain, p);
    },
    tick(now) {
      if (now - lastSweep < W / 4) return;
      lastSweep = now;
      for (let e = pairs.first(); e >= 0; ) {
        const next = pairs.after(e);
        const p = pairs.value(e);
        if (now >= p.startMs + W) {
          decide(pairs.keyA(e), pairs.keyB(e), p);
          pairs.remove(e);
          release(p);
        }
        e = next;
      }
    },
    finish() {
      for (let e = pairs.first(); e >= 0; e = pairs.after(e))
        decide(pairs.keyA(e), pairs.keyB(e), pairs.value(e));
      pairs.clear();
    },
  };
}

/** Pairs kept for reuse. */
const SPARE = 256;

/**
 * `p` as `newPair` makes it. Lists and sets are dropped, never emptied: an alert raised from the
 * pair may hold them.
 */
function resetPair(p: Pair, ts: number, flowId: number | null): Pair {
  p.startMs = ts;
  p.lastMs = ts;
  p.queries = 0;
  p.one = null;
  p.small = null;
  p.hll = null;
  p.lenSum = 0;
  p.entSum = 0;
  p.maxLabel = 0;
  p.txtNull = 0;
  p.large = 0;
  p.answerBytes = 0;
  p.qt1 = null;
  p.qt1n = 0;
  p.qtypes = null;
  p.samples = null;
  p.fid0 = flowId ?? Number.NaN;
  p.flowIds = null;
  p.raised = 0;
  p.reported = 0;
  return p;
}

function newPair(ts: number, flowId: number | null): Pair {
  return {
    startMs: ts,
    lastMs: ts,
    queries: 0,
    one: null,
    small: null,
    hll: null,
    lenSum: 0,
    entSum: 0,
    maxLabel: 0,
    txtNull: 0,
    large: 0,
    answerBytes: 0,
    qt1: null,
    qt1n: 0,
    qtypes: null,
    samples: null,
    fid0: flowId ?? Number.NaN,
    flowIds: null,
    raised: 0,
    reported: 0,
  };
}
