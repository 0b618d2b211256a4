import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import { parseTelemetryConfig } from '../../src/telemetry/config.js';
import { isMissing } from '../support/peers.js';
import {
  type InfluxPeer,
  type PrometheusPeer,
  startInflux,
  startPrometheus,
} from '../support/telemetry-peers.js';

/**
 * `vantage start` with the telemetry key: what Prometheus (remote write and a real scrape of
 * /metrics/network) and InfluxDB hold equals what /api/v1/kpis answers for the same buckets.
 */
const STEP = 60_000;

describe('telemetry in the product: Prometheus and InfluxDB agree with /api/v1/kpis', () => {
  let dir = '';
  let product: Product | null = null;
  let prom: PrometheusPeer | null = null;
  let influx: InfluxPeer | null = null;
  let token = '';
  const skip: string[] = [];
  const now = Math.floor(Date.now() / STEP) * STEP;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vantage-telemetry-product-'));
    const i = await startInflux();
    if (isMissing(i)) {
      skip.push(i.missing);
      return;
    }
    influx = i;
    // The API first (the scrape needs its port and a token), then Prometheus pointed at it.
    const p0 = await startPrometheus();
    if (isMissing(p0)) {
      skip.push(p0.missing);
      return;
    }
    const remote = p0;
    // Twenty-five minutes of traffic ending before the newest finished bucket, stored before the
    // exporter first looks (it exports a bucket once, `delay` after its end).
    const first = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      samples: false,
      log: silentLogger,
      print: () => {},
    });
    await first.store.append(
      'flow',
      syntheticFlows(20_000, { startUs: (now - 27 * STEP) * 1000, spanUs: 25 * STEP * 1000, seed: 11 }),
    );
    await first.stop();
    token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      samples: false,
      log: silentLogger,
      telemetry: parseTelemetryConfig({
        delay: '1m',
        backfill: '30m',
        interval: '1s',
        kpis: [
          { metric: 'bps' },
          { metric: 'flows', groupBy: 'app', groups: 5 },
          { metric: 'rtt_ms', stat: 'p95' },
        ],
        prometheus: { remoteWrite: `${remote.url}/api/v1/write` },
        influxdb: { url: influx.url, db: 'product_test' },
      }),
      print: () => {},
    });
    prom = remote;
  });

  after(async () => {
    await product?.stop();
    await prom?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('remote write and InfluxDB hold what the API answers, and a scrape reads the newest bucket', async (t) => {
    if (!product || !prom || !influx) return t.skip(`missing: ${skip.join(', ')}`);
    const api = async (q: string) => {
      const r = await fetch(`${product!.url}/api/v1/kpis?${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(r.status, 200, await r.clone().text());
      return (await r.json()) as { series: { group: string | null; points: [string, number | null][] }[] };
    };
    // The exporter runs every second; wait until the newest finished bucket is in InfluxDB.
    const horizon = Math.floor((Date.now() - STEP) / STEP) * STEP;
    for (let i = 0; i < 100; i++) {
      const rows = await influx
        .query('product_test', `SELECT count(value) FROM vantage_bps WHERE time >= ${now - 3 * STEP}ms`)
        .catch(() => []);
      if (rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const after = now - 29 * STEP;
    const before = horizon;
    const range = `after=${new Date(after).toISOString()}&before=${new Date(before).toISOString()}&step=1m`;

    const bps = await api(`metric=bps&${range}`);
    const pts = bps.series[0]!.points.filter(([, v]) => v !== null);
    assert.ok(pts.length >= 24, `API buckets: ${pts.length}`);
    const promBps = await prom.samples('vantage_network_bytes_per_second', '40m', now);
    assert.equal(promBps.length, 1);
    const pm = new Map(promBps[0]!.values);
    const inf = await influx.query(
      'product_test',
      `SELECT value FROM vantage_bps WHERE time >= ${after}ms AND time < ${before}ms`,
    );
    const im = new Map(inf[0]!.values.map((r) => [Number(r[0]), Number(r[1])]));
    for (const [iso, v] of pts) {
      const tms = Date.parse(iso);
      assert.ok(
        Math.abs(pm.get(tms)! - v! / 8) < 1e-9 * v!,
        `prometheus ${iso}: ${pm.get(tms)} vs ${v! / 8}`,
      );
      assert.ok(Math.abs(im.get(tms)! - v!) < 1e-9 * v!, `influx ${iso}: ${im.get(tms)} vs ${v}`);
    }

    const flows = await api(`metric=flows&group_by=app&groups=5&${range}`);
    const inf2 = await influx.query(
      'product_test',
      `SELECT value FROM vantage_flows WHERE time >= ${after}ms AND time < ${before}ms GROUP BY "group"`,
    );
    const byGroup = new Map(
      inf2.map((s) => [s.tags?.group, new Map(s.values.map((r) => [Number(r[0]), Number(r[1])]))]),
    );
    // Groups ranked over one export window equal the API's ranking over the same window.
    assert.deepEqual([...byGroup.keys()].sort(), flows.series.map((s) => s.group ?? 'none').sort());
    for (const s of flows.series)
      for (const [iso, v] of s.points) {
        if (v === null) continue;
        assert.equal(byGroup.get(s.group ?? 'none')?.get(Date.parse(iso)), v, `${s.group} ${iso}`);
      }

    // The scrape endpoint: the newest finished bucket, in both formats.
    const scrape = await fetch(`${product.url}/metrics/network`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(scrape.status, 200);
    const text = await scrape.text();
    const line = text.split('\n').find((l) => l.startsWith('vantage_network_bytes_per_second '));
    assert.ok(line, text.slice(0, 400));
    const [, value, ts] = line.split(' ');
    const apiLast = bps.series[0]!.points.find(([iso]) => Date.parse(iso) === Number(ts));
    if (apiLast?.[1] != null) assert.ok(Math.abs(Number(value) - apiLast[1] / 8) < 1e-9 * apiLast[1]);
    const om = await fetch(`${product.url}/metrics/network`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/openmetrics-text; version=1.0.0' },
    });
    assert.match(om.headers.get('content-type') ?? '', /openmetrics/);
    assert.ok((await om.text()).endsWith('# EOF\n'));
    const denied = await fetch(`${product.url}/metrics/network`);
    assert.equal(denied.status, 401);
  });
});
