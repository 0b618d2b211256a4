import {
  classCategory,
  communityIdOf,
  cut,
  int,
  ip,
  parseIsoMs,
  port,
  prioritySeverity,
  protoNumber,
  sigId,
} from './fields.js';
import { other, type Parsed, weird } from './types.js';

/** Event types Suricata writes besides alerts: counted by name, never alerts. */
const KNOWN_OTHER = new Set([
  'flow',
  'netflow',
  'dns',
  'http',
  'tls',
  'fileinfo',
  'anomaly',
  'stats',
  'drop',
  'ssh',
  'smtp',
  'smb',
  'dhcp',
  'krb5',
  'nfs',
  'ftp',
  'ftp_data',
  'rdp',
  'snmp',
  'sip',
  'mqtt',
  'quic',
  'http2',
  'ike',
  'dcerpc',
  'tftp',
  'frame',
  'pgsql',
]);

const EVENT_TYPE_RE = /"event_type":"([a-z0-9_]{1,32})"/;

/**
 * One line of Suricata's EVE JSON log. Most lines of a sensor's log are not alerts (flow,
 * dns, tls...): they are told apart by their `event_type` without building the JSON object,
 * the cost that dominates otherwise. Suricata writes the top-level event_type before any
 * nested object, and a string value cannot hold an unescaped `"event_type":"`, so the first
 * match is the event's. Such lines are counted as their type without being validated.
 */
export function parseEveLine(line: string): Parsed {
  const m = EVENT_TYPE_RE.exec(line.length > 512 ? line.slice(0, 512) : line);
  if (
    m !== null &&
    m[1] !== 'alert' &&
    line.charCodeAt(0) === 123 &&
    line.charCodeAt(line.length - 1) === 125
  )
    return other(KNOWN_OTHER.has(m[1]!) ? `eve_${m[1]}` : 'eve_other');
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return weird('eve_bad_json');
  }
  return parseEveObject(o);
}

/** An EVE event already parsed from JSON (one line of eve.json or a unix socket message). */
export function parseEveObject(o: unknown): Parsed {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return weird('eve_not_object');
  const e = o as Record<string, unknown>;
  const type = e.event_type;
  if (typeof type !== 'string') return weird('eve_no_event_type');
  if (type !== 'alert') return other(KNOWN_OTHER.has(type) ? `eve_${type}` : 'eve_other');
  const a = e.alert;
  if (typeof a !== 'object' || a === null) return weird('eve_alert_without_alert');
  const al = a as Record<string, unknown>;
  const ts = typeof e.timestamp === 'string' ? parseIsoMs(e.timestamp) : Number.NaN;
  if (Number.isNaN(ts)) return weird('eve_bad_timestamp');
  const sid = int(al.signature_id);
  const gid = int(al.gid) ?? 1;
  const rev = int(al.rev);
  const src = ip(e.src_ip);
  const dst = ip(e.dest_ip);
  const sp = port(e.src_port);
  const dp = port(e.dest_port);
  const proto = protoNumber(e.proto);
  const signature =
    typeof al.signature === 'string' ? al.signature : `Suricata signature ${gid}:${sid ?? '?'}`;
  const cid = typeof e.community_id === 'string' ? e.community_id : communityIdOf(proto, src, dst, sp, dp);
  const vlanArr = e.vlan;
  const vlan = Array.isArray(vlanArr) ? int(vlanArr[0]) : int(vlanArr);
  const evidence: Record<string, unknown> = {
    signature: cut(signature),
    gid,
    signature_id: sid,
    rev,
    classification: typeof al.category === 'string' ? al.category : null,
    action: typeof al.action === 'string' ? al.action : null,
    severity: int(al.severity),
    flow_id: typeof e.flow_id === 'number' || typeof e.flow_id === 'string' ? e.flow_id : null,
    app_proto: typeof e.app_proto === 'string' ? e.app_proto : null,
  };
  if (typeof e.in_iface === 'string') evidence.in_iface = e.in_iface;
  if (typeof e.tx_id === 'number') evidence.tx_id = e.tx_id;
  if (typeof e.payload_printable === 'string') evidence.payload_excerpt = cut(e.payload_printable, 256);
  else if (typeof e.payload === 'string') evidence.payload_excerpt = cut(e.payload, 256);
  if (typeof al.metadata === 'object' && al.metadata !== null) {
    const m = JSON.stringify(al.metadata);
    if (m.length <= 1024) evidence.metadata = al.metadata;
  }
  return {
    kind: 'event',
    source: 'suricata',
    attack_technique: mitreTechnique(al.metadata),
    ts,
    detector: 'suricata',
    title: cut(signature, 256),
    severity: prioritySeverity(int(al.severity)),
    category: classCategory(al.category),
    signature_id: sigId(sid),
    signature: `${gid}:${sid ?? signature}`,
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: cid,
    vlan,
    src_user: null,
    evidence,
  };
}

/**
 * The ATT&CK technique in a rule's metadata: Emerging Threats rules carry
 * `metadata: {mitre_technique_id: ["T1071"], ...}` (sub-techniques as T1071.001).
 */
function mitreTechnique(meta: unknown): string | null {
  if (typeof meta !== 'object' || meta === null) return null;
  const v = (meta as Record<string, unknown>).mitre_technique_id;
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' && /^T\d{4}(\.\d{3})?$/.test(first) ? first : null;
}
