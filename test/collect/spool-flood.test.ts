/**
 * The collector's spool under a flood: IPFIX from the paced loopback sender at a rate above
 * what the embedded store takes, through the same wiring `vantage start` uses
 * (`startCollectorFeed`: decode thread with its spool, the bounded feed, the real DuckDB
 * store). Checked against the sender's own count and the store's own row count: with a spool
 * large enough nothing is lost and everything is stored after the end; with a small one
 * sent = stored + every drop counted by reason, exactly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startCollectorFeed } from '../../src/cli/load-control.js';
import { memoryBudget } from '../../src/common/budget.js';
import { silentLogger } from '../../src/common/log.js';
import { LossLedger } from '../../src/common/loss.js';
import { Metrics } from '../../src/common/metrics.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { send } from '../load/sender.js';
import { parseMetrics } from '../load/vantage-process.js';

const PER = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function flood(spoolBytes: number, recordsPerSecond: number, seconds: number, restart = false) {
  const dataDir = mkdtempSync(join(tmpdir(), 'spool-flood-'));
  dirs.push(dataDir);
  const store = createEmbeddedStore(
    { dataDir, threads: 1, memoryLimit: 256 * 2 ** 20 },
    { log: silentLogger },
  );
  await store.start();
  let metrics = new Metrics();
  let ledger = new LossLedger();
  const start = (udpPort: number) =>
    startCollectorFeed(
      {
        collect: { host: '127.0.0.1', udpPorts: [udpPort], tcpPorts: [] },
        dataDir,
        budget: memoryBudget(768 * 2 ** 20),
        sampling: false,
        spoolBytes,
        spoolDegradedSeconds: 0.5,
      },
      { store, metrics, log: silentLogger, ledger },
    );
  let feed = await start(0);
  const port = feed.collector.addresses().udp[0]!;
  let degradedSeen = false;
  let spoolPeak = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      if (feed.health().length > 0) degradedSeen = true;
      spoolPeak = Math.max(spoolPeak, feed.collector.stats().spool?.datagrams ?? 0);
      await sleep(100);
    }
  })();
  const sent = await send({ kind: 'ipfix', port, rate: recordsPerSecond / PER, seconds });
  let left = 0;
  if (restart) {
    // Stopped with a backlog: what the store has is kept, the spool keeps the rest on disk,
    // and the next start drains it (the counters start again: this run's account is the store's).
    await sleep(200);
    await feed.stop();
    left = feed.collector.stats().spool?.datagrams ?? 0;
    metrics = new Metrics();
    ledger = new LossLedger();
    feed = await start(port);
  }
  // Everything sent is decoded or counted, and nothing waits for the store; a starved machine
  // drains slowly, so the wait lasts while the store makes progress.
  let m = parseMetrics(await metrics.render());
  let lastStored = -1;
  let still = 0;
  for (;;) {
    m = parseMetrics(await metrics.render());
    const seen =
      (restart ? sent.datagrams : 0) +
      (m.get('vantage_collect_datagrams') ?? 0) +
      (m.get('vantage_collect_queue_drops') ?? 0) +
      (m.get('vantage_collect_socket_drops') ?? 0);
    const waiting =
      (m.get('vantage_collect_store_queue_records') ?? 0) + (m.get('vantage_collect_queue_depth') ?? 0);
    if (seen >= sent.datagrams && waiting === 0) break;
    const stored = m.get('vantage_collect_stored_records') ?? 0;
    still = stored === lastStored ? still + 1 : 0;
    lastStored = stored;
    assert.ok(still < 300, `no progress for 30 s: ${JSON.stringify(Object.fromEntries(m))}`);
    await sleep(100);
  }
  watching = false;
  await watcher;
  const healthAfter = feed.health();
  ledger.entries(); // observe the collector's counters before it stops
  await feed.stop();
  const rows = await store.count('exported_flow', {});
  await store.stop();
  const spoolFiles = readdirSync(join(dataDir, 'collect', 'spool')).filter((f) => f.endsWith('.spool'));
  return {
    sent: sent.datagrams * PER,
    rows,
    m,
    ledger,
    degradedSeen,
    healthAfter,
    spoolPeak,
    spoolFiles,
    left,
  };
}

describe('collector spool under a flood (real store)', () => {
  test('a spool large enough: nothing lost, everything stored after the end, health degraded meanwhile', async () => {
    const r = await flood(1024 * 2 ** 20, 600_000, 2);
    const drops = r.ledger.entries().filter((e) => e.total > 0);
    assert.deepEqual(drops, [], 'no loss of any kind');
    assert.equal(r.rows, r.sent, 'every record sent is in the store');
    assert.equal(r.m.get('vantage_collect_stored_records'), r.sent);
    assert.ok(r.spoolPeak > 0, 'the backlog went to the spool');
    assert.ok((r.m.get('vantage_collect_spool_peak_bytes') ?? 0) > 0);
    assert.equal(r.m.get('vantage_collect_spool_datagrams'), 0);
    assert.ok(r.degradedSeen, 'health said degraded while the backlog waited');
    assert.deepEqual(r.healthAfter, [], 'and ok once drained');
    assert.deepEqual(r.spoolFiles, [], 'segments are deleted once stored');
  });

  test('stopped with a backlog: the next start drains the spool, nothing lost or stored twice', async () => {
    const r = await flood(1024 * 2 ** 20, 600_000, 2, true);
    assert.ok(r.left > 0, 'the spool held datagrams at stop');
    assert.deepEqual(
      r.ledger.entries().filter((e) => e.total > 0),
      [],
    );
    assert.equal(r.rows, r.sent, 'every record sent is in the store once');
    assert.equal(r.m.get('vantage_collect_datagrams'), r.left, 'the second run decoded what was left');
    assert.deepEqual(r.spoolFiles, []);
  });

  test('a small spool: sent = stored + every drop counted by reason, exactly', async () => {
    const r = await flood(4 * 2 ** 20, 600_000, 2);
    // In records, but the kernel's socket drops: those are datagrams (dropped unread).
    const lost = (reason: string) => r.ledger.total('collector', reason as 'socket');
    const spoolFull = lost('spool_full');
    assert.ok(spoolFull > 0, 'the spool filled and its drops were counted');
    assert.equal(spoolFull, (r.m.get('vantage_collect_spool_full_drops') ?? 0) * PER, 'in records');
    assert.equal(r.rows, r.m.get('vantage_collect_stored_records'));
    assert.equal(
      r.sent,
      r.rows +
        spoolFull +
        lost('socket') * PER +
        lost('queue_full') +
        lost('store_behind') +
        lost('store_error'),
      JSON.stringify(r.ledger.entries()),
    );
  });
});
