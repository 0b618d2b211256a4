import { communityIdOf, cut, ip, parseAnyTime, port, protoNumber, sigId } from './fields.js';
import { type Parsed, type SecurityEvent, weird } from './types.js';

/**
 * ArcSight Common Event Format:
 * `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
 * Header fields escape `|` and `\` with a backslash; extension values escape `=`, `\`, and
 * carry newlines as `\n`/`\r`; a value runs (spaces included) up to the next ` key=`.
 */
export interface CefMessage {
  version: number;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  ext: Map<string, string>;
}

/** Split the CEF header and extension; null when the text is no CEF. */
export function parseCefMessage(text: string): CefMessage | null {
  const at = text.indexOf('CEF:');
  if (at < 0) return null;
  const fields: string[] = [];
  let cur = '';
  let i = at + 4;
  let seg = i;
  while (i < text.length && fields.length < 7) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */ && i + 1 < text.length) {
      const n = text[i + 1];
      if (n === '|' || n === '\\') {
        cur += text.slice(seg, i) + n;
        i += 2;
        seg = i;
        continue;
      }
    } else if (c === 124 /* | */) {
      fields.push(cur + text.slice(seg, i));
      cur = '';
      seg = i + 1;
    }
    i++;
  }
  if (fields.length < 7) return null;
  const version = Number(fields[0]!.trim());
  if (!Number.isInteger(version)) return null;
  return {
    version,
    vendor: fields[1]!,
    product: fields[2]!,
    deviceVersion: fields[3]!,
    signatureId: fields[4]!,
    name: fields[5]!,
    severity: fields[6]!,
    ext: parseCefExtension(text.slice(i)),
  };
}

const isKeyChar = (c: number): boolean =>
  (c >= 48 && c <= 57) ||
  (c >= 65 && c <= 90) ||
  (c >= 97 && c <= 122) ||
  c === 95 ||
  c === 46 ||
  c === 91 ||
  c === 93 ||
  c === 45;

function unescapeValue(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  return s.replace(/\\([=\\nr])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** `key=value key2=value with spaces` → map; an unescaped `=` not after a key stays in the value. */
export function parseCefExtension(s: string): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | null = null;
  let valStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      i++;
      continue;
    }
    if (c !== 61 /* = */) continue;
    let k = i;
    while (k > 0 && isKeyChar(s.charCodeAt(k - 1))) k--;
    if (k === i) continue;
    if (k > 0 && s.charCodeAt(k - 1) !== 32) continue;
    if (key !== null) out.set(key, unescapeValue(s.slice(valStart, Math.max(valStart, k - 1)).trimEnd()));
    else if (s.slice(0, k).trim() !== '') continue; // text before the first key: not an extension
    key = s.slice(k, i);
    valStart = i + 1;
  }
  if (key !== null)
    out.set(
      key,
      unescapeValue(
        s
          .slice(valStart)
          .replace(/[\r\n]+$/, '')
          .trimEnd(),
      ),
    );
  return out;
}

/**
 * CEF severity → 0–100: an integer 0–10 times ten (the spec's bands 0–3 low, 4–6 medium,
 * 7–8 high, 9–10 very high land in the same bands of severityLabel), or the words Low 25,
 * Medium 55, High 80, Very-High 95; anything else 50, counted by the caller as cef_bad_severity.
 */
export function cefSeverity(s: string): number | null {
  const t = s.trim();
  if (/^\d{1,2}$/.test(t)) {
    const n = Number(t);
    return n <= 10 ? n * 10 : null;
  }
  switch (t.toLowerCase()) {
    case 'unknown':
      return null;
    case 'low':
      return 25;
    case 'medium':
      return 55;
    case 'high':
      return 80;
    case 'very-high':
    case 'very high':
      return 95;
    default:
      return null;
  }
}

/** One CEF message (with or without a syslog header before `CEF:`). */
export function parseCef(text: string, nowMs = Date.now()): Parsed {
  const m = parseCefMessage(text);
  if (m === null) return weird(text.includes('CEF:') ? 'cef_bad_header' : 'cef_missing');
  const x = m.ext;
  const src = ip(x.get('src') ?? x.get('sourceAddress') ?? x.get('c6a2'));
  const dst = ip(x.get('dst') ?? x.get('destinationAddress') ?? x.get('c6a3'));
  const sp = port(x.get('spt') ?? x.get('sourcePort'));
  const dp = port(x.get('dpt') ?? x.get('destinationPort'));
  const proto = protoNumber(x.get('proto') ?? x.get('transportProtocol'));
  const rt = x.get('rt') ?? x.get('receiptTime') ?? x.get('end') ?? x.get('start');
  const t = rt === undefined ? Number.NaN : parseAnyTime(rt);
  const sev = cefSeverity(m.severity);
  const evidence: Record<string, unknown> = {
    vendor: m.vendor,
    product: m.product,
    device_version: m.deviceVersion,
    signature: m.signatureId,
    name: cut(m.name),
    cef_severity: m.severity,
  };
  for (const k of [
    'act',
    'cat',
    'msg',
    'app',
    'request',
    'suser',
    'duser',
    'externalId',
    'cn1',
    'cn2',
    'cn3',
  ]) {
    const v = x.get(k);
    if (v !== undefined) evidence[k] = cut(v, 256);
  }
  // Custom strings are meaningful only with their labels: keep them under the label's name.
  for (let n = 1; n <= 6; n++) {
    const v = x.get(`cs${n}`);
    if (v !== undefined) evidence[x.get(`cs${n}Label`) ?? `cs${n}`] = cut(v, 256);
  }
  if (Number.isNaN(t) && rt !== undefined) evidence.bad_time = cut(rt, 64);
  const ev: SecurityEvent = {
    kind: 'event',
    source: 'cef',
    ts: Number.isNaN(t) ? nowMs : t,
    detector: `${cut(m.vendor, 64)}/${cut(m.product, 64)}`,
    title: cut(m.name || m.signatureId, 256),
    severity: sev ?? 50,
    category: 'ids',
    signature_id: sigId(m.signatureId),
    signature: cut(m.signatureId, 128),
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: communityIdOf(proto, src, dst, sp, dp),
    vlan: null,
    src_user: x.get('suser') ?? null,
    evidence,
  };
  if (sev === null) evidence.severity_unmapped = true;
  return ev;
}
