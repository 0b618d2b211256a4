import { isoMs } from '../common/alerts.js';
import { BoundedMap, CappedSet } from './bounded.js';
import type { DetectConfig } from './config.js';
import { randomness, registeredDomain } from './domain.js';
import type { DetectContext, Detector } from './types.js';

/**
 * Domain generation algorithms: one host getting NXDOMAIN for many distinct names whose
 * registered label looks generated (character statistics: English bigram hits, vowels,
 * consonant runs, digits, entropy), within a window. Typos and search-domain misses are few
 * and word-like, so they stay under both conditions.
 */
const NXDOMAIN = 3;

interface Host {
  startMs: number;
  lastMs: number;
  names: CappedSet<string>;
  nx: number;
  scoreSum: number;
  samples: { name: string; score: number }[];
  flowIds: number[];
  raised: number;
}

export function createDgaDetector(cfg: DetectConfig['dga'], ctx: DetectContext): Detector {
  const counters = { responses: 0, nxdomains: 0, random_names: 0, alerts: 0, evicted: 0, allowed: 0 };
  const W = cfg.windowSec * 1000;
  const allowDomains = cfg.allowDomains.map((d) => d.toLowerCase());
  const hosts = new BoundedMap<string, Host>(cfg.maxHosts, (k, h) => {
    counters.evicted++;
    decide(k, h);
  });
  let lastSweep = 0;

  function decide(src: string, h: Host): void {
    const n = h.names.count;
    if (n < cfg.nxdomains || n <= h.raised) return;
    const delta = n - h.raised;
    h.raised = n;
    ctx.emitter.raise({
      ts: h.lastMs,
      first_ts: h.startMs,
      category: 'dga',
      detector: 'dns.dga',
      key: src,
      title: `DGA: ${src} got NXDOMAIN for ${n} random-looking names`,
      severity: n >= 50 ? 75 : 60,
      confidence: Math.min(95, Math.round(50 + (h.scoreSum / Math.max(1, n)) * 40 + Math.min(10, n / 10))),
      src_ip: src,
      count: delta,
      attack_technique: 'T1568.002',
      evidence: {
        window_sec: cfg.windowSec,
        window_start: isoMs(h.startMs),
        random_nxdomains: n,
        threshold_nxdomains: cfg.nxdomains,
        nxdomains: h.nx,
        min_score: cfg.minScore,
        mean_score: Math.round((h.scoreSum / Math.max(1, n)) * 100) / 100,
        example_names: h.samples,
        example_flow_ids: h.flowIds,
      },
    });
    counters.alerts++;
  }

  return {
    name: 'dga',
    counters,
    size: () => hosts.size,
    onDns(r, ts) {
      if (r.rcode === undefined || r.rcode === null) return;
      counters.responses++;
      if (r.rcode !== NXDOMAIN) return;
      const q = r.query;
      const src = r.client_ip;
      if (typeof q !== 'string' || typeof src !== 'string') return;
      if (r.service !== undefined && r.service !== 'dns') return;
      counters.nxdomains++;
      const name = q.toLowerCase();
      const domain = registeredDomain(name);
      if (ctx.allowed(src) || allowDomains.some((d) => domain === d || name.endsWith(`.${d}`))) {
        counters.allowed++;
        return;
      }
      let h = hosts.recent(src);
      if (h === undefined) {
        h = newHost(ts);
        hosts.insert(src, h);
      }
      if (ts >= h.startMs + W || ts < h.startMs - W) {
        decide(src, h);
        h = newHost(ts);
        hosts.delete(src);
        hosts.insert(src, h);
      }
      if (ts > h.lastMs) h.lastMs = ts;
      h.nx++;
      const label = domain.split('.')[0] ?? '';
      const sc = randomness(label);
      if (sc.score < cfg.minScore) return;
      counters.random_names++;
      if (h.names.add(domain)) {
        h.scoreSum += sc.score;
        if (h.samples.length < 10) h.samples.push({ name: domain, score: sc.score });
      }
      if (typeof r.flow_id === 'number' && h.flowIds.length < 5) h.flowIds.push(r.flow_id);
      if (h.raised === 0 && h.names.count === cfg.nxdomains) decide(src, h);
    },
    tick(now) {
      if (now - lastSweep < W) return;
      lastSweep = now;
      for (const [k, h] of hosts.entries()) {
        if (now >= h.startMs + W) {
          decide(k, h);
          hosts.delete(k);
        }
      }
    },
    finish() {
      for (const [k, h] of hosts.entries()) decide(k, h);
      hosts.clear();
    },
  };
}

function newHost(ts: number): Host {
  return {
    startMs: ts,
    lastMs: ts,
    names: new CappedSet(256),
    nx: 0,
    scoreSum: 0,
    samples: [],
    flowIds: [],
    raised: 0,
  };
}
