import { defineRecord, type RecordOf } from './registry.js';

const n = true;

/** What raised an alert: the kinds of finding every detector, feed and third-party tool maps to. */
export const ALERT_CATEGORIES = [
  'scan',
  'ddos',
  'bruteforce',
  'dns_tunnel',
  'dga',
  'beacon',
  'exfiltration',
  'new_destination',
  'intel',
  'policy',
  'ids',
  'threshold',
  'other',
] as const;
export type AlertCategory = (typeof ALERT_CATEGORIES)[number];

/** Where an alert came from: Vantage itself or the third-party tool that reported it. */
export const ALERT_SOURCES = ['vantage', 'suricata', 'cef', 'leef', 'firepower', 'webhook'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

/** An analyst's view of an alert. */
export const ALERT_STATUSES = ['new', 'acknowledged', 'closed', 'false_positive'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/**
 * Severity bands, as OCSF's severity_id names them (1 informational … 5 critical), over the
 * 0–100 score every detector gives.
 */
export function severityLabel(score: number): 'info' | 'low' | 'medium' | 'high' | 'critical' {
  if (score >= 90) return 'critical';
  if (score >= 70) return 'high';
  if (score >= 40) return 'medium';
  if (score >= 20) return 'low';
  return 'info';
}

/** OCSF severity_id of a label (Detection Finding, class 2004). */
export const OCSF_SEVERITY_ID = { info: 1, low: 2, medium: 3, high: 4, critical: 5 } as const;

/**
 * The alert: one finding, shaped after OCSF's Detection Finding so a SIEM maps it without
 * effort. One alert stands for one episode (a whole scan, a whole beaconing series): events
 * of the same episode are folded into it (`count`, `last_ts`, `evidence`), so it is
 * rewritten while the episode lasts, keyed by `alert_id`.
 */
export const alertRecord = defineRecord(
  'alert',
  'A finding of a detector, an intel match, a policy violation or a third-party security event.',
  'ts',
  {
    alert_id: { type: 'string', doc: 'Stable unique id of the alert (UUID); the same episode keeps it.' },
    ts: { type: 'ts', doc: 'When the alert was raised (time of the event that opened the episode).' },
    first_ts: { type: 'ts', doc: 'First event of the episode.' },
    last_ts: { type: 'ts', doc: 'Latest event folded into the alert.' },
    updated_ts: { type: 'ts', doc: 'When the alert was last changed (by new events or by an analyst).' },
    category: {
      type: 'string',
      doc: `Kind of finding: ${ALERT_CATEGORIES.join(', ')}.`,
    },
    detector: {
      type: 'string',
      doc: 'What decided: a Vantage detector (scan.vertical, intel.ip...), or the third-party rule engine.',
    },
    title: { type: 'string', doc: 'One line a person reads first.' },
    severity: { type: 'int', doc: 'Severity score 0–100.' },
    severity_label: { type: 'string', doc: 'info (<20), low (<40), medium (<70), high (<90) or critical.' },
    confidence: { type: 'int', doc: 'Confidence 0–100 that the finding is true.' },
    src_ip: { type: 'ip', nullable: n, doc: 'Offending or initiating host.' },
    src_port: { type: 'int', nullable: n, doc: 'Source port, when one connection is concerned.' },
    dst_ip: { type: 'ip', nullable: n, doc: 'Targeted or contacted host.' },
    dst_port: { type: 'int', nullable: n, doc: 'Destination port (the targeted service).' },
    proto: { type: 'int', nullable: n, doc: 'IP protocol number.' },
    community_id: {
      type: 'string',
      nullable: n,
      doc: 'Community ID of the 5-tuple, joining the alert with flows, Zeek and Suricata.',
    },
    vlan: { type: 'int', nullable: n, doc: 'Outer VLAN id.' },
    vni: { type: 'int', nullable: n, doc: 'Tunnel id (VXLAN/Geneve VNI, GRE key, ERSPAN session).' },
    sensor: { type: 'string', doc: 'Sensor (or collector) that raised or received the alert.' },
    count: { type: 'int', doc: 'Events folded into this alert.' },
    evidence: {
      type: 'json',
      doc: 'Why it was raised: the numbers, thresholds and baselines compared, example flow ids, counts.',
    },
    indicator: {
      type: 'json',
      nullable: n,
      doc: 'For intel alerts: {type, value, sources, confidence}.',
    },
    attack_technique: {
      type: 'string',
      nullable: n,
      doc: 'MITRE ATT&CK technique id (T1046, T1071.004...) where one fits.',
    },
    signature_id: { type: 'int', nullable: n, doc: 'Rule or signature id of a third-party IDS event.' },
    source: { type: 'string', doc: `Origin: ${ALERT_SOURCES.join(', ')}.` },
    retro: { type: 'bool', doc: 'Raised by a retro-hunt or a run over stored history, not live.' },
    src_user: { type: 'string', nullable: n, doc: 'User logged on at src_ip at the time, when known.' },
    status: { type: 'string', doc: `Analyst status: ${ALERT_STATUSES.join(', ')}.` },
    assignee: { type: 'string', nullable: n, doc: 'Who handles the alert.' },
    notes: { type: 'string', nullable: n, doc: 'Analyst notes.' },
    tags: { type: 'string[]', doc: 'Free labels.' },
  },
  { key: 'alert_id' },
);

export type AlertRecord = RecordOf<typeof alertRecord>;
