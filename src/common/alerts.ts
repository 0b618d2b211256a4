import { createHash } from 'node:crypto';
import {
  type AlertCategory,
  type AlertRecord,
  type AlertSource,
  type AlertStatus,
  severityLabel,
} from '../schema/alert.js';
import type { Columnar } from '../store/columnar.js';

/**
 * The one way every stage says that something is wrong. Intel, detection, policy and events
 * call `raise` with what they found; the aggregator folds the events of one episode into one
 * alert and hands `alert` records to the sink (the store, the bus, the ingest printer).
 */
export interface AlertInput {
  /** Event time, ms since the epoch (data time: the record's time, not the clock's). */
  ts: number;
  category: AlertCategory;
  /** Detector or rule engine, e.g. scan.vertical, intel.domain, suricata. */
  detector: string;
  title: string;
  /** 0–100. */
  severity: number;
  /** 0–100. */
  confidence: number;
  /**
   * What makes two events the same episode besides the detector (default: src and dst). A
   * vertical scan keys on src+dst, a horizontal one on src+port, an intel hit on indicator+host.
   */
  key?: string;
  src_ip?: string | null;
  src_port?: number | null;
  dst_ip?: string | null;
  dst_port?: number | null;
  proto?: number | null;
  community_id?: string | null;
  vlan?: number | null;
  vni?: number | null;
  /** Events this call stands for (default 1). */
  count?: number;
  /** The numbers behind the decision; the latest call's evidence replaces the previous. */
  evidence?: Record<string, unknown>;
  indicator?: Record<string, unknown> | null;
  attack_technique?: string | null;
  signature_id?: number | null;
  source?: AlertSource;
  retro?: boolean;
  src_user?: string | null;
  tags?: string[];
  /** When the episode started, if earlier than `ts` (a detector that decides after the fact). */
  first_ts?: number;
}

export interface AlertEmitter {
  raise(a: AlertInput): void;
}

export type AlertSink = (rec: AlertRecord) => void;

export interface AggregatorConfig {
  /** Sensor name written on every alert. */
  sensor: string;
  /** An episode ends after this long without a new event, ms of data time (default 15 min). */
  idleMs: number;
  /** An episode is cut after this long even if events go on, ms (default 24 h). */
  maxEpisodeMs: number;
  /**
   * `live`: emit when an episode opens, then updates at most every `updateMs` of data time or
   * when the count doubles, and when it ends. `final`: emit once, when it ends (or at flush).
   */
  mode: 'live' | 'final';
  updateMs: number;
  /** Open episodes kept; beyond it the oldest is closed and emitted (bounded memory). */
  maxOpen: number;
}

export const DEFAULT_AGGREGATOR: AggregatorConfig = {
  sensor: 'vantage',
  idleMs: 15 * 60_000,
  maxEpisodeMs: 24 * 3_600_000,
  mode: 'live',
  updateMs: 60_000,
  maxOpen: 100_000,
};

interface Episode {
  rec: AlertRecord;
  firstMs: number;
  lastMs: number;
  /** The lastMs that rec.last_ts and rec.updated_ts hold: they are formatted when the alert leaves. */
  formattedMs: number;
  emittedMs: number;
  emittedCount: number;
  dirty: boolean;
}

/** A UUID (version 5 layout) derived from the episode's identity: replays give the same ids. */
export function alertId(parts: readonly (string | number)[]): string {
  const h = createHash('sha1').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const isoMs = (ms: number): string => new Date(ms).toISOString();

/** Build a complete alert record from one input (no aggregation). */
export function alertRecordOf(a: AlertInput, sensor: string, id?: string): AlertRecord {
  const first = a.first_ts ?? a.ts;
  const sev = clamp(a.severity);
  return {
    type: 'alert',
    alert_id: id ?? alertId([sensor, a.detector, a.key ?? `${a.src_ip ?? ''}|${a.dst_ip ?? ''}`, first]),
    ts: isoMs(first),
    first_ts: isoMs(first),
    last_ts: isoMs(a.ts),
    updated_ts: isoMs(a.ts),
    category: a.category,
    detector: a.detector,
    title: a.title,
    severity: sev,
    severity_label: severityLabel(sev),
    confidence: clamp(a.confidence),
    src_ip: a.src_ip ?? null,
    src_port: a.src_port ?? null,
    dst_ip: a.dst_ip ?? null,
    dst_port: a.dst_port ?? null,
    proto: a.proto ?? null,
    community_id: a.community_id ?? null,
    vlan: a.vlan ?? null,
    vni: a.vni ?? null,
    sensor,
    count: a.count ?? 1,
    evidence: a.evidence ?? {},
    indicator: a.indicator ?? null,
    attack_technique: a.attack_technique ?? null,
    signature_id: a.signature_id ?? null,
    source: a.source ?? 'vantage',
    retro: a.retro ?? false,
    src_user: a.src_user ?? null,
    status: 'new' satisfies AlertStatus,
    assignee: null,
    notes: null,
    tags: a.tags ?? [],
  };
}

function clamp(v: number): number {
  return Number.isFinite(v) ? Math.max(0, Math.min(100, Math.round(v))) : 0;
}

/**
 * Folds events into episodes keyed by detector + key. Memory is bounded by `maxOpen`; time
 * is data time, so a capture analysed offline gets the same alerts as the live sensor.
 */
export class AlertAggregator implements AlertEmitter {
  private readonly cfg: AggregatorConfig;
  private readonly open = new Map<string, Episode>();
  private clock = 0;
  private lastSweep = 0;
  readonly counters = { raised: 0, alerts: 0, emitted: 0, evicted: 0 };

  constructor(
    private readonly sink: AlertSink,
    cfg: Partial<AggregatorConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_AGGREGATOR, ...cfg };
  }

  raise(a: AlertInput): void {
    this.counters.raised++;
    if (!Number.isFinite(a.ts)) return;
    if (a.ts > this.clock) this.clock = a.ts;
    const k = `${a.detector}\u0000${a.key ?? `${a.src_ip ?? ''}|${a.dst_ip ?? ''}`}`;
    let ep = this.open.get(k);
    if (ep && (a.ts - ep.lastMs > this.cfg.idleMs || a.ts - ep.firstMs > this.cfg.maxEpisodeMs)) {
      this.close(k, ep);
      ep = undefined;
    }
    if (!ep) {
      if (this.open.size >= this.cfg.maxOpen) this.evictOldest();
      const rec = alertRecordOf(a, this.cfg.sensor);
      const first = a.first_ts ?? a.ts;
      ep = {
        rec,
        firstMs: first,
        lastMs: a.ts,
        formattedMs: a.ts,
        emittedMs: a.ts,
        emittedCount: 0,
        dirty: true,
      };
      this.open.set(k, ep);
      this.counters.alerts++;
      if (this.cfg.mode === 'live') this.emit(ep);
    } else {
      // Map order is insertion order: re-insert so the oldest-active episode is evicted first.
      this.open.delete(k);
      this.open.set(k, ep);
      const r = ep.rec;
      r.count += a.count ?? 1;
      // Formatting a time per event was a tenth of the EVE path: emit formats the latest once.
      if (a.ts > ep.lastMs) ep.lastMs = a.ts;
      if (a.first_ts !== undefined && a.first_ts < ep.firstMs) {
        ep.firstMs = a.first_ts;
        r.first_ts = isoMs(a.first_ts);
      }
      const sev = clamp(a.severity);
      if (sev > r.severity) {
        r.severity = sev;
        r.severity_label = severityLabel(sev);
        r.title = a.title;
      }
      r.confidence = Math.max(r.confidence, clamp(a.confidence));
      if (a.evidence) r.evidence = a.evidence;
      if (a.indicator) r.indicator = a.indicator;
      if (a.src_user) r.src_user = a.src_user;
      // One connection's fields stay only while every event agrees on them.
      if (r.src_port !== null && a.src_port !== r.src_port) r.src_port = null;
      if (r.community_id !== null && a.community_id !== r.community_id) r.community_id = null;
      ep.dirty = true;
      if (
        this.cfg.mode === 'live' &&
        (a.ts - ep.emittedMs >= this.cfg.updateMs || r.count >= 2 * Math.max(1, ep.emittedCount))
      ) {
        this.emit(ep);
      }
    }
    if (this.clock - this.lastSweep >= 10_000) this.sweep();
  }

  /** Close episodes idle for longer than `idleMs` at data time `now` (default: latest seen). */
  sweep(now = this.clock): void {
    this.lastSweep = now;
    for (const [k, ep] of this.open) {
      if (now - ep.lastMs > this.cfg.idleMs) this.close(k, ep);
    }
  }

  /** Advance data time without an event (live sources call it on a timer). */
  tick(nowMs: number): void {
    if (nowMs > this.clock) this.clock = nowMs;
    this.sweep();
  }

  /** Emit the latest state of every episode that changed since it was last emitted (live timer). */
  emitDirty(): void {
    for (const ep of this.open.values()) if (ep.dirty) this.emit(ep);
  }

  /** Emit every open episode's latest state and forget them (end of input). */
  flush(): void {
    for (const [k, ep] of this.open) this.close(k, ep);
  }

  get openEpisodes(): number {
    return this.open.size;
  }

  private evictOldest(): void {
    const first = this.open.entries().next();
    if (first.done) return;
    this.counters.evicted++;
    this.close(first.value[0], first.value[1]);
  }

  private close(k: string, ep: Episode): void {
    this.open.delete(k);
    if (ep.dirty) this.emit(ep);
  }

  private emit(ep: Episode): void {
    if (ep.formattedMs !== ep.lastMs) {
      ep.formattedMs = ep.lastMs;
      ep.rec.last_ts = isoMs(ep.lastMs);
      ep.rec.updated_ts = ep.rec.last_ts;
    }
    ep.dirty = false;
    ep.emittedMs = ep.lastMs;
    ep.emittedCount = ep.rec.count;
    this.counters.emitted++;
    // The sink gets its own copy: later folds must not change what was already handed out.
    this.sink({ ...ep.rec, tags: [...ep.rec.tags] });
  }
}

/** A record as it leaves the sensor, the collector or the store: the registry's JSON form. */
export type AnyRecord = { type: string; [k: string]: unknown };

/**
 * A consumer of the record stream that may raise alerts: the intel matcher, the detectors,
 * the policy checker. Every path that produces records (ingest, start, runs over stored
 * history) feeds its watchers the same way, so each is testable from the command line.
 */
export interface RecordWatcher {
  readonly name: string;
  /** Every record, roughly in time order (a flow arrives when it ends). */
  onRecord(rec: AnyRecord): void;
  /**
   * A batch of records of one type in column form (the sensor's and the collector's way to the
   * store), in row order. A watcher that has it reads the columns it needs and makes no object
   * per record; one without it is given the rows as records. Both must raise the same alerts.
   */
  onColumns?(type: string, c: Columnar): void;
  /** Advance data time without a record (live paths call it on a timer), ms. */
  tick?(nowMs: number): void;
  /** End of input: close whatever is still open and raise what it found. */
  finish(): void;
}
