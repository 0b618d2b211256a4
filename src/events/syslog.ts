import { parseIsoMs } from './fields.js';

/**
 * Syslog headers: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`) and RFC 3164
 * (`<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`), plus the Cisco form with a year and no host
 * (`<166>Nov 09 2022 10:01:59: %ASA-6-725007: …`). A message without a header is kept whole.
 */
export interface SyslogMessage {
  rfc: 5424 | 3164 | 0;
  pri: number | null;
  facility: number | null;
  severity: number | null;
  /** ms since the epoch; NaN when the header carries none ('-' or no header). */
  ts: number;
  host: string | null;
  app: string | null;
  procid: string | null;
  msgid: string | null;
  /** RFC 5424 structured data: SD-ID → params. */
  sd: Record<string, Record<string, string>>;
  msg: string;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

const nil = (s: string | undefined): string | null => (s === undefined || s === '-' ? null : s);

/**
 * @param nowMs receive time: RFC 3164 timestamps have no year (the year that puts the time
 *   nearest to now is taken) and no zone (UTC is assumed).
 */
export function parseSyslog(text: string, nowMs = Date.now()): SyslogMessage | null {
  let s = text;
  let pri: number | null = null;
  const pm = /^<(\d{1,3})>/.exec(s);
  if (pm) {
    pri = Number(pm[1]);
    if (pri > 191) return null;
    s = s.slice(pm[0].length);
  }
  const base = {
    pri,
    facility: pri === null ? null : pri >> 3,
    severity: pri === null ? null : pri & 7,
  };
  if (pri !== null && s.startsWith('1 ')) {
    const r = parse5424(s.slice(2));
    if (r !== null) return { rfc: 5424, ...base, ...r };
  }
  const r = parse3164(s, nowMs);
  if (r !== null) return { rfc: 3164, ...base, ...r };
  return {
    rfc: 0,
    ...base,
    ts: Number.NaN,
    host: null,
    app: null,
    procid: null,
    msgid: null,
    sd: {},
    msg: s,
  };
}

type Body = Omit<SyslogMessage, 'rfc' | 'pri' | 'facility' | 'severity'>;

function parse5424(s: string): Body | null {
  let p = 0;
  const tok = (): string | undefined => {
    if (p >= s.length) return undefined;
    const sp = s.indexOf(' ', p);
    const t = sp < 0 ? s.slice(p) : s.slice(p, sp);
    p = sp < 0 ? s.length : sp + 1;
    return t;
  };
  const tsTok = tok();
  const host = tok();
  const app = tok();
  const procid = tok();
  const msgid = tok();
  if (tsTok === undefined || msgid === undefined) return null;
  const ts = tsTok === '-' ? Number.NaN : parseIsoMs(tsTok);
  if (tsTok !== '-' && Number.isNaN(ts)) return null;
  const sd: Record<string, Record<string, string>> = {};
  if (s[p] === '-') p += 2;
  else if (s[p] === '[') {
    while (s[p] === '[') {
      const end = parseSdElement(s, p, sd);
      if (end < 0) return null;
      p = end;
    }
    if (s[p] === ' ') p++;
  } else if (p < s.length) return null;
  let msg = s.slice(p);
  if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
  return { ts, host: nil(host), app: nil(app), procid: nil(procid), msgid: nil(msgid), sd, msg };
}

/** `[id k="v" k2="v\"2"]` at p; returns the index after `]`, or -1. */
function parseSdElement(s: string, p: number, out: Record<string, Record<string, string>>): number {
  let i = p + 1;
  let id = '';
  while (i < s.length && s[i] !== ' ' && s[i] !== ']') id += s[i++];
  if (id === '') return -1;
  const params: Record<string, string> = {};
  while (i < s.length && s[i] === ' ') {
    i++;
    const eq = s.indexOf('="', i);
    if (eq < 0) return -1;
    const name = s.slice(i, eq);
    i = eq + 2;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) i++;
      v += s[i++];
    }
    if (s[i] !== '"') return -1;
    i++;
    params[name] = v;
  }
  if (s[i] !== ']') return -1;
  out[id] = params;
  return i + 1;
}

const TS3164 = /^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?:? /;

function parse3164(s: string, nowMs: number): Body | null {
  const m = TS3164.exec(s);
  if (!m) return null;
  const mo = MONTHS[m[1]!];
  if (mo === undefined) return null;
  const day = Number(m[2]);
  const [h, mi, se] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (day < 1 || day > 31 || h > 23 || mi > 59 || se > 60) return null;
  const frac = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let ts: number;
  if (m[3]) ts = Date.UTC(Number(m[3]), mo, day, h, mi, se, frac);
  else {
    // No year: the receive year, unless that puts the message more than a week in the future
    // (a December message read in January belongs to last year); relays such as rsyslog do
    // the same, so a message keeps its time whichever path it took.
    const y = new Date(nowMs).getUTCFullYear();
    ts = Date.UTC(y, mo, day, h, mi, se, frac);
    if (ts - nowMs > 7 * 86_400_000) ts = Date.UTC(y - 1, mo, day, h, mi, se, frac);
  }
  let rest = s.slice(m[0].length);
  let host: string | null = null;
  // HOST is a single token not ending in ':' and not a tag with `[pid]`; Cisco devices send
  // no host, the message then starts with `%`.
  const sp = rest.indexOf(' ');
  if (sp > 0) {
    const t = rest.slice(0, sp);
    if (!t.endsWith(':') && !t.includes('[') && !t.startsWith('%') && !t.includes('=') && !t.includes('|')) {
      host = t;
      rest = rest.slice(sp + 1);
    }
  }
  let app: string | null = null;
  let procid: string | null = null;
  const tm = /^([^\s:[\]]{1,48})(?:\[([^\]]{1,32})\])?: /.exec(rest);
  if (tm && !tm[1]!.startsWith('%')) {
    app = tm[1]!;
    procid = tm[2] ?? null;
    rest = rest.slice(tm[0].length);
  }
  return { ts, host, app, procid, msgid: null, sd: {}, msg: rest };
}
