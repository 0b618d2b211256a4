import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/capture-file.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { Sensor } from '../flow/sensor.js';
import { PCAP_HEADER_LEN, RECORD_HEADER_LEN } from './pcap-format.js';
import { IndexBuilder, SegmentIndex, type SegmentMeta } from './segment-index.js';

/** One pcap segment of the store and what is known of it without reading its packets. */
export interface Segment {
  seq: number;
  path: string;
  idxPath: string;
  meta: SegmentMeta;
  /** Bytes on disk (pcap + index). */
  diskBytes: number;
  /** Wall-clock time (ms) the segment was closed; used by the age budget. */
  closedAt: number;
}

/** The segment being written, as the recorder publishes it after each flush. */
export interface LiveSegment {
  seq: number;
  path: string;
  linkType: number;
  builder: IndexBuilder;
  flushedPackets: number;
  flushedBytes: number;
}

export interface StoreCounters {
  segmentsDeleted: number;
  bytesDeleted: number;
  segmentsRecovered: number;
}

const SEG_RE = /^seg-(\d{12})\.pcap$/;

export function segmentName(seq: number): string {
  return `seg-${String(seq).padStart(12, '0')}.pcap`;
}

/**
 * A directory of pcap segments plus their indexes. Opening recovers segments a crash left
 * without a (whole) index: with `writable` the torn last record is cut off and the index is
 * rebuilt and written; read-only, the index is rebuilt in memory.
 */
export class PcapStore {
  readonly segments: Segment[] = [];
  live: LiveSegment | null = null;
  readonly counters: StoreCounters = { segmentsDeleted: 0, bytesDeleted: 0, segmentsRecovered: 0 };
  private readonly loaded = new Map<number, SegmentIndex>();
  private liveSnap: { seq: number; packets: number; idx: SegmentIndex } | null = null;

  private constructor(
    readonly dir: string,
    readonly writable: boolean,
    readonly log: Logger,
  ) {}

  static async open(dir: string, opts: { writable?: boolean; log?: Logger } = {}): Promise<PcapStore> {
    const writable = opts.writable ?? false;
    if (writable) mkdirSync(dir, { recursive: true });
    else if (!existsSync(dir)) throw new Error(`packet store ${dir} does not exist`);
    const s = new PcapStore(dir, writable, opts.log ?? silentLogger);
    const names = readdirSync(dir)
      .filter((n) => SEG_RE.test(n))
      .sort();
    for (const n of names) {
      const seq = Number(SEG_RE.exec(n)![1]);
      await s.addSegment(seq);
    }
    return s;
  }

  get nextSeq(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.seq + 1 : 1;
  }

  /** Register a segment file: load its index header, or recover it. */
  async addSegment(seq: number): Promise<Segment | null> {
    const path = join(this.dir, segmentName(seq));
    const idxPath = `${path}.idx`;
    let size: number;
    let mtime: number;
    try {
      const st = statSync(path);
      size = st.size;
      mtime = st.mtimeMs;
    } catch {
      return null;
    }
    let idx = SegmentIndex.read(idxPath);
    if (idx && idx.meta.fileBytes !== size) idx = null;
    if (!idx) {
      idx = await rebuildIndex(path, this.writable);
      if (!idx && size < PCAP_HEADER_LEN + 32) {
        // A crash between creating a segment and writing its header (what follows is at most
        // the start of a torn first write): it holds no packet.
        this.counters.segmentsRecovered++;
        if (this.writable) {
          rmSync(path, { force: true });
          rmSync(idxPath, { force: true });
          this.log.info('empty pcap segment left by a crash removed', { path });
        }
        return null;
      }
      if (!idx) {
        this.log.warn('pcap segment unreadable; left aside', { path });
        return null;
      }
      this.counters.segmentsRecovered++;
      if (this.writable) {
        idx.write(idxPath);
        this.log.info('pcap segment recovered', { path, packets: idx.meta.packets });
      }
    }
    let idxBytes = 0;
    try {
      idxBytes = statSync(idxPath).size;
    } catch {}
    const seg: Segment = {
      seq,
      path,
      idxPath,
      meta: idx.meta,
      diskBytes: idx.meta.fileBytes + idxBytes,
      closedAt: mtime,
    };
    this.loaded.set(seq, idx);
    this.segments.push(seg);
    this.segments.sort((a, b) => a.seq - b.seq);
    return seg;
  }

  /** The index of a closed segment (loaded once, kept) or a snapshot of the live one. */
  index(seq: number): SegmentIndex | null {
    const live = this.live;
    if (live && live.seq === seq) {
      const snap = this.liveSnap;
      if (snap && snap.seq === seq && snap.packets === live.flushedPackets) return snap.idx;
      const idx = live.builder.build(live.flushedPackets, live.flushedBytes);
      this.liveSnap = { seq, packets: live.flushedPackets, idx };
      return idx;
    }
    let idx = this.loaded.get(seq);
    if (!idx) {
      const seg = this.segments.find((s) => s.seq === seq);
      if (!seg) return null;
      idx = SegmentIndex.read(seg.idxPath) ?? undefined;
      if (!idx) return null;
      this.loaded.set(seq, idx);
    }
    return idx;
  }

  /** Every segment a search should look at, closed ones first, then the live one. */
  views(): { seq: number; path: string; meta: SegmentMeta }[] {
    const out: { seq: number; path: string; meta: SegmentMeta }[] = this.segments.map((s) => ({
      seq: s.seq,
      path: s.path,
      meta: s.meta,
    }));
    const live = this.live;
    if (live && live.flushedPackets > 0) {
      const b = live.builder;
      out.push({
        seq: live.seq,
        path: live.path,
        meta: {
          linkType: live.linkType,
          packets: live.flushedPackets,
          fileBytes: live.flushedBytes,
          firstSec: b.firstSec,
          firstNs: b.firstNs,
          lastSec: b.lastSec,
          lastNs: b.lastNs,
          flows: 0,
          rebuilt: false,
        },
      });
    }
    return out;
  }

  totalBytes(): number {
    let n = this.live ? this.live.flushedBytes : 0;
    for (const s of this.segments) n += s.diskBytes;
    return n;
  }

  /**
   * Delete the oldest closed segments until the store is within `maxBytes` (0 = no limit) and
   * none is older than `maxAgeMs` (0 = no limit). The live segment is never deleted, so the
   * store exceeds its budget by at most that one segment.
   */
  enforceBudget(maxBytes: number, maxAgeMs: number, now: number, liveBytes = 0): void {
    if (!this.writable) return;
    let total = liveBytes;
    for (const s of this.segments) total += s.diskBytes;
    while (this.segments.length > 0) {
      const s = this.segments[0]!;
      const overBytes = maxBytes > 0 && total > maxBytes;
      const overAge = maxAgeMs > 0 && now - s.closedAt > maxAgeMs;
      if (!overBytes && !overAge) break;
      this.segments.shift();
      this.loaded.delete(s.seq);
      for (const p of [s.idxPath, s.path]) {
        try {
          unlinkSync(p);
        } catch {}
      }
      total -= s.diskBytes;
      this.counters.segmentsDeleted++;
      this.counters.bytesDeleted += s.diskBytes;
      this.log.info('pcap segment deleted by budget', { path: s.path, reason: overBytes ? 'bytes' : 'age' });
    }
  }
}

/**
 * Rebuild a segment's index by replaying it through a sensor. With `repair`, a torn last
 * record is cut off so the file is a clean pcap again.
 */
export async function rebuildIndex(path: string, repair: boolean): Promise<SegmentIndex | null> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return null;
  }
  const head = Buffer.alloc(PCAP_HEADER_LEN);
  const fd = openSync(path, repair ? 'r+' : 'r');
  try {
    if (readSync(fd, head, 0, PCAP_HEADER_LEN, 0) < PCAP_HEADER_LEN) return null;
  } finally {
    closeSync(fd);
  }
  const magic = head.readUInt32LE(0);
  if (magic !== 0xa1b23c4d && magic !== 0xa1b2c3d4) return null;
  const linkType = head.readUInt32LE(20) & 0x0fffffff;
  const builder = new IndexBuilder(linkType, true);
  const sensor = new Sensor(() => {});
  let off = PCAP_HEADER_LEN;
  sensor.addHook({
    name: 'pcap-rebuild',
    onPacket(p, flows, slot) {
      const rec = RECORD_HEADER_LEN + p.caplen;
      builder.add(p, off, rec, flows, slot);
      off += rec;
    },
  });
  await readCaptureFile(path, sensor.onFrame);
  if (off < size && repair) {
    const wfd = openSync(path, 'r+');
    try {
      ftruncateSync(wfd, off);
    } finally {
      closeSync(wfd);
    }
  }
  return builder.build(builder.packets, off);
}
