import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { alertRecordOf } from '../common/alerts.js';
import { silentLogger } from '../common/log.js';
import type { AlertRecord } from '../schema/alert.js';
import { DEFAULT_OUTBOX, Outbox } from './outbox.js';

const alert = (i: number, key: string): AlertRecord =>
  alertRecordOf(
    {
      ts: Date.UTC(2026, 0, 1) + i,
      category: 'beacon',
      detector: 'beacon.periodic',
      title: `t${i} ü "q"`,
      severity: 50,
      confidence: 80,
    },
    'sensor-a',
    key,
  );

test('outbox: entries read back carry the id, version and the exact JSON the alert had', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-outbox-'));
  try {
    const ob = new Outbox(dir, DEFAULT_OUTBOX, silentLogger);
    await ob.open();
    const alerts = [alert(1, 'a'), alert(2, 'b'), alert(3, 'c')];
    // An id with a quote and a backslash takes the slow path of the line reader.
    alerts[1] = { ...alerts[1]!, alert_id: 'odd"id\\x' };
    assert.deepEqual(await ob.append(alerts), { accepted: 3, dropped: 0 });
    const { entries, next } = await ob.read({ seq: 1, seg: 1, off: 0 }, 100);
    assert.equal(next.seq, 4);
    assert.deepEqual(
      entries.map((e) => [e.seq, e.id, e.updated]),
      alerts.map((a, i) => [i + 1, a.alert_id, a.updated_ts]),
    );
    for (const [i, e] of entries.entries()) {
      assert.equal(e.json.toString(), JSON.stringify(alerts[i]));
      assert.deepEqual(e.alert, alerts[i]);
    }
    ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outbox: a segment written by the older line form ({"s","t","a"}) is still read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-outbox-'));
  try {
    const ob0 = new Outbox(dir, DEFAULT_OUTBOX, silentLogger);
    await ob0.open();
    ob0.close();
    const old = [alert(1, 'x'), alert(2, 'y')];
    appendFileSync(
      join(dir, 'segments', `${'1'.padStart(16, '0')}.ndjson`),
      old.map((a, i) => `${JSON.stringify({ s: i + 1, t: 5, a })}\n`).join(''),
    );
    const ob = new Outbox(dir, DEFAULT_OUTBOX, silentLogger);
    await ob.open();
    assert.equal(ob.nextSeq, 3);
    await ob.append([alert(3, 'z')]);
    const { entries } = await ob.read({ seq: 1, seg: 1, off: 0 }, 100);
    assert.deepEqual(
      entries.map((e) => [e.seq, e.id]),
      [
        [1, old[0]!.alert_id],
        [2, old[1]!.alert_id],
        [3, alert(3, 'z').alert_id],
      ],
    );
    assert.equal(entries[0]!.json.toString(), JSON.stringify(old[0]));
    assert.equal(entries[0]!.t, 5);
    ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outbox: segments roll at batch boundaries, reads cross them, the size bound refuses and counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-outbox-'));
  try {
    const one = Buffer.byteLength(JSON.stringify(alert(0, 'k0'))) + 80;
    const ob = new Outbox(
      dir,
      { ...DEFAULT_OUTBOX, segmentBytes: one * 5, maxBytes: one * 40 },
      silentLogger,
    );
    await ob.open();
    const ids: string[] = [];
    const appends: Promise<{ accepted: number; dropped: number }>[] = [];
    for (let b = 0; b < 6; b++) {
      const batch = Array.from({ length: 4 }, (_, i) => alert(b * 4 + i, `k${b * 4 + i}`));
      ids.push(...batch.map((a) => a.alert_id));
      appends.push(ob.append(batch));
    }
    const res = await Promise.all(appends);
    assert.deepEqual(res, Array(6).fill({ accepted: 4, dropped: 0 }));
    assert.ok(ob.segmentCount >= 4, `segments ${ob.segmentCount}`);
    let cur = { seq: 1, seg: 1, off: 0 };
    const got: string[] = [];
    for (;;) {
      const { entries, next } = await ob.read(cur, 3);
      if (entries.length === 0) break;
      got.push(...entries.map((e) => e.id));
      assert.deepEqual(
        entries.map((e) => e.seq),
        entries.map((_, i) => cur.seq + i),
      );
      cur = next;
    }
    assert.deepEqual(got, ids);
    // Past the bound: the alerts that fit are kept, in order; the rest are counted.
    const big = Array.from({ length: 30 }, (_, i) => alert(100 + i, `b${i}`));
    const r = await ob.append(big);
    assert.ok(r.accepted > 0 && r.dropped > 0, JSON.stringify(r));
    assert.equal(r.accepted + r.dropped, 30);
    assert.equal(ob.counters.overflow, r.dropped);
    const tail = await ob.read(cur, 100);
    assert.deepEqual(
      tail.entries.map((e) => e.id),
      big.slice(0, r.accepted).map((a) => a.alert_id),
    );
    ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outbox: any id and text read back exactly, as values and as spans of the read buffer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-outbox-'));
  const ob = new Outbox(dir, DEFAULT_OUTBOX, silentLogger);
  try {
    await ob.open();
    let cursor = ob.endCursor;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 60 })), {
          minLength: 1,
          maxLength: 20,
        }),
        async (rows) => {
          const alerts = rows.map(([id, title], i) => ({ ...alert(i, 'x'), alert_id: id, title }));
          await ob.append(alerts);
          const { entries, next } = await ob.read(cursor, 1000);
          cursor = next;
          assert.equal(entries.length, alerts.length);
          entries.forEach((e, i) => {
            const a = alerts[i]!;
            assert.equal(e.id, a.alert_id);
            assert.equal(e.updated, a.updated_ts);
            assert.deepEqual(e.idBytes, Buffer.from(a.alert_id));
            assert.deepEqual(e.updatedBytes, Buffer.from(a.updated_ts));
            assert.deepEqual(e.src.subarray(e.valueAt, e.valueEnd), Buffer.from(JSON.stringify(a)));
            assert.deepEqual(e.src.subarray(e.keyAt, e.keyEnd), e.idBytes);
            assert.deepEqual(e.src.subarray(e.headerAt, e.headerEnd), e.updatedBytes);
            assert.deepEqual(e.alert, a);
          });
        },
      ),
      { numRuns: runs(60) },
    );
  } finally {
    ob.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
