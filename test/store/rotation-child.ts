/**
 * A store that appends collected flows until it is killed (SIGKILL) at a chosen step of a
 * rotation or compaction: `node rotation-child.js DIR STEP OCCURRENCE BATCHES`. Each
 * acknowledged append is written to stdout (`acked FROM TO`) before the next one starts.
 */
import { writeSync } from 'node:fs';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore, type StoreStep } from '../../src/store/embedded/store.js';
import { ROTATION_CFG, rotationBatch } from './rotation-data.js';

const [dir, step, occurrence, batches] = process.argv.slice(2);
let seen = 0;
const s = createEmbeddedStore(
  { dataDir: dir!, ...ROTATION_CFG },
  {
    log: silentLogger,
    onStep: (at: StoreStep) => {
      if (at === step && ++seen === Number(occurrence)) process.kill(process.pid, 'SIGKILL');
    },
  },
);
await s.start();
const BATCH = 500;
for (let b = 0; b < Number(batches); b++) {
  await new Promise((r) => setImmediate(r));
  await s.append('exported_flow', rotationBatch(b * BATCH, BATCH));
  writeSync(1, `acked ${b * BATCH} ${(b + 1) * BATCH}\n`);
}
await s.compactionDone();
writeSync(1, 'done\n');
await s.stop();
