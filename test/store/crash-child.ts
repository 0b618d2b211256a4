import { writeSync } from 'node:fs';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';

/**
 * Child of the crash test: appends batches forever and prints "ack BASE N" once each batch is
 * acknowledged. The store compacts beside the appends (past 12,000 live rows) and every fourth
 * batch also compacts its closed days before acknowledging, so both kinds of compaction are
 * under way or done when the parent kills it with SIGKILL.
 */
const dir = process.argv[2];
// The test runner also runs every file under test/ on its own: without a directory, do nothing.
if (!dir) process.exit(0);
const store = createEmbeddedStore({ dataDir: dir, compactRows: 12_000, threads: 1 }, { log: silentLogger });
await store.start();
for (let b = 0; ; b++) {
  const base = b * 5000;
  await store.append(
    'flow',
    syntheticFlows(5000, { idBase: base, seed: b + 1, startUs: Date.UTC(2024, 0, 1 + (b % 3)) * 1000 }),
  );
  if (b % 4 === 3) await store.compact(false);
  writeSync(1, `ack ${base} 5000\n`);
}
