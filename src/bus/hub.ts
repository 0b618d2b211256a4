import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import { type AlertRecord, type AlertStatus, alertRecord } from '../schema/alert.js';
import { parseFilter } from '../store/filter.js';
import type { RecordStore } from '../store/types.js';

/** Where alerts go after the store: the bus's durable outbox. */
export interface AlertPublisher {
  /** Resolves once the alerts are durable in the outbox; `dropped` were refused by its bound. */
  publish(alerts: readonly AlertRecord[]): Promise<{ accepted: number; dropped: number } | undefined>;
}

/** What an analyst may change on an alert. */
export interface AlertPatch {
  status?: AlertStatus;
  assignee?: string | null;
  notes?: string | null;
  tags?: string[];
}

type AnalystState = Required<Pick<AlertPatch, 'status' | 'assignee' | 'notes' | 'tags'>>;

export interface AlertHubDeps {
  store: RecordStore;
  log: Logger;
  metrics?: Metrics;
  /** Who was logged on at this address at this time (identity events), if known. */
  identity?: (ip: string, tsMs: number) => string | null;
}

export interface AlertHubConfig {
  /** Longest time an alert waits before it is stored and published, ms. */
  flushMs: number;
  /** Alerts waiting; beyond it the oldest waiting updates of the same alert are folded. */
  maxPending: number;
}

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every alert passes here on its way out: detectors, intel, policy and third-party events
 * emit; the hub keeps what analysts set on an alert (status, assignee, notes, tags) when a
 * detector rewrites it, stores it, then hands it to the bus. Alerts go ahead of bulk
 * records: they are few, and a batch is written within `flushMs`.
 */
export class AlertHub {
  private readonly cfg: AlertHubConfig;
  private pending = new Map<string, AlertRecord>();
  private readonly analyst = new Map<string, AnalystState>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private publisher: AlertPublisher | null = null;
  private readonly listeners = new Set<(a: AlertRecord) => void>();
  private queued: Promise<void> | null = null;
  readonly counters = { received: 0, stored: 0, published: 0, storeErrors: 0, publishErrors: 0, dropped: 0 };

  constructor(
    private readonly deps: AlertHubDeps,
    cfg: Partial<AlertHubConfig> = {},
  ) {
    this.cfg = { flushMs: 200, maxPending: 100_000, ...cfg };
  }

  setPublisher(p: AlertPublisher | null): void {
    this.publisher = p;
  }

  /**
   * A second consumer (the responder): called with each alert once it is stored, so whatever
   * it starts can look the alert up. Returns the unsubscribe function.
   */
  subscribe(fn: (a: AlertRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Load what analysts changed, so a rewritten alert keeps it across restarts. */
  async start(): Promise<void> {
    // Tags an analyst added survive through the union in `emit`, not through this load.
    const filter = parseFilter('status != "new" or assignee != null or notes != null', alertRecord);
    await this.deps.store.stream(
      { type: 'alert', filter, fields: ['alert_id', 'status', 'assignee', 'notes', 'tags'] },
      (rows) => {
        for (const r of rows) {
          this.analyst.set(String(r.alert_id), {
            status: r.status as AlertStatus,
            assignee: (r.assignee as string | null) ?? null,
            notes: (r.notes as string | null) ?? null,
            tags: (r.tags as string[] | null) ?? [],
          });
        }
      },
    );
    this.timer = setInterval(() => void this.flush(), this.cfg.flushMs);
    this.timer.unref();
    const m = this.deps.metrics;
    m?.collect(() => {
      const c = this.counters;
      m.set('vantage_alerts_received', 'Alert emissions received by the hub.', {}, c.received);
      m.set('vantage_alerts_stored', 'Alert writes acknowledged by the store.', {}, c.stored);
      m.set('vantage_alerts_published', 'Alert writes handed to the bus.', {}, c.published);
      m.set('vantage_alerts_store_errors', 'Alert batches the store refused.', {}, c.storeErrors);
      m.set('vantage_alerts_publish_errors', 'Alert batches the bus refused.', {}, c.publishErrors);
      m.set(
        'vantage_alerts_dropped',
        'Alerts dropped while the store did not answer (over the bound).',
        {},
        c.dropped,
      );
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** The AlertSink for aggregators: never blocks, never throws. */
  readonly emit = (rec: AlertRecord): void => {
    this.counters.received++;
    const a = this.analyst.get(rec.alert_id);
    if (a) {
      const tags = [...new Set([...rec.tags, ...a.tags])];
      Object.assign(rec, a, { tags });
    }
    if (rec.src_user === null && rec.src_ip && this.deps.identity) {
      rec.src_user = this.deps.identity(rec.src_ip, Date.parse(rec.last_ts));
    }
    // A newer state of a waiting alert replaces it: only the latest needs writing.
    const waiting = this.pending.delete(rec.alert_id);
    // A store that stopped answering must not grow memory without end: past twice the bound,
    // new alerts are counted and dropped (updates of waiting ones still replace them).
    if (!waiting && this.pending.size >= 2 * this.cfg.maxPending) {
      this.counters.dropped++;
      return;
    }
    this.pending.set(rec.alert_id, rec);
    if (this.pending.size >= this.cfg.maxPending) void this.flush();
  };

  /** Store and publish everything waiting; resolves when it is durable and handed on. */
  flush(): Promise<void> {
    // At most one write waits behind the running one, and it takes whatever is pending when it
    // starts: callers meanwhile share it (bounded however often the timer fires).
    if (this.queued) return this.queued;
    const run = this.chain.then(async () => {
      this.queued = null;
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.deps.store.append('alert', batch);
        this.counters.stored += batch.length;
      } catch (e) {
        this.counters.storeErrors++;
        this.deps.log.error('storing alerts failed', { alerts: batch.length, error: String(e) });
      }
      for (const fn of this.listeners) {
        for (const a of batch) {
          try {
            fn(a);
          } catch (e) {
            this.deps.log.error('alert subscriber failed', { error: String(e) });
          }
        }
      }
      if (!this.publisher) return;
      try {
        const r = await this.publisher.publish(batch);
        this.counters.published += r ? r.accepted : batch.length;
        if (r && r.dropped > 0) {
          this.counters.publishErrors++;
          this.deps.log.error('the outbox refused alerts (full)', { dropped: r.dropped });
        }
      } catch (e) {
        this.counters.publishErrors++;
        this.deps.log.error('publishing alerts failed', { alerts: batch.length, error: String(e) });
      }
    });
    this.queued = run;
    this.chain = run;
    return run;
  }

  async get(id: string): Promise<AlertRecord | null> {
    if (!ID.test(id)) return null;
    const waiting = this.pending.get(id);
    if (waiting) return waiting;
    const page = await this.deps.store.list({
      type: 'alert',
      filter: parseFilter(`alert_id = ${JSON.stringify(id)}`, alertRecord),
      limit: 1,
    });
    return (page.items[0] as AlertRecord | undefined) ?? null;
  }

  /** Apply an analyst's change; resolves with the alert as stored. */
  async update(id: string, patch: AlertPatch, nowMs = Date.now()): Promise<AlertRecord | null> {
    await this.flush();
    const cur = await this.get(id);
    if (!cur) return null;
    const prev = this.analyst.get(id);
    const next: AnalystState = {
      status: patch.status ?? prev?.status ?? (cur.status as AlertStatus),
      assignee: patch.assignee !== undefined ? patch.assignee : (prev?.assignee ?? cur.assignee),
      notes: patch.notes !== undefined ? patch.notes : (prev?.notes ?? cur.notes),
      tags: patch.tags ?? prev?.tags ?? cur.tags,
    };
    this.analyst.set(id, next);
    const rec: AlertRecord = { ...cur, ...next, type: 'alert', updated_ts: new Date(nowMs).toISOString() };
    this.pending.set(id, rec);
    await this.flush();
    return rec;
  }
}
