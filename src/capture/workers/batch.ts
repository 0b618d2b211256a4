import type { CaptureSummary } from '../capture-file.js';
import type { Frame, FrameHandler } from '../frame.js';

/**
 * Packet batches as they travel between threads: one ArrayBuffer of pcap records with
 * nanosecond times, back to back (a 16-byte header of seconds, nanoseconds, caplen and wire
 * length, little-endian u32, then the captured bytes, unpadded). The link type and interface
 * index hold for the whole batch (a change starts a new batch). Records lie exactly as the
 * packet store writes them, so the recorder on the other side copies whole runs of a batch
 * with one copy instead of one per packet.
 */
export const BATCH_RECORD_HEADER = 16;

export function recordSize(caplen: number): number {
  return BATCH_RECORD_HEADER + caplen;
}

/** Fills one batch buffer; `append` returns false when the record does not fit or belongs to another link. */
export class BatchWriter {
  buf: Buffer;
  used = 0;
  packets = 0;
  linkType = -1;
  ifIndex = 0;

  constructor(readonly ab: ArrayBuffer) {
    this.buf = Buffer.from(ab);
  }

  append(f: Frame): boolean {
    const need = recordSize(f.caplen);
    if (this.used + need > this.buf.length) return false;
    if (this.packets === 0) {
      this.linkType = f.linkType;
      this.ifIndex = f.ifIndex;
    } else if (f.linkType !== this.linkType || f.ifIndex !== this.ifIndex) return false;
    const b = this.buf;
    const o = this.used;
    b.writeUInt32LE(f.tsSec >>> 0, o);
    b.writeUInt32LE(f.tsNs >>> 0, o + 4);
    b.writeUInt32LE(f.caplen, o + 8);
    b.writeUInt32LE(f.wirelen, o + 12);
    f.buf.copy(b, o + BATCH_RECORD_HEADER, f.off, f.off + f.caplen);
    this.used = o + need;
    this.packets++;
    return true;
  }
}

/** Deliver every record of a batch (from byte `start` to `bytes`) through one reused frame. */
export function readBatch(
  buf: Buffer,
  bytes: number,
  linkType: number,
  ifIndex: number,
  frame: Frame,
  onFrame: FrameHandler,
  start = 0,
): number {
  let o = start;
  let n = 0;
  frame.buf = buf;
  frame.linkType = linkType;
  frame.ifIndex = ifIndex;
  while (o + BATCH_RECORD_HEADER <= bytes) {
    const caplen = buf.readUInt32LE(o + 8);
    // A record that runs past the batch is damage, not a frame: stop there.
    if (o + BATCH_RECORD_HEADER + caplen > bytes) break;
    frame.tsSec = buf.readUInt32LE(o);
    frame.tsNs = buf.readUInt32LE(o + 4);
    frame.caplen = caplen;
    frame.wirelen = buf.readUInt32LE(o + 12);
    frame.off = o + BATCH_RECORD_HEADER;
    onFrame(frame);
    n++;
    o += BATCH_RECORD_HEADER + caplen;
  }
  return n;
}

/** A batch as it lies in its buffer (what `batchReader` reads). */
export interface BatchView {
  buf: ArrayBuffer;
  bytes: number;
  start?: number;
  linkType: number;
  ifIndex: number;
}

/**
 * A capture reader over the batch `current()` gives, for the packet recorder's reader wrapper:
 * the batch's records lie as the packet store writes them, so the recorder copies whole runs
 * of them (it takes a run before the buffer goes back).
 */
export function batchReader(
  current: () => BatchView,
  frame: Frame,
): (path: string, onFrame: FrameHandler) => Promise<CaptureSummary> {
  return async (_path, onFrame) => {
    const b = current();
    const packets = readBatch(
      Buffer.from(b.buf, 0, b.bytes),
      b.bytes,
      b.linkType,
      b.ifIndex,
      frame,
      onFrame,
      b.start,
    );
    return { format: 'pcap', packets, bytes: b.bytes, error: null };
  };
}
