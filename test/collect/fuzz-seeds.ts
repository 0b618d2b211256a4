import fc from 'fast-check';
import { fixture } from '../support/fixtures.js';
import { exportDatagrams } from './build.js';

/** Real export datagrams of the made captures (and the sFlow fixture), as mutation seeds. */
export async function seeds(files: string[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const f of files) for (const d of await exportDatagrams(fixture(f))) out.push(d.payload);
  return out;
}

/** A seed with bytes overwritten, cut short or extended: the shape of hostile input. */
export function mutated(seedList: Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: seedList.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 64 }),
    )
    .map(([i, edits, cut, tail]) => {
      const b = Buffer.from(seedList[i]!);
      for (const [pos, v] of edits) b[pos % b.length] = v;
      const body = cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      return Buffer.concat([body, Buffer.from(tail)]);
    });
}
