/**
 * A Vantage process that streams alerts through the bus, for the kill -9 tests:
 *   node stream-child.js DATADIR SINKS_JSON FIRST COUNT
 * publishes alerts FIRST..COUNT-1 (ids derived from the index) in batches of 100, prints
 * "published N" once alert N is durable, then "done" when every sink has delivered everything.
 */
import { createBus } from '../../src/bus/bus.js';
import { parseBusConfig } from '../../src/bus/config.js';
import { alertRecordOf } from '../../src/common/alerts.js';
import { createLogger } from '../../src/common/log.js';

const [dataDir, sinksJson, firstText, countText] = process.argv.slice(2);
const sinks = parseBusConfig(JSON.parse(sinksJson!));
const bus = createBus({ sinks }, { dataDir: dataDir!, log: createLogger('bus', 'error') });
await bus.start();
const first = Number(firstText);
const count = Number(countText);
for (let i = first; i < count; i += 100) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 100); j++) {
    const a = alertRecordOf(
      {
        ts: Date.UTC(2026, 0, 1) + j,
        category: 'beacon',
        detector: 'bench',
        title: `alert ${j}`,
        severity: 80,
        confidence: 90,
      },
      'child',
      `alert-${j}`,
    );
    batch.push(a);
  }
  await bus.publish(batch);
  process.stdout.write(`published ${Math.min(count, i + 100) - 1}\n`);
  // A steady stream, not one burst: the kills land mid-stream.
  await new Promise((r) => setTimeout(r, Number(process.env.STREAM_PAUSE_MS ?? 5)));
}
while (bus.stats().sinks.some((s) => s.lagAlerts > 0)) await new Promise((r) => setTimeout(r, 100));
process.stdout.write(
  `done ${JSON.stringify(bus.stats().sinks.map((s) => ({ sent: s.sent, retried: s.retried, dead: s.dead })))}\n`,
);
await bus.stop();
