/**
 * Templates shared by NetFlow v9 and IPFIX: compiled once when a template arrives into typed
 * arrays of (element, enterprise, length, action code), then used to read every data record
 * straight out of the datagram into a reused FlowAcc.
 *
 * Structured-data elements (basicList/subTemplateList, IEs 291-293) are kept as raw octets and
 * never followed, so a template cannot reference itself or another one (no template loops).
 */
import { ipBytesToString, macToString } from '../../common/addr.js';
import type { FlowAcc } from '../flow-acc.js';
import { ieDef, PEN_REVERSE } from '../ie.js';

export const VARLEN = 0xffff;
/** More fields than any real template has (Cisco's largest are ~100). */
export const MAX_TEMPLATE_FIELDS = 512;

/** Action taken for a field: where its value goes in the FlowAcc. */
enum F {
  extra = 0,
  bytes,
  packets,
  proto,
  tos,
  flags,
  sport,
  src4,
  srcMask,
  inIf,
  dport,
  dst4,
  dstMask,
  outIf,
  nh4,
  srcAs,
  dstAs,
  bgp4,
  endUp,
  startUp,
  src6,
  dst6,
  icmpTypeCode,
  samplingInterval,
  samplerId,
  srcMac,
  vlan,
  ipVersion,
  direction,
  nh6,
  bgp6,
  dstMac,
  bytesTotal,
  packetsTotal,
  endReason,
  startS,
  endS,
  startMs,
  endMs,
  startUs,
  endUs,
  startNs,
  endNs,
  startDelta,
  endDelta,
  sysInit,
  durMs,
  durUs,
  icmpType,
  icmpCode,
  sampPktSpace,
  sampSize,
  sampPop,
  ignore,
}

const IANA_CODES: Record<number, F> = {
  1: F.bytes,
  2: F.packets,
  4: F.proto,
  5: F.tos,
  6: F.flags,
  7: F.sport,
  8: F.src4,
  9: F.srcMask,
  10: F.inIf,
  11: F.dport,
  12: F.dst4,
  13: F.dstMask,
  14: F.outIf,
  15: F.nh4,
  16: F.srcAs,
  17: F.dstAs,
  18: F.bgp4,
  21: F.endUp,
  22: F.startUp,
  27: F.src6,
  28: F.dst6,
  29: F.srcMask,
  30: F.dstMask,
  32: F.icmpTypeCode,
  34: F.samplingInterval,
  48: F.samplerId,
  50: F.samplingInterval,
  56: F.srcMac,
  58: F.vlan,
  60: F.ipVersion,
  61: F.direction,
  62: F.nh6,
  63: F.bgp6,
  80: F.dstMac,
  85: F.bytesTotal,
  86: F.packetsTotal,
  136: F.endReason,
  139: F.icmpTypeCode,
  150: F.startS,
  151: F.endS,
  152: F.startMs,
  153: F.endMs,
  154: F.startUs,
  155: F.endUs,
  156: F.startNs,
  157: F.endNs,
  158: F.startDelta,
  159: F.endDelta,
  160: F.sysInit,
  161: F.durMs,
  162: F.durUs,
  176: F.icmpType,
  177: F.icmpCode,
  178: F.icmpType,
  179: F.icmpCode,
  180: F.sport,
  181: F.dport,
  182: F.sport,
  183: F.dport,
  210: F.ignore,
  243: F.vlan,
  302: F.samplerId,
  305: F.samplingInterval,
  306: F.sampPktSpace,
  309: F.sampSize,
  310: F.sampPop,
};

export interface Template {
  readonly id: number;
  readonly options: boolean;
  readonly scopeCount: number;
  readonly ids: Uint16Array;
  readonly pens: Uint32Array;
  readonly lens: Uint16Array;
  readonly codes: Uint8Array;
  /** Smallest possible record: fixed lengths plus one byte per variable-length field. */
  readonly minLen: number;
  /** [id, pen, length] per field, for persistence and refresh comparison. */
  readonly def: readonly (readonly [number, number, number])[];
}

/** Build a template, or null when it is hostile (no fields, records of length 0, too long). */
export function compileTemplate(
  id: number,
  def: readonly (readonly [number, number, number])[],
  options: boolean,
  scopeCount: number,
): Template | null {
  const n = def.length;
  if (n === 0 || n > MAX_TEMPLATE_FIELDS || scopeCount > n) return null;
  const ids = new Uint16Array(n);
  const pens = new Uint32Array(n);
  const lens = new Uint16Array(n);
  const codes = new Uint8Array(n);
  let minLen = 0;
  for (let i = 0; i < n; i++) {
    const [fid, pen, len] = def[i]!;
    ids[i] = fid;
    pens[i] = pen;
    lens[i] = len;
    codes[i] = pen === 0 ? (IANA_CODES[fid] ?? F.extra) : F.extra;
    minLen += len === VARLEN ? 1 : len;
  }
  // A record of zero bytes would let one set hold endless records.
  if (minLen === 0 || minLen > 65535) return null;
  return { id, options, scopeCount, ids, pens, lens, codes, minLen, def };
}

export function sameTemplate(a: Template, b: Template): boolean {
  if (a.options !== b.options || a.scopeCount !== b.scopeCount || a.def.length !== b.def.length) return false;
  for (let i = 0; i < a.def.length; i++) {
    const x = a.def[i]!;
    const y = b.def[i]!;
    if (x[0] !== y[0] || x[1] !== y[1] || x[2] !== y[2]) return false;
  }
  return true;
}

/** Unsigned big-endian of 1..8 bytes (reduced-size encoding); above 2^53 precision is lost. */
export function readUint(b: Buffer, o: number, len: number): number {
  if (len <= 4) {
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + b[o + i]!;
    return v;
  }
  let v = 0;
  const e = Math.min(len, 8);
  for (let i = 0; i < e; i++) v = v * 256 + b[o + i]!;
  return v;
}

const NTP_EPOCH_S = 2208988800;

function ntpMs(b: Buffer, o: number): number {
  const sec = b.readUInt32BE(o) - NTP_EPOCH_S;
  const frac = b.readUInt32BE(o + 4);
  return sec * 1000 + (frac / 4294967296) * 1000;
}

/**
 * Read one data record at `o` into `a`. Returns the offset after it, or -1 when the record runs
 * past `end` (a truncated or lying set).
 */
export function readRecord(
  t: Template,
  b: Buffer,
  o: number,
  end: number,
  a: FlowAcc,
  keepExtra: boolean,
): number {
  const n = t.codes.length;
  const codes = t.codes;
  const lens = t.lens;
  for (let i = 0; i < n; i++) {
    let len = lens[i]!;
    if (len === VARLEN) {
      if (o >= end) return -1;
      len = b[o++]!;
      if (len === 255) {
        if (o + 2 > end) return -1;
        len = b.readUInt16BE(o);
        o += 2;
      }
    }
    if (o + len > end) return -1;
    const code = codes[i]!;
    if (code !== F.ignore && len > 0) {
      if (code === F.extra) {
        if (keepExtra) putExtra(a, t.ids[i]!, t.pens[i]!, b, o, len);
      } else setField(a, code, b, o, len, t.ids[i]!, keepExtra);
    }
    o += len;
  }
  return o;
}

function setField(
  a: FlowAcc,
  code: number,
  b: Buffer,
  o: number,
  len: number,
  id: number,
  keep: boolean,
): void {
  switch (code) {
    case F.bytes:
      a.bytes = readUint(b, o, len);
      return;
    case F.packets:
      a.packets = readUint(b, o, len);
      return;
    case F.bytesTotal:
      if (a.bytes < 0) a.bytes = readUint(b, o, len);
      return;
    case F.packetsTotal:
      if (a.packets < 0) a.packets = readUint(b, o, len);
      return;
    case F.proto:
      a.proto = b[o]!;
      return;
    case F.tos:
      a.tos = b[o]!;
      return;
    case F.flags:
      // IPFIX: 2 bytes (header length bits + flags); v9: 1 byte.
      a.tcpFlags = b[o + len - 1]!;
      return;
    case F.sport:
      a.srcPort = readUint(b, o, len);
      return;
    case F.dport:
      a.dstPort = readUint(b, o, len);
      return;
    case F.src4:
      if (len === 4) {
        a.srcOff = o;
        a.ipVer = 4;
      }
      return;
    case F.dst4:
      if (len === 4) {
        a.dstOff = o;
        a.ipVer = 4;
      }
      return;
    case F.src6:
      if (len === 16 && a.srcOff < 0) {
        a.srcOff = o;
        a.ipVer = 6;
      }
      return;
    case F.dst6:
      if (len === 16 && a.dstOff < 0) {
        a.dstOff = o;
        a.ipVer = 6;
      }
      return;
    case F.srcMask:
      a.srcMask = b[o]!;
      return;
    case F.dstMask:
      a.dstMask = b[o]!;
      return;
    case F.inIf:
      a.inIf = readUint(b, o, len);
      return;
    case F.outIf:
      a.outIf = readUint(b, o, len);
      return;
    case F.nh4:
      if (len === 4) {
        a.nhOff = o;
        a.nhVer = 4;
      }
      return;
    case F.nh6:
      if (len === 16) {
        a.nhOff = o;
        a.nhVer = 6;
      }
      return;
    case F.bgp4:
      if (len === 4) {
        a.bgpOff = o;
        a.bgpVer = 4;
      }
      return;
    case F.bgp6:
      if (len === 16) {
        a.bgpOff = o;
        a.bgpVer = 6;
      }
      return;
    case F.srcAs:
      a.srcAs = readUint(b, o, len);
      return;
    case F.dstAs:
      a.dstAs = readUint(b, o, len);
      return;
    case F.endUp:
      a.endUp = readUint(b, o, len);
      return;
    case F.startUp:
      a.startUp = readUint(b, o, len);
      return;
    case F.icmpTypeCode: {
      const v = readUint(b, o, len);
      a.icmpType = v >>> 8;
      a.icmpCode = v & 255;
      return;
    }
    case F.icmpType:
      a.icmpType = b[o]!;
      return;
    case F.icmpCode:
      a.icmpCode = b[o]!;
      return;
    case F.samplingInterval:
      a.samplingInterval = readUint(b, o, len);
      return;
    case F.sampPktSpace:
      a.samplingSpace = readUint(b, o, len);
      return;
    case F.sampSize:
      a.samplingSize = readUint(b, o, len);
      return;
    case F.sampPop:
      a.samplingPopulation = readUint(b, o, len);
      return;
    case F.samplerId:
      a.samplerId = readUint(b, o, len);
      return;
    case F.srcMac:
      if (len === 6) a.srcMacOff = o;
      return;
    case F.dstMac:
      if (len === 6) a.dstMacOff = o;
      return;
    case F.vlan:
      if (a.vlan <= 0) a.vlan = readUint(b, o, len) & 0xfff;
      return;
    case F.ipVersion:
      a.ipVersionField = b[o]!;
      return;
    case F.direction:
      a.direction = b[o]!;
      return;
    case F.endReason:
      a.endReason = b[o]!;
      return;
    case F.startS:
      if (len === 4) a.startMs = b.readUInt32BE(o) * 1000;
      return;
    case F.endS:
      if (len === 4) a.endMs = b.readUInt32BE(o) * 1000;
      return;
    case F.startMs:
      a.startMs = readUint(b, o, len);
      return;
    case F.endMs:
      a.endMs = readUint(b, o, len);
      return;
    case F.startUs:
    case F.startNs:
      if (len === 8) a.startMs = ntpMs(b, o);
      return;
    case F.endUs:
    case F.endNs:
      if (len === 8) a.endMs = ntpMs(b, o);
      return;
    case F.startDelta:
      a.startDeltaUs = readUint(b, o, len);
      return;
    case F.endDelta:
      a.endDeltaUs = readUint(b, o, len);
      return;
    case F.sysInit:
      a.systemInitMs = readUint(b, o, len);
      return;
    case F.durMs:
      a.durationMs = readUint(b, o, len);
      return;
    case F.durUs:
      a.durationMs = readUint(b, o, len) / 1000;
      return;
    default:
      if (keep) putExtra(a, id, 0, b, o, len);
  }
}

function hex(b: Buffer, o: number, len: number): string {
  return b.toString('hex', o, o + len);
}

/** Fields with no place in the record: by IANA name with a typed value, else "pen:id" → hex. */
function putExtra(a: FlowAcc, id: number, pen: number, b: Buffer, o: number, len: number): void {
  if (a.extra === null) a.extra = {};
  const x = a.extra;
  const d = pen === 0 || pen === PEN_REVERSE ? ieDef(id) : undefined;
  if (!d) {
    x[`${pen}:${id}`] = hex(b, o, len);
    return;
  }
  const name = pen === 0 ? d.name : `reverse${d.name.charAt(0).toUpperCase()}${d.name.slice(1)}`;
  let v: unknown;
  switch (d.type) {
    case 'unsigned':
      v = len <= 8 ? readUint(b, o, len) : hex(b, o, len);
      break;
    case 'ipv4':
      v = len === 4 ? ipBytesToString(b, o, 4) : hex(b, o, len);
      break;
    case 'ipv6':
      v = len === 16 ? ipBytesToString(b, o, 6) : hex(b, o, len);
      break;
    case 'mac':
      v = len === 6 ? macToString(b, o) : hex(b, o, len);
      break;
    case 'string': {
      let e = o + len;
      while (e > o && b[e - 1] === 0) e--;
      v = b.toString('utf8', o, e);
      break;
    }
    default:
      v = hex(b, o, len);
  }
  x[name] = v;
}
