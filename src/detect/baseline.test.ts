import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BASELINE_FILE, Baselines, hourOfWeek } from './baseline.js';
import { createDetectors } from './index.js';

const MON_9 = Date.parse('2026-03-02T09:00:00Z');
const H = 3_600_000;

test('hour of week: Monday 00:00 UTC is 0, Sunday 23:00 is 167', () => {
  assert.equal(hourOfWeek(Date.parse('2026-03-02T00:30:00Z')), 0);
  assert.equal(hourOfWeek(MON_9), 9);
  assert.equal(hourOfWeek(Date.parse('2026-03-08T23:59:00Z')), 167);
});

test('learning period, then the hour-of-week level', () => {
  const b = new Baselines(0.1, 24, 100);
  for (let i = 0; i < 23; i++) b.update('h', 100, MON_9 + i * H);
  assert.equal(b.view('h', MON_9).learned, false);
  b.update('h', 100, MON_9 + 23 * H);
  // Busy Monday mornings: 9:00 a week later is compared with 9:00, not with the overall mean.
  for (let w = 1; w <= 3; w++) b.update('h', 1000, MON_9 + w * 168 * H);
  const v = b.view('h', MON_9 + 4 * 168 * H);
  assert.equal(v.learned, true);
  assert.equal(v.basis, 'hour_of_week');
  assert.ok(v.expected > 500, `expected ${v.expected}`);
  assert.ok(b.view('h', MON_9 + H).expected < 500);
});

test('bounded: keys beyond the cap are forgotten, oldest first', () => {
  const b = new Baselines(0.1, 1, 10);
  for (let i = 0; i < 50; i++) b.update(`k${i}`, i, MON_9);
  assert.equal(b.size, 10);
  assert.equal(b.evictions, 40);
  assert.equal(b.view('k0', MON_9).samples, 0);
  assert.equal(b.view('k49', MON_9).samples, 1);
});

test('persisted in the data directory: a restart does not learn again from zero', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-baseline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const set = createDetectors({}, { emitter: { raise() {} }, dataDir: dir });
  for (let i = 0; i < 30; i++) set.baselines.update('out|10.1.1.1', 5e6, MON_9 + i * H);
  set.finish();
  const saved = JSON.parse(readFileSync(join(dir, BASELINE_FILE), 'utf8'));
  assert.ok(saved.keys['out|10.1.1.1']);
  const again = createDetectors({}, { emitter: { raise() {} }, dataDir: dir });
  const v = again.baselines.view('out|10.1.1.1', MON_9 + 40 * H);
  assert.equal(v.samples, 30);
  assert.equal(v.learned, true);
  assert.ok(Math.abs(v.expected - 5e6) < 1);
});
