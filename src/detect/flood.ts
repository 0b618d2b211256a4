import { isoMs } from '../common/alerts.js';
import { Hll, TopK } from './bounded.js';
import type { DetectConfig } from './config.js';
import { PairTable } from './pair-table.js';
import type { DetectContext, Detector, FlowView } from './types.js';

/**
 * Floods and DDoS per victim, after FastNetMon: packets per second towards one address in
 * buckets of `bucketSec`, split into SYN-only, UDP, ICMP and reflected (large answers from
 * amplifier ports), compared with absolute thresholds and, once learned, with the victim's
 * own baseline. Flows arrive when they end, so a bucket is decided `latenessSec` after it
 * closed; a long flow's packets are spread over the buckets it spans.
 */
const AMP_PORTS: Record<number, string> = {
  17: 'qotd',
  19: 'chargen',
  53: 'dns',
  123: 'ntp',
  161: 'snmp',
  389: 'cldap',
  1900: 'ssdp',
  11211: 'memcached',
};
/** AMP_PORTS as a table by port: asked for every UDP flow (a keyed read of a sparse object). */
const AMP = new Uint8Array(65536);
for (const port of Object.keys(AMP_PORTS)) AMP[Number(port)] = 1;
const MAX_BUCKETS = 48;
const SERIES = 30;
/** Count-min sketch in front of the per-victim state: width, and buckets remembered. */
const CM_WIDTH = 1 << 16;
const CM_RING = 4;
const SMALL_SOURCES = 64;

/**
 * A victim's buckets live in two typed arrays, slot `idx mod MAX_BUCKETS`: a victim keeps a
 * bucket per `bucketSec` for the lateness (33 at the defaults), and as objects (six boxed
 * doubles and a Map each) they were the detector's heap: 95,000 buckets, growing ~3 MB a minute
 * toward the 10,000-victim bound in a soak of collected flows. Now 2.7 KB per victim, fixed.
 */
const F_SYN = 0;
const F_UDP = 1;
const F_ICMP = 2;
const F_AMP = 3;
const F_PKTS = 4;
const F_BYTES = 5;
const FIELDS = 6;

interface Victim {
  /** The bucket index held by each slot (NaN: free). */
  idx: Float64Array;
  /** FIELDS numbers per slot. */
  sums: Float64Array;
  /** Slots in use. */
  used: number;
  /** Reflected packets per amplifier source port, per bucket index that saw any. */
  ampPorts: Map<number, Map<number, number>> | null;
  /**
   * Rates of the last SERIES decided buckets, for the console's rate-against-baseline chart:
   * [ts, rate] pairs in a ring, made at the first decided bucket. As an array of pairs it was
   * ~2.4 KB of small arrays and boxed times per long-lived victim; as a ring 480 bytes.
   */
  series: Float64Array | null;
  /** Pairs in the series, and the slot the next one goes to. */
  seriesN: number;
  seriesAt: number;
  srcSmall: Set<string> | null;
  hll: Hll | null;
  /** Made when the victim's traffic could matter (a second flow): random destinations stay cheap. */
  top: TopK | null;
  flowIds: number[];
  sampling: number;
  /** Flows each kept flow stands for (a mirror's whole-flow sampling): distinct sources scale by it. */
  weight: number;
  v6: boolean;
}

type FloodClass = 'syn' | 'udp' | 'icmp' | 'amp';
const CLASS_INFO: Record<FloodClass, { detector: string; title: string; technique: string }> = {
  syn: { detector: 'ddos.syn_flood', title: 'SYN flood', technique: 'T1498.001' },
  udp: { detector: 'ddos.udp_flood', title: 'UDP flood', technique: 'T1498.001' },
  icmp: { detector: 'ddos.icmp_flood', title: 'ICMP flood', technique: 'T1498.001' },
  amp: { detector: 'ddos.amplification', title: 'Reflection/amplification attack', technique: 'T1498.002' },
};

export function createFloodDetector(cfg: DetectConfig['flood'], ctx: DetectContext): Detector {
  const counters = { flows: 0, gated: 0, buckets: 0, alerts: 0, evicted: 0, late: 0, allowed: 0 };
  const W = cfg.bucketSec * 1000;
  const lateMs = cfg.latenessSec * 1000;
  /** Keyed by the destination alone (the second key is always ''). */
  const victims = new PairTable<Victim>(cfg.maxVictims, (ip, _, v) => {
    counters.evicted++;
    for (const slot of slotsInOrder(v, Number.POSITIVE_INFINITY)) decideSlot(ip, v, slot);
  });
  let clock = 0;
  let lastSweep = 0;
  // Per-victim state is made only once a destination's packets in a bucket could matter
  // (a tenth of minPps): benign hosts and a flood of random destinations cost no allocation.
  const gate = (cfg.minPps * cfg.bucketSec) / 10;
  const cm = new Float32Array(CM_RING * 2 * CM_WIDTH);
  const cmBucket = new Float64Array(CM_RING).fill(Number.NaN);

  /**
   * Packets towards `dst` arrived in bucket `idx` so far, this flow's included (upper estimate).
   * The first row's hash is FNV-1a of the text, which `strHash` finishes with a murmur finalizer:
   * it is read back from `dstHash` by the finalizer's inverse instead of hashed again.
   */
  function sketch(dst: string, dstHash: number, idx: number, pkts: number): number {
    const h1 = unfmix(dstHash);
    let h2 = 0x01000193;
    for (let i = 0; i < dst.length; i++) h2 = Math.imul(h2 ^ dst.charCodeAt(i), 0x5bd1e995) ^ (h2 >>> 15);
    const slot = ((idx % CM_RING) + CM_RING) % CM_RING;
    const base = slot * 2 * CM_WIDTH;
    if (cmBucket[slot] !== idx) {
      if (cmBucket[slot]! > idx) return 0;
      cm.fill(0, base, base + 2 * CM_WIDTH);
      cmBucket[slot] = idx;
    }
    const a = base + ((h1 >>> 0) & (CM_WIDTH - 1));
    const b = base + CM_WIDTH + ((h2 >>> 0) & (CM_WIDTH - 1));
    cm[a]! += pkts;
    cm[b]! += pkts;
    return Math.min(cm[a]!, cm[b]!);
  }

  /** The slot of bucket `idx` (made free and zero if new), or -1 when it is too old to keep. */
  function bucketOf(ip: string, v: Victim, idx: number): number {
    const slot = ((idx % MAX_BUCKETS) + MAX_BUCKETS) % MAX_BUCKETS;
    const held = v.idx[slot]!;
    if (held === idx) return slot;
    if (!Number.isNaN(held)) {
      // The slot holds a bucket MAX_BUCKETS (or more) windows away: the older one goes.
      if (idx < held) {
        counters.late++;
        return -1;
      }
      decideSlot(ip, v, slot);
    }
    v.idx[slot] = idx;
    v.sums.fill(0, slot * FIELDS, slot * FIELDS + FIELDS);
    v.used++;
    return slot;
  }

  /** Slots in use whose bucket closed `lateMs` before `now`, oldest first. */
  function slotsInOrder(v: Victim, now: number): number[] {
    const due: number[] = [];
    for (let slot = 0; slot < MAX_BUCKETS; slot++) {
      const idx = v.idx[slot]!;
      if (!Number.isNaN(idx) && (idx + 1) * W + lateMs <= now) due.push(slot);
    }
    return due.sort((x, y) => v.idx[x]! - v.idx[y]!);
  }

  /** Decides a slot's bucket and frees the slot. */
  function decideSlot(ip: string, v: Victim, slot: number): void {
    const idx = v.idx[slot]!;
    const o = slot * FIELDS;
    const amp = v.ampPorts?.get(idx) ?? null;
    v.ampPorts?.delete(idx);
    v.idx[slot] = Number.NaN;
    v.used--;
    decide(ip, v, idx, {
      syn: v.sums[o + F_SYN]!,
      udp: v.sums[o + F_UDP]!,
      icmp: v.sums[o + F_ICMP]!,
      amp: v.sums[o + F_AMP]!,
      pkts: v.sums[o + F_PKTS]!,
      bytes: v.sums[o + F_BYTES]!,
      ampPorts: amp,
    });
  }

  function decide(
    ip: string,
    v: Victim,
    idx: number,
    b: {
      syn: number;
      udp: number;
      icmp: number;
      amp: number;
      pkts: number;
      bytes: number;
      ampPorts: Map<number, number> | null;
    },
  ): void {
    counters.buckets++;
    const victim = ip;
    const tsMs = (idx + 1) * W;
    const secs = W / 1000;
    const pps = b.pkts / secs;
    const view = ctx.baselines.view(`flood|${victim}`, tsMs);
    const rates: Record<FloodClass, number> = {
      syn: b.syn / secs,
      udp: b.udp / secs,
      icmp: b.icmp / secs,
      amp: b.amp / secs,
    };
    const abs: Record<FloodClass, number> = {
      syn: cfg.synPps,
      udp: cfg.udpPps,
      icmp: cfg.icmpPps,
      amp: cfg.amplificationPps,
    };
    let hit: FloodClass | null = null;
    let threshold = 0;
    for (const c of ['amp', 'syn', 'icmp', 'udp'] as const) {
      let t = abs[c];
      if (view.learned) t = Math.min(t, Math.max(cfg.minPps, view.expected * cfg.baselineFactor));
      if (rates[c] >= t) {
        hit = c;
        threshold = t;
        break;
      }
    }
    v.series ??= new Float64Array(2 * SERIES);
    v.series[2 * v.seriesAt] = tsMs;
    v.series[2 * v.seriesAt + 1] = Math.round(pps);
    v.seriesAt = (v.seriesAt + 1) % SERIES;
    if (v.seriesN < SERIES) v.seriesN++;
    if (!hit) {
      // Attacks are not learned as normal, nor are victims too quiet for any threshold to
      // depend on their baseline (a flood of random destinations must not fill the baselines).
      if (victim && pps >= 1) ctx.baselines.update(`flood|${victim}`, pps, tsMs);
      return;
    }
    const sources = Math.round((v.hll ? v.hll.count() : (v.srcSmall?.size ?? 0)) * v.weight);
    const top = (v.top?.top(10) ?? []).map((t) => ({ ip: t.key, packets: Math.round(t.weight) }));
    const spoofed = sources >= cfg.spoofedSources;
    const info = CLASS_INFO[hit];
    const ampPorts = b.ampPorts ? [...b.ampPorts.entries()].sort((a, c) => c[1] - a[1]) : [];
    const ampService = hit === 'amp' ? (AMP_PORTS[ampPorts[0]?.[0] ?? 0] ?? null) : null;
    const proto = hit === 'syn' ? 6 : hit === 'icmp' ? (v.v6 ? 58 : 1) : 17;
    const ratio = rates[hit] / threshold;
    ctx.emitter.raise({
      ts: tsMs,
      first_ts: idx * W,
      category: 'ddos',
      detector: info.detector,
      key: victim,
      title: `${info.title}${ampService ? ` (${ampService})` : ''} against ${victim}: ${Math.round(rates[hit])} packets/s from ${spoofed ? `~${sources} (spoofed)` : sources} sources`,
      severity: Math.min(100, 70 + Math.round(Math.log2(ratio) * 5)),
      confidence: view.learned ? 90 : 80,
      dst_ip: victim,
      proto,
      count: 1,
      attack_technique: info.technique,
      evidence: {
        class: hit,
        rate_pps: Math.round(rates[hit]),
        total_pps: Math.round(pps),
        bps: Math.round((b.bytes * 8) / secs),
        threshold_pps: threshold,
        absolute_threshold_pps: abs[hit],
        baseline: { ...view, factor: cfg.baselineFactor },
        bucket_sec: secs,
        bucket_start: isoMs(idx * W),
        rates_pps: Object.fromEntries(Object.entries(rates).map(([k, r]) => [k, Math.round(r)])),
        distinct_sources: sources,
        spoofed_sources: spoofed,
        top_sources: top,
        amplification_ports: ampPorts
          .slice(0, 5)
          .map(([port, pk]) => ({ port, service: AMP_PORTS[port], packets: pk })),
        mean_packet_bytes: b.pkts > 0 ? Math.round(b.bytes / b.pkts) : 0,
        sampling_rate: v.sampling,
        example_flow_ids: v.flowIds,
        // The console draws the victim's rate against its baseline from this.
        series: seriesOf(v),
        mitigation: {
          action: spoofed || hit === 'amp' ? 'blackhole' : 'flowspec',
          victim_prefix: `${victim}/${v.v6 ? 128 : 32}`,
          top_sources: top.map((t) => t.ip),
          match: {
            proto,
            ...(hit === 'amp' && ampPorts[0] ? { src_port: ampPorts[0][0] } : {}),
            ...(hit === 'syn' ? { tcp_flags: 'S' } : {}),
          },
        },
      },
    });
    counters.alerts++;
  }

  function sweep(now: number): void {
    lastSweep = now;
    for (let e = victims.first(); e >= 0; ) {
      const next = victims.after(e);
      const ip = victims.keyA(e);
      const v = victims.value(e);
      for (const slot of slotsInOrder(v, now)) decideSlot(ip, v, slot);
      if (v.used === 0) victims.remove(e);
      e = next;
    }
  }

  return {
    name: 'flood',
    counters,
    size: () => victims.size,
    onFlow(f: FlowView) {
      counters.flows++;
      if (ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      let syn = 0;
      let udp = 0;
      let icmp = 0;
      let amp = 0;
      // A flow kept 1 in N stands for N like it: its packets count N times toward the victim.
      const p = f.outPkts * f.weight;
      if (f.proto === 6) {
        if (f.clientFlags.includes('S') && !f.clientFlags.includes('A')) syn = p;
      } else if (f.proto === 17) {
        udp = p;
        if (AMP[f.sport] === 1 && f.outBytes / Math.max(1, f.outPkts) >= cfg.amplificationMinBytes) amp = p;
      } else if (f.proto === 1 || f.proto === 58) icmp = p;
      const i0 = Math.floor(f.startMs / W);
      let seen = 0;
      // Made recent now (touch's move): nothing else reads the victims before the insert below.
      const v0 = victims.recent(f.dst, '', f.dstHash);
      if (f.endMs > clock) clock = f.endMs;
      if (!v0) {
        // Keyed by arrival (data clock), not by the flow's start: flows arrive when they expire,
        // a flood's all at once, long after benign flows that started later.
        seen = sketch(f.dst, f.dstHash, Math.floor(clock / W), p);
        if (seen < gate) {
          counters.gated++;
          return;
        }
      }
      let v = v0;
      if (v === undefined) {
        v = {
          idx: new Float64Array(MAX_BUCKETS).fill(Number.NaN),
          sums: new Float64Array(MAX_BUCKETS * FIELDS),
          used: 0,
          ampPorts: null,
          series: null,
          seriesN: 0,
          seriesAt: 0,
          srcSmall: null,
          hll: null,
          top: null,
          flowIds: [],
          sampling: 1,
          weight: 1,
          v6: f.dst.includes(':'),
        };
        victims.insert(f.dst, '', f.dstHash, v);
      }
      if (syn + udp + icmp > 0) {
        if (v.hll) v.hll.addHash(f.srcHash);
        else {
          v.srcSmall ??= new Set();
          v.srcSmall.add(f.src);
          if (v.srcSmall.size > SMALL_SOURCES) {
            v.hll = new Hll();
            for (const s of v.srcSmall) v.hll.add(s);
            v.srcSmall = null;
          }
        }
        v.top ??= new TopK(16);
        v.top.add(f.src, p, f.srcHash);
        if (f.flowId !== null && v.flowIds.length < 5) v.flowIds.push(f.flowId);
      }
      if (f.sampling > v.sampling) v.sampling = f.sampling;
      if (f.weight > v.weight) v.weight = f.weight;
      // The packets the sketch counted before the victim had state.
      const carried = v0 ? 0 : Math.max(0, seen - p);
      const i1 = Math.max(i0, Math.floor(f.endMs / W));
      const n = Math.min(8, i1 - i0 + 1);
      const first = i1 - n + 1;
      for (let i = first; i <= i1; i++) {
        const slot = bucketOf(f.dst, v, i);
        if (slot < 0) continue;
        const o = slot * FIELDS;
        const sums = v.sums;
        sums[o + F_SYN]! += syn / n;
        sums[o + F_UDP]! += udp / n;
        sums[o + F_ICMP]! += icmp / n;
        sums[o + F_AMP]! += amp / n;
        sums[o + F_PKTS]! += p / n;
        if (carried > 0 && i === first) {
          // Attributed to the flow's class: the flows before the gate were most likely alike.
          sums[o + F_PKTS]! += carried;
          if (amp > 0) sums[o + F_AMP]! += carried;
          if (syn > 0) sums[o + F_SYN]! += carried;
          else if (icmp > 0) sums[o + F_ICMP]! += carried;
          else if (udp > 0) sums[o + F_UDP]! += carried;
        }
        sums[o + F_BYTES]! += (f.outBytes * f.weight) / n;
        if (amp > 0) {
          v.ampPorts ??= new Map();
          let ports = v.ampPorts.get(i);
          if (!ports) {
            ports = new Map();
            v.ampPorts.set(i, ports);
          }
          ports.set(f.sport, (ports.get(f.sport) ?? 0) + amp / n);
        }
      }
      if (f.endMs > clock) clock = f.endMs;
    },
    tick(now) {
      if (now > clock) clock = now;
      if (clock - lastSweep >= W) sweep(clock);
    },
    finish() {
      sweep(Number.POSITIVE_INFINITY);
      victims.clear();
    },
  };
}

/** The victim's series, oldest first, as the evidence gives it. */
function seriesOf(v: Victim): [string, number][] {
  const out: [string, number][] = [];
  const s = v.series;
  if (s === null) return out;
  for (let k = 0; k < v.seriesN; k++) {
    const slot = (v.seriesAt - v.seriesN + k + SERIES) % SERIES;
    out.push([isoMs(s[2 * slot]!), s[2 * slot + 1]!]);
  }
  return out;
}

/**
 * The inverse of `strHash`'s murmur finalizer (fmix32): its FNV-1a state before it. The multipliers
 * are the inverses of 0xc2b2ae35 and 0x85ebca6b modulo 2^32; xor-shifts by 13 undo by 13 and 26.
 */
export function unfmix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7ed1b41d);
  h ^= (h >>> 13) ^ (h >>> 26);
  h = Math.imul(h, 0xa5cb9243);
  h ^= h >>> 16;
  return h;
}
