import { isoMs } from '../common/alerts.js';
import type { DetectConfig } from './config.js';
import { PairTable, pairHash, portTable } from './pair-table.js';
import { bimodalScore, dispersion, histogramScore } from './stats.js';
import type { DetectContext, Detector } from './types.js';

/**
 * Beaconing (command and control) scored as RITA v5 does (analysis/beacons.go): the mean of
 * four subscores over the connections of one internal host to one external host —
 * timestamp regularity (Bowley skew and MAD of the inter-arrival times), data-size
 * regularity (the same over bytes), duration (how much of the data's span the pair covers)
 * and histogram evenness (the better of the coefficient-of-variation and bimodal fits over up to
 * 24 bins of the pair's span; RITA uses the 24 hours of a day, which an hour's capture cannot fill). Median and MAD make the
 * score robust to jitter and to missing beats. Destinations that many internal hosts use
 * (update checks) and benign periodic services (NTP) are not beacons.
 */
interface Pair {
  /**
   * The first beat inline; the arrays are made at the second (most pairs of a busy network never
   * see one: three arrays per pair were most of what a new pair allocated).
   */
  t0: number;
  b0: number;
  ts: number[] | null;
  bytes: number[] | null;
  dport: number;
  proto: number;
  /** The first flow id inline (NaN: none yet), the list made at the second. */
  fid0: number;
  flowIds: number[] | null;
  evaluatedAt: number;
  raisedScore: number;
  reported: number;
}

export interface BeaconScore {
  score: number;
  ts_score: number;
  ds_score: number;
  duration_score: number;
  histogram_score: number;
  median_interval_sec: number;
  interval_mad_sec: number;
  interval_skew: number;
  median_bytes: number;
  bytes_mad: number;
  bytes_skew: number;
  coverage: number;
}

/** RITA's score of one series (timestamps ms ascending, bytes per connection). */
export function beaconScore(ts: number[], bytes: number[], spanMs: number): BeaconScore | null {
  if (ts.length < 4) return null;
  const iv: number[] = [];
  for (let i = 1; i < ts.length; i++) {
    const d = ((ts[i] ?? 0) - (ts[i - 1] ?? 0)) / 1000;
    if (d > 0) iv.push(d);
  }
  if (iv.length < 3) return null;
  const t = dispersion(iv);
  const d = dispersion(bytes);
  const first = ts[0] ?? 0;
  const last = ts[ts.length - 1] ?? 0;
  const coverage = spanMs > 0 ? Math.min(1, (last - first) / spanMs) : 0;
  // As many bins as give about three beats each (at most RITA's 24), so that a short capture's
  // histogram measures evenness rather than counting noise.
  const nb = Math.max(4, Math.min(24, Math.floor(ts.length / 3)));
  const bins = new Array<number>(nb).fill(0);
  const w = (last - first) / nb || 1;
  for (const x of ts) bins[Math.min(nb - 1, Math.floor((x - first) / w))]! += 1;
  const hist = Math.max(histogramScore(bins), bimodalScore(bins));
  const score = 0.25 * t.score + 0.25 * d.score + 0.25 * coverage + 0.25 * hist;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    score: r(score),
    ts_score: r(t.score),
    ds_score: r(d.score),
    duration_score: r(coverage),
    histogram_score: r(hist),
    median_interval_sec: r(t.median),
    interval_mad_sec: r(t.mad),
    interval_skew: r(t.skew),
    median_bytes: r(d.median),
    bytes_mad: r(d.mad),
    bytes_skew: r(d.skew),
    coverage: r(coverage),
  };
}

/** Pairs kept for reuse. */
const SPARE = 256;

export function createBeaconDetector(cfg: DetectConfig['beacon'], ctx: DetectContext): Detector {
  const counters = { flows: 0, scored: 0, alerts: 0, evicted: 0, suppressed_prevalent: 0, allowed: 0 };
  const ignore = portTable(cfg.ignorePorts);
  const evalMs = cfg.evaluateEverySec * 1000;
  const windowMs = cfg.windowSec * 1000;
  const pairs = new PairTable<Pair>(cfg.maxPairs, (src, dst, p) => {
    counters.evicted++;
    evaluate(src, dst, p);
    if (spare.length < SPARE) spare.push(p);
  });
  // Pairs evaluated and gone, made new again for the next pair: at the cap every new pair evicts
  // one, and on a busy network most pairs see one flow (an object per record otherwise).
  const spare: Pair[] = [];
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  let lastEval = 0;

  function evaluate(src: string, dst: string, p: Pair): void {
    const n = p.ts === null ? 1 : p.ts.length;
    if (n < cfg.minConnections || p.evaluatedAt === n) return;
    p.evaluatedAt = n;
    const pts = p.ts ?? [p.t0];
    const pbytes = p.bytes ?? [p.b0];
    const users = ctx.prevalence.users(dst);
    const ratio = users / Math.max(1, ctx.prevalence.internalHosts());
    if (users >= cfg.prevalenceMinHosts && ratio >= cfg.maxPrevalence) {
      counters.suppressed_prevalent++;
      return;
    }
    const order = pts.map((_, i) => i).sort((a, b) => (pts[a] ?? 0) - (pts[b] ?? 0));
    const ts = order.map((i) => pts[i] ?? 0);
    const bytes = order.map((i) => pbytes[i] ?? 0);
    const s = beaconScore(ts, bytes, Math.min(windowMs, maxTs - minTs));
    counters.scored++;
    if (!s || s.score < cfg.minScore || s.score <= p.raisedScore - 0.05) return;
    p.raisedScore = Math.max(p.raisedScore, s.score);
    const delta = ts.length - p.reported;
    p.reported = ts.length;
    // Inter-arrival histogram for the console: 20 bins up to twice the median interval.
    const med = s.median_interval_sec || 1;
    const hist = new Array<number>(21).fill(0);
    for (let i = 1; i < ts.length; i++) {
      const d = ((ts[i] ?? 0) - (ts[i - 1] ?? 0)) / 1000;
      hist[Math.min(20, Math.floor((d / (2 * med)) * 20))]! += 1;
    }
    ctx.emitter.raise({
      ts: ts[ts.length - 1] ?? 0,
      first_ts: ts[0] ?? 0,
      category: 'beacon',
      detector: 'beacon',
      key: `${src}|${dst}`,
      title: `Beaconing: ${src} contacts ${dst}:${p.dport} every ~${Math.round(med)} s (score ${s.score.toFixed(2)})`,
      severity: s.score >= 0.9 ? 75 : 60,
      confidence: Math.round(s.score * 100),
      src_ip: src,
      dst_ip: dst,
      dst_port: p.dport,
      proto: p.proto,
      count: Math.max(1, delta),
      attack_technique: 'T1071',
      evidence: {
        ...s,
        connections: ts.length,
        min_connections: cfg.minConnections,
        threshold_score: cfg.minScore,
        weights: { ts: 0.25, ds: 0.25, duration: 0.25, histogram: 0.25 },
        prevalence_hosts: users,
        prevalence_ratio: Math.round(ratio * 1000) / 1000,
        first_seen: isoMs(ts[0] ?? 0),
        interarrival_histogram: { bin_sec: Math.round((2 * med * 1000) / 20) / 1000, counts: hist },
        example_flow_ids: flowIdsOf(p),
      },
    });
    counters.alerts++;
  }

  function evaluateAll(now: number): void {
    lastEval = now;
    for (let e = pairs.first(); e >= 0; ) {
      const next = pairs.after(e);
      const p = pairs.value(e);
      evaluate(pairs.keyA(e), pairs.keyB(e), p);
      const last = p.ts === null ? p.t0 : (p.ts[p.ts.length - 1] ?? 0);
      if (now - last > windowMs) {
        pairs.remove(e);
        if (spare.length < SPARE) spare.push(p);
      }
      e = next;
    }
  }

  return {
    name: 'beacon',
    counters,
    size: () => pairs.size,
    onFlow(f) {
      counters.flows++;
      if (!f.srcInternal) return;
      if (f.dstInternal || ignore[f.dport] === 1) return;
      if (f.proto !== 6 && f.proto !== 17) return;
      // Failed attempts are retries, not beats (RITA's FilterFailedConnections).
      if (f.answered === false) return;
      if (ctx.allowed(f.src) || ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      if (f.startMs < minTs) minTs = f.startMs;
      if (f.startMs > maxTs) maxTs = f.startMs;
      const h = pairHash(f.srcHash, f.dstHash);
      const p = pairs.recent(f.src, f.dst, h);
      if (p === undefined) {
        // A new pair holds its first beat inline, in a pair that left if there is one (its
        // arrays dropped, never emptied: an alert raised from it may hold its flow ids).
        const n = spare.pop();
        if (n === undefined) {
          pairs.insert(f.src, f.dst, h, {
            t0: f.startMs,
            b0: f.outBytes + f.inBytes,
            ts: null,
            bytes: null,
            dport: f.dport,
            proto: f.proto,
            fid0: f.flowId ?? Number.NaN,
            flowIds: null,
            evaluatedAt: 0,
            raisedScore: 0,
            reported: 0,
          });
          return;
        }
        n.t0 = f.startMs;
        n.b0 = f.outBytes + f.inBytes;
        n.ts = null;
        n.bytes = null;
        n.dport = f.dport;
        n.proto = f.proto;
        n.fid0 = f.flowId ?? Number.NaN;
        n.flowIds = null;
        n.evaluatedAt = 0;
        n.raisedScore = 0;
        n.reported = 0;
        pairs.insert(f.src, f.dst, h, n);
        return;
      }
      if (p.ts === null || p.bytes === null) {
        p.ts = [p.t0];
        p.bytes = [p.b0];
      }
      if (p.ts.length >= cfg.maxPointsPerPair) {
        // Keep the most recent beats: the window slides, by a quarter at a time (cheap).
        const drop = Math.max(1, cfg.maxPointsPerPair >> 2);
        p.ts.splice(0, drop);
        p.bytes.splice(0, drop);
        p.reported = Math.max(0, p.reported - drop);
        p.evaluatedAt = Math.max(0, p.evaluatedAt - drop);
      }
      p.ts.push(f.startMs);
      p.bytes.push(f.outBytes + f.inBytes);
      if (f.flowId !== null) {
        if (p.flowIds !== null) {
          if (p.flowIds.length < 5) p.flowIds.push(f.flowId);
        } else if (Number.isNaN(p.fid0)) p.fid0 = f.flowId;
        else p.flowIds = [p.fid0, f.flowId];
      }
    },
    tick(now) {
      if (lastEval === 0) lastEval = now;
      if (now - lastEval >= evalMs) evaluateAll(now);
    },
    finish() {
      evaluateAll(Number.NEGATIVE_INFINITY);
      pairs.clear();
    },
  };
}

/** The pair's example flow ids as the list it once kept. */
function flowIdsOf(p: Pair): number[] {
  return p.flowIds ?? (Number.isNaN(p.fid0) ? [] : [p.fid0]);
}
