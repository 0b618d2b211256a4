import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { RecordStore } from '../../src/store/types.js';
import { parseTelemetryConfig } from '../../src/telemetry/config.js';
import { createTelemetry } from '../../src/telemetry/index.js';
import { kpiPoints } from '../../src/telemetry/kpis.js';
import { type KpiPoint, pointLabels, promName, promValue } from '../../src/telemetry/types.js';
import { isMissing } from '../support/peers.js';
import {
  type InfluxPeer,
  type PrometheusPeer,
  startInflux,
  startPrometheus,
} from '../support/telemetry-peers.js';

/**
 * Network KPIs into a real Prometheus (remote write) and a real InfluxDB 1.x, read back with
 * PromQL and InfluxQL and compared with what the store answers `/api/v1/kpis` for the same
 * buckets.
 */
const STEP = 60_000;
const now = Math.floor(Date.now() / STEP) * STEP;

describe('telemetry: KPIs into Prometheus and InfluxDB', () => {
  let dir = '';
  let store: RecordStore;
  let prom: PrometheusPeer | null = null;
  let influx: InfluxPeer | null = null;
  const skip: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vantage-telemetry-'));
    store = createEmbeddedStore({ dataDir: join(dir, 'data') }, { log: silentLogger });
    await store.start();
    // 40 minutes of traffic ending two minutes ago (Prometheus takes samples of the last hour).
    const flows = syntheticFlows(30_000, {
      startUs: (now - 42 * STEP) * 1000,
      spanUs: 40 * STEP * 1000,
      seed: 7,
    });
    await store.append('flow', flows);
    const p = await startPrometheus();
    if (isMissing(p)) skip.push(p.missing);
    else prom = p;
    const i = await startInflux();
    if (isMissing(i)) skip.push(i.missing);
    else influx = i;
  });

  after(async () => {
    await prom?.stop();
    await influx?.stop();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const windowStart = now - 45 * STEP;
  const horizon = now - STEP;

  async function expected(): Promise<KpiPoint[]> {
    const cfg = parseTelemetryConfig({});
    return kpiPoints(store, cfg.kpis, windowStart, horizon, 60);
  }

  it('exports every bucket of every KPI and reads back equal from both', async (t) => {
    if (!prom || !influx) return t.skip(`missing: ${skip.join(', ')}`);
    const cfg = parseTelemetryConfig({
      delay: '1m',
      backfill: '44m',
      prometheus: { remoteWrite: `${prom.url}/api/v1/write` },
      influxdb: { url: influx.url, db: 'vantage_test' },
    });
    const exp = createTelemetry(cfg, { store, dataDir: dir, log: silentLogger, now: () => now + 5_000 });
    await exp.cycle();
    await exp.stop();
    const st = exp.status();
    for (const s of st) assert.equal(s.lastError, null, `${s.name}: ${s.lastError}`);
    const want = await expected();
    assert.ok(want.length > 40 * 12, `expected points: ${want.length}`);
    assert.deepEqual(
      st.map((s) => s.pointsSent),
      [want.length, want.length],
    );

    // Prometheus: the raw samples of each series, by label set and time.
    const got = new Map<string, number>();
    for (const name of new Set(want.map((p) => promName(p.metric)))) {
      for (const s of await prom.samples(name, '50m', now)) {
        const { __name__: n, ...labels } = s.labels;
        const key = `${n}|${JSON.stringify(Object.entries(labels).sort())}`;
        for (const [t, v] of s.values) got.set(`${key}|${t}`, v);
      }
    }
    assert.equal(got.size, want.length, 'Prometheus holds exactly the exported samples');
    for (const p of want) {
      const key = `${promName(p.metric)}|${JSON.stringify(pointLabels(p))}|${p.tMs}`;
      const v = got.get(key);
      assert.ok(v !== undefined, `missing in Prometheus: ${key}`);
      const pv = promValue(p.metric, p.value);
      assert.ok(Math.abs(v - pv) <= 1e-9 * Math.max(1, Math.abs(pv)), `${key}: ${v} != ${pv}`);
    }

    // InfluxDB: one measurement per metric, the grouping and quantile as tags.
    const ig = new Map<string, number>();
    for (const m of new Set(want.map((p) => p.metric))) {
      const rows = await influx.query(
        'vantage_test',
        `SELECT value FROM vantage_${m} WHERE time >= ${windowStart}ms AND time < ${horizon}ms GROUP BY *`,
      );
      for (const s of rows) {
        const tags = s.tags ?? {};
        for (const [t, v] of s.values)
          ig.set(`${m}|${tags.stat ?? ''}|${tags.group_by ?? ''}|${tags.group ?? ''}|${t}`, Number(v));
      }
    }
    assert.equal(ig.size, want.length, 'InfluxDB holds exactly the exported points');
    for (const p of want) {
      const key = `${p.metric}|${p.stat ?? ''}|${p.groupBy ?? ''}|${p.groupBy ? p.group : ''}|${p.tMs}`;
      const v = ig.get(key);
      assert.ok(v !== undefined, `missing in InfluxDB: ${key}`);
      assert.ok(Math.abs(v - p.value) <= 1e-9 * Math.max(1, Math.abs(p.value)), `${key}: ${v} != ${p.value}`);
    }

    // A restart resumes from each sink's watermark: nothing is sent twice.
    const again = createTelemetry(cfg, { store, dataDir: dir, log: silentLogger, now: () => now + 5_000 });
    await again.cycle();
    await again.stop();
    assert.deepEqual(
      again.status().map((s) => s.pointsSent),
      [0, 0],
    );
  });

  it('a sink that is down catches up in order once it is back', async (t) => {
    if (!influx) return t.skip(`missing: ${skip.join(', ')}`);
    const d2 = mkdtempSync(join(tmpdir(), 'vantage-telemetry-down-'));
    try {
      const cfg = parseTelemetryConfig({
        delay: '1m',
        backfill: '10m',
        influxdb: { url: 'http://127.0.0.1:9', db: 'down_test', timeout: '1s' },
      });
      let clock = now - 20 * STEP;
      const e1 = createTelemetry(cfg, { store, dataDir: d2, log: silentLogger, now: () => clock });
      await e1.cycle();
      const s1 = e1.status()[0]!;
      assert.equal(s1.pointsSent, 0);
      assert.ok(s1.errors >= 1 && s1.lastError !== null);
      await e1.stop();
      // Same data directory, the peer back, ten minutes later.
      clock = now + 5_000;
      const good = parseTelemetryConfig({
        delay: '1m',
        backfill: '10m',
        influxdb: { url: influx.url, db: 'down_test' },
      });
      const e2 = createTelemetry(good, { store, dataDir: d2, log: silentLogger, now: () => clock });
      await e2.cycle();
      await e2.stop();
      const s2 = e2.status()[0]!;
      assert.equal(s2.lastError, null);
      assert.equal(s2.watermarkMs, horizon);
      // It started where the failed one would have: twenty-odd minutes of buckets, none skipped.
      const first = await influx.query('down_test', 'SELECT first(value) FROM vantage_pps');
      const firstT = Number(first[0]?.values[0]?.[0]);
      assert.equal(firstT, now - 20 * STEP - STEP - 10 * STEP);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  it('bounds the series: 100,000 applications stay within the limit, the rest counted', async () => {
    const d3 = mkdtempSync(join(tmpdir(), 'vantage-telemetry-card-'));
    const s3 = createEmbeddedStore({ dataDir: join(d3, 'data') }, { log: silentLogger });
    await s3.start();
    try {
      const flows = syntheticFlows(100_000, {
        startUs: (now - 12 * STEP) * 1000,
        spanUs: 10 * STEP * 1000,
        seed: 3,
      });
      for (let i = 0; i < flows.length; i++) (flows[i] as { app: string | null }).app = `app-${i}`;
      await s3.append('flow', flows);
      const cfg = parseTelemetryConfig({
        delay: '1m',
        backfill: '12m',
        maxSeries: 50,
        kpis: [{ metric: 'bps', groupBy: 'app', groups: 100 }, { metric: 'flows' }],
      });
      // The exposition holds the newest finished bucket: one with traffic.
      const exp = createTelemetry(cfg, {
        store: s3,
        dataDir: d3,
        log: silentLogger,
        now: () => now - 55_000,
      });
      await exp.cycle();
      await exp.stop();
      const text = exp.exposition('openmetrics');
      const series = text.split('\n').filter((l) => l.startsWith('vantage_network_'));
      assert.ok(series.length <= 50, `${series.length} series exposed`);
      assert.ok(exp.seriesOverflow > 0, 'overflow counted');
    } finally {
      await s3.stop();
      rmSync(d3, { recursive: true, force: true });
    }
  });

  it('the exposition passes promtool check metrics', async (t) => {
    const has = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
    if (!has) {
      if (process.env.CI === 'true')
        throw new Error('peer missing in CI: promtool (Debian package prometheus)');
      return t.skip('missing: promtool (Debian package prometheus)');
    }
    const cfg = parseTelemetryConfig({ delay: '1m', backfill: '10m' });
    const exp = createTelemetry(cfg, {
      store,
      dataDir: join(dir, 'scrape'),
      log: silentLogger,
      now: () => now - 55_000,
    });
    await exp.cycle();
    const text = exp.exposition('text');
    assert.ok(text.includes('vantage_network_bytes_per_second'), text.slice(0, 300));
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', `promtool lint: ${r.stdout}${r.stderr}`);
    // Every sample carries its bucket's time.
    const bucket = now - 3 * STEP;
    for (const l of text.split('\n').filter((x) => x.startsWith('vantage_')))
      assert.ok(l.endsWith(` ${bucket}`), l);
    const om = exp.exposition('openmetrics');
    assert.ok(om.endsWith('# EOF\n'));
    for (const l of om.split('\n').filter((x) => x.startsWith('vantage_')))
      assert.ok(l.endsWith(` ${(bucket / 1000).toFixed(3)}`), l);
    await exp.stop();
  });
});
