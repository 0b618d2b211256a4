import { communityIdOf, cut, int, ip, parseAnyTime, port, protoNumber, sigId } from './fields.js';
import { type Parsed, weird } from './types.js';

/**
 * IBM QRadar Log Event Extended Format, 1.0 and 2.0:
 * `LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value…`
 * `LEEF:2.0|Vendor|Product|Version|EventID|<delimiter>|key=value<delimiter>…`, the delimiter a
 * character or its hex code (`x09`, `0x5E`, 1–4 hex digits); an empty one means tab.
 */
export interface LeefMessage {
  version: string;
  vendor: string;
  product: string;
  productVersion: string;
  eventId: string;
  delimiter: string;
  attrs: Map<string, string>;
}

export function parseLeefMessage(text: string): LeefMessage | null {
  const at = text.indexOf('LEEF:');
  if (at < 0) return null;
  const parts: string[] = [];
  let p = at + 5;
  const want = text.startsWith('LEEF:2', at) ? 6 : 5;
  while (parts.length < want) {
    const bar = text.indexOf('|', p);
    if (bar < 0) {
      // LEEF 1.0 senders often omit the last `|` when there are no attributes.
      if (parts.length === want - 1 && want === 5) {
        parts.push(text.slice(p));
        p = text.length;
        break;
      }
      return null;
    }
    parts.push(text.slice(p, bar));
    p = bar + 1;
  }
  const version = parts[0]!.trim();
  if (version !== '1.0' && version !== '2.0' && version !== '1' && version !== '2') return null;
  let delimiter = '\t';
  if (want === 6) {
    const d = parts[5]!;
    if (d.length === 1) delimiter = d;
    else if (/^(0x|x)[0-9a-fA-F]{1,4}$/i.test(d))
      delimiter = String.fromCharCode(Number.parseInt(d.replace(/^0?x/i, ''), 16));
    else if (d !== '') return null;
  }
  const attrs = new Map<string, string>();
  const body = text.slice(p).replace(/[\r\n]+$/, '');
  for (const kv of body.split(delimiter)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    attrs.set(kv.slice(0, eq).trim(), kv.slice(eq + 1));
  }
  return {
    version,
    vendor: parts[1]!,
    product: parts[2]!,
    productVersion: parts[3]!,
    eventId: parts[4]!,
    delimiter,
    attrs,
  };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * devTime by its devTimeFormat (Java SimpleDateFormat: yyyy MM MMM dd HH mm ss SSS z Z X and
 * literals), the form LEEF prescribes; without a format LEEF's default
 * `MMM dd yyyy HH:mm:ss` with optional `.SSS zzz`, or epoch/ISO forms.
 */
export function parseDevTime(v: string, format: string | undefined): number {
  const fmt = format ?? 'MMM dd yyyy HH:mm:ss.SSS zzz';
  const r = parseWithFormat(v, fmt);
  if (!Number.isNaN(r)) return r;
  if (format === undefined) {
    const r2 = parseWithFormat(v, 'MMM dd yyyy HH:mm:ss');
    if (!Number.isNaN(r2)) return r2;
  }
  return parseAnyTime(v);
}

function parseWithFormat(v: string, fmt: string): number {
  let y = 1970;
  let mo = 0;
  let d = 1;
  let h = 0;
  let mi = 0;
  let s = 0;
  let ms = 0;
  let off = 0;
  let i = 0;
  let f = 0;
  while (f < fmt.length) {
    const c = fmt[f]!;
    let n = 1;
    while (fmt[f + n] === c) n++;
    f += n;
    if (/[a-zA-Z]/.test(c)) {
      if (c === 'M' && n >= 3) {
        const m = MONTHS.indexOf(v.slice(i, i + 3).toLowerCase());
        if (m < 0) return Number.NaN;
        mo = m;
        i += 3;
        continue;
      }
      if (c === 'z' || c === 'Z' || c === 'X') {
        const m = /^(?:Z|UTC|GMT|[A-Z]{3,4})?([+-]\d\d:?\d\d)?/.exec(v.slice(i));
        if (!m || m[0] === '') return Number.NaN;
        if (m[1]) {
          const sign = m[1][0] === '-' ? -1 : 1;
          const dd = m[1].slice(1).replace(':', '');
          off = sign * (Number(dd.slice(0, 2)) * 60 + Number(dd.slice(2)));
        } else if (m[0] !== 'Z' && m[0] !== 'UTC' && m[0] !== 'GMT') return Number.NaN;
        i += m[0].length;
        continue;
      }
      const m = /^\d+/.exec(v.slice(i, i + Math.max(n, c === 'y' ? 4 : c === 'S' ? 3 : 2)));
      if (!m) return Number.NaN;
      const x = Number(m[0]);
      i += m[0].length;
      if (c === 'y') y = m[0].length === 2 ? 2000 + x : x;
      else if (c === 'M') mo = x - 1;
      else if (c === 'd') d = x;
      else if (c === 'H') h = x;
      else if (c === 'm') mi = x;
      else if (c === 's') s = x;
      else if (c === 'S') ms = x;
      else return Number.NaN;
    } else if (c === "'") {
      // quoted literal: skip it in both
      const end = fmt.indexOf("'", f);
      const lit = fmt.slice(f, end < 0 ? fmt.length : end);
      if (v.slice(i, i + lit.length) !== lit) return Number.NaN;
      i += lit.length;
      f = end < 0 ? fmt.length : end + 1;
    } else {
      for (let k = 0; k < n; k++) if (v[i++] !== c) return Number.NaN;
    }
  }
  if (i !== v.length || mo > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return Number.NaN;
  return Date.UTC(y, mo, d, h, mi, s, ms) - off * 60_000;
}

/** One LEEF message (with or without a syslog header before `LEEF:`). */
export function parseLeef(text: string, nowMs = Date.now()): Parsed {
  const m = parseLeefMessage(text);
  if (m === null) return weird(text.includes('LEEF:') ? 'leef_bad_header' : 'leef_missing');
  const a = m.attrs;
  const src = ip(a.get('src'));
  const dst = ip(a.get('dst'));
  const sp = port(a.get('srcPort'));
  const dp = port(a.get('dstPort'));
  const proto = protoNumber(a.get('proto'));
  const dt = a.get('devTime');
  const t = dt === undefined ? Number.NaN : parseDevTime(dt, a.get('devTimeFormat'));
  const sevRaw = int(a.get('sev'));
  // LEEF sev is 1–10: the same scale as CEF's, so the same mapping (×10).
  const sev = sevRaw !== null && sevRaw >= 0 && sevRaw <= 10 ? sevRaw * 10 : 50;
  const evidence: Record<string, unknown> = {
    vendor: m.vendor,
    product: m.product,
    product_version: m.productVersion,
    signature: m.eventId,
    leef_version: m.version,
    sev: a.get('sev') ?? null,
  };
  for (const k of ['cat', 'usrName', 'identSrc', 'policy', 'action', 'msg', 'resource', 'url']) {
    const v = a.get(k);
    if (v !== undefined) evidence[k] = cut(v, 256);
  }
  if (Number.isNaN(t) && dt !== undefined) evidence.bad_time = cut(dt, 64);
  const cat = a.get('cat');
  return {
    kind: 'event',
    source: 'leef',
    ts: Number.isNaN(t) ? nowMs : t,
    detector: `${cut(m.vendor, 64)}/${cut(m.product, 64)}`,
    title: cut(cat ? `${m.product} ${m.eventId}: ${cat}` : `${m.product} ${m.eventId}`, 256),
    severity: sev,
    category: 'ids',
    signature_id: sigId(m.eventId),
    signature: cut(m.eventId, 128),
    src_ip: src,
    src_port: sp,
    dst_ip: dst,
    dst_port: dp,
    proto,
    community_id: communityIdOf(proto, src, dst, sp, dp),
    vlan: null,
    src_user: a.get('usrName') ?? null,
    evidence,
  };
}
