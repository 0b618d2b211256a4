import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import type { AlertRecord } from '../schema/alert.js';
import { AlertAggregator, type AlertInput, alertId } from './alerts.js';

const T0 = Date.UTC(2024, 4, 1, 12);

function probe(i: number, port: number, over: Partial<AlertInput> = {}): AlertInput {
  return {
    ts: T0 + i * 10,
    category: 'scan',
    detector: 'scan.vertical',
    title: 'port scan',
    severity: 40 + (i % 3),
    confidence: 80,
    src_ip: '10.0.0.1',
    dst_ip: '10.0.0.2',
    dst_port: port,
    src_port: 40000 + i,
    ...over,
  };
}

describe('alert aggregation', () => {
  it('every emitted alert carries the latest event time folded into it (last_ts = updated_ts), live and final', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -5_000, max: 200_000 })), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.constantFrom('live' as const, 'final' as const),
        (events, mode) => {
          const out: AlertRecord[] = [];
          const agg = new AlertAggregator((r) => out.push(r), { mode, updateMs: 30_000 });
          // Per key, the latest time folded so far, after each event (count n → latest of the first n).
          const latest = new Map<number, number[]>();
          for (const [key, dt] of events) {
            const ts = T0 + dt;
            const seen = latest.get(key) ?? [];
            seen.push(Math.max(ts, seen.at(-1) ?? ts));
            latest.set(key, seen);
            agg.raise(probe(0, 1, { ts, key: String(key), evidence: { key } }));
          }
          agg.flush();
          assert.ok(out.length >= latest.size);
          for (const a of out) {
            const seq = latest.get((a.evidence as { key: number }).key)!;
            assert.equal(a.last_ts, new Date(seq[a.count - 1]!).toISOString());
            assert.equal(a.updated_ts, a.last_ts);
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('folds a 60,000-port scan into one alert with its count', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final' });
    for (let i = 0; i < 60_000; i++) agg.raise(probe(i, i + 1));
    agg.flush();
    assert.equal(out.length, 1);
    const a = out[0]!;
    assert.equal(a.count, 60_000);
    assert.equal(a.first_ts, new Date(T0).toISOString());
    assert.equal(a.last_ts, new Date(T0 + 59_999 * 10).toISOString());
    assert.equal(a.severity, 42);
    assert.equal(a.severity_label, 'medium');
    // Many connections: no single source port stands for the alert.
    assert.equal(a.src_port, null);
  });

  it('live mode emits on open, on doubling and at the end, always with the same id', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'live', updateMs: 1e9 });
    for (let i = 0; i < 100; i++) agg.raise(probe(i, i + 1));
    agg.flush();
    assert.deepEqual(
      out.map((r) => r.count),
      [1, 2, 4, 8, 16, 32, 64, 100],
    );
    assert.equal(new Set(out.map((r) => r.alert_id)).size, 1);
  });

  it('starts a new episode after the idle time, and keeps different hosts apart', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final', idleMs: 60_000 });
    agg.raise(probe(0, 1));
    agg.raise(probe(1, 2, { src_ip: '10.0.0.9' }));
    agg.raise(probe(0, 3, { ts: T0 + 120_000 }));
    agg.flush();
    assert.equal(out.length, 3);
    assert.equal(new Set(out.map((r) => r.alert_id)).size, 3);
  });

  it('bounds open episodes, closing the oldest', () => {
    const out: AlertRecord[] = [];
    const agg = new AlertAggregator((r) => out.push(r), { mode: 'final', maxOpen: 100 });
    for (let i = 0; i < 10_000; i++) agg.raise(probe(i, 1, { src_ip: `10.1.${i >> 8}.${i & 255}` }));
    assert.ok(agg.openEpisodes <= 100);
    assert.equal(agg.counters.evicted, 9_900);
    agg.flush();
    assert.equal(out.length, 10_000);
  });

  it('derives the same UUID for the same episode', () => {
    const a = alertId(['s', 'scan.vertical', '10.0.0.1|10.0.0.2', T0]);
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a, alertId(['s', 'scan.vertical', '10.0.0.1|10.0.0.2', T0]));
    assert.notEqual(a, alertId(['s', 'scan.vertical', '10.0.0.1|10.0.0.2', T0 + 1]));
  });
});
