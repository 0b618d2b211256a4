import { ipBytesToString, macToString } from '../common/addr.js';
import { isoNs } from '../common/time.js';
import { communityIdAt } from '../flow/community-id.js';
import { tcpFlagsString } from '../flow/tcp-flags.js';
import type { ExportedFlowRecord } from './types.js';

/**
 * One decoded flow record as numbers and offsets into the datagram, reused for every record
 * (nothing allocated while fields are read). `toRecord` makes the strings once, at emission.
 * -1 (or NaN for times) means "absent".
 */
export class FlowAcc {
  buf: Buffer = Buffer.alloc(0);
  ipVer = 0;
  srcOff = -1;
  dstOff = -1;
  srcPort = -1;
  dstPort = -1;
  proto = -1;
  tos = -1;
  packets = -1;
  bytes = -1;
  startMs = Number.NaN;
  endMs = Number.NaN;
  startUp = -1;
  endUp = -1;
  startDeltaUs = -1;
  endDeltaUs = -1;
  durationMs = -1;
  tcpFlags = -1;
  icmpType = -1;
  icmpCode = -1;
  inIf = -1;
  outIf = -1;
  direction = -1;
  srcAs = -1;
  dstAs = -1;
  srcMask = -1;
  dstMask = -1;
  vlan = -1;
  endReason = -1;
  nhOff = -1;
  nhVer = 0;
  bgpOff = -1;
  bgpVer = 0;
  srcMacOff = -1;
  dstMacOff = -1;
  ipVersionField = -1;
  // sampling / options facts
  samplerId = -1;
  samplingInterval = -1;
  samplingSpace = -1;
  samplingSize = -1;
  samplingPopulation = -1;
  systemInitMs = Number.NaN;
  extra: Record<string, unknown> | null = null;

  reset(buf: Buffer): void {
    this.buf = buf;
    this.ipVer = 0;
    this.srcOff = -1;
    this.dstOff = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.proto = -1;
    this.tos = -1;
    this.packets = -1;
    this.bytes = -1;
    this.startMs = Number.NaN;
    this.endMs = Number.NaN;
    this.startUp = -1;
    this.endUp = -1;
    this.startDeltaUs = -1;
    this.endDeltaUs = -1;
    this.durationMs = -1;
    this.tcpFlags = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.inIf = -1;
    this.outIf = -1;
    this.direction = -1;
    this.srcAs = -1;
    this.dstAs = -1;
    this.srcMask = -1;
    this.dstMask = -1;
    this.vlan = -1;
    this.endReason = -1;
    this.nhOff = -1;
    this.nhVer = 0;
    this.bgpOff = -1;
    this.bgpVer = 0;
    this.srcMacOff = -1;
    this.dstMacOff = -1;
    this.ipVersionField = -1;
    this.samplerId = -1;
    this.samplingInterval = -1;
    this.samplingSpace = -1;
    this.samplingSize = -1;
    this.samplingPopulation = -1;
    this.systemInitMs = Number.NaN;
    this.extra = null;
  }

  /** Sampling rate an options record states (1 in N), or 0 when it states none. */
  optionsSamplingRate(): number {
    if (this.samplingPopulation > 0 && this.samplingSize > 0)
      return Math.max(1, Math.round(this.samplingPopulation / this.samplingSize));
    if (this.samplingInterval > 0) {
      // samplingPacketInterval/Space: select `interval` packets, skip `space`.
      if (this.samplingSpace > 0)
        return Math.max(1, Math.round((this.samplingInterval + this.samplingSpace) / this.samplingInterval));
      return this.samplingInterval;
    }
    return 0;
  }
}

/** What the datagram header says, shared by the records of one datagram. */
export interface ExportContext {
  source: 'netflow5' | 'netflow9' | 'ipfix' | 'sflow';
  exporter: string;
  exporterPort: number;
  domain: number;
  templateId: number | null;
  /** Export time from the header, ms since the epoch. */
  exportMs: number;
  /** Exporter uptime at export (v5/v9), ms; -1 when the protocol has none. */
  sysUptimeMs: number;
  /** IPFIX systemInitTimeMilliseconds learned from options, NaN when unknown. */
  systemInitMs: number;
  samplingRate: number;
  communityId: boolean;
}

/** A context with every field at its "not given" value, for a decoder to reuse per datagram. */
export function exportContext(source: ExportContext['source']): ExportContext {
  return {
    source,
    exporter: '',
    exporterPort: 0,
    domain: 0,
    templateId: null,
    exportMs: 0,
    sysUptimeMs: -1,
    systemInitMs: Number.NaN,
    samplingRate: 1,
    communityId: true,
  };
}

/** Make `c` a fresh context for a datagram from `exporter`:`port` (nothing kept from the last). */
export function resetExportContext(
  c: ExportContext,
  source: ExportContext['source'],
  exporter: string,
  port: number,
): ExportContext {
  c.source = source;
  c.exporter = exporter;
  c.exporterPort = port;
  c.domain = 0;
  c.templateId = null;
  c.exportMs = 0;
  c.sysUptimeMs = -1;
  c.systemInitMs = Number.NaN;
  c.samplingRate = 1;
  c.communityId = true;
  return c;
}

// Records share few distinct seconds: formatted seconds are cached (bounded) and only the
// fraction is appended; Date formatting otherwise dominates the per-record cost.
const secCache = new Map<number, string>();
const MS3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

const MS_SLOTS = 4096;
const msKeys = new Float64Array(MS_SLOTS).fill(Number.NaN);
const msStrs: string[] = new Array(MS_SLOTS).fill('');

/** ISO text of a ms time as records carry it (whole ms: one cached string per instant). */
export function msIso(ms: number): string {
  const sec = Math.floor(ms / 1000);
  let prefix = secCache.get(sec);
  if (prefix === undefined) {
    if (secCache.size >= 4096) secCache.clear();
    prefix = isoNs(sec, 0).slice(0, -11);
    secCache.set(sec, prefix);
  }
  const frac = ms - sec * 1000;
  const whole = Math.floor(frac);
  if (whole === frac) {
    // Whole milliseconds (nearly all): the same string object for the same instant, from a
    // direct-mapped cache; the records of a datagram share their times, and equal strings that
    // are one object cost nothing to compare, deduplicate or copy to another thread.
    const slot = ms & (MS_SLOTS - 1);
    if (msKeys[slot] === ms) return msStrs[slot]!;
    const str = `${prefix}.${MS3[whole]}000000Z`;
    msKeys[slot] = ms;
    msStrs[slot] = str;
    return str;
  }
  return `${prefix}.${String(Math.round(frac * 1e6)).padStart(9, '0')}Z`;
}

const num = (v: number): number | null => (v < 0 ? null : v);

/** The flow's times, set by `flowTimes` (module scratch: nothing is allocated per record). */
export const times = { start: 0, end: 0 };

/**
 * The flow's first and last times into `times`. Absolute fields win; then uptime-relative (v9,
 * or IPFIX with a known system init time), deltas, duration, and the export time last.
 */
export function flowTimes(a: FlowAcc, c: ExportContext): void {
  let start = a.startMs;
  let end = a.endMs;
  if (Number.isNaN(end) && a.endUp >= 0) {
    if (c.sysUptimeMs >= 0) end = c.exportMs - c.sysUptimeMs + a.endUp;
    else if (!Number.isNaN(c.systemInitMs)) end = c.systemInitMs + a.endUp;
    else end = c.exportMs;
  }
  if (Number.isNaN(start) && a.startUp >= 0) {
    if (c.sysUptimeMs >= 0) start = c.exportMs - c.sysUptimeMs + a.startUp;
    else if (!Number.isNaN(c.systemInitMs)) start = c.systemInitMs + a.startUp;
    else if (a.endUp >= 0) start = end - Math.max(0, a.endUp - a.startUp);
  }
  if (Number.isNaN(start) && a.startDeltaUs >= 0) start = c.exportMs - a.startDeltaUs / 1000;
  if (Number.isNaN(end) && a.endDeltaUs >= 0) end = c.exportMs - a.endDeltaUs / 1000;
  if (Number.isNaN(end)) end = Number.isNaN(start) ? c.exportMs : start;
  if (Number.isNaN(start)) start = a.durationMs >= 0 ? end - a.durationMs : end;
  // A time no ISO text or stored timestamp holds (a field of garbage, an uptime past the
  // export time by centuries) is not the flow's: the export time (from the header's 32-bit
  // seconds or the receipt, always in range) stands in, as for a flow without times.
  if (!(end >= TS_MIN && end < TS_MAX)) end = c.exportMs;
  if (!(start >= TS_MIN && start < TS_MAX)) start = end;
  times.start = start;
  times.end = end;
}

/** The times a record holds: four-digit years, 1000-01-01 to 9999-12-31 (ms). */
const TS_MIN = Date.UTC(1000, 0, 1);
const TS_MAX = Date.UTC(10000, 0, 1);

/**
 * NetFlow's convention for ICMP (type<<8 | code in the destination port) moved into the ICMP
 * fields; true when the flow is ICMP.
 */
export function flowIcmp(a: FlowAcc): boolean {
  const icmp = a.proto === 1 || a.proto === 58;
  if (icmp && a.icmpType < 0 && a.dstPort >= 0) {
    a.icmpType = a.dstPort >>> 8;
    a.icmpCode = a.dstPort & 255;
  }
  return icmp;
}

/** Community ID of the flow, or null (off, no addresses or no protocol). */
export function flowCommunityId(a: FlowAcc, c: ExportContext, icmp: boolean): string | null {
  if (!c.communityId || a.srcOff < 0 || a.dstOff < 0 || a.proto < 0) return null;
  const b = a.buf;
  return communityIdAt(
    a.proto,
    b,
    a.srcOff,
    b,
    a.dstOff,
    a.ipVer === 4 ? 4 : 16,
    icmp ? Math.max(0, a.icmpType) : Math.max(0, a.srcPort),
    icmp ? Math.max(0, a.icmpCode) : Math.max(0, a.dstPort),
  );
}

export function toRecord(a: FlowAcc, c: ExportContext): ExportedFlowRecord {
  const b = a.buf;
  flowTimes(a, c);
  const start = times.start;
  const end = times.end;
  const ipVer = a.ipVer;
  const hasIp = a.srcOff >= 0 && a.dstOff >= 0;
  const proto = a.proto;
  const icmp = flowIcmp(a);
  const cid = flowCommunityId(a, c, icmp);
  const rate = c.samplingRate > 0 ? c.samplingRate : 1;
  const packets = a.packets < 0 ? 0 : a.packets;
  const bytes = a.bytes < 0 ? 0 : a.bytes;
  return {
    type: 'exported_flow',
    source: c.source,
    exporter: c.exporter,
    exporter_port: c.exporterPort,
    observation_domain: c.domain,
    template_id: c.templateId,
    export_ts: msIso(c.exportMs),
    first_ts: msIso(start),
    last_ts: msIso(end),
    duration_ms: Math.max(0, end - start),
    ip_version: hasIp ? ipVer : num(a.ipVersionField),
    src_ip: a.srcOff >= 0 ? ipBytesToString(b, a.srcOff, ipVer) : null,
    dst_ip: a.dstOff >= 0 ? ipBytesToString(b, a.dstOff, ipVer) : null,
    src_port: icmp ? null : num(a.srcPort),
    dst_port: icmp ? null : num(a.dstPort),
    proto: num(proto),
    community_id: cid,
    packets: packets * rate,
    bytes: bytes * rate,
    packets_raw: packets,
    bytes_raw: bytes,
    sampling_rate: rate,
    tcp_flags: proto === 6 && a.tcpFlags >= 0 ? tcpFlagsString(a.tcpFlags & 0xff) : null,
    tos: num(a.tos),
    icmp_type: icmp ? num(a.icmpType) : null,
    icmp_code: icmp ? num(a.icmpCode) : null,
    input_if: num(a.inIf),
    output_if: num(a.outIf),
    // Named by the SNMP directory on the main thread when it knows the exporter.
    input_if_name: null,
    input_if_alias: null,
    input_if_speed: null,
    output_if_name: null,
    output_if_alias: null,
    output_if_speed: null,
    direction: num(a.direction),
    src_as: num(a.srcAs),
    dst_as: num(a.dstAs),
    next_hop: a.nhOff >= 0 ? ipBytesToString(b, a.nhOff, a.nhVer) : null,
    bgp_next_hop: a.bgpOff >= 0 ? ipBytesToString(b, a.bgpOff, a.bgpVer) : null,
    src_mask: num(a.srcMask),
    dst_mask: num(a.dstMask),
    vlan: num(a.vlan),
    src_mac: a.srcMacOff >= 0 ? macToString(b, a.srcMacOff) : null,
    dst_mac: a.dstMacOff >= 0 ? macToString(b, a.dstMacOff) : null,
    end_reason: num(a.endReason),
    extra: a.extra,
  };
}
