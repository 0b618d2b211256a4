/**
 * The collector's disk spool: datagrams the receiving thread cannot hand on at once are
 * appended to segment files, and decoding takes them from the head, in arrival order, at the
 * pace the store acknowledges results. Memory stays at the write and read buffers; disk is
 * bounded by `maxBytes` (past it `append` refuses and the caller counts `spool_full`).
 *
 * A segment (`<seq>.spool`) starts with an 8-byte magic and holds frames back to back, never
 * split across segments. A frame is a 20-byte little-endian header — CRC-32 of everything after
 * the CRC, payload length, kind, source index, receive time (ms, f64) — and the payload: the
 * datagram's bytes (kind 1) or, the first time a source appears in a segment, its
 * "port exporter" text (kind 2). Each segment is self-contained, so a released one is simply
 * deleted. The `cursor` file (segment and offset, 16 bytes written in place) says up to where
 * the store has acknowledged; on open, what follows it is drained again. A frame cut short by
 * a kill (or failing its CRC) ends its segment there: the file is truncated at the last whole
 * frame and the cut is counted (`torn`).
 */
import {
  closeSync,
  type Dirent,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface SpoolConfig {
  dir: string;
  /** Disk the spool may take (segments not yet released plus the write buffer), bytes. */
  maxBytes: number;
  /** A new segment starts past this size. */
  segmentBytes: number;
  /** Bytes buffered before a write; also the read buffer's size. */
  bufferBytes: number;
}

export const DEFAULT_SPOOL_CONFIG: Omit<SpoolConfig, 'dir'> = {
  maxBytes: 1024 * 2 ** 20,
  segmentBytes: 32 * 2 ** 20,
  bufferBytes: 1 * 2 ** 20,
};

export interface SpoolStats {
  /** Bytes on disk not yet released (read or not) plus the write buffer. */
  bytes: number;
  maxBytes: number;
  peakBytes: number;
  /** Datagrams appended and not read yet. */
  datagrams: number;
  /** Age of the backlog: now minus the receive time of the last datagram read (0 when empty). */
  seconds: number;
  segments: number;
  appended: number;
  read: number;
  /** Datagrams refused because the spool was full (or could not be written). */
  full: number;
  /**
   * Records in the datagrams refused when full, as the caller counted them from their headers
   * (`refusedRecords`); those lost to a failed write are in `full` only.
   */
  fullRecords: number;
  /** Frames cut at open (a torn or damaged tail). */
  torn: number;
  writeErrors: number;
}

/** A position in the spool: segment sequence number and byte offset. */
export interface SpoolPos {
  seq: number;
  off: number;
}

export type FrameSink = (
  buf: Buffer,
  off: number,
  len: number,
  exporter: string,
  port: number,
  ms: number,
) => void;

const MAGIC = Buffer.from('VSPOOL1\n', 'latin1');
const FILE_HDR = MAGIC.length;
export const FRAME_HDR = 20;
const KIND_DATAGRAM = 1;
const KIND_SOURCE = 2;
/** Larger than any UDP payload or IPFIX message (both carry 16-bit lengths). */
const MAX_PAYLOAD = 65_536;
const CURSOR = 'cursor';

const segName = (seq: number): string => `${String(seq).padStart(16, '0')}.spool`;

interface Source {
  exporter: string;
  port: number;
}

/** Write `len` bytes of `buf` at file position `pos`, however many calls that takes. */
function writeAll(fd: number, buf: Buffer, off: number, len: number, pos: number): void {
  while (len > 0) {
    const n = writeSync(fd, buf, off, len, pos);
    off += n;
    len -= n;
    pos += n;
  }
}

/** Buffers start 48 bytes into their allocation: reads and writes at a page-aligned address are slow here (PERF.md). */
function ioBuffer(n: number): Buffer {
  return Buffer.allocUnsafeSlow(n + 48).subarray(48);
}

export class Spool {
  private readonly cfg: SpoolConfig;
  /** Segments not deleted yet, oldest first, with their sizes on disk. */
  private readonly segs: { seq: number; size: number }[] = [];
  private diskBytes = 0;
  // ---- writer ----
  private wseq = 0;
  private wfd = -1;
  /** Bytes of the write segment on disk. */
  private wsize = 0;
  private readonly wbuf: Buffer;
  private wlen = 0;
  /** Datagrams in the write buffer (lost, and counted, if it cannot be written). */
  private wcount = 0;
  private wsrc = new Map<string, number>();
  private lastExporter = '';
  private lastPort = -1;
  private lastIdx = -1;
  // ---- reader ----
  private rseq = 0;
  private rfd = -1;
  /** File offset of the next frame. */
  private roff = 0;
  private readonly rbuf: Buffer;
  /** The read buffer holds file bytes [rbase, rbase + rlen). */
  private rbase = 0;
  private rlen = 0;
  private rsrc: Source[] = [];
  private lastReadMs = 0;
  /** The last position released (the cursor). */
  private released: SpoolPos | null = null;
  private firstPendingMs = 0;
  private readonly s: SpoolStats;

  private constructor(cfg: SpoolConfig) {
    this.cfg = cfg;
    this.wbuf = ioBuffer(cfg.bufferBytes);
    this.rbuf = ioBuffer(cfg.bufferBytes);
    this.s = {
      bytes: 0,
      maxBytes: cfg.maxBytes,
      peakBytes: 0,
      datagrams: 0,
      seconds: 0,
      segments: 0,
      appended: 0,
      read: 0,
      full: 0,
      fullRecords: 0,
      torn: 0,
      writeErrors: 0,
    };
  }

  /**
   * Open the spool in `dir`: segments left by an earlier run are checked frame by frame (a
   * torn tail is truncated and counted), and what follows the cursor waits to be read again.
   */
  static open(config: Partial<SpoolConfig> & { dir: string }): Spool {
    const cfg: SpoolConfig = { ...DEFAULT_SPOOL_CONFIG, ...config };
    if (cfg.bufferBytes < FRAME_HDR + MAX_PAYLOAD + 64) cfg.bufferBytes = FRAME_HDR + MAX_PAYLOAD + 64;
    const sp = new Spool(cfg);
    mkdirSync(cfg.dir, { recursive: true });
    sp.recover();
    return sp;
  }

  private recover(): void {
    const dir = this.cfg.dir;
    const seqs = readdirSync(dir, { withFileTypes: true })
      .filter((d: Dirent) => d.isFile() && /^\d{16}\.spool$/.test(d.name))
      .map((d) => Number(d.name.slice(0, 16)))
      .sort((a, b) => a - b);
    const cur = this.readCursor();
    this.released = cur;
    let first = true;
    for (const seq of seqs) {
      const path = join(dir, segName(seq));
      if (cur && seq < cur.seq) {
        unlinkSync(path);
        continue;
      }
      const from = cur && seq === cur.seq ? cur.off : FILE_HDR;
      const { size, datagrams, sources, firstMs } = this.scan(path, from);
      if (size <= FILE_HDR && !(cur && seq === cur.seq)) {
        unlinkSync(path);
        continue;
      }
      this.segs.push({ seq, size });
      this.diskBytes += size;
      this.s.datagrams += datagrams;
      if (first) {
        first = false;
        this.rseq = seq;
        this.roff = Math.min(from, size);
        this.rsrc = sources;
        if (datagrams > 0) this.firstPendingMs = firstMs;
      } else if (this.firstPendingMs === 0 && datagrams > 0) this.firstPendingMs = firstMs;
    }
    const last = this.segs[this.segs.length - 1];
    // Appends go to a new segment: the old ones stay exactly as checked.
    this.wseq = (last?.seq ?? cur?.seq ?? 0) + 1;
    if (first) {
      this.rseq = this.wseq;
      this.roff = FILE_HDR;
    }
    this.updateBytes();
  }

  /** Check a segment: frames from the start (sources) and from `from` (pending datagrams). */
  private scan(
    path: string,
    from: number,
  ): { size: number; datagrams: number; bytes: number; sources: Source[]; firstMs: number } {
    const fd = openSync(path, 'r+');
    try {
      const fileSize = fstatSync(fd).size;
      const sources: Source[] = [];
      const hdr = Buffer.alloc(FRAME_HDR);
      let datagrams = 0;
      let bytes = 0;
      let firstMs = 0;
      let off = FILE_HDR;
      const magic = Buffer.alloc(FILE_HDR);
      if (readSync(fd, magic, 0, FILE_HDR, 0) !== FILE_HDR || !magic.equals(MAGIC)) {
        ftruncateSync(fd, 0);
        if (fileSize > 0) this.s.torn++;
        return { size: 0, datagrams: 0, bytes: 0, sources, firstMs };
      }
      const body = Buffer.allocUnsafe(MAX_PAYLOAD + FRAME_HDR);
      while (off < fileSize) {
        const len = this.frameAt(fd, off, fileSize, hdr, body);
        if (len < 0) {
          // A torn or damaged frame: everything from here on is cut.
          ftruncateSync(fd, off);
          this.s.torn++;
          break;
        }
        const kind = hdr[8]!;
        if (kind === KIND_SOURCE) {
          const text = body.toString('utf8', FRAME_HDR, FRAME_HDR + len);
          const sp = text.indexOf(' ');
          sources[hdr.readUInt16LE(10)] = { exporter: text.slice(sp + 1), port: Number(text.slice(0, sp)) };
        } else if (off >= from) {
          datagrams++;
          if (firstMs === 0) firstMs = hdr.readDoubleLE(12);
        }
        if (off >= from) bytes += FRAME_HDR + len;
        off += FRAME_HDR + len;
      }
      return { size: Math.min(off, fileSize), datagrams, bytes, sources, firstMs };
    } finally {
      closeSync(fd);
    }
  }

  /** Read and check the frame at `off`; its payload length, or -1 when torn or damaged. */
  private frameAt(fd: number, off: number, fileSize: number, hdr: Buffer, body: Buffer): number {
    if (fileSize - off < FRAME_HDR) return -1;
    readSync(fd, hdr, 0, FRAME_HDR, off);
    const len = hdr.readUInt32LE(4);
    const kind = hdr[8]!;
    if (len > MAX_PAYLOAD || (kind !== KIND_DATAGRAM && kind !== KIND_SOURCE)) return -1;
    if (fileSize - off < FRAME_HDR + len) return -1;
    hdr.copy(body, 0);
    if (len > 0) readSync(fd, body, FRAME_HDR, len, off + FRAME_HDR);
    if (crc32(body.subarray(4, FRAME_HDR + len)) !== hdr.readUInt32LE(0)) return -1;
    return len;
  }

  private readCursor(): SpoolPos | null {
    let fd: number;
    try {
      fd = openSync(join(this.cfg.dir, CURSOR), 'r');
    } catch {
      return null;
    }
    try {
      const b = Buffer.alloc(16);
      if (readSync(fd, b, 0, 16, 0) !== 16) return null;
      const seq = b.readDoubleLE(0);
      const off = b.readDoubleLE(8);
      return Number.isSafeInteger(seq) && Number.isSafeInteger(off) && seq >= 0 && off >= FILE_HDR
        ? { seq, off }
        : null;
    } finally {
      closeSync(fd);
    }
  }

  private writeCursor(pos: SpoolPos): void {
    const b = Buffer.alloc(16);
    b.writeDoubleLE(pos.seq, 0);
    b.writeDoubleLE(pos.off, 8);
    const fd = openSync(join(this.cfg.dir, CURSOR), 'w');
    try {
      writeAll(fd, b, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
  }

  private updateBytes(): void {
    const b = this.diskBytes + this.wlen;
    this.s.bytes = b;
    if (b > this.s.peakBytes) this.s.peakBytes = b;
    this.s.segments = this.segs.length;
  }

  /** Datagrams waiting to be read. */
  get pending(): number {
    return this.s.datagrams;
  }

  stats(now = Date.now()): SpoolStats {
    this.updateBytes();
    const since = this.lastReadMs > this.firstPendingMs ? this.lastReadMs : this.firstPendingMs;
    this.s.seconds = this.s.datagrams > 0 && since > 0 ? Math.max(0, (now - since) / 1000) : 0;
    return { ...this.s };
  }

  /** Count the records of a datagram `append` refused (the caller reads them from its headers). */
  refusedRecords(n: number): void {
    this.s.fullRecords += n;
  }

  /**
   * Append one datagram. False when the spool is full (or the disk refused the write): the
   * caller drops it and counts `spool_full`.
   */
  append(data: Uint8Array, off: number, len: number, exporter: string, port: number, ms: number): boolean {
    if (len > MAX_PAYLOAD) {
      this.s.full++;
      return false;
    }
    let idx = this.lastIdx;
    const known = exporter === this.lastExporter && port === this.lastPort && this.wfd >= 0;
    let srcLen = 0;
    let key = '';
    if (!known) {
      key = `${port} ${exporter}`;
      const i = this.wsrc.get(key);
      if (i === undefined) srcLen = FRAME_HDR + Buffer.byteLength(key);
      else idx = i;
    }
    let need = srcLen + FRAME_HDR + len;
    if (this.diskBytes + this.wlen + need > this.cfg.maxBytes) {
      this.s.full++;
      return false;
    }
    if (
      this.wfd < 0 ||
      (this.wsize + this.wlen + need > this.cfg.segmentBytes && this.wsize + this.wlen > FILE_HDR)
    ) {
      if (!this.roll()) {
        this.s.full++;
        return false;
      }
      if (srcLen === 0) {
        key = `${port} ${exporter}`;
        srcLen = FRAME_HDR + Buffer.byteLength(key);
        need += srcLen;
      }
    }
    if (this.wlen + need > this.wbuf.length && !this.flush()) {
      this.s.full++;
      return false;
    }
    if (srcLen > 0) {
      idx = this.wsrc.size;
      this.wsrc.set(key, idx);
      const n = this.wbuf.write(key, this.wlen + FRAME_HDR, 'utf8');
      this.header(KIND_SOURCE, n, idx, 0);
    }
    this.lastExporter = exporter;
    this.lastPort = port;
    this.lastIdx = idx;
    this.wbuf.set(
      len === data.length && off === 0 ? data : data.subarray(off, off + len),
      this.wlen + FRAME_HDR,
    );
    this.header(KIND_DATAGRAM, len, idx, ms);
    this.wcount++;
    if (this.s.datagrams === 0) this.firstPendingMs = ms;
    this.s.datagrams++;
    this.s.appended++;
    const b = this.diskBytes + this.wlen;
    if (b > this.s.peakBytes) this.s.peakBytes = b;
    return true;
  }

  /** Write a frame header at the end of the write buffer (payload already in place) and take it in. */
  private header(kind: number, len: number, idx: number, ms: number): void {
    const o = this.wlen;
    const w = this.wbuf;
    w.writeUInt32LE(len, o + 4);
    w[o + 8] = kind;
    w[o + 9] = 0;
    w.writeUInt16LE(idx, o + 10);
    w.writeDoubleLE(ms, o + 12);
    w.writeUInt32LE(crc32(w.subarray(o + 4, o + FRAME_HDR + len)), o);
    this.wlen = o + FRAME_HDR + len;
  }

  /** Start the next segment (the current one is complete). */
  private roll(): boolean {
    if (!this.flush()) return false;
    if (this.wfd >= 0) {
      closeSync(this.wfd);
      this.wfd = -1;
      this.wseq++;
    }
    try {
      this.wfd = openSync(join(this.cfg.dir, segName(this.wseq)), 'w');
      writeAll(this.wfd, MAGIC, 0, FILE_HDR, 0);
    } catch {
      this.s.writeErrors++;
      if (this.wfd >= 0) closeSync(this.wfd);
      this.wfd = -1;
      return false;
    }
    this.wsize = FILE_HDR;
    this.segs.push({ seq: this.wseq, size: FILE_HDR });
    this.diskBytes += FILE_HDR;
    this.wsrc = new Map();
    this.lastExporter = '';
    this.lastPort = -1;
    this.lastIdx = -1;
    return true;
  }

  /** Write the buffer to the segment. False (its datagrams counted as `full`) when the disk refuses. */
  flush(): boolean {
    if (this.wlen === 0) return true;
    try {
      writeAll(this.wfd, this.wbuf, 0, this.wlen, this.wsize);
    } catch {
      // The disk is full or failing: what the buffer held is lost, and counted.
      this.s.writeErrors++;
      this.s.full += this.wcount;
      this.s.datagrams -= this.wcount;
      this.s.appended -= this.wcount;
      try {
        ftruncateSync(this.wfd, this.wsize);
      } catch {}
      this.wlen = 0;
      this.wcount = 0;
      // Sources defined in the lost part must be defined again.
      this.wsrc = new Map();
      this.lastExporter = '';
      this.lastPort = -1;
      return false;
    }
    this.wsize += this.wlen;
    this.diskBytes += this.wlen;
    this.segs[this.segs.length - 1]!.size = this.wsize;
    this.wlen = 0;
    this.wcount = 0;
    return true;
  }

  /** Size of segment `seq` as far as it can be read now (flushing the writer when it is the one). */
  private readable(seq: number): number {
    if (seq === this.wseq && this.wfd >= 0) {
      if (this.wlen > 0) this.flush();
      return this.wsize;
    }
    for (const s of this.segs) if (s.seq === seq) return s.size;
    return 0;
  }

  /**
   * Hand up to `max` datagrams from the head to `sink`, in order; returns how many. The bytes
   * passed are valid only during the call.
   */
  read(max: number, sink: FrameSink): number {
    let n = 0;
    while (n < max && this.s.datagrams > 0) {
      if (this.rfd < 0) {
        if (!this.segs.some((s) => s.seq === this.rseq)) {
          // The reader's segment is gone (released empty): go to the oldest left.
          const next = this.segs.find((s) => s.seq > this.rseq);
          if (!next) break;
          this.enter(next.seq);
        }
        try {
          this.rfd = openSync(join(this.cfg.dir, segName(this.rseq)), 'r');
        } catch {
          break;
        }
        this.rbase = this.roff;
        this.rlen = 0;
      }
      const size = this.readable(this.rseq);
      if (this.roff >= size) {
        if (this.rseq === this.wseq) break;
        const next = this.segs.find((s) => s.seq > this.rseq);
        if (!next) break;
        closeSync(this.rfd);
        this.rfd = -1;
        this.enter(next.seq);
        continue;
      }
      // The frame header, then the whole frame, in the read buffer.
      let at = this.roff - this.rbase;
      if (at + FRAME_HDR > this.rlen && !this.fill(size)) break;
      at = this.roff - this.rbase;
      const b = this.rbuf;
      const len = b.readUInt32LE(at + 4);
      if (at + FRAME_HDR + len > this.rlen) {
        if (!this.fill(size)) break;
        at = this.roff - this.rbase;
        if (at + FRAME_HDR + len > this.rlen) break;
      }
      const kind = b[at + 8]!;
      const idx = b.readUInt16LE(at + 10);
      this.roff += FRAME_HDR + len;
      if (kind === KIND_SOURCE) {
        const text = b.toString('utf8', at + FRAME_HDR, at + FRAME_HDR + len);
        const sp = text.indexOf(' ');
        this.rsrc[idx] = { exporter: text.slice(sp + 1), port: Number(text.slice(0, sp)) };
        continue;
      }
      const ms = b.readDoubleLE(at + 12);
      const src = this.rsrc[idx] ?? { exporter: 'unknown', port: 0 };
      this.s.datagrams--;
      this.s.read++;
      this.lastReadMs = ms;
      n++;
      sink(b, at + FRAME_HDR, len, src.exporter, src.port, ms);
    }
    if (this.s.datagrams === 0) {
      this.lastReadMs = 0;
      this.firstPendingMs = 0;
    }
    return n;
  }

  private enter(seq: number): void {
    this.rseq = seq;
    this.roff = FILE_HDR;
    this.rsrc = [];
    this.rbase = FILE_HDR;
    this.rlen = 0;
  }

  /** Move the unread part of the read buffer to its start and read more, up to `size`. */
  private fill(size: number): boolean {
    const at = this.roff - this.rbase;
    const keep = Math.max(0, this.rlen - at);
    if (keep > 0 && at > 0) this.rbuf.copyWithin(0, at, this.rlen);
    this.rbase = this.roff;
    this.rlen = keep;
    const want = Math.min(this.rbuf.length - keep, size - (this.rbase + keep));
    if (want <= 0) return false;
    const got = readSync(this.rfd, this.rbuf, keep, want, this.rbase + keep);
    this.rlen += got;
    return got > 0;
  }

  /** Read past everything before `pos` without handing it on (it was handed on already). */
  skipTo(pos: SpoolPos): void {
    const noop = (): void => {};
    while (this.s.datagrams > 0 && (this.rseq < pos.seq || (this.rseq === pos.seq && this.roff < pos.off)))
      if (this.read(1, noop) === 0) break;
  }

  /** Where the reader is: everything before it has been read. */
  position(): SpoolPos {
    return { seq: this.rseq, off: this.roff };
  }

  /**
   * Everything before `pos` is stored: delete the segments before it and move the cursor. When
   * the spool is empty and all of it released, the write segment goes too.
   */
  release(pos: SpoolPos): void {
    // Positions only move forward (a late acknowledgement must not bring back what is stored).
    const c = this.released;
    if (c && (pos.seq < c.seq || (pos.seq === c.seq && pos.off <= c.off))) return;
    this.released = pos;
    while (this.segs.length > 0 && this.segs[0]!.seq < pos.seq && this.segs[0]!.seq !== this.wseq) {
      const s = this.segs.shift()!;
      this.diskBytes -= s.size;
      try {
        unlinkSync(join(this.cfg.dir, segName(s.seq)));
      } catch {}
    }
    if (
      this.s.datagrams === 0 &&
      pos.seq === this.rseq &&
      pos.off === this.roff &&
      this.wlen === 0 &&
      (this.rseq !== this.wseq || this.roff >= this.wsize)
    ) {
      // Nothing left: no files, the next backlog starts a new segment.
      if (this.rfd >= 0) closeSync(this.rfd);
      this.rfd = -1;
      if (this.wfd >= 0) {
        closeSync(this.wfd);
        this.wfd = -1;
      }
      for (const s of this.segs.splice(0)) {
        try {
          unlinkSync(join(this.cfg.dir, segName(s.seq)));
        } catch {}
      }
      this.diskBytes = 0;
      this.wseq = Math.max(this.wseq, this.rseq) + 1;
      this.enter(this.wseq);
      this.released = { seq: this.wseq, off: FILE_HDR };
      this.writeCursor(this.released);
    } else this.writeCursor(pos);
    this.updateBytes();
  }

  /** Write what is buffered and close the files (the spool is reopened by `open`). */
  close(): void {
    this.flush();
    if (this.wfd >= 0) closeSync(this.wfd);
    if (this.rfd >= 0) closeSync(this.rfd);
    this.wfd = -1;
    this.rfd = -1;
  }
}
