import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../common/log.js';
import type { AlertRecord } from '../../schema/alert.js';
import { createEmbeddedStore, type EmbeddedStore } from '../../store/embedded/store.js';
import { syntheticFlows } from '../../store/synthetic.js';
import type { Rec } from '../../store/types.js';
import { isoToMicros } from '../../store/values.js';
import { Monitors } from './monitors.js';
import { parseRule } from './rules.js';

const T0 = Date.UTC(2024, 2, 1, 10, 0, 0);
const MIN = 60_000;

/** DuckDB's quantile_cont: linear interpolation between the closest ranks. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

let dir: string;
let store: EmbeddedStore;
let flows: Rec[];

/** p95 of rtt_ms per minute, computed from the rows themselves. */
function p95PerMinute(): number[] {
  const out: number[] = [];
  for (let m = 0; m < 10; m++) {
    const v = flows
      .filter((f) => {
        const t = isoToMicros(String(f.first_ts)) / 1000;
        return t >= T0 + m * MIN && t < T0 + (m + 1) * MIN && f.rtt_ms !== null;
      })
      .map((f) => Number(f.rtt_ms))
      .sort((a, b) => a - b);
    out.push(quantile(v, 0.95));
  }
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vantage-monitors-'));
  store = createEmbeddedStore({ dataDir: join(dir, 'store'), threads: 2 }, { log: silentLogger });
  await store.start();
  flows = syntheticFlows(3000, { startUs: T0 * 1000, spanUs: 10 * MIN * 1000, seed: 3 }) as unknown as Rec[];
  await store.append('flow', flows);
});
after(async () => {
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('monitor rules', () => {
  it('parse the way people write them, and say what is wrong', () => {
    assert.deepEqual(parseRule('rtt_ms p95 > 100 for 5m'), {
      text: 'rtt_ms p95 > 100 for 5m',
      metric: 'rtt_ms',
      stat: 'p95',
      op: '>',
      value: 100,
      baseline: false,
      forMs: 300_000,
    });
    const b = parseRule('bps > 3 × baseline for 10m');
    assert.equal(b.baseline, true);
    assert.equal(b.value, 3);
    assert.throws(() => parseRule('bps p95 > 1'), /applies to rtt_ms and srt_ms/);
    assert.throws(() => parseRule('latency > 1'), /not a metric/);
    assert.throws(() => parseRule('bps >> 1'), /expected a number/);
    assert.throws(() => parseRule('bps > 1 for ever'), /duration/);
  });
});

describe('monitors', () => {
  it('the store answers per-bucket quantiles exactly as computed from the rows', async () => {
    const s = await store.timeseries({
      metric: 'rtt_ms',
      stat: 'p95',
      step: 60,
      after: T0 * 1000,
      before: (T0 + 10 * MIN) * 1000,
    });
    const want = p95PerMinute();
    const got = s.series[0]!.points.map(([, v]) => v);
    assert.equal(got.length, 10);
    for (let i = 0; i < 10; i++)
      assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `minute ${i}: ${got[i]} vs ${want[i]}`);
  });

  it('fire when a rule holds over its whole window, update while it holds, close when it ends', async () => {
    const emitted: AlertRecord[] = [];
    const m = new Monitors({
      dataDir: dir,
      store,
      emit: (a) => emitted.push(a),
      sensor: 's1',
      log: silentLogger,
    });
    const p95 = p95PerMinute();
    const lowest = Math.min(...p95.slice(1, 6));
    m.put({
      name: 'rtt',
      filter: '',
      rules: [`rtt_ms p95 > ${Math.floor(lowest) - 1} for 5m`],
      severity: 70,
    });
    m.put({
      name: 'too-high',
      filter: '',
      rules: [`rtt_ms p95 > ${Math.ceil(Math.max(...p95)) + 1} for 5m`],
    });
    m.put({ name: 'silence', filter: 'server_port = 22', rules: ['flows < 0.001 for 5m'] });
    await m.evaluate(T0 + 6 * MIN);
    assert.equal(m.get('rtt')!.state[0]!.state, 'firing');
    assert.equal(m.get('too-high')!.state[0]!.state, 'ok');
    assert.equal(m.get('silence')!.state[0]!.state, 'ok');
    assert.equal(emitted.length, 1);
    const a = emitted[0]!;
    assert.equal(a.category, 'threshold');
    assert.equal(a.detector, 'monitor.rtt');
    assert.equal(a.severity, 70);
    assert.equal((a.evidence as { values: number[] }).values.length, 5);
    await m.evaluate(T0 + 7 * MIN);
    assert.equal(emitted.at(-1)!.alert_id, a.alert_id);
    assert.equal(emitted.at(-1)!.count, 2);
    // Past the data: no RTT at all is not a breach; the alert closes.
    await m.evaluate(T0 + 30 * MIN);
    const closed = emitted.filter((e) => e.alert_id === a.alert_id).at(-1)!;
    assert.equal(closed.status, 'closed');
    assert.equal((closed.evidence as { state: string }).state, 'cleared');
    // ...and "no SSH flows for 5 minutes" now holds.
    assert.equal(m.get('silence')!.state[0]!.state, 'firing');
    await m.stop();
  });

  it('compare with the baseline of the day before', async () => {
    const emitted: AlertRecord[] = [];
    const m = new Monitors({
      dataDir: join(dir, 'b'),
      store,
      emit: (a) => emitted.push(a),
      sensor: 's1',
      log: silentLogger,
    });
    // The same traffic as its own baseline: never 3 times, always more than half of it.
    m.put({ name: 'spike', filter: '', rules: ['flows > 3 x baseline for 2m'] });
    m.put({ name: 'steady', filter: '', rules: ['flows > 0.5 x baseline for 2m'] });
    await m.evaluate(T0 + 2 * MIN);
    assert.equal(m.get('spike')!.state[0]!.state, 'learning');
    await m.evaluate(T0 + 9 * MIN);
    assert.equal(m.get('spike')!.state[0]!.state, 'ok');
    assert.equal(m.get('steady')!.state[0]!.state, 'firing');
    const th = m.get('steady')!.state[0]!.threshold!;
    assert.ok(th > 0);
  });

  it('refuse bad monitors naming the part at fault', () => {
    const m = new Monitors({ dataDir: dir, store, emit: () => {}, sensor: 's', log: silentLogger });
    assert.throws(
      () => m.put({ name: 'x', filter: 'nope = 1', rules: [] }),
      /filter: .*unknown field 'nope'/,
    );
    assert.throws(() => m.put({ name: 'x', filter: '', rules: ['bps > '] }), /rules\[0\]/);
    assert.throws(() => m.put({ name: '../etc', filter: '', rules: [] }), /name:/);
    assert.throws(() => m.put({ name: 'x', rules: [], colour: 'red' }), /unknown key 'colour'/);
  });
});
