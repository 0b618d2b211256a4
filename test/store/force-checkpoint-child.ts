import { writeSync } from 'node:fs';
import { silentLogger } from '../../src/common/log.js';
import { flowRecord } from '../../src/schema/records.js';
import { recordsToColumnar } from '../../src/store/columnar-read.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Rec } from '../../src/store/types.js';

/**
 * Child of the forced-checkpoint test, run with a small thread pool (UV_THREADPOOL_SIZE): appends
 * flows without pause into a store whose WAL limit is tiny and whose generations are small (so
 * its reads plan from Parquet files in a snapshot of several statements), while counts and lists
 * run four at a time. Prints "progress APPENDS READS FORCED" every 250 ms and "done" after
 * SECONDS; a store that hangs stops printing.
 */
const [dir, seconds] = process.argv.slice(2);
// The test runner also runs every file under test/ on its own: without a directory, do nothing.
if (!dir) process.exit(0);
const store = createEmbeddedStore(
  {
    dataDir: dir,
    threads: 1,
    compactRows: 20_000,
    walCheckpoint: '256KB',
    stagedAppend: false,
  },
  { log: silentLogger },
);
await store.start();
const T0 = Date.UTC(2026, 11, 1) * 1000;
const end = Date.now() + Number(seconds) * 1000;
let appends = 0;
let reads = 0;
const forced = (): number => (store as unknown as { checkpoints: { forced: number } }).checkpoints.forced;
const timer = setInterval(() => writeSync(1, `progress ${appends} ${reads} ${forced()}\n`), 250);
const writer = (async () => {
  for (let b = 0; Date.now() < end; b++) {
    const rows = syntheticFlows(2000, { idBase: b * 2000, seed: b + 1, startUs: T0 + b * 1_000_000 });
    await store.appendColumnParts('flow', [recordsToColumnar(flowRecord, rows as unknown as Rec[])]);
    appends++;
  }
})();
const reader = async (k: number): Promise<void> => {
  while (Date.now() < end) {
    if (k % 2 === 0) await store.count('flow', { after: T0 });
    else await store.list({ type: 'flow', after: T0, limit: 50 });
    reads++;
  }
};
await Promise.all([writer, reader(0), reader(1), reader(2), reader(3)]);
clearInterval(timer);
writeSync(1, `progress ${appends} ${reads} ${forced()}\ndone\n`);
await store.stop();
process.exit(0);
