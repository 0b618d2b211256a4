import { isoMs } from '../common/alerts.js';
import type { DetectConfig } from './config.js';
import { PairTable, pairHash } from './pair-table.js';
import type { DetectContext, Detector } from './types.js';

/**
 * Exfiltration: unusually large outbound volume from an internal host to an external
 * destination that few internal hosts use, within a window. Before the host has a baseline
 * the absolute `minBytes` applies (RITA flags 25 MB); once learned, `baselineFactor` times the
 * host's usual hourly outbound volume for that hour of the week, and never less than a fifth
 * of `minBytes` (a quiet host's normal upload is not an alarm).
 */
interface Pair {
  startMs: number;
  lastMs: number;
  bytes: number;
  flows: number;
  dport: number;
  proto: number;
  rareUsers: number;
  flowIds: number[];
  raised: number;
}

interface HostHour {
  hour: number;
  bytes: number;
}

export function createExfilDetector(cfg: DetectConfig['exfil'], ctx: DetectContext): Detector {
  const counters = { flows: 0, alerts: 0, evicted: 0, allowed: 0 };
  const W = cfg.windowSec * 1000;
  const pairs = new PairTable<Pair>(cfg.maxPairs, (src, dst, p) => {
    counters.evicted++;
    decide(src, dst, p);
  });
  /** Keyed by the source alone (the second key is always ''). */
  const hours = new PairTable<HostHour>(cfg.maxPairs);
  let lastSweep = 0;

  function threshold(src: string, ts: number): { t: number; view: ReturnType<typeof ctx.baselines.view> } {
    const view = ctx.baselines.view(`out|${src}`, ts);
    if (!view.learned) return { t: cfg.minBytes, view };
    return { t: Math.max(cfg.minBytes / 5, view.expected * cfg.baselineFactor), view };
  }

  function decide(src: string, dst: string, p: Pair): void {
    if (!src || !dst) return;
    if (p.rareUsers > cfg.rareMaxHosts) return;
    const { t, view } = threshold(src, p.startMs);
    if (p.bytes < t || p.bytes <= p.raised * 1.5) return;
    const first = p.raised === 0;
    p.raised = p.bytes;
    ctx.emitter.raise({
      ts: p.lastMs,
      first_ts: p.startMs,
      category: 'exfiltration',
      detector: 'exfil.volume',
      key: `${src}|${dst}`,
      title: `Large upload: ${src} sent ${(p.bytes / 1e6).toFixed(1)} MB to rarely used ${dst}:${p.dport}`,
      severity: p.bytes >= 10 * t ? 80 : 65,
      confidence: view.learned ? 80 : 65,
      src_ip: src,
      dst_ip: dst,
      dst_port: p.dport,
      proto: p.proto,
      count: first ? p.flows : 1,
      attack_technique: 'T1048',
      evidence: {
        bytes_out: Math.round(p.bytes),
        flows: p.flows,
        window_sec: cfg.windowSec,
        window_start: isoMs(p.startMs),
        threshold_bytes: Math.round(t),
        absolute_threshold_bytes: cfg.minBytes,
        baseline: { key: `out|${src}`, ...view, factor: cfg.baselineFactor },
        destination_internal_users: p.rareUsers,
        rare_max_hosts: cfg.rareMaxHosts,
        example_flow_ids: p.flowIds,
      },
    });
    counters.alerts++;
  }

  function hostVolume(src: string, srcHash: number, ts: number, bytes: number): void {
    const hour = Math.floor(ts / 3_600_000);
    let h = hours.recent(src, '', srcHash);
    if (h === undefined) {
      h = { hour, bytes: 0 };
      hours.insert(src, '', srcHash, h);
    }
    if (hour > h.hour) {
      ctx.baselines.update(`out|${src}`, h.bytes, h.hour * 3_600_000);
      h.hour = hour;
      h.bytes = 0;
    }
    h.bytes += bytes;
  }

  return {
    name: 'exfil',
    counters,
    size: () => pairs.size + hours.size,
    onFlow(f) {
      counters.flows++;
      if (!f.srcInternal || f.dstInternal) return;
      // A flow kept 1 in N under overload stands for N: its bytes count N times in the sums.
      hostVolume(f.src, f.srcHash, f.startMs, f.outBytes * f.weight);
      if (f.outBytes < 100_000) return;
      // Other internal hosts that used this destination before.
      const before =
        ctx.prevalence.users(f.dst, f.dstHash) - (ctx.prevalence.uses(f.dst, f.src, f.dstHash) ? 1 : 0);
      if (ctx.allowed(f.src) || ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      const h = pairHash(f.srcHash, f.dstHash);
      let p = pairs.recent(f.src, f.dst, h);
      if (p === undefined) {
        p = newPair(f.startMs, f.dport, f.proto, before);
        pairs.insert(f.src, f.dst, h, p);
      }
      if (f.startMs >= p.startMs + W || f.startMs < p.startMs - W) {
        decide(f.src, f.dst, p);
        p = newPair(f.startMs, f.dport, f.proto, before);
        pairs.delete(f.src, f.dst, h);
        pairs.insert(f.src, f.dst, h, p);
      }
      if (f.endMs > p.lastMs) p.lastMs = f.endMs;
      p.bytes += f.outBytes * f.weight;
      p.flows++;
      if (f.flowId !== null && p.flowIds.length < 5) p.flowIds.push(f.flowId);
      if (p.raised === 0 && p.bytes >= cfg.minBytes) decide(f.src, f.dst, p);
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

function newPair(ts: number, dport: number, proto: number, rareUsers: number): Pair {
  return { startMs: ts, lastMs: ts, bytes: 0, flows: 0, dport, proto, rareUsers, flowIds: [], raised: 0 };
}
