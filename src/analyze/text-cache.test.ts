import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { ipBytesToString } from '../common/addr.js';
import { AddrTextCache, TextCache } from './text-cache.js';

// A small table so that different texts share slots: every answer must still be the decoder's.
const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 });
const few = fc.constantFrom(
  Buffer.from('example.com'),
  Buffer.from('EXAMPLE.com'),
  Buffer.from('caf\xc3\xa9', 'latin1'),
  Buffer.from([0xff, 0x00, 0x41]),
  Buffer.alloc(0),
);
const text = fc.oneof(bytes, few);

test('TextCache answers what Buffer decodes, whatever shares a slot', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(text, fc.nat(8), fc.nat(8)), { minLength: 1, maxLength: 200 }), (xs) => {
      const c = new TextCache(16, 24);
      for (const [u, pre, post] of [...xs, ...xs]) {
        // the text sits inside a larger buffer, as it does in a packet
        const b = Buffer.concat([Buffer.alloc(pre, 0x2e), Buffer.from(u), Buffer.alloc(post, 0x2e)]);
        const s = pre;
        const e = pre + u.length;
        assert.equal(c.latin1(b, s, e), b.toString('latin1', s, e));
        assert.equal(c.utf8(b, s, e), b.toString('utf8', s, e));
      }
    }),
    { numRuns: runs(300) },
  );
});

test('TextCache gives the same string object for a repeated text and counts replacements', () => {
  const c = new TextCache(16);
  const a = c.latin1(Buffer.from('xxwww.example.org'), 2, 17);
  const b = c.latin1(Buffer.from('www.example.orgyy'), 0, 15);
  assert.equal(a, 'www.example.org');
  assert.ok(Object.is(a, b));
  assert.equal(c.hits, 1);
  for (let i = 0; i < 200; i++) c.latin1(Buffer.from(`name-${i}`), 0, `name-${i}`.length);
  assert.ok(c.evictions > 0, 'a 16-slot table replaces entries');
});

test('AddrTextCache answers ipBytesToString for IPv4 and IPv6, whatever shares a slot', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 })), {
        minLength: 1,
        maxLength: 200,
      }),
      (xs) => {
        const c = new AddrTextCache(16);
        for (const [v4, raw] of [...xs, ...xs]) {
          const ver = v4 ? 4 : 6;
          assert.equal(c.get(raw, 0, ver), ipBytesToString(raw, 0, ver));
        }
      },
    ),
    { numRuns: runs(300) },
  );
});
