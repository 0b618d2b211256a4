import { BoundedMap, CappedSet } from './bounded.js';
import type { DetectConfig } from './config.js';
import { networkOf } from './nets.js';
import type { DetectContext, Detector } from './types.js';

/**
 * New rare destinations: after a learning period, the first contact of an internal host with
 * an external network (/24, /48) that at most `maxHosts` internal hosts talk to. Low severity:
 * context for other alerts more than an alarm on its own.
 */
interface Net {
  hosts: CappedSet<string>;
  firstMs: number;
}

export function createRareDestDetector(cfg: DetectConfig['rareDest'], ctx: DetectContext): Detector {
  const counters = { flows: 0, new_networks: 0, alerts: 0, evicted: 0, allowed: 0 };
  // Keyed by the /24's number for IPv4 (no string per flow), by the /48's text for IPv6.
  const nets = new BoundedMap<string | number, Net>(cfg.maxNetworks, () => {
    counters.evicted++;
  });
  let startMs = Number.POSITIVE_INFINITY;
  // An IPv6 destination's /48 text by address: parsing it again for every flow was most of
  // this detector's cost on a network with an IPv6 share. Cleared when full, so bounded.
  const v6nets = new Map<string, string>();
  const netOf = (ip: string): string => {
    let n = v6nets.get(ip);
    if (n === undefined) {
      if (v6nets.size >= 4096) v6nets.clear();
      n = networkOf(ip);
      v6nets.set(ip, n);
    }
    return n;
  };
  return {
    name: 'rareDest',
    counters,
    size: () => nets.size,
    onFlow(f) {
      counters.flows++;
      if (!f.srcInternal || f.dstInternal || f.answered === false) return;
      if (f.startMs < startMs) startMs = f.startMs;
      const a = f.dstV4;
      const key = a >= 0 ? a >>> 8 : netOf(f.dst);
      let n = nets.recent(key);
      if (n === undefined) {
        n = { hosts: new CappedSet<string>(cfg.maxHosts + 2), firstMs: f.startMs };
        nets.insert(key, n);
        counters.new_networks++;
      }
      if (!n.hosts.add(f.src)) return;
      const learning = f.startMs - startMs < cfg.learningSec * 1000;
      if (learning || n.hosts.count > cfg.maxHosts) return;
      if (ctx.allowed(f.src) || ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      const net = networkOf(f.dst);
      ctx.emitter.raise({
        ts: f.startMs,
        category: 'new_destination',
        detector: 'rare_destination',
        key: `${f.src}|${net}`,
        title: `New rare destination: ${f.src} contacted ${net} (${n.hosts.count} internal host${n.hosts.count === 1 ? '' : 's'})`,
        severity: 25,
        confidence: 50,
        src_ip: f.src,
        dst_ip: f.dst,
        dst_port: f.dport,
        proto: f.proto,
        attack_technique: null,
        evidence: {
          network: net,
          internal_hosts: n.hosts.count,
          max_hosts: cfg.maxHosts,
          network_first_seen: new Date(n.firstMs).toISOString(),
          learning_sec: cfg.learningSec,
          example_flow_ids: f.flowId !== null ? [f.flowId] : [],
        },
      });
      counters.alerts++;
    },
    tick() {},
    finish() {},
  };
}
