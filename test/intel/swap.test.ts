import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generate } from '../../bench/gen-capture.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { AlertAggregator } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { createSensor } from '../../src/flow/sensor.js';
import { parseIntelConfig } from '../../src/intel/config.js';
import { createIntel } from '../../src/intel/intel.js';
import { Matcher } from '../../src/intel/matcher.js';
import { makeIoc } from '../../src/intel/model.js';
import { IntelWatcher } from '../../src/intel/watcher.js';
import type { SightingRecord } from '../../src/schema/sighting.js';

// Servers of the generated capture are 198.51.100.1 onwards: plant some of them, one network.
const PLANTED = [...Array.from({ length: 100 }, (_, i) => `198.51.100.${i + 1}`), '198.51.101.0/24'];
const noise = (variant: number): string[] =>
  Array.from({ length: 20_000 }, (_, i) => `${variant === 0 ? 100 : 101}.${(i >> 8) & 255}.${i & 255}.7`);

// flow ids are per sensor run: a hit is told by its connection and time
const key = (s: SightingRecord): string =>
  `${s.indicator_value} ${s.matched_field} ${s.community_id} ${s.client_port} ${s.ts}`;

test('swapping a feed while the sensor streams loses no hit and no packet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-intel-swap-'));
  try {
    const pcap = join(dir, 'c.pcap');
    generate(pcap, 60_000);

    // the hits a matcher holding the planted indicators all along raises
    const want: SightingRecord[] = [];
    const still = new IntelWatcher(
      Matcher.build(PLANTED.map((v) => makeIoc(v.includes('/') ? 'cidr' : 'ipv4', v, ['x']))),
      new AlertAggregator(() => {}),
      (s) => want.push(s),
    );
    const s0 = createSensor((r) => still.onRecord(r), { l7: true });
    const sum0 = await readCaptureFile(pcap, s0.onFrame);
    s0.finish();
    assert.ok(want.length > 50, `the capture hits the planted servers (${want.length})`);

    // the same capture while the feed is replaced again and again, its noise changing each time
    const feed = join(dir, 'feed.txt');
    const write = (variant: number) => writeFileSync(feed, [...PLANTED, ...noise(variant)].join('\n'));
    write(0);
    const got: SightingRecord[] = [];
    const intel = createIntel(
      parseIntelConfig({
        feeds: [{ name: 'f', format: 'list', file: feed, schedule: 0 }],
        retro_on_new: false,
      }),
      {
        dataDir: dir,
        log: silentLogger,
        emitter: new AlertAggregator(() => {}),
        sightings: (s) => got.push(s),
      },
    );
    await intel.start();
    await intel.pull('f');
    let frames = 0;
    const s1 = createSensor((r) => intel.watcher.onRecord(r), { l7: true });
    let streaming = true;
    let pulls = 0;
    const swapper = (async () => {
      while (streaming) {
        write(++pulls % 2);
        const st = await intel.pull('f');
        assert.equal(st.error, null);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const sum1 = await readCaptureFile(pcap, (...a: Parameters<typeof s1.onFrame>) => {
      frames++;
      s1.onFrame(...a);
    });
    s1.finish();
    streaming = false;
    await swapper;
    await intel.stop();

    assert.ok(
      intel.watcher.counters.swaps >= 3,
      `the matcher was swapped while streaming (${intel.watcher.counters.swaps})`,
    );
    assert.equal(frames, sum0.packets);
    assert.equal(sum1.packets, sum0.packets);
    assert.deepEqual(got.map(key).sort(), want.map(key).sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
