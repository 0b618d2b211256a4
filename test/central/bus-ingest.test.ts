import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRecordPublisher } from '../../src/central/bus-ingest.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import { type ChCluster, startClickHouseCluster } from '../support/clickhouse.js';
import { isMissing, type KafkaPeer, startKafka } from '../support/peers.js';

/**
 * Sensors → Kafka → central ingester → ClickHouse (2 shards): the ingester is killed (-9)
 * between a write and its offset commit; after a restart every record is stored exactly once.
 */
const k = await startKafka();
const c = await startClickHouseCluster(2);
const kafka: KafkaPeer | null = isMissing(k) ? null : k;
const ch: ChCluster | null = isMissing(c) ? null : c;
const why = [k, c].filter(isMissing).map((m) => m.missing);
after(async () => {
  await kafka?.stop();
  await ch?.stop();
});

const CHILD = fileURLToPath(new URL('./ingest-child.js', import.meta.url));
const SENSORS = 3;
const PUBLISHES = 20;
const PER = 1000;
const TOTAL = SENSORS * PUBLISHES * PER;

function child(cfg: object): {
  p: ChildProcess;
  lines: string[];
  exited: Promise<NodeJS.Signals | number | null>;
} {
  const p = spawn(process.execPath, [CHILD, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  p.stdout!.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  const exited = new Promise<NodeJS.Signals | number | null>((r) =>
    p.once('exit', (code, sig) => r(sig ?? code)),
  );
  return { p, lines, exited };
}

async function sql(q: string): Promise<string> {
  const r = await fetch(ch!.urls[0]!, { method: 'POST', body: q });
  const t = await r.text();
  if (!r.ok) throw new Error(t);
  return t.trim();
}

describe('bus ingest into ClickHouse', { skip: kafka && ch ? false : why.join('; ') }, () => {
  it('stores every record exactly once across a kill -9 between write and commit', async () => {
    await kafka!.createTopic('records', 3);
    for (let s = 0; s < SENSORS; s++) {
      const pub = createRecordPublisher({ brokers: [kafka!.brokers], topic: 'records', sensor: `s${s}` });
      for (let i = 0; i < PUBLISHES; i++) {
        const flows = syntheticFlows(PER, { seed: s * 100 + i, startUs: Date.UTC(2024, 0, 1) * 1000 }).map(
          (f, j) => ({
            ...f,
            flow_id: s * 1_000_000 + i * PER + j,
          }),
        );
        await pub.publish('flow', flows).catch((e: AggregateError) => {
          throw new Error(
            `publish: ${JSON.stringify(
              e.errors?.map((x) => ({ ...x, m: x.message })),
              (_k, v) => (typeof v === 'bigint' ? String(v) : v),
            )}`,
          );
        });
      }
      await pub.close();
    }
    const cfg = {
      brokers: [kafka!.brokers],
      topic: 'records',
      groupId: 'central',
      urls: ch!.urls,
      cluster: ch!.cluster,
      database: 'central',
    };
    const first = child({ ...cfg, crashAt: 3 });
    assert.equal(await first.exited, 'SIGKILL');
    const stored = Number(await sql('SELECT count() FROM central.flow'));
    assert.ok(stored > 0 && stored < TOTAL, `killed mid-stream: ${stored} of ${TOTAL} rows stored`);
    // Two batches were written and committed; the third was written, then the crash: uncommitted.
    assert.equal(first.lines.filter((l) => l.startsWith('{')).length, 2);

    const second = child(cfg);
    const deadline = Date.now() + 120_000;
    while (Number(await sql('SELECT count() FROM central.flow')) < TOTAL) {
      if (Date.now() > deadline || second.p.exitCode !== null)
        throw new Error(`ingest stalled: ${second.lines.at(-1)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    second.p.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    assert.equal(Number(await sql('SELECT count() FROM central.flow')), TOTAL);
    assert.equal(Number(await sql('SELECT uniqExact(flow_id) FROM central.flow')), TOTAL);
    // The redelivered messages were read again and skipped, not written twice.
    const rows = second.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { rows: number });
    assert.ok(rows.at(-1)!.rows > TOTAL - stored, 'the restarted ingester saw the redelivered messages');
    for (const u of ch!.urls) {
      const n = Number(
        await (await fetch(u, { method: 'POST', body: 'SELECT count() FROM central.flow_local' })).text(),
      );
      assert.ok(n > 0 && n < TOTAL, `both shards hold part of the rows (${n})`);
    }
  });
});
