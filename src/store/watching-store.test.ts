import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyRecord, RecordWatcher } from '../common/alerts.js';
import { flowRecord } from '../schema/records.js';
import type { Columnar } from './columnar.js';
import { recordsToColumnar } from './columnar-read.js';
import type { Rec, RecordStore } from './types.js';
import { watchingStore } from './watching-store.js';

test('watchingStore: column batches go as columns to watchers that read them, as records to the others', async () => {
  const stored: { type: string; n: number }[] = [];
  const inner = {
    append: async (type: string, recs: readonly Rec[]) => void stored.push({ type, n: recs.length }),
    appendColumns: async (type: string, c: Columnar) => void stored.push({ type, n: c.rows.length }),
  } as unknown as RecordStore;
  const recs = [
    {
      type: 'flow',
      client_ip: '10.0.0.1',
      server_ip: '192.0.2.1',
      server_port: 443,
      first_ts: '2024-01-01T00:00:00Z',
    },
    {
      type: 'flow',
      client_ip: '10.0.0.2',
      server_ip: '192.0.2.1',
      server_port: 53,
      first_ts: '2024-01-01T00:00:01Z',
    },
  ];
  const c = recordsToColumnar(flowRecord, recs);
  const seen: string[] = [];
  const byColumns: RecordWatcher = {
    name: 'cols',
    onRecord: () => void seen.push('cols:record'),
    onColumns: (type, batch) => void seen.push(`cols:columns ${type} ${batch.rows.length}`),
    finish() {},
  };
  const got: AnyRecord[] = [];
  const byRecords: RecordWatcher = { name: 'recs', onRecord: (r) => void got.push(r), finish() {} };
  const failing: RecordWatcher = {
    name: 'bad',
    onRecord() {},
    onColumns() {
      throw new Error('boom');
    },
    finish() {},
  };
  const errors: string[] = [];
  const s = watchingStore(
    inner,
    () => [failing, byColumns, byRecords],
    (w) => void errors.push(w.name),
  ) as RecordStore & {
    appendColumns(type: string, c: Columnar): Promise<void>;
  };
  await s.appendColumns('flow', c);
  assert.deepEqual(seen, ['cols:columns flow 2']);
  assert.equal(got.length, 2);
  assert.equal(got[1]!.client_ip, '10.0.0.2');
  assert.equal(got[1]!.server_port, 53);
  assert.equal(got[0]!.type, 'flow');
  assert.deepEqual(errors, ['bad']);
  assert.deepEqual(stored, [{ type: 'flow', n: 2 }]);
  // alerts are never shown to the watchers
  await s.appendColumns('alert', c);
  assert.equal(seen.length, 1);
});

test('watchingStore: batches committed together (appendColumnParts) are each shown to the watchers', async () => {
  const stored: number[] = [];
  const inner = {
    append: async () => {},
    appendColumns: async () => {},
    appendColumnParts: async (_type: string, parts: readonly Columnar[]) =>
      void stored.push(...parts.map((p) => p.rows.length)),
  } as unknown as RecordStore;
  const rec = (port: number) => ({
    type: 'flow',
    client_ip: '10.0.0.1',
    server_ip: '192.0.2.1',
    server_port: port,
    first_ts: '2024-01-01T00:00:00Z',
  });
  const a = recordsToColumnar(flowRecord, [rec(1), rec(2)]);
  const b = recordsToColumnar(flowRecord, [rec(3)]);
  const ports: unknown[] = [];
  const w: RecordWatcher = { name: 'recs', onRecord: (r) => void ports.push(r.server_port), finish() {} };
  const s = watchingStore(inner, () => [w]) as RecordStore & {
    appendColumnParts(type: string, parts: readonly Columnar[]): Promise<void>;
  };
  await s.appendColumnParts('flow', [a, b]);
  assert.deepEqual(ports, [1, 2, 3]);
  assert.deepEqual(stored, [2, 1]);
  // A store without the method does not gain one through the wrapper (the feed then concatenates).
  const plain = watchingStore({ append: async () => {} } as unknown as RecordStore, () => [w]);
  assert.equal((plain as { appendColumnParts?: unknown }).appendColumnParts, undefined);
});
