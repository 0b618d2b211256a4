/**
 * One captured frame as handed out by every packet source. The object is reused for every
 * packet of a source: `buf` is the source's working buffer and is only valid during the
 * callback, so consumers read numbers out of it and never keep the reference.
 */
export interface Frame {
  buf: Buffer;
  /** Offset of the first link-layer byte in `buf`. */
  off: number;
  /** Bytes captured (present in `buf`). */
  caplen: number;
  /** Original length of the frame on the wire. */
  wirelen: number;
  /** Seconds since the Unix epoch. */
  tsSec: number;
  /** Nanoseconds within the second, 0..999_999_999. */
  tsNs: number;
  /** LINKTYPE_* value of the frame. */
  linkType: number;
  /** Interface index (pcapng IDB order; 0 for pcap files). */
  ifIndex: number;
}

export type FrameHandler = (frame: Frame) => void;

export function newFrame(): Frame {
  return {
    buf: Buffer.alloc(0),
    off: 0,
    caplen: 0,
    wirelen: 0,
    tsSec: 0,
    tsNs: 0,
    linkType: 1,
    ifIndex: 0,
  };
}

/** LINKTYPE_* values (tcpdump.org/linktypes.html) understood by the decoder. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_BSD: 12,
  RAW_BSD14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
