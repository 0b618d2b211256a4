import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type FieldSpec, ipfix, netflow9, set, templateRecord } from '../../../test/collect/build.js';
import { mutated, seeds } from '../../../test/collect/fuzz-seeds.js';
import { runs } from '../../../test/support/fuzz.js';
import { CollectDecoder } from '../decoder.js';

const CFG = { maxTemplatesPerScope: 64, maxScopes: 32, maxPendingSets: 8, maxPendingBytes: 16384 };

function assertBounded(d: CollectDecoder): void {
  assert.ok(d.scopes.size <= CFG.maxScopes);
  for (const s of d.scopes.values()) {
    assert.ok(s.templates.size <= CFG.maxTemplatesPerScope);
    assert.ok(s.pending.length <= CFG.maxPendingSets);
    assert.ok(s.pendingBytes <= CFG.maxPendingBytes);
  }
}

test('NetFlow v9 / IPFIX decoder never throws on mutated real datagrams; state stays bounded', async () => {
  const s = await seeds([
    'made/softflowd-v9-http-methods.pcap',
    'made/softflowd-ipfix-http-methods.pcap',
    'made/softflowd-ipfix-ipv6-mixed.pcap',
  ]);
  const d = new CollectDecoder(CFG, () => {});
  fc.assert(
    fc.property(mutated(s), fc.integer({ min: 0, max: 200 }), (b, src) => {
      d.decode(b, 0, b.length, `192.0.2.${src}`, 1000, 0);
    }),
    { numRuns: runs(3000) },
  );
  assertBounded(d);
});

const field: fc.Arbitrary<FieldSpec> = fc.tuple(
  fc.oneof(
    fc.constantFrom(1, 2, 4, 7, 8, 11, 12, 27, 28, 34, 48, 152, 153, 160, 302, 305),
    fc.integer({ min: 0, max: 0x7fff }),
  ),
  fc.oneof(fc.constantFrom(0, 1, 2, 4, 8, 16, 0xffff, 0xfffe), fc.integer({ min: 0, max: 0xffff })),
  fc.oneof(fc.constant(0), fc.constant(0), fc.constant(29305), fc.nat()),
);

test('hostile templates: zero-length fields, huge lengths, redefinitions, withdrawals', () => {
  const d = new CollectDecoder(CFG, () => {});
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          id: fc.integer({ min: 250, max: 270 }),
          fields: fc.array(field, { maxLength: 40 }),
          options: fc.boolean(),
          v9: fc.boolean(),
          data: fc.uint8Array({ maxLength: 300 }),
          domain: fc.integer({ min: 0, max: 3 }),
        }),
        { maxLength: 6 },
      ),
      (msgs) => {
        for (const m of msgs) {
          const fields = m.v9 ? m.fields.map(([i, l]) => [i, l] as FieldSpec) : m.fields;
          const tmpl = m.options
            ? set(m.v9 ? 1 : 3, templateRecord(m.id, fields, Math.min(1, fields.length)))
            : set(m.v9 ? 0 : 2, templateRecord(m.id, fields));
          const data = set(m.id, [...m.data]);
          const b = m.v9 ? netflow9(m.domain, 1, [tmpl, data]) : ipfix(m.domain, 1, [tmpl, data]);
          d.decode(b, 0, b.length, '192.0.2.1', 1000, 0);
          // and the data alone, later (held/decoded/expired)
          const b2 = m.v9 ? netflow9(m.domain, 2, [data]) : ipfix(m.domain, 2, [data]);
          d.decode(b2, 0, b2.length, '192.0.2.1', 1000, 20_000);
        }
      },
    ),
    { numRuns: runs(2000) },
  );
  assertBounded(d);
});
