import type { EventCounters } from './types.js';

/** One live source of third-party events (an EVE file, a socket, a listener). */
export interface EventSource {
  /** e.g. eve:/var/log/suricata/eve.json, syslog:udp://0.0.0.0:5514 */
  readonly name: string;
  /** What it reads: eve, syslog, radius. */
  readonly format: string;
  readonly counters: EventCounters;
  start(): Promise<void>;
  stop(): Promise<void>;
}
