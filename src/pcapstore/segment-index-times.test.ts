import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import type { Packet } from '../decode/packet.js';
import { IndexBuilder } from './segment-index.js';

/**
 * A segment's time range and its 4096-packet marks, checked against their definition over
 * packets in any time order (equal, earlier, later, the largest second), for builders sized
 * below and above the packet count (the growth path and the pre-sized one must agree), and for
 * a builder restarted after a segment with later times.
 */

const MARK = 4096;

interface T {
  sec: number;
  ns: number;
  len: number;
}

const time = fc.record({
  sec: fc.oneof(
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 1_700_000_000, max: 1_700_000_003 }),
    fc.constant(0xffffffff),
  ),
  ns: fc.oneof(fc.constant(0), fc.constant(999_999_999), fc.integer({ min: 0, max: 999_999_999 })),
  len: fc.integer({ min: 16, max: 1600 }),
});

/** The times of `n` packets: a random walk over `base` (runs of equal, earlier and later times). */
function walk(base: T[], n: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(base[(i * 7919) % base.length]!);
  return out;
}

function feed(b: IndexBuilder, pkts: T[]): number[] {
  const offs: number[] = [];
  let off = 24;
  const p = { tsSec: 0, tsNs: 0 } as Packet;
  for (const t of pkts) {
    p.tsSec = t.sec;
    p.tsNs = t.ns;
    offs.push(off);
    b.add(p, off, t.len, null, -1);
    off += t.len;
  }
  return offs;
}

const before = (a: T, b: T): boolean => a.sec < b.sec || (a.sec === b.sec && a.ns < b.ns);

function check(b: IndexBuilder, pkts: T[], offs: number[]): void {
  const ix = b.build();
  if (pkts.length === 0) {
    assert.deepEqual([ix.meta.firstSec, ix.meta.firstNs, ix.meta.lastSec, ix.meta.lastNs], [0, 0, 0, 0]);
    return;
  }
  let lo = pkts[0]!;
  let hi = pkts[0]!;
  for (const t of pkts) {
    if (before(t, lo)) lo = t;
    if (before(hi, t)) hi = t;
  }
  assert.deepEqual([ix.meta.firstSec, ix.meta.firstNs], [lo.sec, lo.ns], 'first');
  assert.deepEqual([ix.meta.lastSec, ix.meta.lastNs], [hi.sec, hi.ns], 'last');
  const marks = Math.ceil(pkts.length / MARK);
  assert.equal(ix.d.markOff.length, marks);
  for (let m = 0; m < marks; m++) {
    const part = pkts.slice(m * MARK, (m + 1) * MARK).map((t) => t.sec);
    assert.equal(ix.d.markOff[m], offs[m * MARK], `mark ${m} offset`);
    assert.equal(ix.d.markMin[m], Math.min(...part), `mark ${m} min`);
    assert.equal(ix.d.markMax[m], Math.max(...part), `mark ${m} max`);
  }
}

describe('segment index times', () => {
  it('first, last and marks are the extremes of the packets, whatever their order', () => {
    fc.assert(
      fc.property(
        fc.array(time, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 3 * MARK + 5 }),
        (base, n) => {
          const pkts = walk(base, n);
          const b = new IndexBuilder(1);
          check(b, pkts, feed(b, pkts));
        },
      ),
      { numRuns: runs(60) },
    );
  });

  it('a builder that grows builds what a pre-sized one builds', () => {
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 10 }), (base) => {
        const pkts = walk(base, (1 << 16) + 2 * MARK + 3);
        const small = new IndexBuilder(1);
        const big = new IndexBuilder(1, false, 1 << 20);
        const offs = feed(small, pkts);
        feed(big, pkts);
        check(small, pkts, offs);
        const a = small.build();
        const b = big.build();
        assert.deepEqual(a.meta, b.meta);
        for (const k of Object.keys(b.d) as (keyof typeof b.d)[]) assert.deepEqual(a.d[k], b.d[k], k);
      }),
      { numRuns: runs(4) },
    );
  });

  it('a restarted builder forgets the last segment times', () => {
    fc.assert(
      fc.property(
        fc.array(time, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: MARK + 9 }),
        (base, n) => {
          const b = new IndexBuilder(1);
          feed(
            b,
            walk(
              [
                { sec: 0xffffffff, ns: 999_999_999, len: 100 },
                { sec: 0, ns: 0, len: 60 },
              ],
              MARK + 1,
            ),
          );
          b.build();
          b.restart(1);
          const pkts = walk(base, n);
          check(b, pkts, feed(b, pkts));
        },
      ),
      { numRuns: runs(40) },
    );
  });
});
