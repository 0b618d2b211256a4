import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectorConfig } from '../collect/receiver.js';
import { type Collector, createCollector } from '../collect/receiver.js';
import type { SnmpInterfaces } from '../collect/snmp/interfaces.js';
import { defaultSpoolBytes, formatBytes, type MemoryBudget, youngMbFromEnv } from '../common/budget.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { LossLedger } from '../common/loss.js';
import type { Metrics } from '../common/metrics.js';
import { COMMIT_ROWS } from '../store/embedded/store.js';
import { StoreFeed } from '../store/feed.js';
import type { Rec, RecordStore } from '../store/types.js';
import { startMemoryTrace } from './memory-trace.js';

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
  /**
   * Disk the collector's spool may take, bytes (`collect.spool`): 0 or absent: the default from
   * the free disk space (`defaultSpoolBytes`); negative: no spool (datagrams the store cannot
   * take yet are dropped as before).
   */
  spoolBytes?: number;
  /** Health says `degraded` while the spool holds more than this many seconds of backlog (5). */
  spoolDegradedSeconds?: number;
  /**
   * Let the embedded store hold appended rows until a whole DuckDB row group commits (the
   * feed's `hold`; default off, `VANTAGE_COLLECT_HOLD=1` turns it on). A commit of a row group
   * is written to the file as row groups instead of being logged row by row to the WAL, kept in
   * DuckDB's memory until a checkpoint and written again: ~30% less CPU per row. The decode
   * thread then runs a row group further ahead of the store; it lost datagrams at the socket
   * under the spool-flood test (1.4–10k in 5 of 6 runs) until it spooled, rather than decoded,
   * what it read while the socket held a backlog (`decode-worker.ts`). Still off: in 300-s soaks
   * (bench/README.md, 2026-12-07, s21-hold26) the peak RSS rose to 725–788 MB (657–702 without;
   * budget 768: exceeded in 1 of 3), and the RSS swing did not shrink: while the API is asked a
   * hold gathers in the in-memory staging table, and other types' writes cut most holds short.
   */
  holdCommits?: boolean;
  /** More collector settings (tests, benchmarks). */
  collector?: Partial<CollectorConfig>;
  /** Write a memory sample every 250 ms to this file (`memory-trace.ts`; default: `VANTAGE_MEMORY_TRACE`). */
  memoryTrace?: string;
}

export interface CollectorFeed {
  collector: Collector;
  feed: StoreFeed;
  /** Why health is `degraded` because of the collector's backlog (empty when it is not). */
  health(): string[];
  stop(): Promise<void>;
}

/** Bytes of columns one collected flow row weighs in the feed (`StoreFeed.weigh`, measured ~380). */
const ROW_WEIGHT = 400;

/** Health with the collector's backlog reasons added. */
export function withBacklog(
  h: { status: 'ok' | 'degraded'; reasons: string[] },
  reasons: string[] | undefined,
): { status: 'ok' | 'degraded'; reasons: string[] } {
  if (!reasons || reasons.length === 0) return h;
  return { status: 'degraded', reasons: [...h.reasons, ...reasons] };
}

/** VANTAGE_COLLECT_NICE's value: a nice value, -20..19. */
export function collectNice(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < -20 || n > 19 || v.trim() === '')
    throw new ConfigError('VANTAGE_COLLECT_NICE', `a nice value from -20 to 19 (got ${JSON.stringify(v)})`);
  return n;
}

/** VANTAGE_COLLECT_HOLD's value: `1` turns held commits on (to measure one against the other). */
export function collectHold(v: string | undefined): boolean {
  if (v === '1') return true;
  if (v === undefined || v === '0') return false;
  throw new ConfigError('VANTAGE_COLLECT_HOLD', `0 or 1 (got ${JSON.stringify(v)})`);
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
  // Rows per commit: what the queue can hold, at ~400 bytes a collected row.
  const maxAppendRows = Math.max(16_384, Math.min(196_608, Math.floor(o.budget.collectStore / 1200)));
  const hold =
    (o.holdCommits ?? collectHold(process.env.VANTAGE_COLLECT_HOLD)) &&
    deps.store.backend === 'embedded-duckdb';
  const ahead = hold ? COMMIT_ROWS + maxAppendRows : maxAppendRows;
  // The spool: what the store cannot take yet waits on disk, not in memory.
  let spool: CollectorConfig['spool'] = null;
  const spoolDir = join(o.dataDir, 'collect', 'spool');
  if ((o.spoolBytes ?? 0) >= 0) {
    let maxBytes = o.spoolBytes ?? 0;
    let how = 'collect.spool';
    if (maxBytes === 0) {
      mkdirSync(spoolDir, { recursive: true });
      const fs = statfsSync(spoolDir);
      maxBytes = defaultSpoolBytes(fs.bavail * fs.bsize);
      how = '5% of the free disk at start; collect.spool sets it';
    }
    // One commit's worth decoded ahead of the store: the backlog waits on disk, where it costs
    // nothing, not as decoded rows in memory. Two commits ahead (one being committed, the next
    // one ready) held 30–50 MB more at 400k records/s for no faster storing (bench/README.md).
    // With `hold`, a commit's rows wait unacknowledged: the decode thread is ahead by that more.
    spool = { dir: spoolDir, maxBytes, aheadRecords: ahead };
    log.info(`collector spool: up to ${formatBytes(maxBytes)} of backlog on disk in ${spoolDir} (${how})`);
  }
  const feed = new StoreFeed(
    deps.store,
    {
      source,
      // The feed weighs a batch by its columns' bytes; held in the process (V8 strings, the
      // decode thread's message copies, DuckDB's own copies while a commit of them runs) a
      // queued row costs about three times that, measured under the flood test. With the spool
      // the decode thread stops `aheadRecords` ahead of the store, which must fit.
      maxBytes: Math.max(
        Math.floor(o.budget.collectStore / 3),
        spool || hold ? Math.ceil(ahead * ROW_WEIGHT * 1.25) : 0,
      ),
      sampling: o.sampling,
      maxAppendRows,
      hold,
    },
    ledger,
    (msg, e) => {
      metrics.inc('vantage_collect_store_errors_total', 'Collected batches the store refused.', {});
      log.error(msg, { error: String(e) });
    },
  );
  const collector = createCollector(
    {
      host: o.collect.host,
      udpPorts: o.collect.udpPorts,
      tcpPorts: o.collect.tcpPorts,
      stateDir: join(o.dataDir, 'collect'),
      maxQueue: Math.max(256, Math.floor(o.budget.collectDecode / DATAGRAM_COST)),
      // Sockets read by the decode thread: store appends on this thread do not overflow them.
      receiveInWorker: true,
      // With the addon (SO_RCVBUFFORCE) the kernel holds ~4 s of 400k records/s while the
      // receiving thread waits for a core on a busy machine; kernel memory, taken only when used.
      recvBufferSize: 32 * 2 ** 20,
      spool,
      // VANTAGE_COLLECT_NICE nices the decode thread (bulk work, but it also reads the sockets:
      // off by default, see CollectorConfig.workerNice), to measure the difference on a machine.
      // VANTAGE_COLLECT_YOUNG_MB: the decode thread's young generation (0: V8's default), to
      // measure one against another on the same build.
      ...(process.env.VANTAGE_COLLECT_YOUNG_MB !== undefined
        ? { workerYoungMb: youngMbFromEnv('VANTAGE_COLLECT_YOUNG_MB', process.env.VANTAGE_COLLECT_YOUNG_MB) }
        : {}),
      ...(process.env.VANTAGE_COLLECT_NICE !== undefined
        ? { workerNice: collectNice(process.env.VANTAGE_COLLECT_NICE) }
        : {}),
      ...o.collector,
    },
    {
      settled: () => {
        const f = feed.stats();
        return f.offered - f.queuedRows - f.inFlight;
      },
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
  const tracePath = o.memoryTrace ?? process.env.VANTAGE_MEMORY_TRACE;
  const trace = tracePath ? startMemoryTrace(tracePath, { store: deps.store, collector, feed }) : null;
  // In records, as the store counts what it keeps: the decode thread counts a dropped
  // datagram's records from its headers (`count.ts`). The kernel's drops stay in datagrams (it
  // drops them unread), and so does a rare IPFIX-over-TCP message dropped before the decode
  // thread (its records are unknown there).
  ledger.poll(() => {
    const s = collector.stats();
    ledger.observe(source, 'socket', s.socketDrops);
    ledger.observe(source, 'queue_full', s.totals.dropRecords + s.mainDrops);
    if (s.spool) ledger.observe(source, 'spool_full', s.spool.fullRecords);
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
    metrics.set(
      'vantage_collect_tcp_pauses',
      'Times an IPFIX-over-TCP connection was paused while the decode thread or the store was behind (its exporter holds the data).',
      {},
      s.tcpPauses,
    );
    const sp = s.spool;
    metrics.set(
      'vantage_collect_queue_depth',
      'Datagrams waiting to be decoded (in the spool or in flight).',
      {},
      s.queueDepth + (sp?.datagrams ?? 0),
    );
    metrics.set(
      'vantage_collect_queue_drops',
      'Datagrams dropped because the decode queue (or its disk spool) was full.',
      {},
      s.totals.drops + (sp?.full ?? 0),
    );
    metrics.set(
      'vantage_collect_dropped_records',
      'Records in the datagrams dropped because the decode queue or the disk spool was full, counted from their headers.',
      { reason: 'queue_full' },
      s.totals.dropRecords,
    );
    if (sp) {
      metrics.set(
        'vantage_collect_dropped_records',
        'Records in the datagrams dropped because the decode queue or the disk spool was full, counted from their headers.',
        { reason: 'spool_full' },
        sp.fullRecords,
      );
      metrics.set('vantage_collect_spool_bytes', 'Bytes the collector spool holds on disk.', {}, sp.bytes);
      metrics.set(
        'vantage_collect_spool_peak_bytes',
        'Most bytes the collector spool held.',
        {},
        sp.peakBytes,
      );
      metrics.set('vantage_collect_spool_limit_bytes', 'Disk the collector spool may take.', {}, sp.maxBytes);
      metrics.set(
        'vantage_collect_spool_datagrams',
        'Datagrams in the collector spool not yet decoded.',
        {},
        sp.datagrams,
      );
      metrics.set(
        'vantage_collect_spool_seconds',
        'Age of the collector spool backlog, seconds.',
        {},
        sp.seconds,
      );
      metrics.set(
        'vantage_collect_spool_full_drops',
        'Datagrams dropped because the spool was full.',
        {},
        sp.full,
      );
      metrics.set('vantage_collect_spool_torn', 'Torn or damaged spool records cut at start.', {}, sp.torn);
    }
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
  const degradedAfter = o.spoolDegradedSeconds ?? 5;
  return {
    collector,
    feed,
    health() {
      const sp = collector.stats().spool;
      if (!sp || sp.seconds <= degradedAfter) return [];
      return [
        `collector behind: ${sp.datagrams} datagrams (${formatBytes(sp.bytes)}, ${sp.seconds.toFixed(0)} s) spooled on disk waiting for the store`,
      ];
    },
    async stop() {
      await collector.stop();
      await feed.drain();
      trace?.stop();
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
        'Records or packets a source could not keep, by reason (socket, queue_full, store_behind, store_error, sampled, spool_full).',
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
