import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import {
  clientFingerprints,
  fingerprintMemo,
  ja3String,
  ja3sString,
  ja4,
  ja4s,
  md5Hex,
  serverFingerprints,
} from './fingerprint.js';
import type { ClientHello, ServerHello } from './hello.js';

// Hellos drawn from a few values per field, so shapes repeat (memo hits) and near neighbours
// (one field apart) follow each other; each list is read twice, the second time from the memo.
// Every answer must equal the direct computation.
const u16 = fc.constantFrom(0x1301, 0x1302, 0xc02b, 0x0a0a, 0x002f, 0x0000, 0x0010, 0x002b, 0x000d);
const list = fc.array(u16, { maxLength: 4 });
const clientHello: fc.Arbitrary<ClientHello> = fc.record({
  version: fc.constantFrom(0x0303, 0x0301),
  ciphers: list,
  extensions: list,
  groups: list,
  pointFormats: fc.array(fc.constantFrom(0, 1), { maxLength: 2 }),
  sigAlgs: list,
  supportedVersions: fc.array(fc.constantFrom(0x0304, 0x0303, 0x2a2a), { maxLength: 2 }),
  sni: fc.constantFrom(null, 'example.com'),
  alpn: fc.array(fc.constantFrom('h2', 'http/1.1', 'h3'), { maxLength: 2 }),
});
const serverHello: fc.Arbitrary<ServerHello> = fc.record({
  version: fc.constantFrom(0x0303, 0x0301),
  cipher: u16,
  extensions: list,
  selectedVersion: fc.constantFrom(0, 0x0304),
  alpn: fc.constantFrom(null, 'h2', 'h3'),
  retryRequest: fc.boolean(),
});
const transport = fc.constantFrom<'t' | 'q'>('t', 'q');

test('memoised client fingerprints equal the direct computation', () => {
  const hits = fingerprintMemo.hits;
  fc.assert(
    fc.property(fc.array(fc.tuple(clientHello, transport), { minLength: 1, maxLength: 20 }), (hs) => {
      for (const [h, t] of [...hs, ...hs]) {
        const j3 = ja3String(h);
        const got = clientFingerprints(h, t);
        assert.equal(got.ja3String, j3);
        assert.equal(got.ja3, md5Hex(j3));
        assert.equal(got.ja4, ja4(h, t));
      }
    }),
    { numRuns: runs(500) },
  );
  assert.ok(fingerprintMemo.hits > hits, 'shapes repeat, so some answers come from the memo');
});

test('memoised server fingerprints equal the direct computation', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(serverHello, transport), { minLength: 1, maxLength: 20 }), (hs) => {
      for (const [h, t] of [...hs, ...hs]) {
        const got = serverFingerprints(h, t);
        assert.equal(got.ja3s, md5Hex(ja3sString(h)));
        assert.equal(got.ja4s, ja4s(h, t));
      }
    }),
    { numRuns: runs(500) },
  );
});
