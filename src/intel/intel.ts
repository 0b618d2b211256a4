import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertEmitter } from '../common/alerts.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { AlertRecord } from '../schema/alert.js';
import type { SightingRecord } from '../schema/sighting.js';
import type { RecordStore } from '../store/types.js';
import { type FeedConfig, type IntelConfig, parseFeedConfig } from './config.js';
import { FeedError } from './feeds/common.js';
import { IocStore } from './ioc-store.js';
import { Matcher } from './matcher.js';
import { type Ioc, iocKey } from './model.js';
import { type PullCursor, pullFeed } from './pull.js';
import { type HuntFinding, type HuntProgress, retroHunt } from './retro.js';
import { IntelWatcher } from './watcher.js';

export interface FeedStatus {
  name: string;
  format: string;
  source: string;
  schedule_s: number;
  /** Where the feed was defined: the config file, or added over the API / CLI. */
  origin: 'config' | 'added';
  last_pull: string | null;
  last_success: string | null;
  pulls: number;
  failures: number;
  added: number;
  removed: number;
  indicators: number;
  skipped: number;
  unsupported: number;
  problems: string[];
  error: string | null;
  pull_ms: number | null;
  cursor: PullCursor;
}

export interface Hunt {
  id: string;
  created: string;
  reason: string;
  indicators: number;
  progress: HuntProgress;
  findings: HuntFinding[];
}

export interface IntelDeps {
  dataDir: string;
  store?: RecordStore;
  metrics?: Metrics;
  log: Logger;
  emitter: AlertEmitter;
  /** Sighting records (default: appended to the store in batches). */
  sightings?: (s: SightingRecord) => void;
  /** Alerts raised by retro-hunts (default: appended to the store). */
  retroAlerts?: (a: AlertRecord) => void;
  /** The packet store's presence index: did packets of this address get recorded? */
  pcap?: { hasIp(ip: string): Promise<boolean> };
  /** Wall clock, ms (tests pass their own). */
  now?: () => number;
}

export interface Intel {
  readonly watcher: IntelWatcher;
  readonly iocs: IocStore;
  /** Load saved feeds and indicators without pulling or scheduling anything (the CLI). */
  open(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  feeds(): FeedStatus[];
  feedConfig(name: string): FeedConfig | undefined;
  /** Pull one feed now; resolves with its status (error included, never thrown). */
  pull(name: string): Promise<FeedStatus>;
  addFeed(raw: unknown): Promise<FeedStatus>;
  removeFeed(name: string): boolean;
  /** Start a retro-hunt over stored history; resolves once it is registered (runs in the background). */
  hunt(req: {
    values?: { type: string; value: string }[];
    after?: number;
    before?: number;
    reason?: string;
  }): Hunt;
  huntById(id: string): Hunt | undefined;
  hunts(): Hunt[];
  counters(): Record<string, number>;
}

const MAX_HUNTS = 100;

/**
 * The threat-intelligence component: feeds pulled on their schedules into the persistent IOC
 * store, the matcher rebuilt and swapped into the watcher whenever the store changes, and
 * retro-hunts over stored history. Built inert; `start` loads persisted indicators and
 * begins the schedules.
 */
export function createIntel(cfg: IntelConfig, deps: IntelDeps): Intel {
  const dir = join(deps.dataDir, 'intel');
  const now = deps.now ?? Date.now;
  const iocs = new IocStore(join(dir, 'feeds'));
  const configured = new Map(cfg.feeds.map((f) => [f.name, f]));
  const added = new Map<string, FeedConfig>();
  const status = new Map<string, FeedStatus>();
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<FeedStatus>>();
  const hunts = new Map<string, Hunt>();
  let builtVersion = -1;
  let started = false;
  let expiryTimer: NodeJS.Timeout | null = null;
  let flushTimer: NodeJS.Timeout | null = null;
  const pendingSightings: SightingRecord[] = [];
  const pendingAlerts: AlertRecord[] = [];
  const counts = { pulls: 0, pull_failures: 0, rebuilds: 0, expired: 0, hunts: 0, sightings_dropped: 0 };

  const sightingSink =
    deps.sightings ??
    ((s: SightingRecord) => {
      if (pendingSightings.length >= 100_000) {
        counts.sightings_dropped++;
        return;
      }
      pendingSightings.push(s);
    });
  const watcher = new IntelWatcher(new Matcher(), deps.emitter, sightingSink);

  const flush = async (): Promise<void> => {
    if (!deps.store) return;
    if (pendingSightings.length > 0) await deps.store.append('sighting', pendingSightings.splice(0));
    if (pendingAlerts.length > 0) await deps.store.append('alert', pendingAlerts.splice(0));
  };

  const rebuild = (): void => {
    if (iocs.version === builtVersion) return;
    builtVersion = iocs.version;
    watcher.setMatcher(Matcher.over(iocs));
    counts.rebuilds++;
    deps.metrics?.set('vantage_intel_indicators', 'Threat-intel indicators loaded', {}, iocs.size);
  };

  const cfgOf = (name: string): FeedConfig | undefined => added.get(name) ?? configured.get(name);

  const statusOf = (f: FeedConfig, origin: FeedStatus['origin']): FeedStatus => {
    let s = status.get(f.name);
    if (!s) {
      s = {
        name: f.name,
        format: f.format,
        source: f.url ? f.url.replace(/\/\/[^@/]*@/, '//') : (f.file ?? ''),
        schedule_s: f.schedule,
        origin,
        last_pull: null,
        last_success: null,
        pulls: 0,
        failures: 0,
        added: 0,
        removed: 0,
        indicators: iocs.feedSize(f.name),
        skipped: 0,
        unsupported: 0,
        problems: [],
        error: null,
        pull_ms: null,
        cursor: {},
      };
      status.set(f.name, s);
    }
    return s;
  };

  const saveState = (): void => {
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'state.json');
    writeFileSync(
      `${p}.tmp`,
      JSON.stringify({ added: [...added.values()].map(rawOf), status: [...status.values()] }),
    );
    renameSync(`${p}.tmp`, p);
  };

  const doPull = async (name: string): Promise<FeedStatus> => {
    const f = cfgOf(name);
    if (!f) throw new FeedError(`no feed named '${name}'`);
    const s = statusOf(f, added.has(name) ? 'added' : 'config');
    const t0 = now();
    s.last_pull = new Date(t0).toISOString();
    s.pulls++;
    counts.pulls++;
    try {
      const out = await pullFeed(f, s.cursor, t0);
      let list = out.result.iocs;
      if (out.incremental) {
        // a TAXII pull after the first brings only what was added since: keep the rest
        const keep = new Map<string, Ioc>();
        for (const i of iocs.values()) if (i.sources.includes(name)) keep.set(iocKey(i.type, i.value), i);
        for (const i of list) keep.set(iocKey(i.type, i.value), i);
        list = [...keep.values()];
      }
      // values no feed had before this pull: those are hunted for in stored history
      const hadAny = iocs.size > 0;
      const fresh =
        cfg.retroOnNew && deps.store && hadAny ? list.filter((i) => !iocs.byType[i.type].has(i.value)) : [];
      const r = iocs.replaceFeed(name, list);
      Object.assign(s, {
        last_success: new Date(now()).toISOString(),
        added: r.added,
        removed: r.removed,
        indicators: r.total,
        skipped: out.result.skipped,
        unsupported: out.result.unsupported,
        problems: out.result.problems,
        error: null,
        pull_ms: now() - t0,
        cursor: out.cursor,
      });
      rebuild();
      deps.log.info('intel feed pulled', { feed: name, added: r.added, removed: r.removed, total: r.total });
      if (fresh.length > 0)
        startHunt(fresh, { after: now() - cfg.retroDays * 86_400_000 }, `new indicators of ${name}`);
    } catch (e) {
      s.failures++;
      counts.pull_failures++;
      s.error = e instanceof FeedError ? e.message : `unexpected: ${(e as Error).message}`;
      s.pull_ms = now() - t0;
      deps.log.warn('intel feed failed; previous indicators kept', { feed: name, error: s.error });
    }
    saveState();
    return s;
  };

  const pull = (name: string): Promise<FeedStatus> => {
    // one pull of a feed at a time: a second request joins the one in flight
    const inflight = running.get(name);
    if (inflight) return inflight;
    const p = doPull(name).finally(() => running.delete(name));
    running.set(name, p);
    return p;
  };

  const schedule = (f: FeedConfig): void => {
    clearInterval(timers.get(f.name));
    if (f.schedule > 0) {
      const t = setInterval(() => void pull(f.name), f.schedule * 1000);
      t.unref();
      timers.set(f.name, t);
    }
  };

  const startHunt = (list: Ioc[], range: { after?: number; before?: number }, reason: string): Hunt => {
    const h: Hunt = {
      id: randomUUID(),
      created: new Date(now()).toISOString(),
      reason,
      indicators: list.length,
      progress: { state: 'running', scanned: 0, types_done: 0, types_total: 0, sightings: 0 },
      findings: [],
    };
    hunts.set(h.id, h);
    counts.hunts++;
    while (hunts.size > MAX_HUNTS) hunts.delete(hunts.keys().next().value as string);
    const store = deps.store;
    if (!store) {
      h.progress = { ...h.progress, state: 'failed', error: 'no record store to hunt in' };
      return h;
    }
    void (async () => {
      try {
        const res = await retroHunt(store, list, range, {
          sighting: sightingSink,
          alert: (a) => (deps.retroAlerts ? deps.retroAlerts(a) : pendingAlerts.push(a)),
          progress: (p) => {
            h.progress = { ...p };
          },
        });
        if (deps.pcap) {
          for (const f of res.findings) {
            if (f.type === 'ipv4' || f.type === 'ipv6')
              f.packets_seen = await deps.pcap.hasIp(f.value).catch(() => false);
          }
        }
        h.findings = res.findings;
        h.progress = { ...res.progress };
        await flush();
      } catch (e) {
        h.progress = { ...h.progress, state: 'failed', error: (e as Error).message };
      }
    })();
    return h;
  };

  let opened = false;
  const open = async (): Promise<void> => {
    if (opened) return;
    opened = true;
    try {
      const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        added?: unknown[];
        status?: FeedStatus[];
      };
      for (const [i, raw] of (st.added ?? []).entries()) {
        try {
          const f = parseFeedConfig(raw, `intel/state.json added[${i}]`);
          added.set(f.name, f);
        } catch (e) {
          deps.log.warn('intel: a saved feed is no longer valid', { error: (e as Error).message });
        }
      }
      for (const s of st.status ?? []) if (cfgOf(s.name)) status.set(s.name, s);
    } catch {
      // first start: nothing saved yet
    }
    iocs.load();
    for (const name of iocs.feedNames()) if (!cfgOf(name)) iocs.removeFeed(name);
    counts.expired += iocs.expire(now());
    rebuild();
  };

  return {
    watcher,
    iocs,
    open,
    async start() {
      if (started) return;
      started = true;
      await open();
      const all = [...configured.values(), ...added.values()];
      for (const f of all) {
        statusOf(f, added.has(f.name) ? 'added' : 'config');
        schedule(f);
      }
      for (const f of all) void pull(f.name);
      expiryTimer = setInterval(() => {
        counts.expired += iocs.expire(now());
        rebuild();
      }, 60_000);
      expiryTimer.unref();
      flushTimer = setInterval(
        () => void flush().catch((e) => deps.log.warn('intel: store append failed', { error: String(e) })),
        2_000,
      );
      flushTimer.unref();
    },
    async stop() {
      for (const t of timers.values()) clearInterval(t);
      timers.clear();
      if (expiryTimer) clearInterval(expiryTimer);
      if (flushTimer) clearInterval(flushTimer);
      await Promise.allSettled([...running.values()]);
      await flush().catch(() => {});
      started = false;
    },
    feeds: () =>
      [...configured.values(), ...added.values()].map((f) =>
        statusOf(f, added.has(f.name) ? 'added' : 'config'),
      ),
    feedConfig: cfgOf,
    pull: async (name) => {
      if (!cfgOf(name)) throw new FeedError(`no feed named '${name}'`);
      return pull(name);
    },
    async addFeed(raw) {
      const f = parseFeedConfig(raw, 'feed');
      if (configured.has(f.name)) throw new FeedError(`feed '${f.name}' is defined in the config file`);
      added.set(f.name, f);
      status.delete(f.name);
      statusOf(f, 'added');
      saveState();
      if (started) schedule(f);
      return pull(f.name);
    },
    removeFeed(name) {
      if (!added.has(name)) return false;
      added.delete(name);
      status.delete(name);
      clearInterval(timers.get(name));
      timers.delete(name);
      iocs.removeFeed(name);
      rebuild();
      saveState();
      return true;
    },
    hunt(req) {
      let list: Ioc[];
      if (req.values && req.values.length > 0) {
        list = [];
        for (const v of req.values) {
          const i = iocs.get(iocKey(v.type as Ioc['type'], v.value));
          if (i) list.push(i);
        }
      } else list = [...iocs.values()];
      const range: { after?: number; before?: number } = {};
      range.after = req.after ?? now() - cfg.retroDays * 86_400_000;
      if (req.before !== undefined) range.before = req.before;
      return startHunt(list, range, req.reason ?? 'on request');
    },
    huntById: (id) => hunts.get(id),
    hunts: () => [...hunts.values()].reverse(),
    counters: () => ({
      ...counts,
      indicators: iocs.size,
      records: watcher.counters.records,
      hits: watcher.counters.hits,
      expired_hits: watcher.counters.expired_hits,
      swaps: watcher.counters.swaps,
    }),
  };
}

/** A feed config back in its file form (to save feeds added at run time). */
function rawOf(f: FeedConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {
    name: f.name,
    format: f.format,
    schedule: f.schedule,
    confidence: f.confidence,
    severity: f.severity,
    valid_days: f.validDays,
    to_ids_only: f.toIdsOnly,
  };
  if (f.url) o.url = f.url;
  if (f.file) o.file = f.file;
  if (f.auth) o.auth = f.auth;
  if (f.mapping) o.mapping = f.mapping;
  if (f.type) o.type = f.type;
  if (f.collection) o.collection = f.collection;
  if (f.apiRoot) o.api_root = f.apiRoot;
  if (f.addedAfter) o.added_after = f.addedAfter;
  if (f.warninglists.length > 0) o.warninglists = f.warninglists;
  if (f.query) o.query = f.query;
  return o;
}
