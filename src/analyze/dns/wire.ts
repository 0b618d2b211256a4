import { ipBytesToString } from '../../common/addr.js';
import { AddrTextCache, TextCache } from '../text-cache.js';
import { typeName } from './names.js';

/**
 * DNS wire format (RFC 1035 and successors), read in place from a buffer. The header and the
 * first question are decoded into a reused `DnsHeader` without allocating; names, answers and
 * EDNS options become strings and objects only when a record is built from them.
 * Malformed input never throws: the functions return -1 / null and set `DnsHeader.weird`.
 */

export const DNS_HEADER_LEN = 12;
/** Longest name on the wire (RFC 1035 §2.3.4). */
const MAX_NAME_WIRE = 255;
/** Compression pointers followed for one name; pointers also have to go strictly backwards. */
const MAX_POINTER_HOPS = 64;

export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;

/** Stable names of the ways a DNS message can be malformed (recorded as `weird`). */
export type DnsWeird =
  | 'dns_truncated_header'
  | 'dns_truncated_question'
  | 'dns_bad_label_type'
  | 'dns_name_too_long'
  | 'dns_name_pointer_loop'
  | 'dns_truncated_rr'
  | 'dns_truncated_rdata'
  | 'dns_too_many_rrs'
  | 'dns_tcp_bad_length';

/** The fixed part of a message and its first question, decoded in place. */
export class DnsHeader {
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the message (its id) and end of the bytes available. */
  msg = 0;
  end = 0;
  id = 0;
  flags = 0;
  qdCount = 0;
  anCount = 0;
  nsCount = 0;
  arCount = 0;
  /** Offset of the first question's name, -1 when there is no question. */
  qnameOff = -1;
  qtype = -1;
  qclass = -1;
  /** Offset just past the question section, -1 when it could not be walked. */
  bodyOff = -1;
  weird: DnsWeird | null = null;

  get isResponse(): boolean {
    return (this.flags & FLAG_QR) !== 0;
  }

  get opcode(): number {
    return (this.flags >> 11) & 15;
  }

  get rcode(): number {
    return this.flags & 15;
  }
}

/**
 * Decode the header and the first question of the message at [off, end). Returns false when
 * not even the header is there or the question is malformed (`h.weird` says why).
 */
export function parseHeader(buf: Buffer, off: number, end: number, h: DnsHeader): boolean {
  h.buf = buf;
  h.msg = off;
  h.end = end;
  h.qnameOff = -1;
  h.qtype = -1;
  h.qclass = -1;
  h.bodyOff = -1;
  h.weird = null;
  if (end - off < DNS_HEADER_LEN) {
    h.weird = 'dns_truncated_header';
    return false;
  }
  h.id = buf.readUInt16BE(off);
  h.flags = buf.readUInt16BE(off + 2);
  h.qdCount = buf.readUInt16BE(off + 4);
  h.anCount = buf.readUInt16BE(off + 6);
  h.nsCount = buf.readUInt16BE(off + 8);
  h.arCount = buf.readUInt16BE(off + 10);
  let pos = off + DNS_HEADER_LEN;
  for (let i = 0; i < h.qdCount; i++) {
    const n = skipName(buf, pos, end);
    if (n < 0 || n + 4 > end) {
      h.weird = n === -2 ? 'dns_bad_label_type' : 'dns_truncated_question';
      return false;
    }
    if (i === 0) {
      h.qnameOff = pos;
      h.qtype = buf.readUInt16BE(n);
      h.qclass = buf.readUInt16BE(n + 2);
    }
    pos = n + 4;
  }
  h.bodyOff = pos;
  return true;
}

/**
 * Offset just past the name at `pos` without following pointers; -1 when truncated, -2 for a
 * reserved label type.
 */
export function skipName(buf: Uint8Array, pos: number, end: number): number {
  for (let i = 0; i < 128; i++) {
    if (pos >= end) return -1;
    const b = buf[pos]!;
    if (b === 0) return pos + 1;
    const kind = b & 0xc0;
    if (kind === 0xc0) return pos + 2 <= end ? pos + 2 : -1;
    if (kind !== 0) return -2;
    pos += 1 + b;
  }
  return -1;
}

let nameError: DnsWeird | null = null;

/** Why the last `readName` returned null. */
export function lastNameError(): DnsWeird | null {
  return nameError;
}

/**
 * The presentation form of the name at `pos` of the message starting at `msg`: labels joined
 * by dots, bytes outside printable ASCII (and dots or backslashes inside a label) escaped as
 * \DDD. The root name is "<Root>" as Wireshark shows it. Returns null when malformed.
 */
export function readName(buf: Buffer, msg: number, end: number, pos: number): string | null {
  nameError = null;
  // The presentation form is assembled in a reused buffer and made a string once: joining
  // label strings would build a chain of string pieces per name.
  const out = NAME_OUT;
  let n = 0;
  let wire = 0;
  let hops = 0;
  let floor = pos; // a pointer must land strictly before the last place we jumped from
  for (;;) {
    if (pos >= end) {
      nameError = 'dns_truncated_rr';
      return null;
    }
    const b = buf[pos]!;
    if (b === 0) break;
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) {
        nameError = 'dns_truncated_rr';
        return null;
      }
      const target = msg + (((b & 0x3f) << 8) | buf[pos + 1]!);
      if (target >= floor || ++hops > MAX_POINTER_HOPS) {
        nameError = 'dns_name_pointer_loop';
        return null;
      }
      floor = target;
      pos = target;
      continue;
    }
    if (kind !== 0) {
      nameError = 'dns_bad_label_type';
      return null;
    }
    wire += b + 1;
    if (wire + 1 > MAX_NAME_WIRE) {
      nameError = 'dns_name_too_long';
      return null;
    }
    const s = pos + 1;
    const e = s + b;
    if (e > end) {
      nameError = 'dns_truncated_rr';
      return null;
    }
    if (n > 0) out[n++] = 0x2e;
    for (let i = s; i < e; i++) {
      const c = buf[i]!;
      if (c === 0x2e || c === 0x5c) {
        out[n++] = 0x5c;
        out[n++] = c;
      } else if (c <= 0x20 || c >= 0x7f) {
        out[n++] = 0x5c;
        out[n++] = 0x30 + ((c / 100) | 0);
        out[n++] = 0x30 + (((c / 10) | 0) % 10);
        out[n++] = 0x30 + (c % 10);
      } else out[n++] = c;
    }
    pos = e;
  }
  return n === 0 ? '<Root>' : DNS_NAMES.latin1(NAME_OUT, 0, n);
}

/**
 * Names and answer addresses as text, one string per distinct value (bounded): a network asks
 * a few hundred names tens of thousands of times, and the question, the answers' owner names
 * (pointers to it) and the query's own record share one string.
 */
export const DNS_NAMES = new TextCache(4096, 256);
export const DNS_ADDRS = new AddrTextCache(4096);

/** A name is at most 255 wire bytes; escaped as \DDD each byte takes 4 characters. */
const NAME_OUT = Buffer.alloc(4 * 256);

/** One resource record as records carry it. `data` is the RDATA in presentation form. */
export interface DnsAnswer {
  name: string;
  type: number;
  type_name: string;
  ttl: number;
  data: string;
}

/** EDNS(0) facts from an OPT pseudo-record (RFC 6891) and its client-subnet option (RFC 7871). */
export interface EdnsInfo {
  udpSize: number;
  version: number;
  extRcode: number;
  dnssecOk: boolean;
  /** "192.0.2.0/24" (source prefix), null when absent. */
  clientSubnet: string | null;
  /** Scope prefix length of the client-subnet option (meaningful in responses). */
  subnetScope: number | null;
}

export interface DnsSections {
  answers: DnsAnswer[];
  authority: DnsAnswer[];
  edns: EdnsInfo | null;
  weird: DnsWeird | null;
}

/**
 * Answers are shared, not made per message: one object per distinct (name, type, TTL, data) and
 * one list per distinct sequence of them, each in a direct-mapped table (a different value in a
 * slot replaces it). A network's resolvers give the same answers for a few hundred names tens of
 * thousands of times, and a record holds its lists until its batch is written, so objects made
 * per message were most of what survived L7's young collections. Records only read them.
 */
const ANSWER_SLOTS = 4096;
const answerAt: (DnsAnswer | undefined)[] = new Array<DnsAnswer | undefined>(ANSWER_SLOTS).fill(undefined);
const LIST_SLOTS = 2048;
const listAt: (DnsAnswer[] | undefined)[] = new Array<DnsAnswer[] | undefined>(LIST_SLOTS).fill(undefined);
/** The section being read: its answers so far and their mixed keys. */
const sectionItems: DnsAnswer[] = [];
let sectionN = 0;
let sectionKey = 0;
/** Every empty section (never mutated). */
const NO_ANSWERS: DnsAnswer[] = [];

/** A few of a text's characters and its length, mixed. */
function textMix(h: number, v: string): number {
  const n = v.length;
  h = Math.imul(h ^ n, 0x9e3779b1);
  if (n === 0) return h;
  h = Math.imul(h ^ v.charCodeAt(n - 1), 0x85ebca6b) ^ v.charCodeAt(n >> 1);
  return Math.imul(h, 0xc2b2ae35) ^ v.charCodeAt((n * 3) >> 2);
}

function addAnswer(name: string, type: number, ttl: number, data: string): void {
  let h = Math.imul(type ^ 0x27d4eb2f, 0x85ebca6b) ^ ttl;
  h = textMix(textMix(h, name), data);
  h ^= h >>> 15;
  const at = h & (ANSWER_SLOTS - 1);
  let a = answerAt[at];
  if (a === undefined || a.type !== type || a.ttl !== ttl || a.name !== name || a.data !== data) {
    a = { name, type, type_name: typeName(type), ttl, data };
    answerAt[at] = a;
  }
  if (sectionN < sectionItems.length) sectionItems[sectionN] = a;
  else sectionItems.push(a);
  sectionN++;
  sectionKey = Math.imul(sectionKey ^ h, 0x01000193);
}

/** The section read as a list: the one of an earlier message with the same answers, if kept. */
function sectionList(): DnsAnswer[] {
  const n = sectionN;
  sectionN = 0;
  if (n === 0) return NO_ANSWERS;
  const k = Math.imul(sectionKey ^ n, 0x9e3779b1);
  sectionKey = 0;
  const at = (k ^ (k >>> 16)) & (LIST_SLOTS - 1);
  const l = listAt[at];
  if (l !== undefined && l.length === n) {
    let i = 0;
    while (i < n && l[i] === sectionItems[i]) i++;
    if (i === n) return l;
  }
  const out = sectionItems.slice(0, n);
  listAt[at] = out;
  return out;
}

/**
 * Decode the answer and authority sections (at most `maxRrs` records each) and find the OPT
 * record in the additional section. Whatever precedes a malformed record is kept.
 */
export function parseSections(h: DnsHeader, maxRrs: number): DnsSections {
  const out: DnsSections = { answers: NO_ANSWERS, authority: NO_ANSWERS, edns: null, weird: null };
  if (h.bodyOff < 0) return out;
  sectionN = 0;
  sectionKey = 0;
  readSections(h, maxRrs, out);
  return out;
}

/** The sections into `out`, up to a malformed record (its weird set). */
function readSections(h: DnsHeader, maxRrs: number, out: DnsSections): void {
  const { buf, msg, end } = h;
  let pos = h.bodyOff;
  for (let sec = 0; sec < 3; sec++) {
    const n = sec === 0 ? h.anCount : sec === 1 ? h.nsCount : h.arCount;
    const listed = sec < 2;
    for (let i = 0; i < n; i++) {
      const nameEnd = skipName(buf, pos, end);
      if (nameEnd < 0 || nameEnd + 10 > end) {
        endSection(out, sec);
        out.weird = nameEnd === -2 ? 'dns_bad_label_type' : 'dns_truncated_rr';
        return;
      }
      const type = buf.readUInt16BE(nameEnd);
      const klass = buf.readUInt16BE(nameEnd + 2);
      const ttl = buf.readUInt32BE(nameEnd + 4);
      const rdLen = buf.readUInt16BE(nameEnd + 8);
      const rd = nameEnd + 10;
      if (rd + rdLen > end) {
        endSection(out, sec);
        out.weird = 'dns_truncated_rdata';
        return;
      }
      if (type === 41 && sec === 2) {
        out.edns = parseOpt(buf, klass, ttl, rd, rd + rdLen);
      } else if (listed) {
        if (sectionN >= maxRrs) {
          out.weird ??= 'dns_too_many_rrs';
        } else {
          const name = readName(buf, msg, end, pos);
          if (name === null) {
            endSection(out, sec);
            out.weird = nameError;
            return;
          }
          addAnswer(name, type, ttl, rdataText(buf, msg, end, type, rd, rdLen));
        }
      }
      pos = rd + rdLen;
    }
    endSection(out, sec);
  }
}

function endSection(out: DnsSections, sec: number): void {
  if (sec === 0) out.answers = sectionList();
  else if (sec === 1) out.authority = sectionList();
}

function parseOpt(buf: Buffer, klass: number, ttl: number, s: number, e: number): EdnsInfo {
  const info: EdnsInfo = {
    udpSize: klass,
    extRcode: ttl >>> 24,
    version: (ttl >>> 16) & 0xff,
    dnssecOk: (ttl & 0x8000) !== 0,
    clientSubnet: null,
    subnetScope: null,
  };
  let o = s;
  while (o + 4 <= e) {
    const code = buf.readUInt16BE(o);
    const len = buf.readUInt16BE(o + 2);
    const d = o + 4;
    if (d + len > e) break;
    if (code === 8 && len >= 4) {
      const family = buf.readUInt16BE(d);
      const srcPrefix = buf[d + 2]!;
      info.subnetScope = buf[d + 3]!;
      const size = family === 1 ? 4 : family === 2 ? 16 : 0;
      if (size > 0 && srcPrefix <= size * 8) {
        const addr = Buffer.alloc(size);
        buf.copy(addr, 0, d + 4, d + Math.min(len, 4 + size));
        info.clientSubnet = `${ipBytesToString(addr, 0, family === 1 ? 4 : 6)}/${srcPrefix}`;
      }
    }
    o = d + len;
  }
  return info;
}

const HEX_LIMIT = 256;

/** RDATA in presentation form; types we do not spell out use RFC 3597's `\# len hex`. */
export function rdataText(
  buf: Buffer,
  msg: number,
  end: number,
  type: number,
  s: number,
  len: number,
): string {
  const e = s + len;
  const name = (at: number): string => readName(buf, msg, end, at) ?? '';
  switch (type) {
    case 1:
      if (len === 4) return DNS_ADDRS.get(buf, s, 4);
      break;
    case 28:
      if (len === 16) return DNS_ADDRS.get(buf, s, 6);
      break;
    case 2:
    case 5:
    case 12:
    case 39:
      return name(s);
    case 15:
      if (len >= 3) return `${buf.readUInt16BE(s)} ${name(s + 2)}`;
      break;
    case 33:
      if (len >= 7)
        return `${buf.readUInt16BE(s)} ${buf.readUInt16BE(s + 2)} ${buf.readUInt16BE(s + 4)} ${name(s + 6)}`;
      break;
    case 6: {
      const m = skipName(buf, s, e);
      const r = m < 0 ? -1 : skipName(buf, m, e);
      if (r < 0 || r + 20 > e) break;
      const n = (o: number): number => buf.readUInt32BE(o);
      return `${name(s)} ${name(m)} ${n(r)} ${n(r + 4)} ${n(r + 8)} ${n(r + 12)} ${n(r + 16)}`;
    }
    case 16:
    case 99:
      return characterStrings(buf, s, e);
    case 257: {
      if (len < 2) break;
      const tl = buf[s + 1]!;
      if (s + 2 + tl > e) break;
      return `${buf[s]} ${buf.toString('latin1', s + 2, s + 2 + tl)} ${quote(buf, s + 2 + tl, e)}`;
    }
    case 64:
    case 65:
      return svcb(buf, msg, end, s, e) ?? hex(buf, s, e);
  }
  return hex(buf, s, e);
}

function hex(buf: Buffer, s: number, e: number): string {
  const n = e - s;
  const shown = Math.min(n, HEX_LIMIT);
  return `\\# ${n}${n > 0 ? ` ${buf.toString('hex', s, s + shown)}${shown < n ? '...' : ''}` : ''}`;
}

function quote(buf: Buffer, s: number, e: number): string {
  let out = '"';
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c >= 0x7f) out += `\\${String(c).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return `${out}"`;
}

function characterStrings(buf: Buffer, s: number, e: number): string {
  const parts: string[] = [];
  let o = s;
  while (o < e) {
    const l = buf[o]!;
    const end = Math.min(e, o + 1 + l);
    parts.push(quote(buf, o + 1, end));
    o = o + 1 + l;
  }
  return parts.join(' ');
}

const SVC_KEYS = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint'];

/** SVCB/HTTPS (RFC 9460): "priority target key=value ...". */
function svcb(buf: Buffer, msg: number, end: number, s: number, e: number): string | null {
  if (e - s < 3) return null;
  const prio = buf.readUInt16BE(s);
  const t = skipName(buf, s + 2, e);
  if (t < 0) return null;
  const target = readName(buf, msg, end, s + 2);
  if (target === null) return null;
  let out = `${prio} ${target === '<Root>' ? '.' : target}`;
  let o = t;
  while (o + 4 <= e) {
    const key = buf.readUInt16BE(o);
    const len = buf.readUInt16BE(o + 2);
    const d = o + 4;
    if (d + len > e) return null;
    const k = SVC_KEYS[key] ?? `key${key}`;
    let v: string;
    if (key === 1) {
      const ids: string[] = [];
      for (let i = d; i < d + len; ) {
        const l = buf[i]!;
        ids.push(buf.toString('latin1', i + 1, Math.min(d + len, i + 1 + l)));
        i += 1 + l;
      }
      v = ids.join(',');
    } else if (key === 3 && len === 2) v = String(buf.readUInt16BE(d));
    else if (key === 4 || key === 6) {
      const step = key === 4 ? 4 : 16;
      const addrs: string[] = [];
      for (let i = d; i + step <= d + len; i += step) addrs.push(ipBytesToString(buf, i, step === 4 ? 4 : 6));
      v = addrs.join(',');
    } else if (key === 5) v = buf.toString('base64', d, d + len);
    else if (key === 0) {
      const ks: string[] = [];
      for (let i = d; i + 2 <= d + len; i += 2) {
        const x = buf.readUInt16BE(i);
        ks.push(SVC_KEYS[x] ?? `key${x}`);
      }
      v = ks.join(',');
    } else v = buf.toString('hex', d, d + len);
    out += len === 0 ? ` ${k}` : ` ${k}=${v}`;
    o = d + len;
  }
  return out;
}
