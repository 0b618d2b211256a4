/**
 * sFlow v5 (sflow.org/sflow_version_5.txt). A flow sample becomes one exported_flow: its raw
 * packet header is decoded with the sensor's own layer decoder (a separate instance, so the
 * packet view of a caller is left alone), counts are scaled by the sampling rate. A counter
 * sample becomes one sflow_counters record (a time-series point per data source).
 * sFlow has no export time; the receive time (capture timestamp offline) stands in for it.
 */

import { LinkType } from '../../capture/frame.js';
import { ipBytesToString } from '../../common/addr.js';
import { isoNs } from '../../common/time.js';
import { Decoder } from '../../decode/decoder.js';
import type { CollectDecoder } from '../decoder.js';
import { type ExportContext, exportContext } from '../flow-acc.js';
import type { ExporterStats, SflowCountersRecord } from '../types.js';

/** header_protocol values of the raw packet header record → LINKTYPE. */
function linkTypeOf(headerProtocol: number): number {
  switch (headerProtocol) {
    case 1:
      return LinkType.ETHERNET;
    case 11:
      return LinkType.IPV4;
    case 12:
      return LinkType.IPV6;
    default:
      return -1;
  }
}

const u64 = (b: Buffer, o: number): number => b.readUInt32BE(o) * 4294967296 + b.readUInt32BE(o + 4);

export class SflowDecoder {
  private readonly dec = new Decoder();
  private readonly ctx: ExportContext = exportContext('sflow');

  constructor(private readonly d: CollectDecoder) {}

  decode(
    b: Buffer,
    off: number,
    len: number,
    exporter: string,
    port: number,
    nowMs: number,
    st: ExporterStats,
  ): void {
    const end = off + len;
    let o = off + 4;
    const at = b.readUInt32BE(o);
    o += 4;
    const alen = at === 1 ? 4 : at === 2 ? 16 : -1;
    if (alen < 0 || end - o < alen + 16) {
      st.decodeErrors++;
      return;
    }
    const agent = ipBytesToString(b, o, alen === 4 ? 4 : 6);
    o += alen;
    const sub = b.readUInt32BE(o);
    const seq = b.readUInt32BE(o + 4);
    const n = b.readUInt32BE(o + 12);
    o += 16;
    const ctx = this.ctx;
    ctx.exporter = agent;
    ctx.exporterPort = port;
    ctx.domain = sub;
    ctx.exportMs = nowMs;
    ctx.communityId = this.d.cfg.communityId;
    this.d.sequence(`${exporter}:${port}/sflow/${agent}/${sub}`, seq, 1, st);
    for (let i = 0; i < n; i++) {
      if (end - o < 8) {
        st.decodeErrors++;
        return;
      }
      const fmt = b.readUInt32BE(o);
      const slen = b.readUInt32BE(o + 4);
      o += 8;
      if (slen > end - o) {
        st.decodeErrors++;
        return;
      }
      const s = o;
      const e = o + slen;
      o = e;
      if (fmt >>> 12 !== 0) continue;
      let ok = true;
      switch (fmt & 0xfff) {
        case 1:
          ok = this.flowSample(b, s, e, false, nowMs, st);
          break;
        case 3:
          ok = this.flowSample(b, s, e, true, nowMs, st);
          break;
        case 2:
          ok = this.counterSample(b, s, e, false, agent, sub, exporter, nowMs, st);
          break;
        case 4:
          ok = this.counterSample(b, s, e, true, agent, sub, exporter, nowMs, st);
          break;
      }
      if (!ok) st.decodeErrors++;
    }
  }

  private flowSample(
    b: Buffer,
    o: number,
    e: number,
    expanded: boolean,
    nowMs: number,
    st: ExporterStats,
  ): boolean {
    const fixed = expanded ? 44 : 32;
    if (e - o < fixed) return false;
    let rate: number;
    let inIf: number;
    let outIf: number;
    let nrec: number;
    if (expanded) {
      rate = b.readUInt32BE(o + 12);
      inIf = b.readUInt32BE(o + 24) === 0 ? b.readUInt32BE(o + 28) : -1;
      outIf = b.readUInt32BE(o + 32) === 0 ? b.readUInt32BE(o + 36) : -1;
      nrec = b.readUInt32BE(o + 40);
      o += 44;
    } else {
      rate = b.readUInt32BE(o + 8);
      const i = b.readUInt32BE(o + 20);
      const x = b.readUInt32BE(o + 24);
      inIf = i >>> 30 === 0 ? i & 0x3fffffff : -1;
      outIf = x >>> 30 === 0 ? x & 0x3fffffff : -1;
      nrec = b.readUInt32BE(o + 28);
      o += 32;
    }
    const a = this.d.acc;
    a.reset(b);
    a.packets = 1;
    let have = false;
    for (let r = 0; r < nrec; r++) {
      if (e - o < 8) return false;
      const fmt = b.readUInt32BE(o);
      const rlen = b.readUInt32BE(o + 4);
      o += 8;
      if (rlen > e - o) return false;
      const s = o;
      o += rlen;
      if (fmt >>> 12 !== 0) continue;
      switch (fmt & 0xfff) {
        case 1: {
          // raw packet header
          if (rlen < 16) return false;
          const lt = linkTypeOf(b.readUInt32BE(s));
          const frameLen = b.readUInt32BE(s + 4);
          const hlen = b.readUInt32BE(s + 12);
          if (hlen > rlen - 16) return false;
          a.bytes = frameLen;
          have = true;
          if (lt < 0 || hlen === 0) break;
          const sec = Math.floor(nowMs / 1000);
          const p = this.dec.decodeBytes(b, s + 16, hlen, frameLen, lt, sec, 0, 0);
          if (p.ipVer !== 0 && p.srcOff >= 0) {
            a.ipVer = p.ipVer;
            a.srcOff = p.srcOff;
            a.dstOff = p.dstOff;
            a.proto = p.proto;
            a.tos = p.tos;
            if (p.ipLen > 0) a.bytes = p.ipLen;
            if (p.l4Off >= 0) {
              if (p.icmpType >= 0) {
                a.icmpType = p.icmpType;
                a.icmpCode = p.icmpCode;
              } else {
                a.srcPort = p.srcPort;
                a.dstPort = p.dstPort;
              }
              if (p.proto === 6) a.tcpFlags = p.tcpFlags;
            }
          }
          if (p.ethOff >= 0) {
            a.dstMacOff = p.ethOff;
            a.srcMacOff = p.ethOff + 6;
          }
          if (p.vlanCount > 0 && a.vlan < 0) a.vlan = p.vlan0;
          break;
        }
        case 3:
        case 4: {
          // sampled IPv4 / IPv6: length, protocol, addresses, ports, TCP flags, ToS
          const alen = (fmt & 0xfff) === 3 ? 4 : 16;
          if (rlen < 24 + 2 * alen || a.srcOff >= 0) break;
          a.bytes = b.readUInt32BE(s);
          a.proto = b.readUInt32BE(s + 4) & 255;
          a.ipVer = alen === 4 ? 4 : 6;
          a.srcOff = s + 8;
          a.dstOff = s + 8 + alen;
          const q = s + 8 + 2 * alen;
          a.srcPort = b.readUInt32BE(q) & 0xffff;
          a.dstPort = b.readUInt32BE(q + 4) & 0xffff;
          a.tcpFlags = b.readUInt32BE(q + 8) & 255;
          a.tos = b.readUInt32BE(q + 12) & 255;
          have = true;
          break;
        }
        case 1001:
          // extended switch: the incoming VLAN
          if (rlen >= 16) a.vlan = b.readUInt32BE(s) & 0xfff;
          break;
        case 1002: {
          // extended router: next hop and masks
          if (rlen < 8) break;
          const t = b.readUInt32BE(s);
          const al = t === 1 ? 4 : t === 2 ? 16 : 0;
          if (al === 0 || rlen < 4 + al + 8) break;
          a.nhOff = s + 4;
          a.nhVer = al === 4 ? 4 : 6;
          a.srcMask = b.readUInt32BE(s + 4 + al) & 255;
          a.dstMask = b.readUInt32BE(s + 8 + al) & 255;
          break;
        }
        case 1003: {
          // extended gateway: AS numbers (destination = last AS of the path)
          if (rlen < 8) break;
          const t = b.readUInt32BE(s);
          const al = t === 1 ? 4 : t === 2 ? 16 : 0;
          let q = s + 4 + al;
          const qe = s + rlen;
          if (al === 0 || qe - q < 16) break;
          a.bgpOff = s + 4;
          a.bgpVer = al === 4 ? 4 : 6;
          a.srcAs = b.readUInt32BE(q + 4);
          const segs = b.readUInt32BE(q + 12);
          q += 16;
          for (let g = 0; g < segs && qe - q >= 8; g++) {
            const cnt = b.readUInt32BE(q + 4);
            q += 8;
            if (cnt > (qe - q) / 4) break;
            if (cnt > 0) a.dstAs = b.readUInt32BE(q + (cnt - 1) * 4);
            q += cnt * 4;
          }
          break;
        }
      }
    }
    if (!have) return true;
    a.inIf = inIf;
    a.outIf = outIf;
    const ctx = this.ctx;
    ctx.samplingRate = rate > 0 ? rate : 1;
    this.d.emitFlow(ctx, st);
    return true;
  }

  private counterSample(
    b: Buffer,
    o: number,
    e: number,
    expanded: boolean,
    agent: string,
    sub: number,
    exporter: string,
    nowMs: number,
    st: ExporterStats,
  ): boolean {
    const fixed = expanded ? 16 : 12;
    if (e - o < fixed) return false;
    const seq = b.readUInt32BE(o);
    const sourceId = expanded
      ? (b.readUInt32BE(o + 4) & 0xff) * 0x1000000 + (b.readUInt32BE(o + 8) & 0xffffff)
      : b.readUInt32BE(o + 4);
    const nrec = b.readUInt32BE(o + fixed - 4);
    o += fixed;
    const sec = Math.floor(nowMs / 1000);
    const rec: SflowCountersRecord = {
      type: 'sflow_counters',
      ts: isoNs(sec, Math.round((nowMs - sec * 1000) * 1e6)),
      agent,
      sub_agent: sub,
      exporter,
      sequence: seq,
      source_id: sourceId,
      if_index: null,
      if_type: null,
      if_speed: null,
      if_direction: null,
      if_status: null,
      in_octets: null,
      in_ucast_pkts: null,
      in_multicast_pkts: null,
      in_broadcast_pkts: null,
      in_discards: null,
      in_errors: null,
      in_unknown_protos: null,
      out_octets: null,
      out_ucast_pkts: null,
      out_multicast_pkts: null,
      out_broadcast_pkts: null,
      out_discards: null,
      out_errors: null,
      promiscuous: null,
      record_formats: [],
    };
    for (let r = 0; r < nrec; r++) {
      if (e - o < 8) return false;
      const fmt = b.readUInt32BE(o);
      const rlen = b.readUInt32BE(o + 4);
      o += 8;
      if (rlen > e - o) return false;
      const s = o;
      o += rlen;
      if (rec.record_formats.length < 64) rec.record_formats.push(fmt);
      if (fmt === 1 && rlen >= 88) {
        rec.if_index = b.readUInt32BE(s);
        rec.if_type = b.readUInt32BE(s + 4);
        rec.if_speed = u64(b, s + 8);
        rec.if_direction = b.readUInt32BE(s + 16);
        rec.if_status = b.readUInt32BE(s + 20);
        rec.in_octets = u64(b, s + 24);
        rec.in_ucast_pkts = b.readUInt32BE(s + 32);
        rec.in_multicast_pkts = b.readUInt32BE(s + 36);
        rec.in_broadcast_pkts = b.readUInt32BE(s + 40);
        rec.in_discards = b.readUInt32BE(s + 44);
        rec.in_errors = b.readUInt32BE(s + 48);
        rec.in_unknown_protos = b.readUInt32BE(s + 52);
        rec.out_octets = u64(b, s + 56);
        rec.out_ucast_pkts = b.readUInt32BE(s + 64);
        rec.out_multicast_pkts = b.readUInt32BE(s + 68);
        rec.out_broadcast_pkts = b.readUInt32BE(s + 72);
        rec.out_discards = b.readUInt32BE(s + 76);
        rec.out_errors = b.readUInt32BE(s + 80);
        rec.promiscuous = b.readUInt32BE(s + 84) === 1;
      }
    }
    st.counterSamples++;
    this.d.emit(rec);
    return true;
  }
}
