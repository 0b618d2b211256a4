import { writeSync } from 'node:fs';
import { silentLogger } from '../../src/common/log.js';
import { exportedFlowRecord, flowRecord } from '../../src/schema/records.js';
import { recordsToColumnar } from '../../src/store/columnar-read.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Rec } from '../../src/store/types.js';
import { rotationBatch } from './rotation-data.js';

/**
 * Child of the hold crash test: offers column batches of two types in turn (flows, then
 * collected flows) as held appends, a dozen at a time without waiting for each, and prints
 * "ack TYPE BATCH" once each is acknowledged. Batch b holds rows whose `flow_id` (flows) or
 * `bytes` (collected flows) are b * 1000 .. b * 1000 + 499, so the parent finds every batch.
 */
const dir = process.argv[2];
// The test runner also runs every file under test/ on its own: without a directory, do nothing.
if (!dir) process.exit(0);
const store = createEmbeddedStore(
  { dataDir: dir, threads: 1, commitRows: 2000, commitDelayMs: 200 },
  { log: silentLogger },
);
await store.start();
const T0 = Date.UTC(2026, 11, 1) * 1000;
const inFlight = new Set<Promise<void>>();
for (let b = 0; ; b++) {
  const type = b % 2 === 0 ? 'flow' : 'exported_flow';
  const c =
    type === 'flow'
      ? recordsToColumnar(
          flowRecord,
          syntheticFlows(500, { idBase: b * 1000, seed: b + 1, startUs: T0 }) as unknown as Rec[],
        )
      : recordsToColumnar(exportedFlowRecord, rotationBatch(b * 1000, 500));
  const p = store.appendColumnParts(type, [c], { hold: true }).then(() => {
    writeSync(1, `ack ${type} ${b}\n`);
  });
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
  if (inFlight.size >= 12) await Promise.race(inFlight);
  await new Promise((r) => setImmediate(r));
}
