import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseFileConfig } from '../../src/cli/config-file.js';
import { type Product, productOptions, startProduct } from '../../src/cli/start.js';
import { ConfigError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { ALL_RECORDS } from '../../src/schema/records.js';
import type { Rec } from '../../src/store/types.js';
import { type ChCluster, startClickHouseCluster } from '../support/clickhouse.js';
import { isMissing, type KafkaPeer, startKafka } from '../support/peers.js';

/**
 * The `publish` and `central.ingest` config keys: a sensor started from a config file with
 * `publish` sends what it stores to a real Kafka; a central started with `central.ingest` and a
 * ClickHouse store (2 shards) consumes it; the central then holds exactly the sensor's records.
 */
const PCAPS = fileURLToPath(new URL('../../../test/fixtures/pcaps/', import.meta.url));

describe('publish and central.ingest config keys', () => {
  it('are validated with the key named', () => {
    const bad = (cfg: object, key: string) =>
      assert.throws(
        () => parseFileConfig(cfg),
        (e: unknown) => e instanceof ConfigError && e.message.includes(key),
        key,
      );
    bad({ publish: { kafka: { brokers: ['no-port'], topic: 't' } } }, 'publish.kafka.brokers[0]');
    bad({ publish: { kafka: { brokers: ['127.0.0.1:9092'], topic: 'bad topic' } } }, 'publish.kafka.topic');
    bad({ publish: { kafka: { brokers: ['127.0.0.1:9092'], topic: 't', x: 1 } } }, 'publish.kafka.x');
    bad({ publish: { nats: {} } }, 'publish.nats');
    bad({ publish: {} }, 'publish.kafka');
    bad({ central: { ingest: { brokers: ['127.0.0.1:9092'], topic: 't' } } }, 'central.ingest');
    bad(
      {
        store: { backend: 'clickhouse', url: 'http://127.0.0.1:8123' },
        central: { ingest: { brokers: ['127.0.0.1:9092'], topic: 't', groupId: 'a b' } },
      },
      'central.ingest.groupId',
    );
    const ok = parseFileConfig({ publish: { kafka: { brokers: ['127.0.0.1:9092'], topic: 'vt' } } });
    assert.deepEqual(ok.publish, { kafka: { brokers: ['127.0.0.1:9092'], topic: 'vt' } });
  });
});

const k = await startKafka();
const c = await startClickHouseCluster(2);
const kafka: KafkaPeer | null = isMissing(k) ? null : k;
const ch: ChCluster | null = isMissing(c) ? null : c;
const why = [k, c].filter(isMissing).map((m) => m.missing);
const root = mkdtempSync(join(tmpdir(), 'vantage-publish-'));
const nodes: Product[] = [];
after(async () => {
  for (const p of nodes.reverse()) await p.stop().catch(() => undefined);
  await kafka?.stop();
  await ch?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function start(name: string, cfg: object): Promise<{ p: Product; token: string }> {
  let token = '';
  const p = await startProduct({
    // No collector sockets (the test runs beside others): everything else from the file.
    ...productOptions({ 'samples-dir': '' }, parseFileConfig({ ...cfg, collect: { udp: [] } })),
    dataDir: join(root, name),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    log: silentLogger,
    print: (s) => {
      token = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? token;
    },
  });
  nodes.push(p);
  return { p, token };
}

async function all(p: Product, type: string): Promise<Rec[]> {
  const out: Rec[] = [];
  await p.store.stream({ type }, (r) => {
    out.push(...r);
  });
  const key = (r: Rec) => JSON.stringify(r);
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

describe('sensor → Kafka → central from config keys', { skip: kafka && ch ? false : why.join('; ') }, () => {
  it('the central stores exactly the records the sensor stored', async () => {
    await kafka!.createTopic('vt-records', 2);
    const bus = { brokers: [kafka!.brokers], topic: 'vt-records' };
    const central = await start('central', {
      store: {
        backend: 'clickhouse',
        url: ch!.urls[0],
        shards: ch!.urls,
        cluster: ch!.cluster,
        database: 'pub',
      },
      central: { sensors: [], ingest: { ...bus, groupId: 'central' } },
    });
    const sensor = await start('s1', { sensor: 's1', publish: { kafka: bus } });
    for (const f of ['tcp-retransmissions-http.pcap', 'dns-udp-many-types-nxdomain.pcap']) {
      const res = await fetch(`${sensor.p.url}/api/v1/captures?wait=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sensor.token}`, 'content-type': 'application/octet-stream' },
        body: readFileSync(join(PCAPS, f)),
      });
      assert.equal(res.status, 201, await res.text());
    }
    const types = ALL_RECORDS.filter((d) => !d.key).map((d) => d.type);
    const want: Record<string, number> = {};
    for (const t of types) want[t] = await sensor.p.store.count(t, {});
    assert.ok((want.flow ?? 0) > 0 && (want.dns ?? 0) > 0, JSON.stringify(want));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const have: Record<string, number> = {};
      for (const t of types) have[t] = await central.p.store.count(t, {});
      if (JSON.stringify(have) === JSON.stringify(want)) break;
      if (Date.now() > deadline) assert.deepEqual(have, want, 'central did not receive every record');
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const t of ['flow', 'dns', 'http'])
      assert.deepEqual(await all(central.p, t), await all(sensor.p, t), `${t} records equal`);
  });
});
