/**
 * `vantage start` holds collected rows until a DuckDB row group (or 1.5 s of them) commits:
 * `kill -9` while a hold is open must lose nothing the store acknowledged (the metric
 * `vantage_collect_stored_records`), and nothing it held unacknowledged may count as stored.
 * Checked against the store's own row count after the kill. A real process (the soak's
 * harness), IPFIX from the paced loopback sender well below the store's capacity, nobody
 * querying: the hold is the open transaction, committed by its timer, so most of the time some
 * rows wait in it. Held commits are off by default (`load-control.ts`): turned on here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { send } from './sender.js';
import { collectorAccount, startVantage } from './vantage-process.js';

const PER_DATAGRAM = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(join(tmpdir(), 'vantage-hold-kill-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('kill -9 while a held commit is open: every acknowledged row is in the store, none held is counted', async () => {
  const dir = join(root, 'data');
  // The child inherits the environment.
  process.env.VANTAGE_COLLECT_HOLD = '1';
  const v = await startVantage(dir);
  try {
    // 30k records/s: a hold's timer (1.5 s) commits ~45k rows, well under a row group.
    const flowing = send({ kind: 'ipfix', port: v.collectPort, rate: 30_000 / PER_DATAGRAM, seconds: 6 });
    // Wait until rows are both acknowledged and held (handed to the store, not acknowledged),
    // then kill at once: what is acknowledged then must survive.
    let acked = 0;
    let held = 0;
    let commits = 0;
    const t0 = Date.now();
    for (;;) {
      const m = await v.metrics();
      const a = collectorAccount(m);
      acked = a.stored;
      held = m.get('vantage_collect_store_queue_records') ?? 0;
      commits = m.get('vantage_store_batches') ?? 0;
      if (acked > 0 && held > 0 && Date.now() - t0 > 2500) break;
      assert.ok(Date.now() - t0 < 30_000, `no open hold seen in 30 s (stored ${acked}, waiting ${held})`);
      await sleep(20);
    }
    await v.kill9();
    await flowing;
    // The rows went through held commits (~45k rows each at this rate): a commit per append of
    // what the feed had waiting (≤ 8,192-row decoded batches, a commit's time apart) would make
    // this a few thousand rows per commit. Other types' batches (loss, devices) are few.
    assert.ok(commits > 0 && acked / commits >= 10_000, `${acked} rows in ${commits} commits: not held`);
    const s = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
    await s.start();
    const stored = await s.count('exported_flow', {});
    await s.stop();
    process.stdout.write(
      `# kill -9 with ${held} rows held or queued: ${acked} acknowledged before (${commits} commits), ${stored} in the store after\n`,
    );
    assert.ok(stored >= acked, `${stored} rows after kill -9, ${acked} acknowledged`);
    // What was held and not committed is gone with the process (never acknowledged: the
    // exporter's datagrams, like any the kernel drops, are not retried over UDP).
    assert.ok(stored < acked + held + 30_000 * 2, 'no more rows than were handed to the store');
  } finally {
    await v.stop().catch(() => {});
  }
});
