import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { fixture } from '../../test/support/fixtures.js';
import { runs } from '../../test/support/fuzz.js';
import { readCaptureFile } from './capture-file.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-fuzz-'));
const seeds = [
  'icmp-echo-pings.pcap',
  'pcapng-two-interfaces-dns.pcapng',
  'sll-tcp-handshake-nanosecond.pcap',
].map((n) => readFileSync(fixture(n)));

test('capture readers never throw on mutated files; damage is reported as an error', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      async (i, flips, cut) => {
        const b = Buffer.from(seeds[i]!);
        for (const [pos, v] of flips) b[pos % b.length] = v;
        const data = b.subarray(0, cut % 3 === 0 ? cut % (b.length + 1) : b.length);
        const path = join(dir, 'case.bin');
        writeFileSync(path, data);
        let n = 0;
        const r = await readCaptureFile(path, () => {
          n++;
        });
        assert.equal(r.packets, n);
        if (r.error) assert.ok(r.error.offset >= 0 && r.error.offset <= data.length);
      },
    ),
    { numRuns: runs(1500) },
  );
});
