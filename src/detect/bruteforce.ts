import { isoMs } from '../common/alerts.js';
import type { DetectConfig } from './config.js';
import { PairTable, pairHash, portTable, strHash } from './pair-table.js';
import type { DetectContext, Detector } from './types.js';

/**
 * Brute force and password guessing: many short sessions from one source to one
 * authentication service (SSH, RDP, FTP, SMTP/IMAP/POP, databases, VNC), or many 401/403
 * answers from one web host to one client, within a tumbling window.
 */
const SERVICE: Record<number, string> = {
  21: 'ftp',
  22: 'ssh',
  23: 'telnet',
  25: 'smtp',
  110: 'pop3',
  143: 'imap',
  465: 'smtps',
  587: 'submission',
  993: 'imaps',
  995: 'pop3s',
  1433: 'mssql',
  3306: 'mysql',
  3389: 'rdp',
  5432: 'postgresql',
  5900: 'vnc',
};

interface Pair {
  startMs: number;
  lastMs: number;
  sessions: number;
  failedHttp: number;
  durations: number[];
  bytes: number;
  flowIds: number[];
  /** Made at the pair's first HTTP failure: most pairs are sessions and never need them. */
  uris: Map<string, number> | null;
  statuses: Map<number, number> | null;
  raisedAt: number;
}

export function createBruteforceDetector(cfg: DetectConfig['bruteforce'], ctx: DetectContext): Detector {
  const counters = { flows: 0, sessions: 0, http_failures: 0, alerts: 0, evicted: 0, allowed: 0 };
  const W = cfg.windowSec * 1000;
  const ports = portTable(cfg.ports);
  /**
   * Keyed by source, destination and a number: twice the port, plus 1 for HTTP failures (a
   * session to the same port is another pair).
   */
  const pairs = new PairTable<Pair>(cfg.maxPairs, (src, dst, p, c) => {
    counters.evicted++;
    decide(src, dst, c, p, true);
  });
  let lastSweep = 0;

  function pairOf(src: string, dst: string, c: number, h: number, ts: number): Pair {
    let p = pairs.recent(src, dst, h, c);
    if (p === undefined) {
      p = newPair(ts);
      pairs.insert(src, dst, h, p, c);
    }
    if (ts >= p.startMs + W || ts < p.startMs - W) {
      decide(src, dst, c, p, true);
      Object.assign(p, newPair(ts));
    }
    if (ts > p.lastMs) p.lastMs = ts;
    return p;
  }

  function decide(src: string, dst: string, c: number, p: Pair, final: boolean): void {
    const http = c % 2 === 1;
    const port = (c - (http ? 1 : 0)) / 2;
    const n = http ? p.failedHttp : p.sessions;
    const t = http ? cfg.httpFailures : cfg.sessions;
    if (n < t || n <= p.raisedAt || (!final && p.raisedAt > 0 && n < p.raisedAt * 2)) return;
    // The aggregator adds counts: each raise carries only what the previous ones did not.
    const delta = n - p.raisedAt;
    p.raisedAt = n;
    const service = http ? 'http' : (SERVICE[port] ?? `tcp/${port}`);
    const d = [...p.durations].sort((a, b) => a - b);
    ctx.emitter.raise({
      ts: p.lastMs,
      first_ts: p.startMs,
      category: 'bruteforce',
      detector: http ? 'bruteforce.http' : `bruteforce.${service}`,
      key: `${src}|${dst}|${port}`,
      title: http
        ? `HTTP login brute force: ${src} got ${n} authentication failures from ${dst}`
        : `${service.toUpperCase()} brute force: ${src} opened ${n} short sessions to ${dst}:${port}`,
      severity: Math.min(90, 55 + Math.round(Math.log2(n / t) * 10)),
      confidence: Math.min(95, 60 + Math.round((n / t) * 10)),
      src_ip: src ?? null,
      dst_ip: dst ?? null,
      dst_port: Number.isFinite(port) ? port : null,
      proto: 6,
      count: delta,
      attack_technique: 'T1110',
      evidence: {
        service,
        window_sec: cfg.windowSec,
        window_start: isoMs(p.startMs),
        ...(http
          ? {
              auth_failures: p.failedHttp,
              threshold_failures: cfg.httpFailures,
              statuses: Object.fromEntries(p.statuses ?? []),
              uris: Object.fromEntries([...(p.uris ?? [])].slice(0, 10)),
            }
          : {
              short_sessions: p.sessions,
              threshold_sessions: cfg.sessions,
              max_session_sec: cfg.maxSessionSec,
              median_session_ms: d[Math.floor(d.length / 2)] ?? null,
              mean_session_bytes: p.sessions ? Math.round(p.bytes / p.sessions) : 0,
            }),
        example_flow_ids: p.flowIds,
      },
    });
    counters.alerts++;
  }

  return {
    name: 'bruteforce',
    counters,
    size: () => pairs.size,
    onFlow(f) {
      counters.flows++;
      if (f.proto !== 6 || ports[f.dport] !== 1) return;
      // A login attempt is a session that was accepted (the handshake answered) and was short.
      if (f.answered === false || f.refused) return;
      if (f.source === 'flow' && f.answered !== true) return;
      const dur = f.endMs - f.startMs;
      if (dur > cfg.maxSessionSec * 1000 || f.outBytes + f.inBytes > cfg.maxSessionBytes) return;
      if (ctx.allowed(f.src) || ctx.allowed(f.dst)) {
        counters.allowed++;
        return;
      }
      counters.sessions++;
      const c = 2 * f.dport;
      const p = pairOf(f.src, f.dst, c, pairHash(pairHash(f.srcHash, f.dstHash), c), f.startMs);
      p.sessions++;
      p.bytes += f.outBytes + f.inBytes;
      if (p.durations.length < 64) p.durations.push(dur);
      if (f.flowId !== null && p.flowIds.length < 5) p.flowIds.push(f.flowId);
      if (p.sessions === cfg.sessions) decide(f.src, f.dst, c, p, false);
    },
    onHttp(r, ts) {
      const status = r.status;
      if (status !== 401 && status !== 403) return;
      const src = typeof r.client_ip === 'string' ? r.client_ip : '';
      const dst = typeof r.server_ip === 'string' ? r.server_ip : '';
      const port = typeof r.server_port === 'number' ? r.server_port : 80;
      if (!src || !dst || ctx.allowed(src) || ctx.allowed(dst)) return;
      counters.http_failures++;
      const c = 2 * port + 1;
      const p = pairOf(src, dst, c, pairHash(pairHash(strHash(src), strHash(dst)), c), ts);
      p.failedHttp++;
      p.statuses ??= new Map();
      p.statuses.set(status, (p.statuses.get(status) ?? 0) + 1);
      const uri = typeof r.uri === 'string' ? r.uri.split('?')[0]?.slice(0, 100) : undefined;
      if (uri) {
        p.uris ??= new Map();
        if (p.uris.has(uri) || p.uris.size < 10) p.uris.set(uri, (p.uris.get(uri) ?? 0) + 1);
      }
      if (typeof r.flow_id === 'number' && p.flowIds.length < 5) p.flowIds.push(r.flow_id);
      if (p.failedHttp === cfg.httpFailures) decide(src, dst, c, p, false);
    },
    tick(now) {
      if (now - lastSweep < W) return;
      lastSweep = now;
      for (let e = pairs.first(); e >= 0; ) {
        const next = pairs.after(e);
        const p = pairs.value(e);
        if (now >= p.startMs + 2 * W) {
          decide(pairs.keyA(e), pairs.keyB(e), pairs.keyC(e), p, true);
          pairs.remove(e);
        }
        e = next;
      }
    },
    finish() {
      for (let e = pairs.first(); e >= 0; e = pairs.after(e))
        decide(pairs.keyA(e), pairs.keyB(e), pairs.keyC(e), pairs.value(e), true);
      pairs.clear();
    },
  };
}

function newPair(ts: number): Pair {
  return {
    startMs: ts,
    lastMs: ts,
    sessions: 0,
    failedHttp: 0,
    durations: [],
    bytes: 0,
    flowIds: [],
    uris: null,
    statuses: null,
    raisedAt: 0,
  };
}
