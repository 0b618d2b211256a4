import { test } from 'node:test';
import fc from 'fast-check';
import { fixture } from '../../../test/support/fixtures.js';
import { runs } from '../../../test/support/fuzz.js';
import { drive } from '../../../test/support/l7-kit.js';
import { readCaptureFile } from '../../capture/capture-file.js';
import { Decoder } from '../../decode/decoder.js';
import { createQuicAnalyzer } from './analyzer.js';
import { CryptoStream, initialKeys, parseLongHeader, walkFrames } from './initial.js';

/** UDP payloads (client and server) of the real QUIC capture. */
async function datagrams(): Promise<[number, Buffer][]> {
  const out: [number, Buffer][] = [];
  const d = new Decoder();
  let client = -1;
  await readCaptureFile(fixture('quic-chromium-sni.pcap'), (f) => {
    const p = d.decode(f);
    if (p.proto !== 17 || p.payloadCapLen <= 0) return;
    if (client < 0) client = p.srcPort;
    out.push([
      p.srcPort === client ? 0 : 1,
      Buffer.from(p.buf.subarray(p.payloadOff, p.payloadOff + p.payloadCapLen)),
    ]);
  });
  return out;
}

test('QUIC: mutated real Initials and random datagrams never throw', async () => {
  const real = await datagrams();
  const keys = initialKeys(Buffer.alloc(8, 1), 'client');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
      fc.uint8Array({ maxLength: 1300 }),
      (edits, rnd) => {
        const segs = real.slice(0, 4).map(([d, b]): [number, Buffer] => {
          const m = Buffer.from(b);
          for (const [i, v] of edits) m[i % Math.min(m.length, 64)] = v;
          return [d, m];
        });
        segs.push([0, Buffer.from(rnd)]);
        drive(
          createQuicAnalyzer(() => {}),
          segs,
          17,
        );
        const r = Buffer.from(rnd);
        parseLongHeader(r, 0, r.length);
        const cs = new CryptoStream();
        walkFrames(r, r.length, cs);
        cs.message(1);
        void keys;
      },
    ),
    { numRuns: runs(300) },
  );
});
