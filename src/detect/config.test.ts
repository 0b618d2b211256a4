import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../common/errors.js';
import { DEFAULT_DETECT, parseDetectConfig } from './config.js';

test('defaults: every detector on, internal networks RFC 1918 and ULA', () => {
  const c = parseDetectConfig(undefined);
  assert.deepEqual(c, DEFAULT_DETECT);
  assert.deepEqual(c.internal, ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
  assert.ok(c.scan.enabled && c.beacon.enabled && c.rareDest.enabled);
});

test('values override defaults without touching the rest', () => {
  const c = parseDetectConfig({
    scan: { verticalPorts: 30, allow: ['10.0.0.5', '10.9.0.0/16'] },
    beacon: { enabled: false },
  });
  assert.equal(c.scan.verticalPorts, 30);
  assert.deepEqual(c.scan.allow, ['10.0.0.5', '10.9.0.0/16']);
  assert.equal(c.scan.horizontalHosts, DEFAULT_DETECT.scan.horizontalHosts);
  assert.equal(c.beacon.enabled, false);
  assert.equal(DEFAULT_DETECT.scan.verticalPorts, 15, 'defaults not mutated');
});

test('errors name the exact key', () => {
  const cases: [unknown, string][] = [
    [{ scan: { verticalPort: 3 } }, 'detect.scan.verticalPort'],
    [{ scan: { windowSec: 0 } }, 'detect.scan.windowSec'],
    [{ scan: { windowSec: '5' } }, 'detect.scan.windowSec'],
    [{ flood: { enabled: 'yes' } }, 'detect.flood.enabled'],
    [{ internal: ['10.0.0.0/33'] }, 'detect.internal[0]'],
    [{ allow: ['ok', 1] }, 'detect.allow[0]'],
    [{ bruteforce: { ports: [22, 70000] } }, 'detect.bruteforce.ports[1]'],
    [{ beacon: { minScore: 2 } }, 'detect.beacon.minScore'],
    [{ dga: { allowDomains: ['a b'] } }, 'detect.dga.allowDomains[0]'],
    [{ exfil: [] }, 'detect.exfil'],
    ['on', 'detect'],
  ];
  for (const [raw, key] of cases) {
    assert.throws(
      () => parseDetectConfig(raw),
      (e: unknown) => e instanceof ConfigError && e.key === key,
      `expected an error naming ${key} for ${JSON.stringify(raw)}`,
    );
  }
  assert.throws(() => parseDetectConfig({ x: 1 }, 'sensors[0].detect'), /sensors\[0\]\.detect\.x/);
});
