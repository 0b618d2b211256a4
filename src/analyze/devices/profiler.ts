import { ipBytesToString } from '../../common/addr.js';
import { ConfigError } from '../../common/errors.js';
import { isoNs } from '../../common/time.js';
import { type Packet, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN } from '../../decode/packet.js';
import type { HostAttrRecord } from '../../schema/host-attr.js';
import type { Analyzer, RecordSink } from '../types.js';
import { parseMdns, parseNbns, reverseNameIp } from './names.js';
import { dhcpGuess, type OsGuess, SynSignature, userAgentGuess } from './os-signatures.js';

export interface ProfilerConfig {
  /** Hosts profiled at once; beyond this the least recently seen is emitted and forgotten. */
  maxHosts: number;
  /** Attributes (OS guesses, names) per host; beyond this the least recently seen is emitted. */
  maxAttrsPerHost: number;
  /** DHCP fingerprints waiting for the ACK that says which address the client got. */
  maxPendingDhcp: number;
  /**
   * Seconds of packet time between emissions of what changed (a live sensor runs for weeks;
   * its hosts must reach the store before it stops). Each emission carries the observations
   * since the previous one, so the rows of one attribute add up.
   */
  flushEverySec: number;
}

export const DEFAULT_PROFILER_CONFIG: ProfilerConfig = {
  maxHosts: 100_000,
  maxAttrsPerHost: 16,
  maxPendingDhcp: 10_000,
  flushEverySec: 300,
};

export function validateProfilerConfig(c: Partial<ProfilerConfig>, at = 'devices.profiler'): ProfilerConfig {
  const cfg = { ...DEFAULT_PROFILER_CONFIG, ...c };
  for (const k of Object.keys(DEFAULT_PROFILER_CONFIG) as (keyof ProfilerConfig)[]) {
    const v = cfg[k];
    if (!Number.isInteger(v) || v < 1 || v > 10_000_000)
      throw new ConfigError(`${at}.${k}`, `must be an integer from 1 to 10000000 (got ${String(v)})`);
  }
  return cfg;
}

export interface ProfilerCounters {
  syns: number;
  synsUnknown: number;
  mdnsMessages: number;
  nbnsMessages: number;
  dhcpFingerprints: number;
  userAgents: number;
  ptrNames: number;
  /** Damaged messages by stable name. */
  mdns_malformed: number;
  nbns_malformed: number;
  syn_options_malformed: number;
  hostsEvicted: number;
  attrsEvicted: number;
  pendingDhcpEvicted: number;
  records: number;
}

interface Attr {
  kind: 'os' | 'name';
  value: string;
  family: string | null;
  source: string;
  evidence: string;
  confidence: number;
  mac: string | null;
  first: string;
  last: string;
  count: number;
  /** Observations already emitted. */
  emitted: number;
}

interface Pending {
  guess: OsGuess | null;
  evidence: string;
  names: [string, string][];
  requested: string | null;
  ts: string;
}

/** The client messages of one exchange (DISCOVER, REQUEST) that wait for the server's ACK. */
const MAX_PENDING_MESSAGES = 4;

/**
 * The host profiler: operating-system guesses and names per address, each with first and
 * last seen. It reads TCP SYNs (signature), mDNS (5353) and NetBIOS name service (137) from
 * packets itself, and the DHCP, DNS and HTTP records the other analyzers emit (`onRecord`):
 * the DHCP fingerprint and names, PTR answers, User-Agents. It emits `host_attr` records at
 * `finish()` and whenever a cap makes it forget something (counted), as the device inventory
 * does with bindings.
 */
/** User-Agents whose attribute keys are kept (the map starts over when full). */
const UA_KEYS = 2048;

/** A host attribute's key: what it is, where it came from, its value and (for OS guesses) the evidence. */
function attrKey(kind: 'os' | 'name', source: string, value: string, evidence: string): string {
  return `${kind}|${source}|${value}|${kind === 'os' ? evidence : ''}`;
}

export class HostProfiler implements Analyzer {
  readonly name = 'host-profiler';
  readonly counters: ProfilerCounters = {
    syns: 0,
    synsUnknown: 0,
    mdnsMessages: 0,
    nbnsMessages: 0,
    dhcpFingerprints: 0,
    userAgents: 0,
    ptrNames: 0,
    mdns_malformed: 0,
    nbns_malformed: 0,
    syn_options_malformed: 0,
    hostsEvicted: 0,
    attrsEvicted: 0,
    pendingDhcpEvicted: 0,
    records: 0,
  };
  private readonly hosts = new Map<string, Map<string, Attr>>();
  /** Per User-Agent, the key of the attribute its guess makes (see onRecord). */
  private readonly uaKeys = new Map<string, string>();
  private readonly pending = new Map<string, Pending[]>();
  private readonly syn = new SynSignature();
  private p: Packet | null = null;
  private readonly srcIp = (): string => {
    const p = this.p!;
    return ipBytesToString(p.buf, p.srcOff, p.ipVer);
  };
  private readonly onName = (ip: string, name: string, how: string): void => {
    const p = this.p!;
    const source = p.srcPort === 137 || p.dstPort === 137 ? 'nbns' : 'mdns';
    this.add(
      ip,
      'name',
      name,
      null,
      source,
      `${source === 'nbns' ? 'NetBIOS' : 'mDNS'} ${how}`,
      90,
      null,
      isoNs(p.tsSec, p.tsNs),
    );
  };

  constructor(
    private readonly sink: RecordSink,
    private readonly cfg: ProfilerConfig = DEFAULT_PROFILER_CONFIG,
  ) {}

  private nextFlush = 0;

  /** Emit what changed since the last emission; hosts and attributes stay. */
  flush(): void {
    for (const [ip, host] of this.hosts) for (const a of host.values()) this.emit(ip, a);
  }

  onPacket(p: Packet, _flows: unknown, slot: number): boolean {
    if (p.tsSec >= this.nextFlush) {
      if (this.nextFlush !== 0) this.flush();
      this.nextFlush = p.tsSec + this.cfg.flushEverySec;
    }
    if (p.proto === PROTO_TCP) {
      if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN && p.l4Off >= 0) this.onSyn(p);
      return false; // one SYN per connection is all it has to say
    }
    if (p.proto !== PROTO_UDP || p.isFragment) return false;
    const sp = p.srcPort;
    const dp = p.dstPort;
    if (sp === 5353 || dp === 5353) {
      if (slot < 0 || p.payloadOff < 0) return true;
      this.counters.mdnsMessages++;
      this.p = p;
      if (!parseMdns(p.buf, p.payloadOff, p.payloadOff + p.payloadCapLen, this.srcIp, this.onName))
        this.counters.mdns_malformed++;
      return true;
    }
    if (sp === 137 || dp === 137) {
      if (slot < 0 || p.payloadOff < 0) return true;
      this.counters.nbnsMessages++;
      this.p = p;
      if (!parseNbns(p.buf, p.payloadOff, p.payloadOff + p.payloadCapLen, this.onName))
        this.counters.nbns_malformed++;
      return true;
    }
    return false;
  }

  private onSyn(p: Packet): void {
    this.counters.syns++;
    const b = p.buf;
    const df = p.ipVer === 4 && (b[p.l3Off + 6]! & 0x40) !== 0;
    const s = this.syn;
    s.read(b, p.l4Off + 20, Math.min(p.l4Off + p.tcpHdrLen, b.length), p.ipVer, p.ttl, df, p.window);
    if (s.bad) this.counters.syn_options_malformed++;
    const g = s.guess();
    if (g === null) {
      this.counters.synsUnknown++;
      return;
    }
    const ip = ipBytesToString(b, p.srcOff, p.ipVer);
    // No MAC: a SYN from beyond a router carries the router's.
    this.add(ip, 'os', g.value, g.family, 'syn', s.text(), g.confidence, null, isoNs(p.tsSec, p.tsNs));
  }

  /** A record another analyzer emitted: DHCP fingerprints and names, PTR answers, User-Agents. */
  onRecord(r: { type: string; [k: string]: unknown }): void {
    if (r.type === 'dhcp') this.onDhcp(r);
    else if (r.type === 'http') {
      const ua = r.user_agent;
      if (typeof ua !== 'string' || ua === '' || typeof r.client_ip !== 'string') return;
      const g = userAgentGuess(ua);
      if (g === null) return;
      this.counters.userAgents++;
      // The attribute's key is the same text for every request with this User-Agent (the HTTP
      // analyzer hands the same string for it): made once, its hash kept, where a new text of
      // ~200 characters was made and hashed per request.
      let key = this.uaKeys.get(ua);
      if (key === undefined) {
        if (this.uaKeys.size >= UA_KEYS) this.uaKeys.clear();
        key = attrKey('os', 'http', g.value, ua.slice(0, 256));
        this.uaKeys.set(ua, key);
      }
      this.add(
        r.client_ip,
        'os',
        g.value,
        g.family,
        'http',
        ua.slice(0, 256),
        g.confidence,
        null,
        String(r.ts),
        key,
      );
    } else if (
      r.type === 'dns' &&
      Array.isArray(r.answers) &&
      r.server_port !== 5353 &&
      r.client_port !== 5353
    ) {
      // mDNS is read from its packets (all sections), not from the DNS analyzer's records.
      for (const a of r.answers as { name?: unknown; type?: unknown; data?: unknown }[]) {
        if (a.type !== 12 || typeof a.name !== 'string' || typeof a.data !== 'string') continue;
        const ip = reverseNameIp(a.name);
        if (ip === null || a.data === '') continue;
        this.counters.ptrNames++;
        this.add(
          ip,
          'name',
          a.data.replace(/\.$/, ''),
          null,
          'dns_ptr',
          `PTR ${a.name}`,
          80,
          null,
          String(r.ts),
        );
      }
    }
  }

  private onDhcp(r: { [k: string]: unknown }): void {
    const mac = typeof r.client_mac === 'string' ? r.client_mac : null;
    if (mac === null) return;
    const ts = String(r.ts);
    const type = r.msg_type;
    if (r.server_port === 67 && (type === 1 || type === 3 || type === 8)) {
      const params = Array.isArray(r.param_list) ? (r.param_list as number[]) : [];
      const vc = typeof r.vendor_class === 'string' ? r.vendor_class : null;
      const guess = dhcpGuess(params, vc);
      const evidence = `option 55 ${params.join(',') || '-'}${vc ? `; option 60 "${vc}"` : ''}`;
      const names: [string, string][] = [];
      if (typeof r.hostname === 'string' && r.hostname) names.push(['dhcp', r.hostname]);
      if (typeof r.client_fqdn === 'string' && r.client_fqdn) names.push(['dhcp_fqdn', r.client_fqdn]);
      if (guess) this.counters.dhcpFingerprints++;
      const pend: Pending = {
        guess,
        evidence,
        names,
        requested: typeof r.requested_ip === 'string' ? r.requested_ip : null,
        ts,
      };
      const ciaddr = typeof r.ciaddr === 'string' && r.ciaddr !== '0.0.0.0' ? r.ciaddr : null;
      if (ciaddr !== null) this.applyDhcp(ciaddr, mac, pend);
      else {
        // The address is known only once the server acknowledges it.
        const waiting = this.pending.get(mac);
        if (waiting !== undefined) {
          if (waiting.length >= MAX_PENDING_MESSAGES) waiting.shift();
          waiting.push(pend);
          return;
        }
        if (this.pending.size >= this.cfg.maxPendingDhcp) {
          const oldest = this.pending.keys().next();
          if (!oldest.done) {
            this.pending.delete(oldest.value);
            this.counters.pendingDhcpEvicted++;
          }
        }
        this.pending.set(mac, [pend]);
      }
    } else if (type === 5 && typeof r.yiaddr === 'string' && r.yiaddr !== '0.0.0.0') {
      const waiting = this.pending.get(mac);
      if (waiting === undefined) return;
      this.pending.delete(mac);
      for (const pend of waiting) this.applyDhcp(r.yiaddr, mac, pend);
    }
  }

  private applyDhcp(ip: string, mac: string, d: Pending): void {
    if (d.guess)
      this.add(ip, 'os', d.guess.value, d.guess.family, 'dhcp', d.evidence, d.guess.confidence, mac, d.ts);
    for (const [source, name] of d.names)
      this.add(
        ip,
        'name',
        name,
        null,
        source,
        source === 'dhcp' ? 'DHCP option 12' : 'DHCP option 81',
        85,
        mac,
        d.ts,
      );
  }

  private add(
    ip: string,
    kind: 'os' | 'name',
    value: string,
    family: string | null,
    source: string,
    evidence: string,
    confidence: number,
    mac: string | null,
    ts: string,
    key = attrKey(kind, source, value, evidence),
  ): void {
    let host = this.hosts.get(ip);
    if (host === undefined) {
      if (this.hosts.size >= this.cfg.maxHosts) {
        const oldest = this.hosts.entries().next();
        if (!oldest.done) {
          this.hosts.delete(oldest.value[0]);
          this.counters.hostsEvicted++;
          for (const a of oldest.value[1].values()) this.emit(oldest.value[0], a);
        }
      }
      host = new Map();
    } else this.hosts.delete(ip);
    // Most recently seen last: eviction takes the map's first entry.
    this.hosts.set(ip, host);
    const a = host.get(key);
    if (a !== undefined) {
      a.count++;
      if (ts > a.last) a.last = ts;
      if (ts < a.first) a.first = ts;
      if (mac !== null) a.mac = mac;
      return;
    }
    if (host.size >= this.cfg.maxAttrsPerHost) {
      let oldKey = '';
      let old: Attr | null = null;
      for (const [k, x] of host) if (old === null || x.last < old.last) [oldKey, old] = [k, x];
      host.delete(oldKey);
      this.counters.attrsEvicted++;
      this.emit(ip, old!);
    }
    host.set(key, {
      kind,
      value,
      family,
      source,
      evidence,
      confidence,
      mac,
      first: ts,
      last: ts,
      count: 1,
      emitted: 0,
    });
  }

  private emit(ip: string, a: Attr): void {
    if (a.count === a.emitted) return;
    this.counters.records++;
    const rec: HostAttrRecord = {
      type: 'host_attr',
      ip,
      mac: a.mac,
      kind: a.kind,
      value: a.value,
      family: a.family,
      source: a.source,
      evidence: a.evidence,
      confidence: a.confidence,
      first_ts: a.first,
      last_ts: a.last,
      observations: a.count - a.emitted,
    };
    a.emitted = a.count;
    this.sink(rec);
  }

  get size(): number {
    return this.hosts.size;
  }

  finish(): void {
    // A client whose ACK was not captured still asked for an address: credit it.
    for (const [mac, waiting] of this.pending)
      for (const d of waiting) if (d.requested !== null) this.applyDhcp(d.requested, mac, d);
    this.pending.clear();
    for (const [ip, host] of this.hosts) for (const a of host.values()) this.emit(ip, a);
    this.hosts.clear();
  }
}

export function createHostProfiler(sink: RecordSink, cfg: Partial<ProfilerConfig> = {}): HostProfiler {
  return new HostProfiler(sink, validateProfilerConfig(cfg));
}
