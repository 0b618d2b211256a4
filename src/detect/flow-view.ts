import type { AnyRecord } from '../common/alerts.js';
import type { Columnar } from '../store/columnar.js';
import { columnIndex } from '../store/columnar-read.js';
import type { FlowView } from './types.js';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

let hourText = '';
let hourMs = 0;

/** `n` decimal digits of `v` from `i` as a number, NaN when one is not a digit. */
function digits(v: string, i: number, n: number): number {
  let x = 0;
  for (let k = i; k < i + n; k++) {
    const c = v.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    x = x * 10 + c;
  }
  return x;
}

/** ms since the epoch of an ISO-8601 string (ns digits accepted), NaN when absent or bad. */
export function tsMs(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return Number.NaN;
  // The records' own form (2026-03-02T10:00:00.123456789Z) read digit by digit: Date.parse
  // is a fifth of the detectors' cost per flow otherwise.
  if (
    v.length >= 20 &&
    v.charCodeAt(10) === 84 &&
    v.charCodeAt(v.length - 1) === 90 &&
    v.charCodeAt(19) !== 43
  ) {
    // Records arrive in time order: most share the previous one's date and hour, which are
    // then not read again (Date.UTC is most of the cost).
    let base: number;
    if (hourText.length === 13 && v.startsWith(hourText)) base = hourMs;
    else {
      base = Date.UTC(digits(v, 0, 4), digits(v, 5, 2) - 1, digits(v, 8, 2), digits(v, 11, 2));
      if (!Number.isNaN(base)) {
        hourText = v.slice(0, 13);
        hourMs = base;
      }
    }
    let ms = base + digits(v, 14, 2) * 60_000 + digits(v, 17, 2) * 1000;
    if (v.charCodeAt(19) === 46) {
      let scale = 100;
      for (let k = 20; k < v.length - 1 && scale >= 1; k++, scale /= 10) ms += (v.charCodeAt(k) - 48) * scale;
      // Digits past milliseconds add fractions of a millisecond, kept for ordering.
      let frac = 0;
      let f = 0.1;
      for (let k = 23; k < v.length - 1 && k < 29; k++, f /= 10) frac += (v.charCodeAt(k) - 48) * f;
      // Below the next millisecond whatever the rounding: at 10^12 ms a double's step is
      // 2^-12 ms, so a fraction of .9999 would read as the next millisecond.
      ms += Math.min(frac, 0.999);
    }
    if (Number.isFinite(ms)) return ms;
  }
  return Date.parse(v);
}

export function newFlowView(): FlowView {
  return {
    source: 'flow',
    startMs: 0,
    endMs: 0,
    src: '',
    dst: '',
    srcHash: 0,
    dstHash: 0,
    srcV4: -1,
    dstV4: -1,
    sport: 0,
    dport: 0,
    proto: 0,
    outPkts: 0,
    outBytes: 0,
    inPkts: 0,
    inBytes: 0,
    outPayload: null,
    clientFlags: '',
    serverFlags: '',
    answered: null,
    refused: false,
    sampling: 1,
    weight: 1,
    flowId: null,
    communityId: null,
    srcInternal: false,
    dstInternal: false,
  };
}

/**
 * Fill `v` from a metered flow or a collected flow; false when the record is not a flow or
 * lacks what every detector needs (addresses and a valid time).
 */
export function fillFlowView(v: FlowView, r: AnyRecord): boolean {
  if (r.type === 'flow') {
    v.source = 'flow';
    v.src = str(r.client_ip);
    v.dst = str(r.server_ip);
    v.sport = num(r.client_port);
    v.dport = num(r.server_port);
    v.outPkts = num(r.client_packets);
    v.outBytes = num(r.client_ip_bytes);
    v.inPkts = num(r.server_packets);
    v.inBytes = num(r.server_ip_bytes);
    v.outPayload = typeof r.client_payload_bytes === 'number' ? r.client_payload_bytes : null;
    v.clientFlags = str(r.client_tcp_flags);
    v.serverFlags = str(r.server_tcp_flags);
    v.sampling = Math.max(1, num(r.sampling_rate));
    v.weight = v.sampling;
    v.flowId = typeof r.flow_id === 'number' ? r.flow_id : null;
  } else if (r.type === 'exported_flow') {
    v.source = 'exported';
    v.src = str(r.src_ip);
    v.dst = str(r.dst_ip);
    v.sport = num(r.src_port);
    v.dport = num(r.dst_port);
    v.outPkts = num(r.packets);
    v.outBytes = num(r.bytes);
    v.inPkts = 0;
    v.inBytes = 0;
    v.outPayload = null;
    v.clientFlags = str(r.tcp_flags);
    v.serverFlags = '';
    v.sampling = Math.max(1, num(r.sampling_rate));
    v.weight = 1;
    v.flowId = null;
  } else {
    return false;
  }
  v.proto = num(r.proto);
  v.communityId = typeof r.community_id === 'string' ? r.community_id : null;
  v.startMs = tsMs(r.first_ts);
  v.endMs = tsMs(r.last_ts);
  if (!Number.isFinite(v.endMs)) v.endMs = v.startMs;
  if (!Number.isFinite(v.startMs)) v.startMs = v.endMs;
  return finishView(v);
}

/** What both fills derive from the fields read (answered, refused); false when unusable. */
function finishView(v: FlowView): boolean {
  if (!v.src || !v.dst || !Number.isFinite(v.startMs)) return false;
  if (v.source === 'flow') {
    if (v.proto === 6) {
      const synAck = v.serverFlags.includes('S') && v.serverFlags.includes('A');
      v.answered = synAck || (v.inPkts > 0 && !v.serverFlags.includes('R'));
      v.refused = v.serverFlags.includes('R') && !synAck;
    } else {
      v.answered = v.inPkts > 0;
      v.refused = false;
    }
  } else {
    // One-way records cannot tell an answer; a lone SYN without ACK is at least a probe.
    v.answered = null;
    v.refused = v.proto === 6 && v.clientFlags.includes('R') && !v.clientFlags.includes('A');
  }
  return true;
}

/** A connection attempt that reached nothing: unanswered, refused, or a bare SYN in a one-way record. */
export function isFailedProbe(v: FlowView): boolean {
  if (v.answered === false || v.refused) return true;
  if (v.answered === null) {
    if (v.proto === 6) return v.clientFlags.includes('S') && !v.clientFlags.includes('A');
    return v.outPkts / v.sampling <= 2;
  }
  return false;
}

/** Where the fields a flow view reads sit in a batch of `flow` or `exported_flow` columns. */
export interface FlowColumns {
  flow: boolean;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  outPkts: number;
  outBytes: number;
  inPkts: number;
  inBytes: number;
  payload: number;
  cflags: number;
  sflags: number;
  flowId: number;
  sampling: number;
  proto: number;
  cid: number;
  first: number;
  last: number;
  /** Times held as numbers (ms) instead of ISO text, when a batch does so. */
  firstNum: number;
  lastNum: number;
}

export function flowColumns(c: Columnar, type: string): FlowColumns {
  const ix = columnIndex(c);
  const flow = type === 'flow';
  return {
    flow,
    src: ix.str(flow ? 'client_ip' : 'src_ip'),
    dst: ix.str(flow ? 'server_ip' : 'dst_ip'),
    sport: ix.num(flow ? 'client_port' : 'src_port'),
    dport: ix.num(flow ? 'server_port' : 'dst_port'),
    outPkts: ix.num(flow ? 'client_packets' : 'packets'),
    outBytes: ix.num(flow ? 'client_ip_bytes' : 'bytes'),
    inPkts: flow ? ix.num('server_packets') : -1,
    inBytes: flow ? ix.num('server_ip_bytes') : -1,
    payload: flow ? ix.num('client_payload_bytes') : -1,
    cflags: ix.str(flow ? 'client_tcp_flags' : 'tcp_flags'),
    sflags: flow ? ix.str('server_tcp_flags') : -1,
    flowId: flow ? ix.num('flow_id') : -1,
    sampling: ix.num('sampling_rate'),
    proto: ix.num('proto'),
    cid: ix.str('community_id'),
    first: ix.str('first_ts'),
    last: ix.str('last_ts'),
    firstNum: ix.num('first_ts'),
    lastNum: ix.num('last_ts'),
  };
}

/**
 * Fill `v` from row `i` of a column batch, reading what `fillFlowView` reads from the record
 * of that row (numbers from the row's values, strings from the dictionary): no allocation.
 */
export function fillFlowViewColumns(v: FlowView, c: Columnar, i: number, k: FlowColumns): boolean {
  const fb = i * c.num.length;
  const sb = i * c.str.length;
  const f = c.f;
  v.src = strOf(c, sb, k.src);
  v.dst = strOf(c, sb, k.dst);
  v.sport = numOf(f, fb, k.sport);
  v.dport = numOf(f, fb, k.dport);
  v.outPkts = numOf(f, fb, k.outPkts);
  v.outBytes = numOf(f, fb, k.outBytes);
  v.clientFlags = strOf(c, sb, k.cflags);
  if (k.flow) {
    v.source = 'flow';
    v.inPkts = numOf(f, fb, k.inPkts);
    v.inBytes = numOf(f, fb, k.inBytes);
    const p = k.payload < 0 ? Number.NaN : f[fb + k.payload]!;
    v.outPayload = Number.isNaN(p) ? null : p;
    v.serverFlags = strOf(c, sb, k.sflags);
    v.sampling = Math.max(1, numOf(f, fb, k.sampling));
    v.weight = v.sampling;
    const id = k.flowId < 0 ? Number.NaN : f[fb + k.flowId]!;
    v.flowId = Number.isNaN(id) ? null : id;
  } else {
    v.source = 'exported';
    v.inPkts = 0;
    v.inBytes = 0;
    v.outPayload = null;
    v.serverFlags = '';
    v.sampling = Math.max(1, numOf(f, fb, k.sampling));
    v.weight = 1;
    v.flowId = null;
  }
  v.proto = numOf(f, fb, k.proto);
  const cid = k.cid < 0 ? -1 : c.s[sb + k.cid]!;
  v.communityId = cid < 0 ? null : c.dict[cid]!;
  v.startMs = k.first >= 0 ? tsOf(c, sb + k.first) : k.firstNum >= 0 ? f[fb + k.firstNum]! : Number.NaN;
  v.endMs = k.last >= 0 ? tsOf(c, sb + k.last) : k.lastNum >= 0 ? f[fb + k.lastNum]! : Number.NaN;
  if (!Number.isFinite(v.endMs)) v.endMs = v.startMs;
  if (!Number.isFinite(v.startMs)) v.startMs = v.endMs;
  return finishView(v);
}

/** A number column's value as `num()` reads a record's field: 0 when absent, null or not finite. */
function numOf(f: Float64Array, base: number, j: number): number {
  if (j < 0) return 0;
  const x = f[base + j]!;
  return Number.isFinite(x) ? x : 0;
}

/** A string column's value as `str()` reads a record's field: '' when absent or null. */
function strOf(c: Columnar, base: number, j: number): string {
  if (j < 0) return '';
  const d = c.s[base + j]!;
  return d < 0 ? '' : c.dict[d]!;
}

function tsOf(c: Columnar, at: number): number {
  const d = c.s[at]!;
  return d < 0 ? Number.NaN : tsMs(c.dict[d]);
}
