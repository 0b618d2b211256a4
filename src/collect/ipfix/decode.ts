/**
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) messages: one implementation, the differences are
 * the header, the set ids of (options) templates, enterprise numbers (IPFIX only), withdrawals
 * (IPFIX only) and what the sequence number counts (v9: datagrams, IPFIX: data records).
 */
import type { CollectDecoder, Scope } from '../decoder.js';
import { type ExportContext, exportContext, resetExportContext } from '../flow-acc.js';
import type { ExporterStats } from '../types.js';
import { readRecord, type Template } from './template.js';

// One context for every datagram, reset at its start: nothing keeps it past the datagram (a
// held data set keeps a copy).
const CTX: ExportContext = exportContext('ipfix');

export function decodeTemplated(
  d: CollectDecoder,
  ver: 9 | 10,
  b: Buffer,
  off: number,
  len: number,
  exporter: string,
  port: number,
  nowMs: number,
  st: ExporterStats,
): void {
  let end = off + len;
  let o: number;
  const ctx = resetExportContext(CTX, ver === 9 ? 'netflow9' : 'ipfix', exporter, port);
  ctx.communityId = d.cfg.communityId;
  let seq: number;
  if (ver === 9) {
    ctx.sysUptimeMs = b.readUInt32BE(off + 4);
    ctx.exportMs = b.readUInt32BE(off + 8) * 1000;
    seq = b.readUInt32BE(off + 12);
    ctx.domain = b.readUInt32BE(off + 16);
    o = off + 20;
  } else {
    const mlen = b.readUInt16BE(off + 2);
    if (mlen < 16 || mlen > len) {
      st.decodeErrors++;
      return;
    }
    end = off + mlen;
    ctx.exportMs = b.readUInt32BE(off + 4) * 1000;
    seq = b.readUInt32BE(off + 8);
    ctx.domain = b.readUInt32BE(off + 12);
    o = off + 16;
  }
  const scope = d.scopeOf(exporter, ver, ctx.domain);
  if (!scope) {
    st.decodeErrors++;
    return;
  }
  d.expire(scope, nowMs);
  ctx.systemInitMs = scope.systemInitMs;
  const tmplSet = ver === 9 ? 0 : 2;
  const optSet = ver === 9 ? 1 : 3;
  let records = 0;
  let held = false;
  while (end - o >= 4) {
    const setId = b.readUInt16BE(o);
    const setLen = b.readUInt16BE(o + 2);
    if (setLen < 4 || o + setLen > end) {
      st.decodeErrors++;
      break;
    }
    const s = o + 4;
    const e = o + setLen;
    o = e;
    if (setId === tmplSet) readTemplates(d, ver, scope, b, s, e, st);
    else if (setId === optSet) readOptionsTemplates(d, ver, scope, b, s, e, st);
    else if (setId >= 256) {
      const t = scope.templates.get(setId);
      if (t) {
        ctx.systemInitMs = scope.systemInitMs;
        records += decodeSet(d, scope, t, b, s, e, ctx, st);
      } else {
        d.hold(scope, setId, b.subarray(s, e), nowMs, ctx, st);
        held = true;
      }
    }
    // Set ids 4..255 are reserved: skipped.
  }
  const key = d.seqKey(exporter, port, ver, ctx.domain);
  if (ver === 9) d.sequence(key, seq, 1, st);
  else if (held) d.resync(key);
  else d.sequence(key, seq, records, st);
}

/** Decode every record of one data set; returns the flow records emitted. */
function decodeSet(
  d: CollectDecoder,
  scope: Scope,
  t: Template,
  b: Buffer,
  s: number,
  e: number,
  ctx: ExportContext,
  st: ExporterStats,
): number {
  const a = d.acc;
  const keep = d.cfg.keepExtra;
  let n = 0;
  let o = s;
  ctx.templateId = t.id;
  while (e - o >= t.minLen) {
    a.reset(b);
    const next = readRecord(t, b, o, e, a, keep);
    if (next < 0) {
      st.decodeErrors++;
      break;
    }
    o = next;
    if (t.options) {
      applyOptions(d, scope, st);
      continue;
    }
    let rate = 0;
    if (a.samplingInterval > 0) rate = a.samplingInterval;
    else if (a.samplerId >= 0) rate = scope.samplers.get(a.samplerId) ?? scope.defaultRate;
    else rate = scope.defaultRate;
    ctx.samplingRate = rate > 0 ? rate : 1;
    d.emitFlow(ctx, st);
    n++;
  }
  return n;
}

const MAX_SAMPLERS = 1024;

function applyOptions(d: CollectDecoder, scope: Scope, st: ExporterStats): void {
  const a = d.acc;
  st.optionsRecords++;
  const rate = a.optionsSamplingRate();
  if (rate > 0) {
    if (a.samplerId >= 0) {
      if (
        scope.samplers.get(a.samplerId) !== rate &&
        (scope.samplers.size < MAX_SAMPLERS || scope.samplers.has(a.samplerId))
      ) {
        scope.samplers.set(a.samplerId, rate);
        d.dirty = true;
      }
    } else if (scope.defaultRate !== rate) {
      scope.defaultRate = rate;
      d.dirty = true;
    }
  }
  if (!Number.isNaN(a.systemInitMs) && scope.systemInitMs !== a.systemInitMs) {
    scope.systemInitMs = a.systemInitMs;
    d.dirty = true;
  }
}

/** A template arrived: decode the data sets that were waiting for it. */
function learned(d: CollectDecoder, scope: Scope, t: Template | null): void {
  if (!t) return;
  for (const p of d.takePending(scope, t.id)) {
    p.ctx.systemInitMs = scope.systemInitMs;
    decodeSet(d, scope, t, p.data, 0, p.data.length, p.ctx, p.stats);
  }
}

function readTemplates(
  d: CollectDecoder,
  ver: 9 | 10,
  scope: Scope,
  b: Buffer,
  s: number,
  e: number,
  st: ExporterStats,
): void {
  let o = s;
  while (e - o >= 4) {
    const id = b.readUInt16BE(o);
    const count = b.readUInt16BE(o + 2);
    o += 4;
    if (count === 0) {
      if (ver === 10 && (id === 2 || id >= 256)) d.withdraw(scope, id, id === 2, false, st);
      else if (id !== 0) st.decodeErrors++;
      continue;
    }
    if (id < 256) {
      st.decodeErrors++;
      return;
    }
    const specs = readFieldSpecs(b, o, e, count, ver);
    if (specs === null) {
      st.decodeErrors++;
      return;
    }
    const def = specs.def;
    o = specs.end;
    learned(d, scope, d.addTemplate(scope, id, def, false, 0, st));
  }
}

function readOptionsTemplates(
  d: CollectDecoder,
  ver: 9 | 10,
  scope: Scope,
  b: Buffer,
  s: number,
  e: number,
  st: ExporterStats,
): void {
  let o = s;
  while (e - o >= 4) {
    const id = b.readUInt16BE(o);
    if (id === 0 && ver === 9) return; // padding
    let count: number;
    let scopeCount: number;
    if (ver === 9) {
      if (e - o < 6) return;
      const scopeLen = b.readUInt16BE(o + 2);
      const optLen = b.readUInt16BE(o + 4);
      o += 6;
      if (scopeLen % 4 !== 0 || optLen % 4 !== 0) {
        st.decodeErrors++;
        return;
      }
      scopeCount = scopeLen / 4;
      count = scopeCount + optLen / 4;
    } else {
      count = b.readUInt16BE(o + 2);
      if (count === 0) {
        o += 4;
        if (id === 3 || id >= 256) d.withdraw(scope, id, id === 3, true, st);
        else st.decodeErrors++;
        continue;
      }
      if (e - o < 6) {
        st.decodeErrors++;
        return;
      }
      scopeCount = b.readUInt16BE(o + 4);
      o += 6;
    }
    if (id < 256 || count === 0) {
      st.decodeErrors++;
      return;
    }
    const specs = readFieldSpecs(b, o, e, count, ver);
    if (specs === null) {
      st.decodeErrors++;
      return;
    }
    const def = specs.def;
    o = specs.end;
    learned(d, scope, d.addTemplate(scope, id, def, true, scopeCount, st));
    // v9 pads the options flowset to 4 bytes: fewer than 6 bytes left is padding.
    if (ver === 9 && e - o < 6) return;
  }
}

/**
 * The field specifiers of a (options) template: [element id, enterprise number, length] each;
 * IPFIX marks enterprise elements with the high bit and follows them with the number. Null when
 * the set ends inside them.
 */
function readFieldSpecs(
  b: Buffer,
  o: number,
  e: number,
  count: number,
  ver: number,
): { def: [number, number, number][]; end: number } | null {
  const def: [number, number, number][] = [];
  for (let i = 0; i < count; i++) {
    if (e - o < 4) return null;
    let fid = b.readUInt16BE(o);
    const flen = b.readUInt16BE(o + 2);
    o += 4;
    let pen = 0;
    if (ver === 10 && fid & 0x8000) {
      if (e - o < 4) return null;
      pen = b.readUInt32BE(o);
      o += 4;
      fid &= 0x7fff;
    }
    def.push([fid, pen, flen]);
  }
  return { def, end: o };
}
