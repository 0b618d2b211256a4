import { createBusIngester } from '../../src/central/bus-ingest.js';
import { silentLogger } from '../../src/common/log.js';
import { createClickHouseStore } from '../../src/store/distributed/store.js';

/**
 * The central's bus ingester as a process of its own, for the kill -9 test. argv: a JSON
 * config. With crashAt = n it SIGKILLs itself right after its n-th write is acknowledged and
 * before the offsets are committed: the worst moment, whose messages are all redelivered.
 */
const cfg = JSON.parse(process.argv[2]!) as {
  brokers: string[];
  topic: string;
  groupId: string;
  urls: string[];
  cluster: string;
  database: string;
  crashAt?: number;
};
const store = createClickHouseStore(
  { url: cfg.urls[0]!, shards: cfg.urls, cluster: cfg.cluster, database: cfg.database },
  { log: silentLogger },
);
await store.start();
let writes = 0;
const ing = createBusIngester(
  { brokers: cfg.brokers, topic: cfg.topic, groupId: cfg.groupId, batchRows: 3000, flushMs: 50 },
  {
    store: {
      async appendAt(type, batches) {
        await store.appendAt(type, batches);
        writes++;
        if (cfg.crashAt && writes >= cfg.crashAt) process.kill(process.pid, 'SIGKILL');
      },
    },
    onBatch: (s) => {
      process.stdout.write(`${JSON.stringify(s)}\n`);
    },
  },
);
await ing.start();
process.stdout.write('started\n');
process.on('SIGTERM', async () => {
  await ing.stop();
  await store.stop();
  process.exit(0);
});
