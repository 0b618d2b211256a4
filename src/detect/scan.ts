import { isoMs } from '../common/alerts.js';
import { BoundedMap, CappedSet } from './bounded.js';
import type { DetectConfig } from './config.js';
import { isFailedProbe } from './flow-view.js';
import type { DetectContext, Detector, FlowView } from './types.js';

/**
 * Scans, after Zeek's scan.zeek: unique ports probed on one host (vertical) and unique hosts
 * probed on one port (horizontal) by one source within a tumbling window, over failed
 * (unanswered, refused) connections and answered ones that carried no data. A second, longer
 * window catches slow scans that stay under the short window's thresholds. Collected flows
 * count each sampled probe for `sampling` probes.
 */
const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
/** Distinct (host, port) entries one source may hold in one window: bounds a scanner's state. */
const SOURCE_BUDGET = 4096;

class ScanWindow {
  byDst = new Map<string, CappedSet<number>>();
  byPort = new Map<number, CappedSet<string>>();
  entries = 0;
  failed = 0;
  refused = 0;
  answered = 0;
  sampling = 1;
  protos = new Set<number>();
  flowIds: number[] = [];
  raised = new Map<string, number>();
  lastMs: number;
  constructor(readonly startMs: number) {
    this.lastMs = startMs;
  }
}

interface SourceState {
  fast: ScanWindow;
  slow: ScanWindow;
  /** Keys the short window raised: the slow window does not raise them again. */
  fastRaisedInSlow: Set<string>;
}

export function createScanDetector(cfg: DetectConfig['scan'], ctx: DetectContext): Detector {
  const counters = { flows: 0, probes: 0, windows: 0, alerts: 0, evicted: 0, allowed: 0 };
  const fastMs = cfg.windowSec * 1000;
  const slowMs = cfg.slowWindowSec * 1000;
  const sources = new BoundedMap<string, SourceState>(cfg.maxSources, (src, s) => {
    counters.evicted++;
    close(src, s.fast, false);
    close(src, s.slow, true);
  });
  let lastSweep = 0;

  function add(w: ScanWindow, f: FlowView, failed: boolean): void {
    if (f.startMs > w.lastMs) w.lastMs = f.startMs;
    if (failed) {
      if (f.refused) w.refused++;
      else w.failed++;
    } else w.answered++;
    if (f.sampling > w.sampling) w.sampling = f.sampling;
    w.protos.add(f.proto);
    if (f.flowId !== null && w.flowIds.length < 5) w.flowIds.push(f.flowId);
    if (w.entries >= SOURCE_BUDGET) return;
    let ports = w.byDst.get(f.dst);
    if (!ports) {
      ports = new CappedSet<number>(2048);
      w.byDst.set(f.dst, ports);
    }
    if (ports.add(f.dport)) w.entries++;
    let hosts = w.byPort.get(f.dport);
    if (!hosts) {
      hosts = new CappedSet<string>(2048);
      w.byPort.set(f.dport, hosts);
    }
    if (hosts.add(f.dst)) w.entries++;
  }

  /** Raise what a window holds above its thresholds. `crossing` limits it to one key. */
  function evaluate(src: string, w: ScanWindow, slow: boolean, only?: string): void {
    const vt = slow ? cfg.slowVerticalPorts : cfg.verticalPorts;
    const ht = slow ? cfg.slowHorizontalHosts : cfg.horizontalHosts;
    const proto = [...w.protos].map((p) => PROTO_NAME[p] ?? String(p)).join('+');
    const base = {
      window_sec: (slow ? slowMs : fastMs) / 1000,
      window_start: isoMs(w.startMs),
      probes_failed: w.failed,
      probes_refused: w.refused,
      probes_answered: w.answered,
      sampling_rate: w.sampling,
      protocols: proto,
      example_flow_ids: w.flowIds,
    };
    for (const [dst, ports] of w.byDst) {
      const est = ports.count * w.sampling;
      const k = `v|${dst}`;
      if (est < vt || ports.count < 3 || (only !== undefined && only !== k)) continue;
      if (slow && sourcesFastRaised(src, k)) continue;
      const prev = w.raised.get(k) ?? 0;
      if (ports.count <= prev) continue;
      w.raised.set(k, ports.count);
      const list = [...ports.items].sort((a, b) => a - b);
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
        proto: w.protos.size === 1 ? ([...w.protos][0] ?? null) : null,
        count: ports.count - prev,
        attack_technique: 'T1046',
        evidence: {
          ...base,
          kind: 'vertical',
          unique_ports: est,
          unique_ports_seen: ports.count,
          threshold_ports: vt,
          // The console draws the fan-out from these.
          ports_sample: list.slice(0, 100),
          port_range: [list[0] ?? null, list[list.length - 1] ?? null],
        },
      });
      counters.alerts++;
    }
    for (const [port, hosts] of w.byPort) {
      const est = hosts.count * w.sampling;
      const k = `h|${port}`;
      if (est < ht || hosts.count < 3 || (only !== undefined && only !== k)) continue;
      if (slow && sourcesFastRaised(src, k)) continue;
      const prev = w.raised.get(k) ?? 0;
      if (hosts.count <= prev) continue;
      w.raised.set(k, hosts.count);
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
        proto: w.protos.size === 1 ? ([...w.protos][0] ?? null) : null,
        count: hosts.count - prev,
        attack_technique: ctx.internal.has(src) ? 'T1046' : 'T1595.001',
        evidence: {
          ...base,
          kind: 'horizontal',
          unique_hosts: est,
          unique_hosts_seen: hosts.count,
          threshold_hosts: ht,
          hosts_sample: [...hosts.items].slice(0, 100),
        },
      });
      counters.alerts++;
    }
  }

  function sourcesFastRaised(src: string, k: string): boolean {
    return sources.get(src)?.fastRaisedInSlow.has(k) ?? false;
  }

  function close(src: string, w: ScanWindow, slow: boolean): void {
    counters.windows++;
    if (w.entries > 0) evaluate(src, w, slow);
  }

  function crossing(src: string, s: SourceState, f: FlowView): void {
    // Raise as soon as a key crosses its threshold (live), the window's end updates it.
    const vk = `v|${f.dst}`;
    const ports = s.fast.byDst.get(f.dst);
    if (
      ports &&
      ports.count >= 3 &&
      ports.count * s.fast.sampling >= cfg.verticalPorts &&
      !s.fast.raised.has(vk)
    ) {
      evaluate(src, s.fast, false, vk);
      s.fastRaisedInSlow.add(vk);
    }
    const hk = `h|${f.dport}`;
    const hosts = s.fast.byPort.get(f.dport);
    if (
      hosts &&
      hosts.count >= 3 &&
      hosts.count * s.fast.sampling >= cfg.horizontalHosts &&
      !s.fast.raised.has(hk)
    ) {
      evaluate(src, s.fast, false, hk);
      s.fastRaisedInSlow.add(hk);
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
      const s = sources.touch(f.src, () => newState(f.startMs));
      if (f.startMs >= s.fast.startMs + fastMs || f.startMs < s.fast.startMs - fastMs) {
        close(f.src, s.fast, false);
        s.fast = new ScanWindow(f.startMs);
      }
      if (f.startMs >= s.slow.startMs + slowMs || f.startMs < s.slow.startMs - slowMs) {
        close(f.src, s.slow, true);
        s.slow = new ScanWindow(f.startMs);
        s.fastRaisedInSlow.clear();
      }
      add(s.fast, f, failed);
      add(s.slow, f, failed);
      crossing(f.src, s, f);
    },
    tick(now) {
      if (now - lastSweep < fastMs) return;
      lastSweep = now;
      for (const [src, s] of sources.entries()) {
        if (now >= s.fast.startMs + fastMs * 2 && s.fast.entries > 0) {
          close(src, s.fast, false);
          s.fast = new ScanWindow(now);
        }
        if (now >= s.slow.startMs + slowMs * 2) {
          close(src, s.slow, true);
          sources.delete(src);
        }
      }
    },
    finish() {
      for (const [src, s] of sources.entries()) {
        close(src, s.fast, false);
        close(src, s.slow, true);
      }
      sources.clear();
    },
  };
}

function newState(ms: number): SourceState {
  return { fast: new ScanWindow(ms), slow: new ScanWindow(ms), fastRaisedInSlow: new Set() };
}
