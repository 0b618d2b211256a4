import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AlertInput } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { runDetectors } from '../../src/detect/index.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { attackRecords, T } from './records.js';

test('runDetectors replays stored flows and DNS of a time range, in time order, as retro alerts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
  await store.start();
  t.after(() => store.stop());
  await store.append('flow', attackRecords('scan'));
  await store.append('flow', attackRecords('bruteforce'));
  await store.append('dns', attackRecords('dga'));
  const alerts: AlertInput[] = [];
  const res = await runDetectors(
    store,
    { after: (T - 60_000) * 1000, before: (T + 3_600_000) * 1000 },
    {},
    {
      raise: (a) => alerts.push(a),
    },
  );
  assert.equal(res.records, 100 + 30 + 40);
  const cats = new Set(alerts.map((a) => a.category));
  assert.deepEqual([...cats].sort(), ['bruteforce', 'dga', 'scan']);
  assert.ok(alerts.every((a) => a.retro === true));
  // A range that holds nothing raises nothing.
  const none: AlertInput[] = [];
  await runDetectors(store, { after: 0, before: 1_000_000 }, {}, { raise: (a) => none.push(a) });
  assert.equal(none.length, 0);
});
