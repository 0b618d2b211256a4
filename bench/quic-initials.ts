/**
 * QUIC client Initials opened alone, in one process (issue 13): the capture's Initials are read
 * once into memory, then each pass derives every connection's client keys from its DCID and
 * opens its Initial, as the analyzer does for a new connection. Paths alternated in every round:
 * the addon (`native`), this build's JavaScript fallback (`js`), and another build's
 * `decryptInitial` when `--base DIR/dist` is given (`base`). CPU time of the process
 * (process.cpuUsage, user + system), not wall time: the machine is shared. Every pass checks that
 * it opened the same Initials to the same bytes (a checksum), so the paths are seen to agree.
 *
 * usage: node --expose-gc dist/bench/quic-initials.js [capture] [--rounds N] [--base DIR/dist]
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  initialKeys,
  newLongHeader,
  openInitial,
  parseLongHeader,
  QUIC_V1,
} from '../src/analyze/quic/initial.js';
import { quicBinding } from '../src/analyze/quic/native.js';
import { readCaptureFile } from '../src/capture/capture-file.js';
import { Decoder } from '../src/decode/decoder.js';
import { opt } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const FILE = args[0] && !args[0].startsWith('--') ? args[0] : `${ROOT}bench/out/realistic-1360000.pcap`;
const ROUNDS = Number(opt('rounds', '5'));
const BASE = opt('base', '');

/** Every UDP payload that starts with a QUIC v1 Initial, copied. */
async function initials(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const d = new Decoder();
  await readCaptureFile(FILE, (f) => {
    const p = d.decode(f);
    if (p.proto !== 17 || p.payloadCapLen < 7) return;
    const b = p.buf;
    const o = p.payloadOff;
    if ((b[o]! & 0xf0) !== 0xc0) return;
    const h = parseLongHeader(b, o, o + p.payloadCapLen);
    if (h === null || h.version !== QUIC_V1 || h.type !== 0 || h.dcidLen < 8) return;
    out.push(Buffer.from(b.subarray(o, o + p.payloadCapLen)));
  });
  return out;
}

type Open = (b: Buffer) => Buffer | null;
interface Path {
  name: string;
  open: Open;
}

function digest(all: Buffer[], open: Open): { ok: number; sum: string } {
  const h = createHash('sha256');
  let ok = 0;
  for (const b of all) {
    const p = open(b);
    if (p === null) continue;
    ok++;
    h.update(p);
  }
  return { ok, sum: h.digest('hex').slice(0, 16) };
}

async function main(): Promise<void> {
  const all = await initials();
  const hdr = newLongHeader();
  const plain = Buffer.allocUnsafe(65536);
  const paths: Path[] = [];
  const viaThisBuild = (binding: typeof quicBinding): Open => {
    return (b) => {
      const h = parseLongHeader(b, 0, b.length, hdr)!;
      const keys = initialKeys(b, 'client', binding, h.dcidOff, h.dcidLen);
      const n = openInitial(b, 0, h, keys, plain, binding);
      return n < 0 ? null : plain.subarray(0, n);
    };
  };
  if (quicBinding !== null) paths.push({ name: 'native', open: viaThisBuild(quicBinding) });
  else process.stderr.write('the addon has no QUIC functions: native path skipped\n');
  paths.push({ name: 'js', open: viaThisBuild(null) });
  if (BASE !== '') {
    const base = await import(`${BASE}/src/analyze/quic/initial.js`);
    paths.push({
      name: 'base',
      open: (b) => {
        const h = base.parseLongHeader(b, 0, b.length);
        return base.decryptInitial(
          b,
          0,
          h,
          base.initialKeys(b.subarray(h.dcidOff, h.dcidOff + h.dcidLen), 'client'),
        );
      },
    });
  }
  const truth = digest(all, paths[paths.length - 1]!.open);
  for (const p of paths) {
    const d = digest(all, p.open);
    if (d.ok !== truth.ok || d.sum !== truth.sum)
      throw new Error(`${p.name} opened ${d.ok} (${d.sum}), not ${truth.ok} (${truth.sum})`);
  }
  console.log(
    `${all.length} Initials in ${FILE}; ${truth.ok} opened with client keys by every path (sha256 ${truth.sum})`,
  );
  const gc = (globalThis as { gc?: () => void }).gc;
  const cpu: Record<string, number[]> = {};
  for (const p of paths) cpu[p.name] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of paths) {
      gc?.();
      const c0 = process.cpuUsage();
      let ok = 0;
      for (const b of all) if (p.open(b) !== null) ok++;
      const c = process.cpuUsage(c0);
      if (ok !== truth.ok) throw new Error(`${p.name}: ${ok} opened`);
      cpu[p.name]!.push((c.user + c.system) / 1e6);
    }
  }
  for (const p of paths) {
    const v = [...cpu[p.name]!].sort((a, b) => a - b);
    const per = (s: number): string => ((s * 1000) / all.length).toFixed(4);
    console.log(
      `${p.name.padEnd(6)} CPU-s per pass least ${v[0]!.toFixed(3)} median ${v[v.length >> 1]!.toFixed(3)}; per 1,000 Initials least ${per(v[0]!)} median ${per(v[v.length >> 1]!)}; passes ${cpu[p.name]!.map((x) => x.toFixed(3)).join(' ')}`,
    );
  }
}

await main();
