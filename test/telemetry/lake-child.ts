/**
 * One lake export pass in its own process, so a test can kill -9 it half-way:
 *   node lake-child.js DATA_DIR LAKE_CONFIG_JSON NOW_MS
 */
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { parseLakeConfig } from '../../src/telemetry/config.js';
import { LakeExporter } from '../../src/telemetry/lake.js';

const [dataDir, cfgJson, now] = process.argv.slice(2);
const store = createEmbeddedStore({ dataDir: dataDir! }, { log: silentLogger });
await store.start();
const lake = new LakeExporter(parseLakeConfig(JSON.parse(cfgJson!)), {
  store,
  dataDir: dataDir!,
  log: silentLogger,
  now: () => Number(now),
});
await lake.cycle();
await lake.stop();
await store.stop();
process.stdout.write(`${JSON.stringify(lake.counters)}\n`);
// An export error is not a crash: the pass stops and the next one retries; tell the test.
if (lake.counters.lastError) {
  process.stderr.write(`${lake.counters.lastError}\n`);
  process.exitCode = 3;
}
