import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { drive } from '../../../test/support/l7-kit.js';
import { createHttpAnalyzer } from './analyzer.js';

const REQ = Buffer.from(
  'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcdGET /b HTTP/1.1\r\nHost: y\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'latin1',
);
const RSP = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 NF\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n',
  'latin1',
);

function cut(b: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < b.length) {
    const n = sizes.length > 0 ? sizes[k++ % sizes.length]! : b.length;
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

function records(segs: [number, Buffer][]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  drive(
    createHttpAnalyzer((r) => {
      out.push(r);
    }),
    segs,
  );
  return out;
}

test('any segmentation of a conversation gives the same records', () => {
  const key = (rs: Record<string, unknown>[]): string =>
    JSON.stringify(
      rs.map((r) => [r['method'], r['uri'], r['status'], r['request_body_bytes'], r['response_body_bytes']]),
    );
  const ref = key(
    records([
      [0, REQ],
      [1, RSP],
    ]),
  );
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }),
      (a, b) => {
        const segs: [number, Buffer][] = [
          ...cut(REQ, a).map((s): [number, Buffer] => [0, s]),
          ...cut(RSP, b).map((s): [number, Buffer] => [1, s]),
        ];
        assert.equal(key(records(segs)), ref);
      },
    ),
    { numRuns: runs(500) },
  );
});

test('random and mutated bytes never throw; records stay bounded', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 }),
      (edits, noise) => {
        const req = Buffer.from(REQ);
        const rsp = Buffer.from(RSP);
        for (const [i, v] of edits) {
          req[i % req.length] = v;
          rsp[(i * 7) % rsp.length] = v;
        }
        const out = records([
          [0, req],
          [1, rsp],
          ...noise.map(([d, b]): [number, Buffer] => [d, Buffer.from(b)]),
        ]);
        assert.ok(out.length < 100);
      },
    ),
    { numRuns: runs(1500) },
  );
});
