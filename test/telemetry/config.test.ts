import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFileConfig } from '../../src/cli/config-file.js';
import { ConfigError } from '../../src/common/errors.js';
import { lineProtocol } from '../../src/telemetry/influx.js';

/** A wrong telemetry or lake key stops the start naming the key. */
describe('telemetry and lake config', () => {
  const bad: [unknown, string][] = [
    [{ telemetry: { step: '5s' } }, 'telemetry.step'],
    [{ telemetry: { prometheus: { remoteWrite: 'ftp://x' } } }, 'telemetry.prometheus.remoteWrite'],
    [{ telemetry: { kpis: [{ metric: 'bps', stat: 'p95' }] } }, 'telemetry.kpis[0].stat'],
    [{ telemetry: { kpis: [{ metric: 'nope' }] } }, 'telemetry.kpis[0].metric'],
    [{ telemetry: { kpis: [{ metric: 'bps', groups: 3 }] } }, 'telemetry.kpis[0].groups'],
    [{ telemetry: { influxdb: { url: 'http://x:8086', bogus: 1 } } }, 'telemetry.influxdb.bogus'],
    [{ telemetry: { maxSeries: 0 } }, 'telemetry.maxSeries'],
    [{ lake: {} }, 'lake'],
    [{ lake: { dir: '/tmp/x', s3: { bucket: 'abc' } } }, 'lake'],
    [{ lake: { s3: { bucket: 'Bad_Bucket' } } }, 'lake.s3.bucket'],
    [{ lake: { s3: { bucket: 'good-bucket', accessKeyId: 'x' } } }, 'lake.s3.secretAccessKey'],
    [{ lake: { dir: '/tmp/x', backfillHours: -1 } }, 'lake.backfillHours'],
  ];
  for (const [cfg, key] of bad)
    it(`refuses ${JSON.stringify(cfg)} naming ${key}`, () => {
      assert.throws(
        () => parseFileConfig(cfg),
        (e: unknown) => e instanceof ConfigError && e.key === key,
      );
    });

  it('takes a full config with defaults', () => {
    const c = parseFileConfig({
      telemetry: { prometheus: { remoteWrite: 'http://127.0.0.1:9090/api/v1/write' } },
      lake: { s3: { bucket: 'net-lake', endpoint: 'http://127.0.0.1:9000' } },
    });
    assert.equal(c.telemetry?.stepS, 60);
    assert.equal(c.telemetry?.delayMs, 120_000);
    assert.ok((c.telemetry?.kpis.length ?? 0) > 5);
    assert.equal(c.lake?.target.kind, 's3');
    assert.equal(c.lake?.delayMs, 600_000);
  });

  it('escapes line-protocol tags (spaces, commas, equals signs)', () => {
    const s = lineProtocol([
      { metric: 'bps', stat: null, groupBy: 'app', group: 'a b,c=d', tMs: 1000, value: 5 },
      { metric: 'rtt_ms', stat: 'p95', groupBy: null, group: null, tMs: 2000, value: 1.5 },
    ]);
    assert.equal(
      s,
      'vantage_bps,group_by=app,group=a\\ b\\,c\\=d value=5 1000\nvantage_rtt_ms,stat=p95 value=1.5 2000\n',
    );
  });
});
