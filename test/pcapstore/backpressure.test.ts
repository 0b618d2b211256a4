import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { Sensor } from '../../src/flow/sensor.js';
import { createPacketRecorder } from '../../src/pcapstore/recorder.js';
import { searchToStream } from '../../src/pcapstore/search.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { fixture } from '../support/fixtures.js';
import { type Rec, records, sameRecords } from './helpers.js';

const CAPTURE = fixture('http-206-zero-window.pcap'); // 1.5 MB, 1556 packets

const count = async (store: PcapStore): Promise<number> =>
  (await searchToStream(store, {}, null, { countOnly: true })).packets;

describe('recorder write thread', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-bp-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('waits (and counts it) when every block is in flight on a slow disk, losing nothing', async () => {
    const dir = join(tmp, 'slow');
    const rec = createPacketRecorder(
      {
        dir,
        blockBytes: 1 << 20,
        writeBlocks: 2,
        maxPendingSyncs: 1,
        segmentBytes: 2 * 1024 * 1024,
        fsync: true,
        flushMs: 60_000,
      },
      // A block is written in 250 ms, far longer than filling the next one takes, and segments
      // close about 2 MB of packets apart, far sooner than a 2.5 s fsync ends (shorter delays
      // made both waits depend on how loaded the machine was).
      { ioDelayMs: 250, syncDelayMs: 2500 },
    );
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    const rounds = 4;
    for (let r = 0; r < rounds; r++) {
      await readCaptureFile(CAPTURE, sensor.onFrame);
      // An explicit flush waits for the write thread: every packet so far is searchable.
      rec.flush();
      assert.equal(await count(rec.store), rec.counters.packets, `round ${r}`);
    }
    sensor.finish();
    await rec.stop();
    const c = rec.counters;
    assert.equal(c.packets, 1556 * rounds);
    assert.ok(c.backpressureWaits > 0, 'the slow disk pushed back');
    assert.ok(c.backpressureMs > 0);
    assert.ok(c.syncWaits > 0, 'segment fsyncs are bounded too');
    assert.ok(c.maxBlocksInFlight >= 1 && c.maxBlocksInFlight <= 2, `in flight ${c.maxBlocksInFlight}`);
    assert.ok(c.blocksWritten >= Math.floor((c.bytes + 16 * c.packets) / (1.25 * 2 ** 20)));
    assert.equal(c.writeErrors, 0);

    // Everything on disk, in order, byte for byte, once the recorder has stopped.
    const store = await PcapStore.open(dir);
    assert.equal(store.counters.segmentsRecovered, 0, 'every segment closed with its index');
    assert.ok(store.segments.length >= 2);
    const got: Rec[] = [];
    for (const s of store.segments) got.push(...(await records(s.path)));
    const one = await records(CAPTURE);
    const want: Rec[] = [];
    for (let r = 0; r < rounds; r++) want.push(...one);
    assert.equal(sameRecords(got, want), null);
  });

  it('keeps to the disk budget while segment fsyncs are still pending', async () => {
    const dir = join(tmp, 'budget');
    const segmentBytes = 64 * 1024;
    const maxBytes = 256 * 1024;
    const rec = createPacketRecorder(
      { dir, fsync: true, segmentBytes, maxBytes, maxPendingSyncs: 8 },
      { ioDelayMs: 0, syncDelayMs: 30 },
    );
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    let max = 0;
    for (let i = 0; i < 2; i++) {
      await readCaptureFile(CAPTURE, sensor.onFrame);
      let total = 0;
      for (const f of readdirSync(dir)) total += statSync(join(dir, f)).size;
      max = Math.max(max, total);
    }
    await rec.stop(); // segments deleted before their fsync ran are no write error
    assert.equal(rec.counters.writeErrors, 0);
    assert.ok(rec.counters.syncWaits > 0);
    assert.ok(rec.store.counters.segmentsDeleted > 0);
    assert.ok(max <= maxBytes + segmentBytes + 65536, `peak ${max}`);
  });

  it('publishes periodic flushes without an explicit flush', async () => {
    const dir = join(tmp, 'periodic');
    const rec = createPacketRecorder({ dir, fsync: false, flushMs: 50 }, { ioDelayMs: 20 });
    await rec.start();
    const sensor = new Sensor(() => {});
    sensor.addHook(rec);
    await readCaptureFile(CAPTURE, sensor.onFrame);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(rec.counters.blocksWritten >= 1);
    assert.equal(await count(rec.store), 1556);
    // Another process sees the same packets on disk (the live segment, rebuilt read-only).
    const other = await PcapStore.open(dir);
    assert.equal(await count(other), 1556);
    await rec.stop();
  });
});
