import type { Frame, FrameHandler } from '../frame.js';

/**
 * Packet batches as they travel between threads: one ArrayBuffer of records, each a 24-byte
 * header (seconds, nanoseconds, caplen, wirelen, link type, interface index; little-endian u32)
 * followed by the captured bytes padded to a multiple of 4.
 */
export const BATCH_RECORD_HEADER = 24;

export function recordSize(caplen: number): number {
  return BATCH_RECORD_HEADER + ((caplen + 3) & ~3);
}

/** Fills one batch buffer; `append` returns false when the record does not fit. */
export class BatchWriter {
  buf: Buffer;
  used = 0;
  packets = 0;

  constructor(readonly ab: ArrayBuffer) {
    this.buf = Buffer.from(ab);
  }

  append(f: Frame): boolean {
    const need = recordSize(f.caplen);
    if (this.used + need > this.buf.length) return false;
    const b = this.buf;
    const o = this.used;
    b.writeUInt32LE(f.tsSec >>> 0, o);
    b.writeUInt32LE(f.tsNs >>> 0, o + 4);
    b.writeUInt32LE(f.caplen, o + 8);
    b.writeUInt32LE(f.wirelen, o + 12);
    b.writeUInt32LE(f.linkType, o + 16);
    b.writeUInt32LE(f.ifIndex >>> 0, o + 20);
    f.buf.copy(b, o + BATCH_RECORD_HEADER, f.off, f.off + f.caplen);
    this.used = o + need;
    this.packets++;
    return true;
  }
}

/** Deliver every record of a batch through one reused frame. */
export function readBatch(buf: Buffer, bytes: number, frame: Frame, onFrame: FrameHandler): number {
  let o = 0;
  let n = 0;
  frame.buf = buf;
  while (o + BATCH_RECORD_HEADER <= bytes) {
    const caplen = buf.readUInt32LE(o + 8);
    frame.tsSec = buf.readUInt32LE(o);
    frame.tsNs = buf.readUInt32LE(o + 4);
    frame.caplen = caplen;
    frame.wirelen = buf.readUInt32LE(o + 12);
    frame.linkType = buf.readUInt32LE(o + 16);
    frame.ifIndex = buf.readUInt32LE(o + 20);
    frame.off = o + BATCH_RECORD_HEADER;
    onFrame(frame);
    n++;
    o += recordSize(caplen);
  }
  return n;
}
