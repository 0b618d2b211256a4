import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { alpnExt, clientHelloMsg, serverHelloMsg, sniExt, u16ListExt } from '../../../test/support/l7-kit.js';
import { type ClientHello, parseClientHello, parseServerHello, type ServerHello } from './hello.js';

/**
 * Hellos' lists are shared by shape (hello.ts): whatever was parsed before, a hello must read as
 * the bytes it was built from, and a list handed out earlier must never change afterwards.
 * The truth is the builder's input, not the parser.
 */

const u16 = fc.integer({ min: 0, max: 0xffff });
/** Few distinct values, so that shapes repeat and collide in the table. */
const small = fc.constantFrom(0x1301, 0x1302, 0xc02f, 0x0a0a, 0x001d, 0x0017);
const list = fc.array(fc.oneof(small, u16), { maxLength: 12 });
const proto = fc.constantFrom('h2', 'http/1.1', 'h3', 'x', 'spdy/3');

interface Spec {
  version: number;
  ciphers: number[];
  groups: number[] | null;
  sigAlgs: number[] | null;
  versions: number[] | null;
  points: number[] | null;
  alpn: string[][];
  sni: string | null;
  order: number[];
}

const spec: fc.Arbitrary<Spec> = fc.record({
  version: fc.constantFrom(0x0303, 0x0301),
  ciphers: list,
  groups: fc.option(list),
  sigAlgs: fc.option(list),
  versions: fc.option(list),
  points: fc.option(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 })),
  // Zero, one or two ALPN extensions: a second one appends its names.
  alpn: fc.array(fc.array(proto, { maxLength: 3 }), { maxLength: 2 }),
  sni: fc.option(fc.constantFrom('a.example', 'b.example', 'long.name.example')),
  order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
});

function build(s: Spec): { msg: Buffer; want: ClientHello } {
  const exts: { e: [number, number[]]; names: string[] }[] = [];
  const add = (e: [number, number[]], names: string[] = []) => exts.push({ e, names });
  if (s.sni !== null) add(sniExt(s.sni));
  if (s.groups !== null) add(u16ListExt(0x000a, s.groups));
  if (s.sigAlgs !== null) add(u16ListExt(0x000d, s.sigAlgs));
  if (s.versions !== null) add(u16ListExt(0x002b, s.versions, 1));
  if (s.points !== null) add([0x000b, [s.points.length, ...s.points]]);
  for (const a of s.alpn) add(alpnExt(a), a);
  // Extensions in an order of the spec's choosing (wire order is what the lists keep).
  const keyed = exts.map((x, i) => [s.order[i % s.order.length]! * 16 + i, x] as const);
  keyed.sort((x, y) => x[0] - y[0]);
  const ordered = keyed.map(([, x]) => x);
  const msg = clientHelloMsg({ version: s.version, ciphers: s.ciphers, exts: ordered.map((x) => x.e) });
  const want: ClientHello = {
    version: s.version,
    ciphers: s.ciphers,
    extensions: ordered.map((x) => x.e[0]),
    groups: s.groups ?? [],
    pointFormats: s.points ?? [],
    sigAlgs: s.sigAlgs ?? [],
    supportedVersions: s.versions ?? [],
    sni: s.sni,
    alpn: ordered.flatMap((x) => x.names),
  };
  return { msg, want };
}

test('ClientHello lists read as built, and lists handed out earlier never change', () => {
  fc.assert(
    fc.property(fc.array(spec, { minLength: 1, maxLength: 40 }), (specs) => {
      const seen: [ClientHello, ClientHello][] = [];
      for (const s of specs) {
        const { msg, want } = build(s);
        const got = parseClientHello(msg, 4, msg.length);
        assert.ok(got !== null);
        assert.deepEqual({ ...got }, want);
        seen.push([got, structuredClone(want)]);
      }
      // Every hello parsed before still holds its own lists.
      for (const [got, want] of seen) assert.deepEqual({ ...got }, want);
      // The same bytes again read the same (shared lists when the shape was kept).
      for (const s of specs) {
        const { msg, want } = build(s);
        assert.deepEqual({ ...parseClientHello(msg, 4, msg.length)! }, want);
      }
    }),
    { numRuns: runs(300) },
  );
});

test('ServerHello extensions and ALPN read as built across many hellos', () => {
  const sh = fc.record({
    cipher: u16,
    exts: fc.array(fc.oneof(small, u16), { maxLength: 6 }),
    alpn: fc.option(fc.array(proto, { maxLength: 2 })),
    selected: fc.option(fc.constantFrom(0x0304, 0x0303)),
  });
  fc.assert(
    fc.property(fc.array(sh, { minLength: 1, maxLength: 30 }), (list) => {
      const seen: [ServerHello, ServerHello][] = [];
      for (const s of list) {
        // Plain extensions carry no data the parser reads (types other than 0x002b and 0x0010).
        const exts: [number, number[]][] = s.exts
          .filter((t) => t !== 0x002b && t !== 0x0010)
          .map((t) => [t, []] as [number, number[]]);
        if (s.selected !== null) exts.push([0x002b, [s.selected >> 8, s.selected & 255]]);
        if (s.alpn !== null) exts.push(alpnExt(s.alpn));
        const msg = serverHelloMsg({ cipher: s.cipher, exts });
        const got = parseServerHello(msg, 4, msg.length);
        assert.ok(got !== null);
        const want: ServerHello = {
          version: 0x0303,
          cipher: s.cipher,
          extensions: exts.map(([t]) => t),
          selectedVersion: s.selected ?? 0,
          alpn: s.alpn?.[0] ?? null,
          retryRequest: false,
        };
        assert.deepEqual({ ...got }, want);
        seen.push([got, structuredClone(want)]);
      }
      for (const [got, want] of seen) assert.deepEqual({ ...got }, want);
    }),
    { numRuns: runs(300) },
  );
});

test('a hello cut short yields null and does not disturb the lists of the next one', () => {
  const { msg, want } = build({
    version: 0x0303,
    ciphers: [0x1301, 0x1302],
    groups: [0x001d],
    sigAlgs: [0x0403],
    versions: [0x0304],
    points: [0],
    alpn: [['h2']],
    sni: 'a.example',
    order: [0, 1, 2, 3, 4, 5, 6, 7],
  });
  for (let cut = 5; cut < msg.length; cut++) {
    parseClientHello(msg, 4, cut);
    assert.deepEqual({ ...parseClientHello(msg, 4, msg.length)! }, want);
  }
});
