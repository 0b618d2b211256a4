import { isoMs } from '../common/alerts.js';
import type { DetectConfig } from './config.js';
import { isFailedProbe } from './flow-view.js';
import { HostPortSet, PairTable } from './pair-table.js';
import type { DetectContext, Detector, FlowView } from './types.js';

/**
 * Scans, after Zeek's scan.zeek: unique ports probed on one host (vertical) and unique hosts
 * probed on one port (horizontal) by one source within a tumbling window, over failed
 * (unanswered, refused) connections and answered ones that carried no data. A second, longer
 * window catches slow scans that stay under the short window's thresholds. Collected flows
 * count each sampled probe for `sampling` probes.
 */
const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const PROTO_BIT: Record<number, number> = { 6: 1, 17: 2, 132: 4 };
/** Distinct (host, port) pairs one source may hold in one window: bounds a scanner's state. */
const SOURCE_BUDGET = 4096;

/**
 * One source's probes in one window: the distinct (host, port) pairs and, per host and per
 * port, how many of them. Three collections per window keep a spoofed flood's million
 * one-probe sources cheap. The counts per host and per port are made from the pairs only when
 * a threshold could be reached (`countsOf`): a busy network's few-probe windows never need them.
 */
class ScanWindow {
  // Allocated at the second distinct pair: most sources of a spoofed flood probe once.
  onlyDst: string | null = null;
  onlyPort = 0;
  onlyHash = 0;
  pairs: HostPortSet | null = null;
  perDst: Map<string, number> | null = null;
  perPort: Map<number, number> | null = null;
  overflow = 0;
  failed = 0;
  refused = 0;
  answered = 0;
  sampling = 1;
  protos = 0;
  flowIds: number[] | null = null;
  raised: Map<string, number> | null = null;
  lastMs: number;
  constructor(readonly startMs: number) {
    this.lastMs = startMs;
  }
}

interface SourceState {
  fast: ScanWindow;
  /** Made at the source's second probe (one-probe sources are most of a flood). */
  slow: ScanWindow | null;
  /** Keys the short window raised: the slow window does not raise them again. */
  fastRaised: Set<string> | null;
}

export function createScanDetector(cfg: DetectConfig['scan'], ctx: DetectContext): Detector {
  const counters = { flows: 0, probes: 0, windows: 0, alerts: 0, evicted: 0, allowed: 0 };
  const fastMs = cfg.windowSec * 1000;
  const slowMs = cfg.slowWindowSec * 1000;
  const minCount = Math.min(cfg.verticalPorts, cfg.horizontalHosts);
  /** Keyed by the source alone (the second key is always ''). */
  const sources = new PairTable<SourceState>(cfg.maxSources, (src, _, s) => {
    counters.evicted++;
    close(src, s, s.fast, false);
    if (s.slow) close(src, s, s.slow, true);
  });
  let lastSweep = 0;

  function add(w: ScanWindow, f: FlowView, failed: boolean): void {
    if (f.startMs > w.lastMs) w.lastMs = f.startMs;
    if (failed) {
      if (f.refused) w.refused++;
      else w.failed++;
    } else w.answered++;
    if (f.sampling > w.sampling) w.sampling = f.sampling;
    w.protos |= PROTO_BIT[f.proto] ?? 0;
    if (f.flowId !== null) {
      // Made with its first id (an array grown by a push reserves 17 slots; most windows see one probe).
      if (w.flowIds === null) w.flowIds = [f.flowId];
      else if (w.flowIds.length < 5) w.flowIds.push(f.flowId);
    }
    if (w.pairs === null) {
      if (w.onlyDst === null) {
        w.onlyDst = f.dst;
        w.onlyPort = f.dport;
        w.onlyHash = f.dstHash;
        return;
      }
      if (w.onlyDst === f.dst && w.onlyPort === f.dport) return;
      w.pairs = new HostPortSet();
      w.pairs.add(w.onlyDst, w.onlyHash, w.onlyPort);
    }
    if (w.pairs.has(f.dst, f.dstHash, f.dport)) return;
    if (w.pairs.size >= SOURCE_BUDGET) {
      w.overflow++;
      return;
    }
    w.pairs.add(f.dst, f.dstHash, f.dport);
    if (w.perDst !== null && w.perPort !== null) {
      w.perDst.set(f.dst, (w.perDst.get(f.dst) ?? 0) + 1);
      w.perPort.set(f.dport, (w.perPort.get(f.dport) ?? 0) + 1);
    }
  }

  /**
   * The window's pairs counted per host and per port, in the order each first appeared (as
   * counting them with every new pair kept them): made once, then kept up by `add`.
   */
  function countsOf(w: ScanWindow, pairs: HostPortSet): void {
    if (w.perDst !== null) return;
    const perDst = new Map<string, number>();
    const perPort = new Map<number, number>();
    for (let i = 0; i < pairs.size; i++) {
      const h = pairs.host(i);
      const p = pairs.port(i);
      perDst.set(h, (perDst.get(h) ?? 0) + 1);
      perPort.set(p, (perPort.get(p) ?? 0) + 1);
    }
    w.perDst = perDst;
    w.perPort = perPort;
  }

  const pairCount = (w: ScanWindow): number => (w.pairs ? w.pairs.size : w.onlyDst === null ? 0 : 1);

  function protoName(w: ScanWindow): string {
    return [6, 17, 132]
      .filter((p) => w.protos & (PROTO_BIT[p] ?? 0))
      .map((p) => PROTO_NAME[p])
      .join('+');
  }

  function singleProto(w: ScanWindow): number | null {
    return w.protos === 1 ? 6 : w.protos === 2 ? 17 : w.protos === 4 ? 132 : null;
  }

  /** Raise what a window holds above its thresholds; `only` limits it to one key. */
  function evaluate(src: string, s: SourceState, w: ScanWindow, slow: boolean, only?: string): void {
    const vt = slow ? cfg.slowVerticalPorts : cfg.verticalPorts;
    const ht = slow ? cfg.slowHorizontalHosts : cfg.horizontalHosts;
    if (!w.pairs) return;
    countsOf(w, w.pairs);
    if (!w.perDst || !w.perPort) return;
    for (const [dst, n] of w.perDst) {
      const k = `v|${dst}`;
      if (n * w.sampling < vt || n < 3 || (only !== undefined && only !== k)) continue;
      if (slow && s.fastRaised?.has(k)) continue;
      const prev = w.raised?.get(k) ?? 0;
      if (n <= prev) continue;
      w.raised ??= new Map();
      w.raised.set(k, n);
      const ports: number[] = [];
      for (let i = 0; i < w.pairs.size; i++) if (w.pairs.host(i) === dst) ports.push(w.pairs.port(i));
      ports.sort((a, b) => a - b);
      const est = n * w.sampling;
      const proto = protoName(w);
      ctx.emitter.raise({
        ts: w.lastMs,
        first_ts: w.startMs,
        category: 'scan',
        detector: slow ? 'scan.slow_vertical' : 'scan.vertical',
        key: `${src}|${dst}`,
        title: `${slow ? 'Slow vertical' : 'Vertical'} ${proto} scan: ${src} probed ${est} ports on ${dst}`,
        severity: ctx.internal.has(src) ? 60 : 45,
        confidence: Math.min(95, 50 + Math.round((est / vt) * 10)),
        src_ip: src,
        dst_ip: dst,
        proto: singleProto(w),
        count: n - prev,
        attack_technique: 'T1046',
        evidence: {
          ...common(w, slow, proto),
          kind: 'vertical',
          unique_ports: est,
          unique_ports_seen: n,
          threshold_ports: vt,
          // The console draws the fan-out from these.
          ports_sample: ports.slice(0, 100),
          port_range: [ports[0] ?? null, ports[ports.length - 1] ?? null],
        },
      });
      counters.alerts++;
    }
    for (const [port, n] of w.perPort) {
      const k = `h|${port}`;
      if (n * w.sampling < ht || n < 3 || (only !== undefined && only !== k)) continue;
      if (slow && s.fastRaised?.has(k)) continue;
      const prev = w.raised?.get(k) ?? 0;
      if (n <= prev) continue;
      w.raised ??= new Map();
      w.raised.set(k, n);
      const hosts: string[] = [];
      for (let i = 0; i < w.pairs.size && hosts.length < 100; i++)
        if (w.pairs.port(i) === port) hosts.push(w.pairs.host(i));
      const est = n * w.sampling;
      const proto = protoName(w);
      ctx.emitter.raise({
        ts: w.lastMs,
        first_ts: w.startMs,
        category: 'scan',
        detector: slow ? 'scan.slow_horizontal' : 'scan.horizontal',
        key: `${src}|${port}`,
        title: `${slow ? 'Slow horizontal' : 'Horizontal'} ${proto} scan: ${src} probed port ${port} on ${est} hosts`,
        severity: ctx.internal.has(src) ? 65 : 45,
        confidence: Math.min(95, 50 + Math.round((est / ht) * 10)),
        src_ip: src,
        dst_port: port,
        proto: singleProto(w),
        count: n - prev,
        attack_technique: ctx.internal.has(src) ? 'T1046' : 'T1595.001',
        evidence: {
          ...common(w, slow, proto),
          kind: 'horizontal',
          unique_hosts: est,
          unique_hosts_seen: n,
          threshold_hosts: ht,
          hosts_sample: hosts,
        },
      });
      counters.alerts++;
    }
  }

  function common(w: ScanWindow, slow: boolean, proto: string): Record<string, unknown> {
    return {
      window_sec: (slow ? slowMs : fastMs) / 1000,
      window_start: isoMs(w.startMs),
      probes_failed: w.failed,
      probes_refused: w.refused,
      probes_answered: w.answered,
      pairs_over_budget: w.overflow,
      sampling_rate: w.sampling,
      protocols: proto,
      example_flow_ids: w.flowIds ?? [],
    };
  }

  function close(src: string, s: SourceState, w: ScanWindow, slow: boolean): void {
    counters.windows++;
    // Most windows (one probe of a spoofed source) cannot reach any threshold.
    const n = pairCount(w);
    if (n >= 3 && n * w.sampling >= minCount) evaluate(src, s, w, slow);
  }

  function crossing(src: string, s: SourceState, f: FlowView): void {
    // Raise as soon as a key crosses its threshold (live); the window's end updates it.
    const w = s.fast;
    // A host's or a port's count is at most the window's pairs: below both thresholds nothing
    // can cross, and the counts are not made.
    const n = w.pairs === null ? 0 : w.pairs.size;
    if (n < 3 || n * w.sampling < minCount) return;
    countsOf(w, w.pairs!);
    if (!w.perDst || !w.perPort) return;
    // The keys' texts are made only past a threshold: most probes cross none.
    const nd = w.perDst.get(f.dst) ?? 0;
    if (nd >= 3 && nd * w.sampling >= cfg.verticalPorts) {
      const vk = `v|${f.dst}`;
      if (!w.raised?.has(vk)) {
        evaluate(src, s, w, false, vk);
        s.fastRaised ??= new Set();
        s.fastRaised.add(vk);
      }
    }
    const np = w.perPort.get(f.dport) ?? 0;
    if (np >= 3 && np * w.sampling >= cfg.horizontalHosts) {
      const hk = `h|${f.dport}`;
      if (!w.raised?.has(hk)) {
        evaluate(src, s, w, false, hk);
        s.fastRaised ??= new Set();
        s.fastRaised.add(hk);
      }
    }
  }

  return {
    name: 'scan',
    counters,
    size: () => sources.size,
    onFlow(f) {
      counters.flows++;
      if (f.proto !== 6 && f.proto !== 17 && f.proto !== 132) return;
      const failed = isFailedProbe(f);
      const probe = failed || (f.proto === 6 && f.answered === true && f.outPayload === 0);
      if (!probe) return;
      if (ctx.allowed(f.src) || ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      counters.probes++;
      let s = sources.recent(f.src, '', f.srcHash);
      const fresh = s === undefined;
      if (s === undefined) {
        s = { fast: new ScanWindow(f.startMs), slow: null, fastRaised: null };
        sources.insert(f.src, '', f.srcHash, s);
      }
      if (f.startMs >= s.fast.startMs + fastMs || f.startMs < s.fast.startMs - fastMs) {
        close(f.src, s, s.fast, false);
        s.fast = new ScanWindow(f.startMs);
      }
      if (!fresh) {
        s.slow ??= new ScanWindow(s.fast.startMs);
        if (f.startMs >= s.slow.startMs + slowMs || f.startMs < s.slow.startMs - slowMs) {
          close(f.src, s, s.slow, true);
          s.slow = new ScanWindow(f.startMs);
          s.fastRaised = null;
        }
        add(s.slow, f, failed);
      }
      add(s.fast, f, failed);
      crossing(f.src, s, f);
    },
    tick(now) {
      if (now - lastSweep < fastMs) return;
      lastSweep = now;
      for (let e = sources.first(); e >= 0; ) {
        const next = sources.after(e);
        const src = sources.keyA(e);
        const s = sources.value(e);
        if (now >= s.fast.startMs + fastMs * 2 && pairCount(s.fast) > 0) {
          close(src, s, s.fast, false);
          s.fast = new ScanWindow(now);
        }
        const quietSince = s.slow ? s.slow.startMs + slowMs * 2 : s.fast.startMs + fastMs * 2;
        if (now >= quietSince) {
          if (s.slow) close(src, s, s.slow, true);
          sources.remove(e);
        }
        e = next;
      }
    },
    finish() {
      for (let e = sources.first(); e >= 0; e = sources.after(e)) {
        const s = sources.value(e);
        close(sources.keyA(e), s, s.fast, false);
        if (s.slow) close(sources.keyA(e), s, s.slow, true);
      }
      sources.clear();
    },
  };
}
