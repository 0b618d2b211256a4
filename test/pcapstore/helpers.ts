import { spawnSync } from 'node:child_process';
import { readCaptureFile } from '../../src/capture/capture-file.js';

export interface Rec {
  sec: number;
  ns: number;
  wire: number;
  data: Buffer;
}

export function haveTcpdump(): boolean {
  return spawnSync('sh', ['-c', 'command -v tcpdump']).status === 0;
}

/** Skip (or fail under CI=true) when tcpdump is missing. */
export function tcpdumpSkip(): string | false {
  if (haveTcpdump()) return false;
  if (process.env.CI === 'true')
    throw new Error('tcpdump is required under CI=true (Debian package tcpdump)');
  return 'tcpdump not installed (Debian package tcpdump)';
}

/** Records of a pcap/pcapng file or buffer. */
export async function records(path: string): Promise<Rec[]> {
  const out: Rec[] = [];
  await readCaptureFile(path, (f) => {
    out.push({
      sec: f.tsSec,
      ns: f.tsNs,
      wire: f.wirelen,
      data: Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)),
    });
  });
  return out;
}

/** What tcpdump selects from one file with a filter, as a pcap written to `outPath`; null when tcpdump refuses the filter. */
export function tcpdumpSelect(seg: string, filter: string, outPath: string): string | null {
  const r = spawnSync('tcpdump', ['--time-stamp-precision=nano', '-r', seg, '-w', outPath, filter], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return null;
  return outPath;
}

export function sameRecords(a: Rec[], b: Rec[]): string | null {
  if (a.length !== b.length) return `packet count ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.sec !== y.sec || x.ns !== y.ns || x.wire !== y.wire || !x.data.equals(y.data))
      return `packet ${i} differs`;
  }
  return null;
}
