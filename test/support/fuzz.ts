import { readCaptureFile } from '../../src/capture/capture-file.js';
import { fixture } from './fixtures.js';

/** Cases per property: small by default so `npm test` stays quick, large with FUZZ_RUNS. */
export function runs(dflt: number): number {
  const env = Number(process.env.FUZZ_RUNS);
  return Number.isFinite(env) && env > 0 ? env : dflt;
}

export interface RealFrame {
  data: Buffer;
  linkType: number;
}

/** Frames from real captures, as seeds for mutation. */
export async function realFrames(names: string[], max = 400): Promise<RealFrame[]> {
  const out: RealFrame[] = [];
  for (const n of names) {
    await readCaptureFile(fixture(n), (f) => {
      if (out.length < max * names.length)
        out.push({ data: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)), linkType: f.linkType });
    });
  }
  return out;
}
