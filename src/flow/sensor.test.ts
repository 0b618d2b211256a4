import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eth, ipv4, udp } from '../../test/support/packets.js';
import { type Frame, newFrame } from '../capture/frame.js';
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

describe('hooks per flow', () => {
  it('a hook that let go of a flow gets none of its packets; every flow of the slot after it, all', () => {
    // Thousands of concurrent flows (past the first size of the per-slot arrays), each seen
    // three times; the hook lets go of the odd ones at their first packet. Flows end at the idle
    // timeout and their slots take new flows with the same ports later.
    const s = new Sensor(() => {});
    const seen = new Map<string, number>();
    let dropped = 0;
    s.addHook({
      name: 'picky',
      onPacket(p, _f, slot) {
        if (slot < 0) return undefined;
        const k = `${p.srcPort}/${Math.floor(p.tsSec / 1000)}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
        if (p.srcPort % 2 === 1) {
          dropped++;
          return false;
        }
        return undefined;
      },
    });
    const f = newFrame();
    const flowsPerRound = 3000;
    for (const round of [0, 1]) {
      for (let rep = 0; rep < 3; rep++) {
        for (let i = 0; i < flowsPerRound; i++) {
          f.buf = Buffer.from(
            eth(0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(10000 + i, 53, [1]))),
          );
          f.off = 0;
          f.caplen = f.wirelen = f.buf.length;
          f.tsSec = 1_700_000_000 + round * 1000 + rep;
          f.tsNs = i;
          s.onFrame(f);
        }
      }
    }
    s.finish();
    for (const round of [0, 1]) {
      for (let i = 0; i < flowsPerRound; i++) {
        const k = `${10000 + i}/${Math.floor((1_700_000_000 + round * 1000) / 1000)}`;
        assert.equal(seen.get(k), i % 2 === 1 ? 1 : 3, `port ${10000 + i}, round ${round}`);
      }
    }
    assert.equal(dropped, flowsPerRound);
  });
});
