import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { be16, be32, le16, le32 } from '../common/bytes.js';
import type { Frame, FrameHandler } from './frame.js';
import { newFrame } from './frame.js';

/** Largest frame a capture record may claim (libpcap's and Wireshark's standard limit). */
export const MAX_RECORD = 262_144;
/** Largest pcapng block accepted; anything bigger is treated as corruption. */
const MAX_BLOCK = 16 * 1024 * 1024;
/**
 * Bytes read at a time. Small enough that what read() copied is still in the core's L2 cache
 * (1 MiB here) when the records are parsed and decoded: with 4 MiB reads each record header
 * and packet header came from L3, and metering a realistic capture cost ~20% more CPU.
 */
const CHUNK = 256 * 1024;
/**
 * Reads land at this offset inside the working buffer: a read() into an address 16 bytes
 * past a page boundary (where large Buffers start) runs 3x slower on this class of machine.
 */
const READ_ALIGN = 48;

export class CaptureError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'CaptureError';
  }
}

export interface CaptureSummary {
  format: 'pcap' | 'pcapng';
  packets: number;
  bytes: number;
  /** Set when the file is truncated or corrupt; every packet before the damage was delivered. */
  error: CaptureError | null;
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second (10^n or 2^n). */
  units: number;
  tsOffset: number;
}

/**
 * Incremental parser for pcap and pcapng. It is fed a window of bytes and consumes as many
 * whole records as are present, so a record crossing a chunk edge is simply completed by the
 * next read.
 */
export class CaptureParser {
  format: 'pcap' | 'pcapng' | null = null;
  packets = 0;
  bytes = 0;
  private le = true;
  private pcapLink = 1;
  private pcapUnits = 1e6;
  private pcapSnap = MAX_RECORD;
  private ifaces: Iface[] = [];
  private readonly frame: Frame = newFrame();

  constructor(private readonly onFrame: FrameHandler) {}

  /**
   * Parse whole records in buf[start,end). `fileOff` is the file offset of buf[start].
   * Returns the new start; throws CaptureError on corruption.
   */
  parse(buf: Buffer, start: number, end: number, fileOff: number): number {
    if (this.format === null) {
      if (end - start < 4) return start;
      const m = le32(buf, start);
      if (m === 0x0a0d0d0a) this.format = 'pcapng';
      else if (m === 0xa1b2c3d4 || m === 0xa1b23c4d || m === 0xd4c3b2a1 || m === 0x4d3cb2a1)
        this.format = 'pcap';
      else
        throw new CaptureError(
          `not a pcap or pcapng file (magic 0x${m.toString(16).padStart(8, '0')})`,
          fileOff,
        );
    }
    return this.format === 'pcap'
      ? this.parsePcap(buf, start, end, fileOff)
      : this.parseNg(buf, start, end, fileOff);
  }

  private headerDone = false;

  private parsePcap(buf: Buffer, start: number, end: number, fileOff: number): number {
    let p = start;
    if (!this.headerDone) {
      if (end - p < 24) return p;
      const m = le32(buf, p);
      this.le = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
      this.pcapUnits = m === 0xa1b23c4d || m === 0x4d3cb2a1 ? 1e9 : 1e6;
      const snap = this.le ? le32(buf, p + 16) : be32(buf, p + 16);
      const lt = this.le ? le32(buf, p + 20) : be32(buf, p + 20);
      this.pcapLink = lt & 0x0fffffff; // upper bits carry FCS length flags
      this.pcapSnap = snap > MAX_RECORD ? snap : MAX_RECORD;
      this.headerDone = true;
      p += 24;
    }
    const f = this.frame;
    f.buf = buf;
    f.linkType = this.pcapLink;
    f.ifIndex = 0;
    const le = this.le;
    const nsMul = this.pcapUnits === 1e6 ? 1000 : 1;
    const maxRec = this.pcapSnap;
    while (end - p >= 16) {
      const incl = le ? le32(buf, p + 8) : be32(buf, p + 8);
      if (incl > maxRec) {
        throw new CaptureError(
          `corrupt pcap record: captured length ${incl} exceeds the maximum ${maxRec}`,
          fileOff + (p - start),
        );
      }
      if (end - p < 16 + incl) break;
      const sec = le ? le32(buf, p) : be32(buf, p);
      const frac = le ? le32(buf, p + 4) : be32(buf, p + 4);
      const orig = le ? le32(buf, p + 12) : be32(buf, p + 12);
      f.tsSec = sec;
      f.tsNs = frac * nsMul;
      if (f.tsNs >= 1e9) {
        f.tsSec += Math.floor(f.tsNs / 1e9);
        f.tsNs %= 1e9;
      }
      f.off = p + 16;
      f.caplen = incl;
      f.wirelen = orig < incl ? incl : orig;
      this.packets++;
      this.bytes += incl;
      this.onFrame(f);
      p += 16 + incl;
    }
    return p;
  }

  private parseNg(buf: Buffer, start: number, end: number, fileOff: number): number {
    let p = start;
    const f = this.frame;
    f.buf = buf;
    while (end - p >= 12) {
      const rawType = le32(buf, p);
      if (rawType === 0x0a0d0d0a) {
        // Section header: the byte-order magic decides how everything after it is read.
        const bom = le32(buf, p + 8);
        if (bom === 0x1a2b3c4d) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else
          throw new CaptureError(
            `corrupt pcapng section header: byte-order magic 0x${bom.toString(16)}`,
            fileOff + (p - start),
          );
        this.ifaces = [];
      }
      const le = this.le;
      const type = le ? rawType : be32(buf, p);
      const len = le ? le32(buf, p + 4) : be32(buf, p + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        throw new CaptureError(`corrupt pcapng block: total length ${len}`, fileOff + (p - start));
      }
      if (end - p < len) break;
      const trailer = le ? le32(buf, p + len - 4) : be32(buf, p + len - 4);
      if (trailer !== len) {
        throw new CaptureError(
          `corrupt pcapng block: trailing length ${trailer} differs from ${len}`,
          fileOff + (p - start),
        );
      }
      const body = p + 8;
      const bodyEnd = p + len - 4;
      if (type === 1) this.readIdb(buf, body, bodyEnd);
      else if (type === 6 || type === 2) {
        if (bodyEnd - body < 20)
          throw new CaptureError('corrupt pcapng packet block: too short', fileOff + (p - start));
        const ifId = type === 6 ? this.u32(buf, body) : this.u16(buf, body);
        const iface = this.ifaces[ifId];
        if (iface === undefined) {
          throw new CaptureError(
            `pcapng packet block names interface ${ifId}, which was not described`,
            fileOff + (p - start),
          );
        }
        const caplen = this.u32(buf, body + 12);
        const orig = this.u32(buf, body + 16);
        if (caplen > bodyEnd - body - 20 || caplen > MAX_RECORD) {
          throw new CaptureError(
            `corrupt pcapng packet block: captured length ${caplen}`,
            fileOff + (p - start),
          );
        }
        this.setTs(this.u32(buf, body + 4), this.u32(buf, body + 8), iface);
        f.linkType = iface.linkType;
        f.ifIndex = ifId;
        f.off = body + 20;
        f.caplen = caplen;
        f.wirelen = orig < caplen ? caplen : orig;
        this.packets++;
        this.bytes += caplen;
        this.onFrame(f);
      } else if (type === 3) {
        const iface = this.ifaces[0];
        if (iface === undefined) {
          throw new CaptureError(
            'pcapng simple packet block before any interface description',
            fileOff + (p - start),
          );
        }
        const orig = this.u32(buf, body);
        let caplen = bodyEnd - body - 4;
        if (orig < caplen) caplen = orig;
        if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
        // A simple packet block carries no timestamp.
        f.tsSec = 0;
        f.tsNs = 0;
        f.linkType = iface.linkType;
        f.ifIndex = 0;
        f.off = body + 4;
        f.caplen = caplen;
        f.wirelen = orig < caplen ? caplen : orig;
        this.packets++;
        this.bytes += caplen;
        this.onFrame(f);
      }
      p += len;
    }
    return p;
  }

  private u16(buf: Buffer, o: number): number {
    return this.le ? le16(buf, o) : be16(buf, o);
  }
  private u32(buf: Buffer, o: number): number {
    return this.le ? le32(buf, o) : be32(buf, o);
  }

  private readIdb(buf: Buffer, body: number, end: number): void {
    const iface: Iface = {
      linkType: this.u16(buf, body),
      snaplen: this.u32(buf, body + 4),
      units: 1e6,
      tsOffset: 0,
    };
    let o = body + 8;
    while (o + 4 <= end) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      const v = o + 4;
      if (code === 0 || v + olen > end) break;
      if (code === 9 && olen >= 1) {
        const r = buf[v]!;
        const exp = r & 0x7f;
        iface.units = r & 0x80 ? 2 ** exp : 10 ** exp;
      } else if (code === 14 && olen >= 8) {
        const hi = this.u32(buf, this.le ? v + 4 : v);
        const lo = this.u32(buf, this.le ? v : v + 4);
        iface.tsOffset = hi * 4294967296 + lo;
      }
      o = v + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  /** Split a 64-bit timestamp in `units` per second into seconds and nanoseconds, exactly. */
  private setTs(hi: number, lo: number, iface: Iface): void {
    const u = iface.units;
    const f = this.frame;
    let sec: number;
    let rem: number;
    if (hi < 0x200000) {
      const ts = hi * 4294967296 + lo; // exact below 2^53
      sec = Math.floor(ts / u);
      rem = ts - sec * u;
    } else if (u <= 4294967296) {
      // (hi * 2^32 + lo) mod u without leaving the exact range of a double.
      let r = hi % u;
      r = (r * 65536) % u;
      r = (r * 65536) % u;
      rem = (r + (lo % u)) % u;
      sec = Math.round((hi * 4294967296 - rem + lo) / u);
    } else {
      const ts = hi * 4294967296 + lo;
      sec = Math.floor(ts / u);
      rem = 0;
    }
    f.tsSec = sec + iface.tsOffset;
    f.tsNs = u === 1e9 ? rem : u === 1e6 ? rem * 1000 : Math.floor((rem * 1e9) / u);
  }
}

/**
 * Read a pcap or pcapng file (optionally gzip-compressed) and call `onFrame` for every packet.
 * Never throws for bad content: damage ends the read and is returned in `error`.
 *
 * `between` runs after each block of the file (256 KiB): a consumer that hands records to
 * asynchronous work (the store) returns a promise there to hold the read until that work has
 * caught up, so memory stays bounded however large the file.
 */
export async function readCaptureFile(
  path: string,
  onFrame: FrameHandler,
  between?: () => Promise<void> | undefined,
): Promise<CaptureSummary> {
  const parser = new CaptureParser(onFrame);
  let error: CaptureError | null = null;
  let work = Buffer.allocUnsafeSlow(CHUNK + READ_ALIGN);
  let start = READ_ALIGN;
  let end = READ_ALIGN;
  let fileOff = 0; // file offset (of decompressed stream) of work[start]

  const compact = (need: number): void => {
    const have = end - start;
    if (READ_ALIGN + have + need > work.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(work.length * 2, READ_ALIGN + have + need));
      work.copy(bigger, READ_ALIGN, start, end);
      work = bigger;
    } else if (start !== READ_ALIGN) {
      work.copy(work, READ_ALIGN, start, end);
    }
    start = READ_ALIGN;
    end = READ_ALIGN + have;
  };
  const step = (): void => {
    const s = parser.parse(work, start, end, fileOff);
    fileOff += s - start;
    start = s;
  };

  const fd = openSync(path, 'r');
  let gz = false;
  try {
    const head = Buffer.alloc(2);
    gz = readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (!gz) {
      let pos = 0;
      for (;;) {
        compact(CHUNK);
        const n = readSync(fd, work, end, work.length - end, pos);
        pos += n;
        end += n;
        step();
        if (n === 0) break;
        const wait = between?.();
        if (wait) await wait;
      }
    }
  } catch (e) {
    if (e instanceof CaptureError) error = e;
    else throw e;
  } finally {
    closeSync(fd);
  }

  if (gz) {
    const fh = await open(path, 'r');
    try {
      const gunzip = fh
        .createReadStream({ highWaterMark: 1 << 20 })
        .pipe(createGunzip({ chunkSize: 1 << 20 }));
      try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
          if (error) continue;
          compact(chunk.length);
          chunk.copy(work, end);
          end += chunk.length;
          try {
            step();
          } catch (e) {
            if (e instanceof CaptureError) error = e;
            else throw e;
          }
          const wait = between?.();
          if (wait) await wait;
        }
      } catch (e) {
        if (e instanceof CaptureError) throw e;
        error ??= new CaptureError(`gzip stream damaged: ${(e as Error).message}`, fileOff + (end - start));
      }
    } finally {
      await fh.close();
    }
  }

  if (!error && end > start) {
    error = new CaptureError(
      `file truncated: ${end - start} trailing bytes do not form a whole ${parser.format ?? 'capture'} record`,
      fileOff,
    );
  } else if (!error && parser.format === null) {
    error = new CaptureError('empty file: no capture header', 0);
  }
  return { format: parser.format ?? 'pcap', packets: parser.packets, bytes: parser.bytes, error };
}
