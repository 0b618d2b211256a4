import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import {
  alpnExt,
  clientHelloMsg,
  drive,
  records,
  serverHelloMsg,
  sniExt,
  u16ListExt,
} from '../../../test/support/l7-kit.js';
import { createTlsAnalyzer } from './analyzer.js';
import { parseClientHello, parseServerHello } from './hello.js';
import { TlsRecordStream } from './record-stream.js';

const CH = clientHelloMsg({
  ciphers: [0x1301, 0x1302, 0xc02f, 0x0a0a],
  exts: [
    sniExt('fuzz.example'),
    alpnExt(['h2', 'http/1.1']),
    u16ListExt(0x002b, [0x0304, 0x0303], 1),
    u16ListExt(0x000d, [0x0403]),
  ],
});
const SH = serverHelloMsg({ cipher: 0x1301, exts: [[0x002b, [3, 4]]] });
const STREAM = [records(22, CH, 100), records(22, SH)];

const mutate = (b: Buffer, edits: [number, number][]): Buffer => {
  const m = Buffer.from(b);
  for (const [i, v] of edits) if (m.length > 0) m[i % m.length] = v;
  return m;
};

test('hello parsers never throw on random or mutated bytes', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
      (rnd, edits) => {
        const r = Buffer.from(rnd);
        parseClientHello(r, 0, r.length);
        parseServerHello(r, 0, r.length);
        const m = mutate(CH, edits);
        parseClientHello(m, 4, m.length);
        const s = mutate(SH, edits);
        parseServerHello(s, 4, s.length);
      },
    ),
    { numRuns: runs(2000) },
  );
});

test('record stream: any segmentation yields the same handshake messages', () => {
  const whole: string[] = [];
  const ref = new TlsRecordStream((t, b, o, e) => whole.push(`${t}:${b.toString('hex', o, e)}`));
  const all = Buffer.concat(STREAM);
  ref.parse(all, 0, all.length);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 40 }), (cuts) => {
      const got: string[] = [];
      const rs = new TlsRecordStream((t, b, o, e) => got.push(`${t}:${b.toString('hex', o, e)}`));
      let pending = Buffer.alloc(0);
      let i = 0;
      let k = 0;
      while (i < all.length) {
        const n = cuts[k++ % cuts.length]!;
        const win = Buffer.concat([pending, all.subarray(i, i + n)]);
        i += n;
        const stop = rs.parse(win, 0, win.length);
        pending = win.subarray(stop);
      }
      assert.deepEqual(got, whole);
    }),
    { numRuns: runs(300) },
  );
});

test('analyzer never throws or records more than one handshake per hello on mutated streams', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.uint8Array({ maxLength: 200 })), { maxLength: 6 }),
      (edits, noise) => {
        let n = 0;
        const a = createTlsAnalyzer((r) => {
          if (r.type === 'tls') n++;
        });
        const segs: [number, Buffer][] = [
          [0, mutate(STREAM[0]!, edits)],
          [1, mutate(STREAM[1]!, edits)],
          ...noise.map(([d, b]): [number, Buffer] => [d, Buffer.from(b)]),
        ];
        drive(a, segs);
        assert.ok(n <= 2);
      },
    ),
    { numRuns: runs(1000) },
  );
});
