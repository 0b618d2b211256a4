import { hostname } from 'node:os';
import type { AlertRecord } from '../schema/alert.js';

/**
 * CEF ("Implementing ArcSight CEF"): in the header `\` and `|` are escaped; in extension
 * values `\`, `=`, CR and LF are; keys are plain. Unescaped `=` or newlines let an attacker's
 * text forge fields in the SIEM (see ossec-hids#1715, cowrie#40467).
 */
export const cefHeader = (s: string): string => s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ');
export const cefValue = (s: string): string =>
  s.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));

/** Severity 0–100 → CEF's 0–10. */
export const cefSeverity = (score: number): number => Math.round(Math.max(0, Math.min(100, score)) / 10);

export function toCef(a: AlertRecord, version: string): string {
  const ext: [string, string | number | null][] = [
    ['rt', Date.parse(a.updated_ts)],
    ['start', Date.parse(a.first_ts)],
    ['end', Date.parse(a.last_ts)],
    ['src', a.src_ip],
    ['spt', a.src_port],
    ['dst', a.dst_ip],
    ['dpt', a.dst_port],
    ['proto', a.proto],
    ['cnt', a.count],
    ['cat', a.category],
    ['suser', a.src_user],
    ['externalId', a.alert_id],
    ['dvchost', a.sensor],
    ['cs1Label', 'attackTechnique'],
    ['cs1', a.attack_technique],
    ['cs2Label', 'communityId'],
    ['cs2', a.community_id],
    ['cn1Label', 'confidence'],
    ['cn1', a.confidence],
    ['msg', a.title],
  ];
  const e = ext
    .filter(
      ([k, v]) =>
        v !== null && !(k.endsWith('Label') && ext.find(([k2]) => k2 === k.slice(0, -5))?.[1] === null),
    )
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(' ');
  return `CEF:0|Vantage|Vantage|${cefHeader(version)}|${cefHeader(a.detector)}|${cefHeader(a.title)}|${cefSeverity(a.severity)}|${e}`;
}

/** RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]`. */
const sdValue = (s: string): string => s.replace(/["\\\]]/g, (c) => `\\${c}`);

/** RFC 5424 header fields are PRINTUSASCII without spaces, bounded; anything else becomes `_`. */
const token = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';

/** Syslog severity of an alert: critical→2 (crit) … info→6 (informational). */
export function syslogSeverity(score: number): number {
  if (score >= 90) return 2;
  if (score >= 70) return 3;
  if (score >= 40) return 4;
  if (score >= 20) return 5;
  return 6;
}

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`. */
export function syslog5424(
  a: AlertRecord,
  msg: string,
  o: { facility: number; appName: string; hostname?: string },
): string {
  const pri = o.facility * 8 + syslogSeverity(a.severity);
  const sd = `[vantage@32473 alert_id="${sdValue(a.alert_id)}" updated="${sdValue(a.updated_ts)}"]`;
  return `<${pri}>1 ${a.updated_ts} ${token(o.hostname ?? hostname(), 255)} ${token(o.appName, 48)} ${process.pid} ${token(a.category, 32)} ${sd} ${msg}`;
}
