import { join } from 'node:path';
import type { CollectorConfig } from '../collect/receiver.js';
import { type Collector, createCollector } from '../collect/receiver.js';
import type { SnmpInterfaces } from '../collect/snmp/interfaces.js';
import type { MemoryBudget } from '../common/budget.js';
import type { Logger } from '../common/log.js';
import type { LossLedger } from '../common/loss.js';
import type { Metrics } from '../common/metrics.js';
import { StoreFeed } from '../store/feed.js';
import type { Rec, RecordStore } from '../store/types.js';

/**
 * What `vantage start` does to stay inside its memory budget under any load: the collector
 * feeds the store through a bounded queue (column form, no object per flow), every loss is in
 * one ledger shown in /metrics, written as `loss` records and read by /api/v1/health.
 */

/** Bytes one datagram costs while in flight to the decode thread (copied once, batch slack). */
const DATAGRAM_COST = 3000;

export interface CollectorFeedOptions {
  collect: { host: string; udpPorts: number[]; tcpPorts: number[] };
  dataDir: string;
  budget: MemoryBudget;
  /** Keep 1-in-N under overload instead of dropping (the factor is on the records). */
  sampling: boolean;
  /** More collector settings (tests, benchmarks). */
  collector?: Partial<CollectorConfig>;
}

export interface CollectorFeed {
  collector: Collector;
  feed: StoreFeed;
  stop(): Promise<void>;
}

export async function startCollectorFeed(
  o: CollectorFeedOptions,
  deps: {
    store: RecordStore;
    metrics: Metrics;
    log: Logger;
    ledger: LossLedger;
    snmp?: SnmpInterfaces | null;
  },
): Promise<CollectorFeed> {
  const { metrics, log, ledger } = deps;
  const source = 'collector';
  const feed = new StoreFeed(
    deps.store,
    {
      source,
      // The feed weighs a batch by its columns' bytes; held in the process (V8 strings, the
      // decode thread's message copies, DuckDB's own copies while a commit of them runs) a
      // queued row costs about three times that, measured under the flood test.
      maxBytes: Math.floor(o.budget.collectStore / 3),
      sampling: o.sampling,
      // Rows per commit: what the queue can hold, at ~400 bytes a collected row.
      maxAppendRows: Math.max(16_384, Math.min(196_608, Math.floor(o.budget.collectStore / 1200))),
    },
    ledger,
    (msg, e) => {
      metrics.inc('vantage_collect_store_errors_total', 'Collected batches the store refused.', {});
      log.error(msg, { error: String(e) });
    },
  );
  const collector = createCollector(
    {
      ...o.collect,
      stateDir: join(o.dataDir, 'collect'),
      maxQueue: Math.max(256, Math.floor(o.budget.collectDecode / DATAGRAM_COST)),
      // Sockets read by the decode thread: store appends on this thread do not overflow them.
      receiveInWorker: true,
      ...o.collector,
    },
    {
      sinkColumns: (flows) =>
        feed.offerColumns('exported_flow', deps.snmp ? deps.snmp.enrichColumns(flows) : flows),
      sink: (batch) => {
        const byType = new Map<string, Rec[]>();
        for (const r of batch) {
          deps.snmp?.enrichRecord(r as unknown as Rec);
          const list = byType.get(r.type) ?? [];
          list.push(r as unknown as Rec);
          byType.set(r.type, list);
        }
        for (const [type, recs] of byType) feed.offerRecords(type, recs);
      },
      log: (msg) => log.info(msg),
    },
  );
  await collector.start();
  // The collector counts these in datagrams (that is what the kernel and its queue drop).
  ledger.poll(() => {
    const s = collector.stats();
    ledger.observe(source, 'socket', s.socketDrops);
    ledger.observe(source, 'queue_full', s.totals.drops);
  });
  metrics.collect(() => {
    const s = collector.stats();
    const f = feed.stats();
    metrics.set('vantage_collect_datagrams', 'Export datagrams received.', {}, s.totals.datagrams);
    metrics.set('vantage_collect_records', 'Flow records decoded from exports.', {}, s.totals.records);
    metrics.set(
      'vantage_collect_socket_drops',
      'Datagrams the kernel dropped on collector sockets.',
      {},
      s.socketDrops,
    );
    metrics.set('vantage_collect_queue_depth', 'Datagrams waiting to be decoded.', {}, s.queueDepth);
    metrics.set(
      'vantage_collect_queue_drops',
      'Datagrams dropped because the decode queue was full.',
      {},
      s.totals.drops,
    );
    metrics.set('vantage_collect_stored_records', 'Collected records the store acknowledged.', {}, f.stored);
    metrics.set(
      'vantage_collect_store_queue_bytes',
      'Bytes of collected records waiting for the store.',
      {},
      f.queuedBytes,
    );
    metrics.set(
      'vantage_collect_store_queue_records',
      'Collected records waiting for (or in) the store.',
      {},
      f.queuedRows + f.inFlight,
    );
    metrics.set(
      'vantage_collect_sampling',
      'Sampling factor under overload (1: every record kept).',
      {},
      f.sampling,
    );
  });
  return {
    collector,
    feed,
    async stop() {
      await collector.stop();
      await feed.drain();
    },
  };
}

export interface LossReporting {
  health(): { status: 'ok' | 'degraded'; reasons: string[] };
  /** Write the last interval's loss records. */
  stop(): Promise<void>;
}

/**
 * Loss in /metrics (`vantage_loss_total{source,reason}`), a `loss` record per source and
 * reason every `intervalMs` while it grows, and health `degraded` while any counter grew in
 * the last `windowMs`.
 */
export function lossReporting(
  deps: { ledger: LossLedger; store: RecordStore; metrics: Metrics; log: Logger },
  opts: { intervalMs?: number; windowMs?: number } = {},
): LossReporting {
  const { ledger, store, metrics, log } = deps;
  metrics.collect(() => {
    for (const e of ledger.entries())
      metrics.set(
        'vantage_loss_total',
        'Records or packets a source could not keep, by reason (socket, queue_full, store_behind, store_error, sampled).',
        { source: e.source, reason: e.reason },
        e.total,
      );
  });
  let writing: Promise<void> = Promise.resolve();
  const write = (): void => {
    const rows = ledger.interval();
    if (rows.length === 0) return;
    const ts = new Date().toISOString();
    const recs = rows.map((r) => ({
      ts,
      source: r.source,
      reason: r.reason,
      count: r.count,
      total: r.total,
    }));
    for (const r of rows)
      log.warn('source losing data', { source: r.source, reason: r.reason, count: r.count });
    writing = writing
      .then(() => store.append('loss', recs))
      .catch((e: unknown) => log.error('storing loss records failed', { error: String(e) }));
  };
  const timer = setInterval(write, opts.intervalMs ?? 10_000);
  timer.unref();
  const windowMs = opts.windowMs ?? 30_000;
  return {
    health() {
      const losing = ledger.losing(windowMs);
      if (losing.length === 0) return { status: 'ok', reasons: [] };
      return {
        status: 'degraded',
        reasons: losing.map((l) => `${l.source} losing data: ${l.reason} (${l.total} since start)`),
      };
    },
    async stop() {
      clearInterval(timer);
      write();
      await writing;
    },
  };
}
