import type { Writable } from 'node:stream';
import type { Broker, TargetStats } from './broker.js';
import { PcapStreamDelivery } from './deliver/pcap-stream.js';
import type { MatchRules } from './types.js';

export interface PcapStreamOptions {
  /** tcpdump filter over the delivered frames. */
  filter?: string;
  rules?: MatchRules;
  snaplen?: number;
  /** Bytes the writable may hold before packets are dropped as `stream_full` (default 8 MiB). */
  maxBuffered?: number;
  /** Target name; default `stream-N`. */
  name?: string;
}

let seq = 0;

/**
 * Stream the broker's packets as pcap into `w` (an HTTP response for GET /api/v1/stream, a
 * socket, a file) until `w` closes or `close()` is called. Runs as an ordinary broker target,
 * so it has the same counters (see `stats()`). The filter is validated before anything is
 * written: a bad filter throws (the route answers 400).
 *
 *   curl -sN -H 'Authorization: Bearer …' 'http://host:8080/api/v1/stream?filter=tcp+port+443' | tcpdump -r -
 */
export async function streamPcap(
  broker: Broker,
  w: Writable,
  opts: PcapStreamOptions = {},
): Promise<{ name: string; close(): Promise<TargetStats | null>; stats(): TargetStats | undefined }> {
  const name = opts.name ?? `stream-${++seq}`;
  const snaplen = opts.snaplen ?? 0;
  const tc = {
    name,
    snaplen,
    ...(opts.filter ? { filter: opts.filter } : {}),
    ...(opts.rules ? { rules: opts.rules } : {}),
  };
  let closed: Promise<TargetStats | null> | null = null;
  const close = (): Promise<TargetStats | null> => {
    closed ??= broker.removeTarget(name);
    return closed;
  };
  await broker.addTarget(
    tc,
    (c) =>
      new PcapStreamDelivery(w, c, {
        maxBuffered: opts.maxBuffered ?? 8 << 20,
        snaplen: snaplen > 0 ? snaplen : 262_144,
        endOnStop: false,
      }),
  );
  w.once('close', () => void close());
  return { name, close, stats: () => broker.stats().targets.find((t) => t.name === name) };
}
