import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { drive } from '../../../test/support/l7-kit.js';
import { createSshAnalyzer } from '../ssh/analyzer.js';
import { createSmbAnalyzer } from './analyzer.js';

const HDR = Buffer.concat([Buffer.from([0, 0, 0, 72]), Buffer.from('\xfeSMB', 'latin1'), Buffer.alloc(68)]);

test('SMB and SSH: random and mutated streams never throw', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.uint8Array({ maxLength: 400 })), { maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
      (noise, edits) => {
        const h = Buffer.from(HDR);
        for (const [i, v] of edits) h[i % h.length] = v;
        const segs: [number, Buffer][] = [
          [0, h],
          ...noise.map(([d, b]): [number, Buffer] => [d, Buffer.concat([HDR, Buffer.from(b)])]),
        ];
        drive(
          createSmbAnalyzer(() => {}),
          segs,
        );
        drive(
          createSshAnalyzer(() => {}),
          noise.map(([d, b]): [number, Buffer] => [
            d,
            Buffer.concat([Buffer.from('SSH-2.0-'), Buffer.from(b)]),
          ]),
        );
      },
    ),
    { numRuns: runs(1500) },
  );
});
