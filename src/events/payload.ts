import { parseCef } from './cef.js';
import { parseFirepower } from './firepower.js';
import { parseVpnLine, parseWindowsLogon } from './identity.js';
import { parseLeef } from './leef.js';
import { parseSyslog } from './syslog.js';
import { type Parsed, weird } from './types.js';

/** What a syslog listener expects in its messages. */
export const SYSLOG_FORMATS = ['auto', 'cef', 'leef', 'firepower', 'rfc5424', 'rfc3164'] as const;
export type SyslogFormat = (typeof SYSLOG_FORMATS)[number];

const FIREPOWER_RE = /%(?:FTD|NGIPS|ASA)-\d-\d{6}|\[\d+:\d+:\d+\]/;

/**
 * One syslog message (header optional) → what it carries: CEF, LEEF, a Firepower/FTD or
 * Snort-style intrusion event, a Windows logon or a VPN session. `format` forces the payload
 * (cef, leef, firepower) or the header form; `auto` and the header forms detect the payload.
 */
export function parseSyslogPayload(text: string, format: SyslogFormat, nowMs = Date.now()): Parsed {
  const sl = parseSyslog(text, nowMs);
  if (sl === null) return weird('syslog_bad_header');
  if (format === 'rfc5424' && sl.rfc !== 5424) return weird('syslog_not_rfc5424');
  if (format === 'rfc3164' && sl.rfc !== 3164) return weird('syslog_not_rfc3164');
  // A relay that parsed a 3164 message may have taken the payload's first word for the tag
  // (`%FTD-1-430001:`, `EventID=4624`) and moved it to APP-NAME: put it back.
  const msg = sl.app !== null && /[%=]/.test(sl.app) ? `${sl.app}: ${sl.msg.trimStart()}` : sl.msg;
  const ts = Number.isNaN(sl.ts) ? nowMs : sl.ts;
  // A payload without its own time takes the header's.
  if (format === 'cef' || (format !== 'leef' && format !== 'firepower' && msg.includes('CEF:')))
    return parseCef(msg, ts);
  if (format === 'leef' || (format !== 'firepower' && msg.includes('LEEF:'))) return parseLeef(msg, ts);
  if (format === 'firepower' || FIREPOWER_RE.test(msg)) {
    if (/%(?:ASA|FTD)-\d-(?:722051|113019):/.test(msg)) return parseVpnLine(msg, ts);
    return parseFirepower(msg, ts);
  }
  if (/\bEventI[Dd]=46(?:24|34|47)\b/.test(msg)) return parseWindowsLogon(msg, ts);
  if (msg.includes('MULTI_sva: pool returned')) return parseVpnLine(msg, ts);
  // Windows events forwarded as JSON in the message (nxlog, winlogbeat-to-syslog).
  const brace = msg.indexOf('{');
  if (brace >= 0 && /"EventI[Dd]"\s*:\s*"?46(?:24|34|47)/.test(msg)) {
    try {
      return parseWindowsLogon(JSON.parse(msg.slice(brace)) as Record<string, unknown>, ts);
    } catch {
      return weird('windows_bad_json');
    }
  }
  return { kind: 'other', name: 'syslog_unrecognized' };
}
