import { closeSync, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { badRequest } from '../common/errors.js';
import { Decoder } from '../decode/decoder.js';
import { type CompiledFilter, FilterLinkError, FrameView } from './bpf/compile.js';
import { movesPastLink } from './bpf/parse.js';
import { PCAP_SNAPLEN, pcapFileHeader, RECORD_HEADER_LEN, tsUs } from './pcap-format.js';
import {
  flowMatches,
  type PcapQuery,
  type PreparedQuery,
  packetMatches,
  planFlows,
  postingFlows,
  prepareQuery,
} from './query.js';
import { FLOW_MIXED, FLOW_OTHER, FLOW_TUNNEL, type SegmentIndex } from './segment-index.js';
import type { PcapStore } from './store.js';

export interface SearchOptions {
  format?: 'pcap' | 'pcapng';
  /** Count only: nothing is written. */
  countOnly?: boolean;
  /** pcapng only: the section comment (defaults to a description of the query). */
  comment?: string;
}

export interface SearchResult {
  packets: number;
  bytes: number;
  segmentsSearched: number;
  candidates: number;
  /** True when maxPackets / maxBytes cut the result short. */
  truncated: boolean;
  elapsedMs: number;
  format: 'pcap' | 'pcapng' | 'count';
}

const OUT_CHUNK = 1 << 20;
const WINDOW = 1 << 20;
const ALIGN = 48;

/** Streams records into pcap or pcapng, in 1 MiB chunks, honouring backpressure. */
class CaptureOut {
  private chunk = Buffer.allocUnsafe(OUT_CHUNK);
  private len = 0;
  private ngIfaces = new Map<number, number>();
  private started = false;

  constructor(
    private readonly out: Writable,
    private readonly format: 'pcap' | 'pcapng',
    private readonly comment: string,
  ) {}

  private async put(b: Uint8Array): Promise<void> {
    if (this.len + b.length > this.chunk.length) await this.drain(b.length);
    this.chunk.set(b, this.len);
    this.len += b.length;
  }

  private async drain(need = 0): Promise<void> {
    if (this.len > 0) {
      const ok = this.out.write(this.chunk.subarray(0, this.len));
      this.chunk = Buffer.allocUnsafe(Math.max(OUT_CHUNK, need));
      this.len = 0;
      if (!ok) await new Promise<void>((r) => this.out.once('drain', r));
    } else if (need > this.chunk.length) this.chunk = Buffer.allocUnsafe(need);
  }

  async begin(linkType: number): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.format === 'pcap') await this.put(pcapFileHeader(linkType));
    else await this.put(shb(this.comment));
  }

  async record(linkType: number, b: Buffer, o: number, caplen: number): Promise<void> {
    if (this.format === 'pcap') {
      if (this.len + RECORD_HEADER_LEN + caplen > this.chunk.length)
        await this.drain(RECORD_HEADER_LEN + caplen);
      b.copy(this.chunk, this.len, o, o + RECORD_HEADER_LEN + caplen);
      this.len += RECORD_HEADER_LEN + caplen;
      return;
    }
    let ifId = this.ngIfaces.get(linkType);
    if (ifId === undefined) {
      ifId = this.ngIfaces.size;
      this.ngIfaces.set(linkType, ifId);
      await this.put(idb(linkType));
    }
    const pad = (4 - (caplen % 4)) % 4;
    const total = 32 + caplen + pad;
    if (this.len + total > this.chunk.length) await this.drain(total);
    const c = this.chunk;
    let p = this.len;
    const sec = b.readUInt32LE(o);
    const ns = b.readUInt32LE(o + 4);
    const ts = BigInt(sec) * 1_000_000_000n + BigInt(ns);
    c.writeUInt32LE(6, p);
    c.writeUInt32LE(total, p + 4);
    c.writeUInt32LE(ifId, p + 8);
    c.writeUInt32LE(Number(ts >> 32n), p + 12);
    c.writeUInt32LE(Number(ts & 0xffffffffn), p + 16);
    c.writeUInt32LE(caplen, p + 20);
    c.writeUInt32LE(b.readUInt32LE(o + 12), p + 24);
    b.copy(c, p + 28, o + RECORD_HEADER_LEN, o + RECORD_HEADER_LEN + caplen);
    p += 28 + caplen;
    c.fill(0, p, p + pad);
    p += pad;
    c.writeUInt32LE(total, p);
    this.len = p + 4;
  }

  async end(): Promise<void> {
    await this.drain();
  }
}

function ngOption(code: number, val: Buffer): Buffer {
  const pad = (4 - (val.length % 4)) % 4;
  const b = Buffer.alloc(4 + val.length + pad);
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(val.length, 2);
  val.copy(b, 4);
  return b;
}

function ngBlock(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(12 + body.length);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(b.length, 4);
  body.copy(b, 8);
  b.writeUInt32LE(b.length, b.length - 4);
  return b;
}

function shb(comment: string): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeInt32LE(-1, 8);
  fixed.writeInt32LE(-1, 12);
  const opts = Buffer.concat([
    ngOption(1, Buffer.from(comment.slice(0, 60000))),
    ngOption(4, Buffer.from('Vantage packet store')),
    Buffer.alloc(4),
  ]);
  return ngBlock(0x0a0d0d0a, Buffer.concat([fixed, opts]));
}

function idb(linkType: number): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(linkType, 0);
  fixed.writeUInt32LE(PCAP_SNAPLEN, 4);
  const opts = Buffer.concat([ngOption(9, Buffer.from([9])), Buffer.alloc(4)]); // if_tsresol: ns
  return ngBlock(1, Buffer.concat([fixed, opts]));
}

export function describeQuery(q: PcapQuery): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q))
    if (v !== undefined) parts.push(`${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return `Vantage pcap search: ${parts.join(' ') || 'all packets'}`;
}

/**
 * Packet offsets to read in one segment, ascending, from the index: the structured query picks
 * flows exactly, the tcpdump filter's plan narrows them, and flows outside the time window are
 * skipped. `perPacket` marks offsets whose decoded fields still need checking.
 */
function candidates(
  pq: PreparedQuery,
  idx: SegmentIndex,
): { offs: Uint32Array; check: Uint8Array | null; all: boolean } {
  const d = idx.d;
  const F = idx.flowCount;
  const plan = pq.filter && !movesPastLink(pq.filter.ast) ? planFlows(pq.filter.ast, idx) : null;
  if (!pq.structured && plan === null) return { offs: d.pktOff, check: null, all: true };
  const aSec = Number.isFinite(pq.afterUs) ? Math.floor(pq.afterUs / 1e6) : 0;
  const bSec = Number.isFinite(pq.beforeUs) ? Math.floor(pq.beforeUs / 1e6) : 0xffffffff;
  const sel: number[] = [];
  const checkFlow: number[] = [];
  const consider = (f: number): void => {
    if (d.pktStart[f + 1] === d.pktStart[f]) return;
    const flags = d.flags[f]!;
    if (f !== 0 && (d.lastSec[f]! < aSec || d.firstSec[f]! > bSec)) return;
    if (plan !== null && plan[f] === 0 && (flags & (FLOW_TUNNEL | FLOW_MIXED | FLOW_OTHER)) === 0) return;
    if (pq.structured) {
      if (f === 0 || (flags & FLOW_MIXED) !== 0) {
        if (f !== 0 && !flowMatchesIgnoringTags(pq, idx, f)) return;
        sel.push(f);
        checkFlow.push(1);
        return;
      }
      if (!flowMatches(pq, idx, f)) return;
    }
    sel.push(f);
    checkFlow.push(0);
  };
  const post = pq.structured ? postingFlows(pq, idx) : null;
  if (post) {
    consider(0);
    for (let i = 0; i < post.length; i++) consider(post[i]!);
  } else for (let f = 0; f < F; f++) consider(f);
  let n = 0;
  for (const f of sel) n += d.pktStart[f + 1]! - d.pktStart[f]!;
  const offs = new Uint32Array(n);
  const anyCheck = checkFlow.some((c) => c === 1);
  const check = anyCheck ? new Uint8Array(n) : null;
  let w = 0;
  for (let i = 0; i < sel.length; i++) {
    const f = sel[i]!;
    const s = d.pktStart[f]!;
    const e = d.pktStart[f + 1]!;
    offs.set(d.pktOff.subarray(s, e), w);
    if (check && checkFlow[i]) check.fill(1, w, w + (e - s));
    w += e - s;
  }
  if (sel.length > 1) {
    if (check) {
      // Keep the check marks with their offsets: sort pairs packed in one float.
      const packed = new Float64Array(n);
      for (let i = 0; i < n; i++) packed[i] = offs[i]! * 2 + check[i]!;
      packed.sort();
      for (let i = 0; i < n; i++) {
        offs[i] = Math.floor(packed[i]! / 2);
        check[i] = packed[i]! % 2;
      }
    } else offs.sort();
  }
  return { offs, check, all: false };
}

/** For flows with mixed VLAN/VNI tags: match everything but the tags (checked per packet). */
function flowMatchesIgnoringTags(pq: PreparedQuery, idx: SegmentIndex, f: number): boolean {
  const { vlan, vni, ...rest } = pq.q;
  return flowMatches({ ...pq, q: rest }, idx, f);
}

/**
 * Reads records through a window over a segment file: sparse candidates get small reads, dense
 * ones and sequential scans large ones. Reads land 48 bytes into the buffer (see PERF.md).
 */
class RecordReader {
  private start = 0;
  private end = 0;
  sparse: Uint32Array | null = null;
  i = 0;

  constructor(
    private readonly fd: number,
    private readonly win: Buffer,
    private readonly limit: number,
  ) {}

  /** Buffer position of the record at file offset `off` (whole record present), -1 at the end or on damage. */
  at(off: number): number {
    if (off + RECORD_HEADER_LEN > this.limit) return -1;
    if (off < this.start || off + RECORD_HEADER_LEN > this.end) this.fill(off);
    if (off + RECORD_HEADER_LEN > this.end) return -1;
    let o = ALIGN + (off - this.start);
    const caplen = this.win.readUInt32LE(o + 8);
    if (RECORD_HEADER_LEN + caplen > WINDOW) return -1;
    if (off + RECORD_HEADER_LEN + caplen > this.end) {
      this.fill(off, true);
      o = ALIGN;
      if (off + RECORD_HEADER_LEN + caplen > this.end) return -1;
    }
    return o;
  }

  private fill(off: number, big = false): void {
    let span = WINDOW;
    const s = this.sparse;
    if (!big && s !== null) {
      const next = s[this.i + 1];
      if (next === undefined || next - off >= 65536) span = 65536;
    }
    const len = Math.min(span, this.limit - off);
    const got = readSync(this.fd, this.win, ALIGN, len, off);
    this.start = off;
    this.end = off + got;
  }
}

/**
 * The segments a search will read, with the filter bound to each link type. Throws a 400
 * UserError for what would fail (a pcap over mixed link types, a filter a link type cannot
 * take) so a server can refuse before it starts streaming.
 */
export function checkSearch(
  store: PcapStore,
  pq: PreparedQuery,
  opts: { format?: 'pcap' | 'pcapng'; countOnly?: boolean } = {},
): { views: ReturnType<PcapStore['views']>; linkTypes: number[]; filters: Map<number, CompiledFilter> } {
  const views = store.views().filter((v) => {
    if (v.meta.packets === 0) return false;
    const first = tsUs(v.meta.firstSec, v.meta.firstNs);
    const last = tsUs(v.meta.lastSec, v.meta.lastNs);
    return last >= pq.afterUs && first < pq.beforeUs;
  });
  const linkTypes = [...new Set(views.map((v) => v.meta.linkType))];
  if (!opts.countOnly && (opts.format ?? 'pcap') === 'pcap' && linkTypes.length > 1) {
    throw badRequest(
      `the segments in this time range hold link types ${linkTypes.join(' and ')}; a pcap file has one: ask for pcapng, or narrow the time range`,
    );
  }
  const filters = new Map<number, CompiledFilter>();
  if (pq.filter) {
    for (const lt of linkTypes) {
      try {
        filters.set(lt, pq.filter.bind(lt));
      } catch (e) {
        if (e instanceof FilterLinkError) throw badRequest(e.message);
        throw e;
      }
    }
  }
  return { views, linkTypes, filters };
}

/**
 * Run a search over the store and stream the packets, in segment order (the recorder writes
 * segments one after another, so this is capture order), as one pcap or pcapng.
 */
export async function searchToStream(
  store: PcapStore,
  query: PcapQuery | PreparedQuery,
  out: Writable | null,
  opts: SearchOptions = {},
): Promise<SearchResult> {
  const t0 = performance.now();
  const pq = 'afterUs' in query ? query : prepareQuery(query);
  const countOnly = opts.countOnly === true || out === null;
  const format = opts.format ?? 'pcap';
  const maxPackets = pq.q.maxPackets ?? Number.POSITIVE_INFINITY;
  const maxBytes = pq.q.maxBytes ?? Number.POSITIVE_INFINITY;
  const { views, linkTypes, filters } = checkSearch(store, pq, { format, countOnly });
  const res: SearchResult = {
    packets: 0,
    bytes: 0,
    segmentsSearched: 0,
    candidates: 0,
    truncated: false,
    elapsedMs: 0,
    format: countOnly ? 'count' : format,
  };
  const w = countOnly ? null : new CaptureOut(out!, format, opts.comment ?? describeQuery(pq.q));
  if (w) await w.begin(linkTypes[0] ?? 1);
  const win = Buffer.allocUnsafeSlow(WINDOW + ALIGN);
  const view = new FrameView();
  const decoder = new Decoder();
  outer: for (const v of views) {
    const idx = store.index(v.seq);
    if (!idx) continue;
    res.segmentsSearched++;
    const { offs, check, all } = candidates(pq, idx);
    if (offs.length === 0) continue;
    if (!all) res.candidates += offs.length;
    const filter = pq.filter ? filters.get(v.meta.linkType)! : null;
    let fd: number;
    try {
      fd = openSync(v.path, 'r');
    } catch {
      continue; // deleted by the budget meanwhile
    }
    try {
      const rd = new RecordReader(fd, win, v.meta.fileBytes);
      const visit = async (off: number, checkIt: boolean): Promise<number> => {
        const o = rd.at(off);
        if (o < 0) return -1;
        const caplen = win.readUInt32LE(o + 8);
        const sec = win.readUInt32LE(o);
        const ns = win.readUInt32LE(o + 4);
        const us = tsUs(sec, ns);
        const next = off + RECORD_HEADER_LEN + caplen;
        if (us < pq.afterUs || us >= pq.beforeUs) return next;
        if (filter) {
          view.set(win, o + RECORD_HEADER_LEN, caplen, win.readUInt32LE(o + 12));
          if (!filter.match(view)) return next;
        }
        if (checkIt) {
          const p = decoder.decodeBytes(
            win,
            o + RECORD_HEADER_LEN,
            caplen,
            win.readUInt32LE(o + 12),
            v.meta.linkType,
            sec,
            ns,
            0,
          );
          if (!packetMatches(pq, p)) return next;
        }
        if (res.packets + 1 > maxPackets || res.bytes + caplen > maxBytes) {
          res.truncated = true;
          return -2;
        }
        res.packets++;
        res.bytes += caplen;
        if (w) await w.record(v.meta.linkType, win, o, caplen);
        return next;
      };
      if (all) {
        // Every packet: read the file sequentially, skipping 4096-packet blocks outside the window.
        const d = idx.d;
        const aSec = Number.isFinite(pq.afterUs) ? Math.floor(pq.afterUs / 1e6) : 0;
        const bSec = Number.isFinite(pq.beforeUs) ? Math.floor(pq.beforeUs / 1e6) : 0xffffffff;
        for (let m = 0; m < d.markOff.length; m++) {
          if (d.markMax[m]! < aSec || d.markMin[m]! > bSec) continue;
          const stop = m + 1 < d.markOff.length ? d.markOff[m + 1]! : v.meta.fileBytes;
          let off = d.markOff[m]!;
          while (off < stop) {
            res.candidates++;
            const r = await visit(off, false);
            if (r === -2) break outer;
            if (r < 0) break;
            off = r;
          }
        }
      } else {
        rd.sparse = offs;
        for (let i = 0; i < offs.length; i++) {
          rd.i = i;
          const r = await visit(offs[i]!, check !== null && check[i] === 1);
          if (r === -2) break outer;
          if (r === -1) break;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  if (w) await w.end();
  res.elapsedMs = Math.round((performance.now() - t0) * 1000) / 1000;
  return res;
}
