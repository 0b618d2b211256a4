import {
  communityIdOf,
  cut,
  int,
  ip,
  parseAnyTime,
  port,
  prioritySeverity,
  protoNumber,
  sigId,
} from './fields.js';
import { type Parsed, type SecurityEvent, weird } from './types.js';

/**
 * Cisco Secure Firewall (Firepower/FTD) intrusion events sent as syslog:
 *  - `%FTD-1-430001: …, SrcIP: a, DstIP: b, SrcPort: p, DstPort: q, Protocol: tcp, …,
 *    Priority: 1, GID: 1, SID: n, Revision: r, Message: …, Classification: …, …`
 *    (the "key: value, " form of the 4300xx messages; 430001 is the intrusion event);
 *  - the Snort-style line of the FMC/legacy IPS:
 *    `[1:2019284:3] "ET …" [Classification: …] [Priority: 1] {TCP} 10.0.0.1:1234 -> 10.0.0.2:80`.
 */
export function parseFirepower(text: string, nowMs = Date.now()): Parsed {
  const m = /%(FTD|NGIPS|ASA|FTDv)-(\d)-(\d{6}):? ?/.exec(text);
  if (m) {
    if (m[3] !== '430001') return { kind: 'other', name: `firepower_${m[3]}` };
    return parse430001(text.slice(m.index + m[0].length).trimStart(), Number(m[2]), nowMs);
  }
  const s = /\[(\d+):(\d+):(\d+)\]/.exec(text);
  if (s) return parseSnortLine(text, s, nowMs);
  return weird('firepower_unrecognized');
}

/** `Key: value, Key2: value` where values may hold commas: split only before a known-looking key. */
function kvComma(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?:^|, )([A-Za-z][A-Za-z0-9_ ]{0,40}?): /g;
  let last: { k: string; start: number; at: number } | null = null;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    if (last) out.set(last.k, s.slice(last.start, m.index));
    last = { k: m[1]!, start: m.index + m[0].length, at: m.index };
  }
  if (last) out.set(last.k, s.slice(last.start).replace(/[\r\n]+$/, ''));
  return out;
}

function parse430001(body: string, level: number, nowMs: number): Parsed {
  const kv = kvComma(body);
  if (kv.size === 0) return weird('firepower_no_fields');
  const src = ip(kv.get('SrcIP'));
  const dst = ip(kv.get('DstIP'));
  const sp = port(kv.get('SrcPort'));
  const dp = port(kv.get('DstPort'));
  const proto = protoNumber(kv.get('Protocol'));
  const gid = int(kv.get('GID')) ?? 1;
  const sid = int(kv.get('SID'));
  const rev = int(kv.get('Revision'));
  const prio = int(kv.get('Priority'));
  const t = parseAnyTime(kv.get('FirstPacketSecond') ?? '');
  const msg = kv.get('Message') ?? `Intrusion event ${gid}:${sid ?? '?'}`;
  const ev: SecurityEvent = {
    kind: 'event',
    source: 'firepower',
    ts: Number.isNaN(t) ? nowMs : t,
    detector: 'firepower',
    title: cut(msg, 256),
    severity: prio !== null ? prioritySeverity(prio) : prioritySeverity(Math.min(4, Math.max(1, level))),
    category: 'ids',
    signature_id: sigId(sid),
    signature: `${gid}:${sid ?? '?'}:${rev ?? 0}`,
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: communityIdOf(proto, src, dst, sp, dp),
    vlan: null,
    src_user: null,
    evidence: {
      signature: `${gid}:${sid ?? '?'}:${rev ?? 0}`,
      message: cut(msg),
      classification: kv.get('Classification') ?? null,
      priority: prio,
      rev,
      action: kv.get('InlineResult') ?? kv.get('AccessControlRuleAction') ?? null,
      intrusion_policy: kv.get('IntrusionPolicy') ?? null,
      connection_id: kv.get('ConnectionID') ?? null,
      ingress_interface: kv.get('IngressInterface') ?? null,
    },
  };
  const user = kv.get('User');
  if (user && !/^(No Authentication Required|Not Found|Unknown)$/i.test(user)) ev.src_user = cut(user, 128);
  return ev;
}

function parseSnortLine(text: string, sig: RegExpExecArray, nowMs: number): Parsed {
  const rest = text.slice(sig.index + sig[0].length);
  const msg = /^\s*"?(.*?)"?\s*(?=\[Classification:|\[Priority:|\{)/.exec(rest);
  const cls = /\[Classification: ([^\]]*)\]/.exec(rest);
  const pr = /\[Priority: (\d+)\]/.exec(rest);
  const tuple = /\{([A-Za-z0-9-]+)\} (\S+?)(?::(\d+))? -> (\S+?)(?::(\d+))?(?:\s|$)/.exec(rest);
  if (!tuple) return weird('firepower_no_tuple');
  // IPv6 addresses come with the port after the last ':' only when a port is present.
  const addrPort = (a: string, p: string | undefined): [string | null, number | null] => {
    if (p !== undefined && ip(a) !== null) return [ip(a), port(p)];
    const whole = p === undefined ? a : `${a}:${p}`;
    return ip(whole) !== null ? [ip(whole), null] : [null, null];
  };
  const [src, sp] = addrPort(tuple[2]!, tuple[3]);
  const [dst, dp] = addrPort(tuple[4]!, tuple[5]);
  const proto = protoNumber(tuple[1]);
  const gid = Number(sig[1]);
  const sid = Number(sig[2]);
  const rev = Number(sig[3]);
  const title = msg?.[1]?.trim() || `Snort ${gid}:${sid}:${rev}`;
  const prio = pr ? Number(pr[1]) : null;
  const tm = /^(?:<\d+>)?\s*(\d{4}-\d\d-\d\dT\S+)/.exec(text);
  const t = tm ? parseAnyTime(tm[1]) : Number.NaN;
  return {
    kind: 'event',
    source: 'firepower',
    ts: Number.isNaN(t) ? nowMs : t,
    detector: 'firepower',
    title: cut(title, 256),
    severity: prioritySeverity(prio),
    category: 'ids',
    signature_id: sigId(sid),
    signature: `${gid}:${sid}:${rev}`,
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: communityIdOf(proto, src, dst, sp, dp),
    vlan: null,
    src_user: null,
    evidence: {
      signature: `${gid}:${sid}:${rev}`,
      message: cut(title),
      classification: cls?.[1] ?? null,
      priority: prio,
      rev,
    },
  };
}
