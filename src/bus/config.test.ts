import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../common/errors.js';
import { parseBusConfig } from './config.js';

test('bus config: kafka.inFlight defaults to 2 and an out-of-range value names its key', () => {
  const [s] = parseBusConfig([{ name: 'k', kafka: { brokers: ['127.0.0.1:9092'] } }]);
  assert.equal(s?.kind === 'kafka' && s.kafka.inFlight, 2);
  for (const bad of [0, 6, 1.5, '2']) {
    assert.throws(
      () => parseBusConfig([{ name: 'k', kafka: { brokers: ['127.0.0.1:9092'], inFlight: bad } }]),
      (e: unknown) => e instanceof ConfigError && e.message.includes('sinks[0].kafka.inFlight'),
      String(bad),
    );
  }
});
