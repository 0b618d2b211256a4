import { test } from 'node:test';
import fc from 'fast-check';
import { mutated, seeds } from '../../../test/collect/fuzz-seeds.js';
import { runs } from '../../../test/support/fuzz.js';
import { CollectDecoder } from '../decoder.js';

test('NetFlow v5 decoder never throws on mutated real datagrams', async () => {
  const s = await seeds(['made/softflowd-v5-http-methods.pcap']);
  const d = new CollectDecoder({}, () => {});
  fc.assert(
    fc.property(mutated(s), (b) => {
      d.decode(b, 0, b.length, '192.0.2.1', 1000, 0);
    }),
    { numRuns: runs(2000) },
  );
});
