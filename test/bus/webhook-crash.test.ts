import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import type { AlertRecord } from '../../src/schema/alert.js';
import { isMissing, startWebhookReceiver } from '../support/peers.js';
import { StreamChild, tally } from './stream.js';

const TOTAL = 6_000;
const SECRET = 'webhook-secret-0123456789';

it('webhook sink: kill -9 mid-stream and a receiver down for 30 s lose no alert', {
  timeout: 300_000,
}, async (t) => {
  const w = await startWebhookReceiver(SECRET);
  if (isMissing(w)) return t.skip(`peer missing: ${w.missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bus-hook-'));
  try {
    const sinks = [
      {
        name: 'hook',
        batchSize: 200,
        maxAttempts: 100_000,
        backoffMs: 100,
        maxBackoffMs: 2000,
        webhook: { url: w.url, secret: SECRET, ca: w.ca },
      },
    ];
    const a = new StreamChild(dir, sinks, 0, TOTAL);
    await a.until(() => a.lastPublished >= 1_500);
    await a.kill9();
    const durable = a.lastPublished;
    const b = new StreamChild(dir, sinks, durable + 1, TOTAL);
    await b.until(() => b.lastPublished >= 2_500);
    await w.down();
    await new Promise((r) => setTimeout(r, 30_000));
    await w.up();
    await b.until(() => b.done !== null);
    const ids = (w.received as AlertRecord[][]).flat().map((x) => x.alert_id);
    const r = tally(TOTAL, ids);
    console.log(
      `webhook at-least-once: ${r.distinct}/${TOTAL} ids, duplicates ${r.duplicates}, missing ${r.missing.length}, bad signatures ${w.rejected}`,
    );
    t.diagnostic(b.done!);
    assert.equal(w.rejected, 0);
    assert.deepEqual(r.missing.slice(0, 10), []);
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
