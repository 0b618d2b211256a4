import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertRecordOf } from '../common/alerts.js';
import { silentLogger } from '../common/log.js';
import type { RecordStore } from '../store/types.js';
import { AlertHub } from './hub.js';

const alert = (i: number) =>
  alertRecordOf(
    {
      ts: Date.UTC(2024, 0, 1) + i,
      category: 'scan',
      detector: 't',
      title: 't',
      severity: 50,
      confidence: 50,
    },
    's',
    `a-${i}`,
  );

describe('alert hub', () => {
  it('stays bounded while the store does not answer: one write in flight, one queued, the excess counted', async () => {
    let appends = 0;
    let release: () => void = () => {};
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    // A store that stops answering: the failure the bound exists for.
    const store = {
      append: async () => {
        appends++;
        await stuck;
      },
    } as unknown as RecordStore;
    const hub = new AlertHub({ store, log: silentLogger }, { maxPending: 100 });
    for (let i = 0; i < 1000; i++) hub.emit(alert(i));
    // Flushes requested while one waits share it.
    const flushes = Array.from({ length: 50 }, () => hub.flush());
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(appends, 1);
    assert.ok(hub.counters.dropped > 0);
    assert.equal(hub.counters.received, 1000);
    release();
    await Promise.all(flushes);
    await hub.flush();
    assert.equal(hub.counters.stored + hub.counters.dropped, 1000);
  });
});
