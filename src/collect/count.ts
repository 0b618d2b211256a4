/**
 * How many records a datagram holds, without decoding them: what a drop under overload counts,
 * so that the loss ledger speaks in records as the store does. It reads headers only: the
 * NetFlow v5 count, IPFIX and NetFlow v9 set headers divided by their template's record length
 * (a template with variable-length fields walks its records' length prefixes, not their
 * fields), sFlow's sample headers. Records of a set whose template is unknown cannot be
 * counted: 0 (a full decode would hold them and give them up, counted as `noTemplateSets`).
 * Options records are not flows and are not counted. Malformed input counts what it can and
 * never throws.
 */
import type { CollectDecoder } from './decoder.js';
import { detectProtocol } from './decoder.js';
import type { Template } from './ipfix/template.js';

const VARLEN = 0xffff;

export function countRecords(
  d: CollectDecoder,
  b: Uint8Array,
  off: number,
  len: number,
  exporter: string,
): number {
  if (off < 0 || len <= 0 || off + len > b.length) return 0;
  const proto = detectProtocol(
    Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    off,
    len,
  );
  if (proto === null) return 0;
  const u16 = (o: number): number => (b[o]! << 8) | b[o + 1]!;
  const u32 = (o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  switch (proto) {
    case 'netflow5':
      // The header's count, as far as the datagram holds 48-byte records.
      return Math.min(u16(off + 2), Math.floor((len - 24) / 48));
    case 'netflow9':
    case 'ipfix': {
      const v9 = proto === 'netflow9';
      let end = off + len;
      if (!v9) {
        const mlen = u16(off + 2);
        if (mlen < 16 || mlen > len) return 0;
        end = off + mlen;
      }
      const domain = u32(off + (v9 ? 16 : 12));
      const scope = d.scopes.get(`${exporter}/${v9 ? 9 : 10}/${domain}`);
      if (!scope) return 0;
      let o = off + (v9 ? 20 : 16);
      let n = 0;
      while (end - o >= 4) {
        const setId = u16(o);
        const setLen = u16(o + 2);
        if (setLen < 4 || o + setLen > end) break;
        if (setId >= 256) {
          const t = scope.templates.get(setId);
          if (t && !t.options) n += recordsIn(t, b, o + 4, o + setLen);
        }
        o += setLen;
      }
      return n;
    }
    case 'sflow': {
      const at = u32(off + 4);
      const alen = at === 1 ? 4 : at === 2 ? 16 : -1;
      const end = off + len;
      let o = off + 8 + alen;
      if (alen < 0 || end - o < 16) return 0;
      const samples = u32(o + 12);
      o += 16;
      let n = 0;
      for (let i = 0; i < samples && end - o >= 8; i++) {
        const fmt = u32(o);
        const slen = u32(o + 4);
        o += 8;
        if (slen > end - o) break;
        o += slen;
        // Standard flow samples (1, 3) and counter samples (2, 4) each make one record.
        if (fmt >>> 12 === 0 && (fmt & 0xfff) >= 1 && (fmt & 0xfff) <= 4) n++;
      }
      return n;
    }
  }
}

/** Records of one data set: its length over the record length, or a walk of the length prefixes. */
function recordsIn(t: Template, b: Uint8Array, s: number, e: number): number {
  const lens = t.lens;
  let fixed = true;
  for (let i = 0; i < lens.length; i++)
    if (lens[i] === VARLEN) {
      fixed = false;
      break;
    }
  if (fixed) return Math.floor((e - s) / t.minLen);
  let n = 0;
  let o = s;
  // The padding after the last record is shorter than the smallest record (RFC 7011 §3.3.1).
  while (e - o >= t.minLen) {
    for (let i = 0; i < lens.length; i++) {
      let l = lens[i]!;
      if (l === VARLEN) {
        if (o >= e) return n;
        l = b[o++]!;
        if (l === 255) {
          if (o + 2 > e) return n;
          l = (b[o]! << 8) | b[o + 1]!;
          o += 2;
        }
      }
      o += l;
      if (o > e) return n;
    }
    n++;
  }
  return n;
}
