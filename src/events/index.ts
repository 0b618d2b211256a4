import type { AlertEmitter } from '../common/alerts.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { IdentityRecord } from '../schema/identity.js';
import type { EventsConfig } from './config.js';
import { EveDgram } from './eve-dgram.js';
import { EveSocket } from './eve-socket.js';
import { EveTail } from './eve-tail.js';
import { IdentityMap } from './identity.js';
import { type IngestFormat, type IngestResult, ingestText } from './ingest.js';
import { RadiusListener } from './radius-listener.js';
import type { EventSource } from './source.js';
import { SyslogListener } from './syslog-listener.js';
import { type EventCounters, newCounters } from './types.js';

export type { EventsConfig } from './config.js';
export { parseEventsConfig } from './config.js';
export { IdentityMap } from './identity.js';
export type { IngestFormat, IngestResult } from './ingest.js';
export { INGEST_FORMATS, ingestText } from './ingest.js';
export type { EventSource } from './source.js';

export interface EventSourcesDeps {
  emitter: AlertEmitter;
  log: Logger;
  dataDir: string;
  metrics?: Metrics;
  /** Shared with the rest of the product (alerts' src_user, host pages); made here if absent. */
  identity?: IdentityMap;
  /** Identity records for the store. */
  onIdentity?: (rec: IdentityRecord) => void;
}

export interface EventSources {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly sources: readonly EventSource[];
  readonly identity: IdentityMap;
  /** Counters by source name, plus `api` for bodies posted to the API. */
  counters(): Record<string, EventCounters & { format: string }>;
  /** `POST /api/v1/events`: a body in one format, with this component's webhook mapping. */
  ingest(format: IngestFormat, body: string): IngestResult;
}

/** Every configured source of third-party events, built inert; `start` opens them. */
export function createEventSources(cfg: EventsConfig, deps: EventSourcesDeps): EventSources {
  const identity = deps.identity ?? new IdentityMap(cfg.identity);
  const ev = {
    emitter: deps.emitter,
    identity,
    log: deps.log,
    dataDir: deps.dataDir,
    ...(deps.onIdentity ? { onIdentity: deps.onIdentity } : {}),
  };
  const sources: EventSource[] = [
    ...cfg.eve.map((e) =>
      'socket' in e ? (e.type === 'dgram' ? new EveDgram(e, ev) : new EveSocket(e, ev)) : new EveTail(e, ev),
    ),
    ...cfg.syslog.map((s) => new SyslogListener(s, ev)),
    ...cfg.radius.map((r) => new RadiusListener(r, ev)),
  ];
  const api = newCounters();
  const all = (): Record<string, EventCounters & { format: string }> => {
    const out: Record<string, EventCounters & { format: string }> = {};
    for (const s of sources) out[s.name] = { ...s.counters, format: s.format };
    out.api = { ...api, format: 'api' };
    return out;
  };
  if (deps.metrics) {
    const m = deps.metrics;
    m.collect(() => {
      for (const [name, c] of Object.entries(all())) {
        const l = { source: name, format: c.format };
        m.set('vantage_events_received', 'Third-party events received', l, c.received);
        m.set('vantage_events_bytes', 'Bytes of third-party events read', l, c.bytes);
        m.set('vantage_events_alerts', 'Third-party events turned into alerts', l, c.alerts);
        m.set('vantage_events_identities', 'IP-to-user observations received', l, c.identities);
        m.set('vantage_events_dropped', 'Events cut or refused over a bound', l, c.dropped);
        for (const [w, n] of Object.entries(c.weird))
          m.set('vantage_events_weird', 'Malformed third-party events by name', { ...l, weird: w }, n);
      }
    });
  }
  let started: EventSource[] = [];
  return {
    sources,
    identity,
    counters: all,
    async start() {
      for (const s of sources) {
        try {
          await s.start();
          started.push(s);
        } catch (e) {
          for (const t of started) await t.stop();
          started = [];
          throw new Error(`events: cannot start ${s.name}: ${(e as Error).message}`);
        }
      }
    },
    async stop() {
      for (const s of started) await s.stop();
      started = [];
    },
    ingest(format, body) {
      return ingestText(format, body, ev, { mapping: cfg.webhook.mapping }, api);
    },
  };
}
