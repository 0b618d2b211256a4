/**
 * The frame a target delivers: always Ethernet, so every delivery (VXLAN, GRE, ERSPAN, pcap
 * stream, interface) can carry it. Reused for every packet; valid only during delivery.
 */
export interface OutFrame {
  buf: Buffer;
  off: number;
  caplen: number;
  wirelen: number;
  tsSec: number;
  tsNs: number;
}

/** A way of getting frames to a tool. `send` never throws; it counts what it cannot send. */
export interface Delivery {
  readonly kind: string;
  start(): Promise<void>;
  /** Deliver `caplen` bytes of the frame (already sliced). */
  send(f: OutFrame, caplen: number): void;
  /** Flush and wait for every pending packet to be confirmed or dropped, then close. */
  stop(): Promise<void>;
}
