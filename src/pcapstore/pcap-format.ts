/**
 * The classic pcap file format as the store writes it: nanosecond-resolution magic so capture
 * timestamps survive exactly, one link type per file (a segment rotates when it changes).
 */
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_HEADER_LEN = 24;
export const RECORD_HEADER_LEN = 16;
export const PCAP_SNAPLEN = 262_144;

export function pcapFileHeader(linkType: number, nanos = true, snaplen = PCAP_SNAPLEN): Buffer {
  const h = Buffer.alloc(PCAP_HEADER_LEN);
  h.writeUInt32LE(nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(linkType, 20);
  return h;
}

/** Write a record header at `o` (little-endian, nanosecond fraction). */
export function writeRecordHeader(
  b: Buffer,
  o: number,
  tsSec: number,
  tsNs: number,
  caplen: number,
  wirelen: number,
): void {
  b.writeUInt32LE(tsSec >>> 0, o);
  b.writeUInt32LE(tsNs >>> 0, o + 4);
  b.writeUInt32LE(caplen >>> 0, o + 8);
  b.writeUInt32LE(wirelen >>> 0, o + 12);
}

/** Microseconds since the epoch of a (sec, ns) timestamp; the unit of query time bounds. */
export function tsUs(sec: number, ns: number): number {
  return sec * 1e6 + Math.floor(ns / 1000);
}
