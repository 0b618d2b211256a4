import { cut, ip, parseAnyTime } from './fields.js';
import type { IdentityEvent, Parsed } from './types.js';
import { weird } from './types.js';

/**
 * Who was at an address: IP-to-user observations from RADIUS accounting, Windows logon events
 * and VPN logs, and the bounded map that answers "who was at IP X at time T".
 */

/** Windows Security events 4624 (logon) and 4634/4647 (logoff), JSON (flat or winlogbeat) or key=value. */
export function parseWindowsLogon(input: string | Record<string, unknown>, nowMs = Date.now()): Parsed {
  let f: Record<string, unknown>;
  if (typeof input === 'string') {
    f = {};
    // key=value pairs, values possibly quoted; also "Key: value" is not attempted (ambiguous).
    const re = /([A-Za-z][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g;
    for (let m = re.exec(input); m !== null; m = re.exec(input)) f[m[1]!] = m[2] ?? m[3] ?? '';
  } else {
    const w = input.winlog as Record<string, unknown> | undefined;
    const ed = (w?.event_data ?? input.EventData ?? input.event_data) as Record<string, unknown> | undefined;
    f = { ...input, ...(typeof ed === 'object' && ed !== null ? ed : {}) };
    if (w && f.EventID === undefined) f.EventID = w.event_id;
    if (f.TimeCreated === undefined) f.TimeCreated = input['@timestamp'];
  }
  const id = Number(f.EventID ?? f.EventId ?? f.event_id);
  if (id !== 4624 && id !== 4634 && id !== 4647) return weird('windows_not_logon');
  const user = typeof f.TargetUserName === 'string' ? f.TargetUserName : '';
  if (user === '' || user === '-' || user.endsWith('$'))
    return { kind: 'other', name: 'windows_machine_logon' };
  const t = parseAnyTime(f.TimeCreated ?? f.EventTime ?? f.TimeGenerated ?? '');
  const addr = ip(f.IpAddress);
  if (id === 4624 && addr === null) return { kind: 'other', name: 'windows_logon_without_address' };
  const dom =
    typeof f.TargetDomainName === 'string' && f.TargetDomainName !== '-' ? f.TargetDomainName : null;
  const logonId = typeof f.TargetLogonId === 'string' ? f.TargetLogonId : null;
  return {
    kind: 'identity',
    ts: Number.isNaN(t) ? nowMs : t,
    ip: addr,
    user: cut(user, 128),
    domain: dom === null ? null : cut(dom, 128),
    mac: null,
    source: 'windows',
    event: id === 4624 ? 'start' : 'stop',
    session: logonId,
  };
}

/**
 * VPN logs: Cisco ASA/FTD AnyConnect (`%ASA-4-722051: Group <G> User <u> IP <public> IPv4
 * Address <assigned> …` start, `%ASA-4-113019: Group = G, Username = u, IP = public, Session
 * disconnected` stop) and OpenVPN (`u/1.2.3.4:5000 MULTI_sva: pool returned IPv4=10.8.0.6`).
 */
export function parseVpnLine(line: string, ts: number): Parsed {
  let m = /%(?:ASA|FTD)-\d-722051: Group <[^>]*> User <([^>]+)> IP <([^>]+)> IPv4 Address <([^>]+)>/.exec(
    line,
  );
  if (m) {
    const a = ip(m[3]);
    if (a === null) return weird('vpn_bad_address');
    return identity(ts, a, m[1]!, 'start', null);
  }
  m = /%(?:ASA|FTD)-\d-113019: Group = [^,]*, Username = ([^,]+), IP = [^,]+, Session disconnected/.exec(
    line,
  );
  if (m) return identity(ts, null, m[1]!, 'stop', null);
  m = /(\S+?)\/(\S+?):\d+ MULTI_sva: pool returned IPv4=(\S+?),/.exec(line);
  if (m) {
    const a = ip(m[3]);
    if (a === null) return weird('vpn_bad_address');
    return identity(ts, a, m[1]!, 'start', null);
  }
  return weird('vpn_unrecognized');
}

function identity(
  ts: number,
  a: string | null,
  user: string,
  ev: 'start' | 'stop',
  session: string | null,
): IdentityEvent {
  return {
    kind: 'identity',
    ts,
    ip: a,
    user: cut(user, 128),
    domain: null,
    mac: null,
    source: 'vpn',
    event: ev,
    session,
  };
}

export interface IdentitySpan {
  user: string;
  domain: string | null;
  mac: string | null;
  source: string;
  start: number;
  /** ms, or null while the session is open. */
  end: number | null;
}

export interface IdentityMapConfig {
  /** Addresses tracked; beyond it the least recently updated is forgotten (counted). */
  maxIps: number;
  /** Spans kept per address (oldest dropped). */
  historyPerIp: number;
  /** Sessions remembered for stops that carry no address. */
  maxSessions: number;
}

export const DEFAULT_IDENTITY_MAP: IdentityMapConfig = {
  maxIps: 200_000,
  historyPerIp: 16,
  maxSessions: 200_000,
};

/** IP → user spans with bounded history, in data time. */
export class IdentityMap {
  private readonly cfg: IdentityMapConfig;
  private readonly byIp = new Map<string, IdentitySpan[]>();
  private readonly sessions = new Map<string, string>();
  private readonly userIp = new Map<string, string>();
  readonly counters = { observed: 0, evictedIps: 0, evictedSpans: 0, unmatchedStops: 0 };

  constructor(cfg: Partial<IdentityMapConfig> = {}) {
    this.cfg = { ...DEFAULT_IDENTITY_MAP, ...cfg };
  }

  get size(): number {
    return this.byIp.size;
  }

  observe(e: IdentityEvent): void {
    this.counters.observed++;
    let addr = e.ip;
    if (addr === null && e.session !== null) addr = this.sessions.get(e.session) ?? null;
    if (addr === null) addr = this.userIp.get(e.user) ?? null;
    if (addr === null) {
      this.counters.unmatchedStops++;
      return;
    }
    if (e.session !== null && e.event !== 'stop') {
      if (this.sessions.size >= this.cfg.maxSessions) {
        const k = this.sessions.keys().next();
        if (!k.done) this.sessions.delete(k.value);
      }
      this.sessions.set(e.session, addr);
    }
    let spans = this.byIp.get(addr);
    if (spans) this.byIp.delete(addr);
    else {
      if (this.byIp.size >= this.cfg.maxIps) {
        const k = this.byIp.keys().next();
        if (!k.done) {
          this.byIp.delete(k.value);
          this.counters.evictedIps++;
        }
      }
      spans = [];
    }
    this.byIp.set(addr, spans);
    const last = spans[spans.length - 1];
    const open = last && last.end === null ? last : undefined;
    if (e.event === 'stop') {
      if (open && open.user === e.user) open.end = e.ts;
      else this.counters.unmatchedStops++;
      if (e.session !== null) this.sessions.delete(e.session);
      if (this.userIp.get(e.user) === addr) this.userIp.delete(e.user);
      return;
    }
    // A different user on the same address ends the previous span (DHCP reuse, shared desk).
    if (open && open.user === e.user) {
      if (e.domain) open.domain = e.domain;
      if (e.mac) open.mac = e.mac;
      return;
    }
    if (open) open.end = e.ts;
    spans.push({ user: e.user, domain: e.domain, mac: e.mac, source: e.source, start: e.ts, end: null });
    if (spans.length > this.cfg.historyPerIp) {
      spans.shift();
      this.counters.evictedSpans++;
    }
    if (this.userIp.size >= this.cfg.maxSessions) {
      const k = this.userIp.keys().next();
      if (!k.done) this.userIp.delete(k.value);
    }
    this.userIp.set(e.user, addr);
  }

  /** The span of whoever was at `addr` at `tsMs`, or null. */
  at(addr: string, tsMs: number): IdentitySpan | null {
    const spans = this.byIp.get(addr);
    if (!spans) return null;
    for (let i = spans.length - 1; i >= 0; i--) {
      const s = spans[i]!;
      if (s.start <= tsMs && (s.end === null || tsMs <= s.end)) return s;
    }
    return null;
  }

  /** The user at `addr` at `tsMs` ("DOMAIN\\user" when the domain is known), or null. */
  who(addr: string, tsMs: number): string | null {
    const s = this.at(addr, tsMs);
    return s === null ? null : s.domain ? `${s.domain}\\${s.user}` : s.user;
  }

  /** The whole kept history of an address, oldest first (for host pages). */
  history(addr: string): readonly IdentitySpan[] {
    return this.byIp.get(addr) ?? [];
  }
}
