import { type AlertRecord, OCSF_SEVERITY_ID, severityLabel } from '../schema/alert.js';

/** OCSF schema version the findings are written against. */
export const OCSF_VERSION = '1.3.0';

const STATUS: Record<string, [number, string]> = {
  new: [1, 'New'],
  acknowledged: [2, 'In Progress'],
  closed: [4, 'Resolved'],
  false_positive: [3, 'Suppressed'],
};

const ms = (iso: string): number => Date.parse(iso);

const endpoint = (ip: string | null, port: number | null): Record<string, unknown> | undefined =>
  ip === null && port === null ? undefined : { ...(ip !== null && { ip }), ...(port !== null && { port }) };

/**
 * An alert as an OCSF Detection Finding (class 2004, category 2 Findings). An alert seen for
 * the first time is a Create (activity 1); later versions of the same episode are Updates
 * (activity 2), so a consumer keeps the latest by finding_info.uid + time.
 */
export function toOcsf(a: AlertRecord, version: string): Record<string, unknown> {
  const sev = OCSF_SEVERITY_ID[severityLabel(a.severity)];
  const activity = a.status === 'closed' || a.status === 'false_positive' ? 3 : a.count > 1 ? 2 : 1;
  const [statusId, status] = STATUS[a.status] ?? [99, a.status];
  const src = endpoint(a.src_ip, a.src_port);
  const dst = endpoint(a.dst_ip, a.dst_port);
  const conn = a.proto === null ? undefined : { protocol_num: a.proto };
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activity,
    activity_name: ['', 'Create', 'Update', 'Close'][activity],
    type_uid: 200400 + activity,
    time: ms(a.updated_ts),
    severity_id: sev,
    severity: ['Unknown', 'Informational', 'Low', 'Medium', 'High', 'Critical'][sev],
    status_id: statusId,
    status,
    confidence_score: a.confidence,
    count: a.count,
    message: a.title,
    finding_info: {
      uid: a.alert_id,
      title: a.title,
      types: [a.category],
      first_seen_time: ms(a.first_ts),
      last_seen_time: ms(a.last_ts),
      modified_time: ms(a.updated_ts),
      analytic: {
        name: a.detector,
        type_id: 1,
        type: 'Rule',
        ...(a.signature_id !== null && { uid: String(a.signature_id) }),
      },
      ...(a.attack_technique !== null && { attacks: [{ technique: { uid: a.attack_technique } }] }),
    },
    ...(src && { src_endpoint: src }),
    ...(dst && { dst_endpoint: dst }),
    ...(conn && { connection_info: conn }),
    ...(a.attack_technique !== null && {
      attacks: [{ technique: { uid: a.attack_technique }, version: '15' }],
    }),
    evidences: [
      {
        ...(src && { src_endpoint: src }),
        ...(dst && { dst_endpoint: dst }),
        ...(conn && { connection_info: conn }),
        data: a.evidence,
      },
    ],
    metadata: {
      version: OCSF_VERSION,
      uid: `${a.alert_id}/${a.updated_ts}`,
      product: { name: 'Vantage', vendor_name: 'Vantage', version },
      ...(a.src_user !== null && { labels: [`user:${a.src_user}`] }),
    },
    observables:
      a.community_id !== null ? [{ name: 'community_id', type_id: 99, value: a.community_id }] : [],
    unmapped: { sensor: a.sensor, source: a.source, retro: a.retro, tags: a.tags, indicator: a.indicator },
  };
}
