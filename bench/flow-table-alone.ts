/**
 * The flow table alone (issue 13): the realistic capture's packets are copied into memory once,
 * then each pass decodes every packet and accounts it in a fresh flow table (flow rows written as
 * column batches, as `ingest --no-records` does); a decode-only pass is subtracted, so what is
 * left is the table's own cost per packet (index, key, state, expiry, rows). Passes of this build
 * and another build's (`--base DIR/dist`) alternate in one process, least CPU of `--rounds`
 * (process.cpuUsage: the machine is shared, so CPU time, not wall time).
 *
 * usage: node --expose-gc dist/bench/flow-table-alone.js [capture] [--rounds N] [--packets N] [--base DIR/dist]
 */
import { fileURLToPath } from 'node:url';
import { cpuS, opt } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const FILE = args[0] && !args[0].startsWith('--') ? args[0] : `${ROOT}bench/out/realistic-1360000.pcap`;
const ROUNDS = Number(opt('rounds', '7'));
const MAX = Number(opt('packets', '1360000'));
const BASE = opt('base', '');

interface Frames {
  buf: Buffer;
  off: Float64Array;
  meta: Float64Array; // caplen, wirelen, linkType, tsSec, tsNs per packet
  n: number;
}

async function loadFrames(): Promise<Frames> {
  const { readCaptureFile } = await import(`${ROOT}dist/src/capture/capture-file.js`);
  const chunks: Buffer[] = [];
  const off: number[] = [];
  const meta: number[] = [];
  let total = 0;
  let n = 0;
  await readCaptureFile(
    FILE,
    (f: {
      buf: Buffer;
      off: number;
      caplen: number;
      wirelen: number;
      linkType: number;
      tsSec: number;
      tsNs: number;
    }) => {
      if (n >= MAX) return;
      chunks.push(Buffer.from(f.buf.subarray(f.off, f.off + f.caplen)));
      off.push(total);
      total += f.caplen;
      meta.push(f.caplen, f.wirelen, f.linkType, f.tsSec, f.tsNs);
      n++;
    },
  );
  return { buf: Buffer.concat(chunks), off: Float64Array.from(off), meta: Float64Array.from(meta), n };
}

type DecoderLike = {
  decodeBytes(
    b: Buffer,
    o: number,
    c: number,
    w: number,
    l: number,
    s: number,
    ns: number,
    i: number,
  ): unknown;
};

async function build(name: string, dist: string, fr: Frames) {
  const { Decoder } = await import(`${dist}/src/decode/decoder.js`);
  const { FlowTable, DEFAULT_FLOW_CONFIG } = await import(`${dist}/src/flow/flow-table.js`);
  const { FlowColumnBuilder } = await import(`${dist}/src/flow/flow-columns.js`);
  const gc = (globalThis as { gc?: () => void }).gc;
  const pass = (withTable: boolean): { cpu: number; rows: number } => {
    const d = new Decoder() as DecoderLike;
    let rows = 0;
    const ft = new FlowTable(DEFAULT_FLOW_CONFIG, () => {});
    const b = new FlowColumnBuilder(4096, (c: { rows: { length: number } }) => {
      rows += c.rows.length;
    });
    ft.writeColumns(b, () => b.commit());
    gc?.();
    const c0 = process.cpuUsage();
    const { buf, off, meta } = fr;
    let x = 0;
    for (let i = 0; i < fr.n; i++) {
      const m = i * 5;
      const p = d.decodeBytes(
        buf,
        off[i]!,
        meta[m]!,
        meta[m + 1]!,
        meta[m + 2]!,
        meta[m + 3]!,
        meta[m + 4]!,
        0,
      ) as {
        ipVer: number;
      };
      if (withTable) {
        if (p.ipVer !== 0) ft.update(p);
      } else x += p.ipVer;
    }
    if (withTable) {
      ft.flush();
      b.flush();
    }
    const cpu = cpuS(process.cpuUsage(c0));
    return { cpu, rows: rows + (x & 0) };
  };
  return { name, pass };
}

const fr = await loadFrames();
process.stdout.write(`${fr.n} packets in memory (${(fr.buf.length / 1e6).toFixed(0)} MB)\n`);
const builds = [await build('this build', `${ROOT}dist`, fr)];
if (BASE) builds.push(await build(`base ${BASE}`, BASE, fr));
const table = builds.map(() => [] as number[]);
const decode: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  decode.push(builds[0]!.pass(false).cpu);
  for (let i = 0; i < builds.length; i++) {
    const x = builds[i]!.pass(true);
    table[i]!.push(x.cpu);
    process.stdout.write(
      `${builds[i]!.name}: decode + table ${x.cpu.toFixed(3)} CPU-s, ${x.rows} flow rows\n`,
    );
  }
}
const least = (a: number[]): number => Math.min(...a);
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const dl = least(decode);
process.stdout.write(`decode alone: least ${dl.toFixed(3)} CPU-s, median ${median(decode).toFixed(3)}\n`);
for (let i = 0; i < builds.length; i++) {
  const t = table[i]!;
  process.stdout.write(
    `${builds[i]!.name}: decode + table least ${least(t).toFixed(3)} CPU-s, median ${median(t).toFixed(3)}; the table alone ${(((least(t) - dl) / fr.n) * 1e9).toFixed(0)} ns per packet (least less least)\n`,
  );
}
