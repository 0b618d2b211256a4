import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Frame } from '../capture/frame.js';
import { Sensor, type SensorRecord } from './sensor.js';

function zeroFrame(i: number): Frame {
  return {
    buf: new Uint8Array(64),
    off: 0,
    caplen: 0,
    wirelen: 0,
    tsSec: 1_700_000_000 + i,
    tsNs: 0,
    linkType: 1,
    ifIndex: 0,
  } as unknown as Frame;
}

describe('weird sampling', () => {
  it('a flood of malformed packets costs counters, not rows: the first 100 per name, then one summary', () => {
    const out: SensorRecord[] = [];
    const s = new Sensor((r) => out.push(r));
    for (let i = 0; i < 100_000; i++) s.onFrame(zeroFrame(i));
    for (let i = 0; i < 250; i++) s.fileWeird('capture_file_damaged', `damage ${i}`, 0, 0);
    const c = s.finish();
    const weirds = out.filter((r) => r.type === 'weird') as { name: string; detail: string | null }[];
    assert.equal(c.weird, 100_250);
    assert.equal(c.weirdByName.zero_length_frame, 100_000);
    const zero = weirds.filter((w) => w.name === 'zero_length_frame');
    assert.equal(zero.length, 101);
    assert.match(zero.at(-1)!.detail!, /^99900 more not recorded/);
    const file = weirds.filter((w) => w.name === 'capture_file_damaged');
    assert.equal(file.length, 101);
    assert.match(file.at(-1)!.detail!, /^150 more not recorded/);
  });
});
