import { join } from 'node:path';
import { ConfigError, UserError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import { type AlertRecord, alertRecord } from '../schema/alert.js';
import { parseFilter } from '../store/filter.js';
import { compileMatcher, type Matcher } from '../store/match.js';
import {
  type Cursor,
  DEFAULT_OUTBOX,
  type DeadLetter,
  type Entry,
  Outbox,
  type OutboxConfig,
  StoredEntry,
} from './outbox.js';
import { createSink } from './sinks/index.js';
import type { DeliveryResult, EncodedAlert, Sink, SinkHealth, SinkSpec } from './types.js';

export interface BusConfig {
  sinks: SinkSpec[];
  outbox?: Partial<OutboxConfig>;
}

export interface BusDeps {
  /** The product's data directory; the outbox lives in `<dataDir>/bus`. */
  dataDir: string;
  metrics?: Metrics;
  log: Logger;
  version?: string;
  /** Build a sink from its spec (tests swap in a sink that fails on purpose). */
  makeSink?: (spec: SinkSpec) => Sink;
}

export interface SinkStats {
  name: string;
  kind: string;
  filter: string;
  sent: number;
  filtered: number;
  failed: number;
  retried: number;
  dead: number;
  /** Alerts published but not yet past this sink, and the age of the oldest of them, s. */
  lagAlerts: number;
  lagSeconds: number;
  lastError: string | null;
  health: SinkHealth;
}

export interface BusStats {
  published: number;
  overflow: number;
  outboxBytes: number;
  segments: number;
  sinks: SinkStats[];
}

export interface Bus {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves once the alerts are durable in the outbox; `dropped` were refused by its size bound. */
  publish(alerts: readonly AlertRecord[]): Promise<{ accepted: number; dropped: number }>;
  listSinks(): { name: string; kind: string; filter: string; health: SinkHealth }[];
  /** A sink added while running starts at the end of the outbox: it gets alerts published from now on. */
  addSink(spec: SinkSpec): Promise<void>;
  removeSink(name: string): Promise<void>;
  /** Send one test alert straight to the sink (not through the outbox) and report the outcome. */
  testSink(name: string): Promise<{ ok: boolean; error: string | null; ms: number }>;
  deadLetters(name: string): Promise<DeadLetter[]>;
  /** Queue the sink's dead letters for delivery again; returns how many. */
  replay(name: string): Promise<number>;
  stats(): BusStats;
}

interface Runner {
  spec: SinkSpec;
  sink: Sink;
  /** null: the filter is empty, every alert passes (and none needs parsing for it). */
  match: Matcher | null;
  cursor: Cursor;
  stopping: boolean;
  loop: Promise<void> | null;
  /** Wakes every sleep of the runner (a retry backoff per batch in flight, or the idle wait). */
  wakers: Set<() => void>;
  c: { sent: number; filtered: number; failed: number; retried: number; dead: number };
  oldestT: number;
  lastError: string | null;
  /** Dead letters may be queued for replay (at start, and after each replay request). */
  replayPending: boolean;
}

const sleep = (ms: number, r: Runner): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      r.wakers.delete(done);
      resolve();
    }
    r.wakers.add(done);
  });

const encoded = (e: Entry): EncodedAlert =>
  e instanceof StoredEntry ? e : StoredEntry.of(e.seq, e.t, e.alert);

const wake = (r: Runner): void => {
  for (const w of [...r.wakers]) w();
};

/** A sink that sends the stored encoding gets it; the others get parsed alerts. */
const send = (sink: Sink, entries: readonly Entry[]): Promise<DeliveryResult> =>
  sink.deliverEncoded ? sink.deliverEncoded(entries.map(encoded)) : sink.deliver(entries.map((e) => e.alert));

export function createBus(cfg: BusConfig, deps: BusDeps): Bus {
  const outbox = new Outbox(join(deps.dataDir, 'bus'), { ...DEFAULT_OUTBOX, ...cfg.outbox }, deps.log);
  const version = deps.version ?? '0.1.0';
  const make = deps.makeSink ?? ((s: SinkSpec) => createSink(s, { version }));
  const runners = new Map<string, Runner>();
  let running = false;
  let published = 0;

  const runner = (spec: SinkSpec, cursor: Cursor): Runner => {
    let match: Matcher | null = null;
    try {
      if (spec.filter.trim() !== '')
        match = compileMatcher(parseFilter(spec.filter, alertRecord), alertRecord);
    } catch (e) {
      throw new ConfigError(`sinks.${spec.name}.filter`, (e as Error).message);
    }
    return {
      spec,
      sink: make(spec),
      match,
      cursor,
      stopping: false,
      loop: null,
      wakers: new Set(),
      c: { sent: 0, filtered: 0, failed: 0, retried: 0, dead: 0 },
      oldestT: 0,
      lastError: null,
      replayPending: true,
    };
  };

  const backoff = (r: Runner, attempt: number): number => {
    const cap = Math.min(r.spec.maxBackoffMs, r.spec.backoffMs * 2 ** (attempt - 1));
    // Full jitter: many sensors retrying one receiver do not come back in step.
    return cap / 2 + Math.random() * (cap / 2);
  };

  /** Deliver entries with retries; what still fails after maxAttempts is returned as dead. */
  const deliverAll = async (r: Runner, entries: Entry[], attempts0: number[]): Promise<DeadLetter[]> => {
    let pending = entries.map((e, i) => ({ e, n: attempts0[i] ?? 0 }));
    const dead: DeadLetter[] = [];
    while (pending.length > 0) {
      let failedIdx: number[];
      let error = '';
      try {
        const res = await send(
          r.sink,
          pending.map((p) => p.e),
        );
        failedIdx = res.failed;
        error = res.error ?? 'failed';
      } catch (e) {
        failedIdx = pending.map((_, i) => i);
        error = (e as Error).message || String(e);
      }
      const bad = new Set(failedIdx);
      r.c.sent += pending.length - bad.size;
      deps.metrics?.inc(
        'vantage_bus_sent_total',
        'Alerts delivered by a sink.',
        { sink: r.spec.name },
        pending.length - bad.size,
      );
      if (bad.size === 0) break;
      r.lastError = error;
      r.c.failed += bad.size;
      deps.metrics?.inc(
        'vantage_bus_failed_total',
        'Failed alert deliveries (each attempt).',
        { sink: r.spec.name },
        bad.size,
      );
      const next: typeof pending = [];
      pending.forEach((p, i) => {
        if (!bad.has(i)) return;
        p.n++;
        if (p.n >= r.spec.maxAttempts)
          dead.push({ seq: p.e.seq, t: p.e.t, alert: p.e.alert, attempts: p.n, error });
        else next.push(p);
      });
      pending = next;
      if (pending.length === 0 || r.stopping) break;
      r.c.retried += pending.length;
      deps.metrics?.inc(
        'vantage_bus_retried_total',
        'Alert deliveries retried.',
        { sink: r.spec.name },
        pending.length,
      );
      await sleep(backoff(r, Math.max(...pending.map((p) => p.n))), r);
      if (r.stopping) break;
    }
    if (r.stopping && pending.length > 0) throw new Error('stopping');
    return dead;
  };

  const bury = async (r: Runner, dead: DeadLetter[]): Promise<void> => {
    if (dead.length === 0) return;
    await outbox.addDead(r.spec.name, dead);
    r.c.dead += dead.length;
    deps.metrics?.inc(
      'vantage_bus_dead_total',
      'Alerts turned into dead letters.',
      { sink: r.spec.name },
      dead.length,
    );
    deps.log.warn('bus: dead letters', { sink: r.spec.name, count: dead.length, error: dead[0]!.error });
  };

  const drainReplay = async (r: Runner): Promise<void> => {
    if (!r.replayPending) return;
    r.replayPending = false;
    try {
      let left = await outbox.listDead(r.spec.name, 'replay');
      while (left.length > 0 && !r.stopping) {
        const batch = left.slice(0, r.spec.batchSize);
        // A replayed letter gets a full set of attempts again.
        const dead = await deliverAll(
          r,
          batch,
          batch.map(() => 0),
        );
        await bury(r, dead);
        left = left.slice(batch.length);
        await outbox.setReplay(r.spec.name, left);
      }
      if (left.length > 0) r.replayPending = true;
    } catch (e) {
      r.replayPending = true;
      throw e;
    }
  };

  /**
   * The next batch is read (and its lines split) while the current one is on the wire, and the
   * cursor of a delivered batch is saved while the next is sent. A sink that takes batches
   * concurrently (Kafka: one producer per request) gets up to `concurrency` of them at once.
   * Batches are settled in order: dead letters buried, then the cursor saved past the batch, so
   * the saved cursor never passes a batch not yet delivered, and a crash re-sends at most the
   * batches in flight or not yet saved.
   */
  const loop = async (r: Runner): Promise<void> => {
    const window = Math.max(1, r.sink.concurrency ?? 1);
    let gcTick = 0;
    let ahead: Promise<{ entries: StoredEntry[]; next: Cursor }> | null = null;
    let saving: Promise<void> = Promise.resolve();
    /** Batches in delivery, oldest first; reads continue from the last one's end. */
    const flying: { done: Promise<DeadLetter[]>; next: Cursor; t: number }[] = [];
    let readFrom = r.cursor;
    const settle = async (): Promise<void> => {
      const f = flying[0]!;
      const dead = await f.done;
      flying.shift();
      await bury(r, dead);
      r.cursor = f.next;
      if (flying.length > 0) r.oldestT = flying[0]!.t;
      await saving;
      // A failed save costs only re-sends after a crash; the next save supersedes it.
      saving = outbox.saveCursor(r.spec.name, f.next).catch((e: Error) => {
        r.lastError = e.message;
        deps.log.error('bus: saving a cursor', { sink: r.spec.name, error: e.message });
      });
      if (++gcTick % 16 === 0) {
        await saving;
        await gc();
      }
    };
    while (!r.stopping) {
      try {
        if (r.replayPending) {
          while (flying.length > 0) await settle();
          await drainReplay(r);
        }
        const { entries, next } = await (ahead ?? outbox.read(readFrom, r.spec.batchSize));
        ahead = null;
        if (entries.length === 0) {
          if (flying.length > 0) {
            await settle();
            continue;
          }
          r.oldestT = 0;
          if (next.off !== r.cursor.off || next.seg !== r.cursor.seg) r.cursor = next;
          readFrom = r.cursor;
          await Promise.race([outbox.wait(1000), sleep(1000, r)]);
          continue;
        }
        ahead = outbox.read(next, r.spec.batchSize);
        ahead.catch(() => {});
        if (flying.length === 0) r.oldestT = entries[0]!.t;
        const m = r.match;
        const want = m ? entries.filter((e) => m(e.alert)) : entries;
        r.c.filtered += entries.length - want.length;
        const done = deliverAll(
          r,
          want,
          want.map(() => 0),
        );
        done.catch(() => {});
        flying.push({ done, next, t: entries[0]!.t });
        readFrom = next;
        while (flying.length >= window) await settle();
      } catch (e) {
        ahead = null;
        // What was in flight is sent again from the last settled batch (at-least-once).
        await Promise.allSettled(flying.map((f) => f.done));
        flying.length = 0;
        readFrom = r.cursor;
        if (r.stopping) break;
        r.lastError = (e as Error).message;
        deps.log.error('bus: delivery loop', { sink: r.spec.name, error: r.lastError });
        await sleep(1000, r);
      }
    }
    try {
      // Batches that complete while stopping are settled, so a restart does not send them again.
      while (flying.length > 0) await settle();
    } catch {
      // The rest are sent again after the restart.
    }
    await Promise.allSettled(flying.map((f) => f.done));
    await saving;
  };

  const gc = async (): Promise<void> => {
    await outbox.gc([...runners.values()].map((r) => r.cursor));
  };

  const launch = async (r: Runner): Promise<void> => {
    await r.sink.start();
    r.loop = loop(r);
  };

  const get = (name: string): Runner => {
    const r = runners.get(name);
    if (!r) throw new UserError(404, `no sink named '${name}'`);
    return r;
  };

  const halt = async (r: Runner): Promise<void> => {
    r.stopping = true;
    wake(r);
    await r.loop;
    await r.sink.stop().catch(() => {});
  };

  const bus: Bus = {
    async start() {
      await outbox.open();
      for (const spec of cfg.sinks) {
        const saved = await outbox.loadCursor(spec.name);
        runners.set(spec.name, runner(spec, saved ?? outbox.endCursor));
        if (!saved) await outbox.saveCursor(spec.name, outbox.endCursor);
      }
      if (deps.metrics) {
        deps.metrics.collect(() => {
          const s = bus.stats();
          deps.metrics!.set(
            'vantage_bus_outbox_bytes',
            'Size of the alert outbox on disk.',
            {},
            s.outboxBytes,
          );
          deps.metrics!.set(
            'vantage_bus_overflow',
            'Alerts refused by the outbox size bound.',
            {},
            s.overflow,
          );
          for (const k of s.sinks) {
            deps.metrics!.set(
              'vantage_bus_lag_alerts',
              'Alerts not yet past a sink.',
              { sink: k.name },
              k.lagAlerts,
            );
            deps.metrics!.set(
              'vantage_bus_lag_seconds',
              'Age of the oldest alert not yet past a sink.',
              { sink: k.name },
              k.lagSeconds,
            );
          }
        });
      }
      running = true;
      for (const r of runners.values()) await launch(r);
    },
    async stop() {
      running = false;
      await Promise.all([...runners.values()].map(halt));
      outbox.close();
    },
    async publish(alerts) {
      const res = await outbox.append(alerts);
      published += res.accepted;
      return res;
    },
    listSinks() {
      return [...runners.values()].map((r) => ({
        name: r.spec.name,
        kind: r.spec.kind,
        filter: r.spec.filter,
        health: r.sink.health(),
      }));
    },
    async addSink(spec) {
      if (runners.has(spec.name)) throw new UserError(409, `a sink named '${spec.name}' exists`);
      const end = outbox.endCursor;
      const r = runner(spec, end);
      await outbox.dropSinkFiles(spec.name);
      await outbox.saveCursor(spec.name, end);
      runners.set(spec.name, r);
      if (running) await launch(r);
    },
    async removeSink(name) {
      const r = get(name);
      runners.delete(name);
      await halt(r);
      await outbox.dropSinkFiles(name);
      await gc();
    },
    async testSink(name) {
      const r = get(name);
      const now = new Date().toISOString();
      const a: AlertRecord = {
        type: 'alert',
        alert_id: `test-${Date.now()}`,
        ts: now,
        first_ts: now,
        last_ts: now,
        updated_ts: now,
        category: 'other',
        detector: 'bus.test',
        title: `Vantage test alert for sink ${name}`,
        severity: 0,
        severity_label: 'info',
        confidence: 100,
        src_ip: null,
        src_port: null,
        dst_ip: null,
        dst_port: null,
        proto: null,
        community_id: null,
        vlan: null,
        vni: null,
        sensor: 'vantage',
        count: 1,
        evidence: { test: true },
        indicator: null,
        attack_technique: null,
        signature_id: null,
        source: 'vantage',
        retro: false,
        src_user: null,
        status: 'new',
        assignee: null,
        notes: null,
        tags: ['test'],
      };
      const t0 = performance.now();
      try {
        const res = await r.sink.deliver([a]);
        const ok = res.failed.length === 0;
        return { ok, error: ok ? null : (res.error ?? 'failed'), ms: performance.now() - t0 };
      } catch (e) {
        return { ok: false, error: (e as Error).message, ms: performance.now() - t0 };
      }
    },
    async deadLetters(name) {
      get(name);
      return outbox.listDead(name);
    },
    async replay(name) {
      const r = get(name);
      const n = await outbox.queueReplay(name);
      r.replayPending = true;
      wake(r);
      return n;
    },
    stats() {
      const end = outbox.nextSeq;
      return {
        published,
        overflow: outbox.counters.overflow,
        outboxBytes: outbox.bytes,
        segments: outbox.segmentCount,
        sinks: [...runners.values()].map((r) => ({
          name: r.spec.name,
          kind: r.spec.kind,
          filter: r.spec.filter,
          ...r.c,
          lagAlerts: Math.max(0, end - r.cursor.seq),
          lagSeconds: r.oldestT > 0 ? (Date.now() - r.oldestT) / 1000 : 0,
          lastError: r.lastError,
          health: r.sink.health(),
        })),
      };
    },
  };
  return bus;
}
