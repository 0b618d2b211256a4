import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { FlowNotes } from './flow-notes.js';

test('FlowNotes: a slot refilled for its next flow reads as a fresh note (against a map of notes by flow)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom('get', 'peek', 'drop'),
          fc.nat(5),
          fc.nat(3),
          fc.option(fc.constantFrom('tls', 'dns', 'http')),
        ),
        { maxLength: 200 },
      ),
      (ops) => {
        const notes = new FlowNotes();
        // The model: one note per live (slot, generation); a slot holds one flow at a time.
        const live = new Map<number, { gen: number; proto: string | null }>();
        for (const [op, slot, gen, proto] of ops) {
          const m = live.get(slot);
          if (op === 'drop') {
            notes.drop(slot);
            live.delete(slot);
          } else if (op === 'peek') {
            const n = notes.peek(slot, gen);
            if (m === undefined || m.gen !== gen) assert.equal(n, null);
            else assert.deepEqual(n && { gen: n.gen, proto: n.proto }, m);
          } else {
            const n = notes.get(slot, gen);
            const want = m !== undefined && m.gen === gen ? m : { gen, proto: null };
            assert.deepEqual(
              { gen: n.gen, proto: n.proto, sni: n.sni, host: n.host },
              { ...want, sni: null, host: null },
            );
            if (proto !== null) n.proto = proto;
            live.set(slot, { gen, proto: n.proto });
          }
        }
      },
    ),
    { numRuns: runs(300) },
  );
});
