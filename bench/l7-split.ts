/**
 * Where L7 analysis spends its CPU on a capture (issue 13): the capture is read into memory
 * once, then the sensor runs over it in passes, alternated `runs` times, least CPU of each:
 *
 *  - metering alone (no analyzers), the L7 records written as column rows to a sink that
 *    keeps nothing (the store path);
 *  - every analyzer (what `ingest --no-records --no-detect` runs);
 *  - every analyzer but one, for each: the difference is what that analyzer costs (its
 *    parsing, its records, its state), with the others' notes as in the full set.
 *
 * CPU time of this process (process.cpuUsage), not wall: the machine is shared. Run with
 * --expose-gc so each pass starts from a collected heap.
 *
 * usage: node --expose-gc dist/bench/l7-split.js [capture] [--runs 3] [--only all|base]
 */
import { readFileSync } from 'node:fs';
import { createAnalyzers, type L7Columns } from '../src/analyze/index.js';
import { RecordColumnBuilder } from '../src/analyze/record-columns.js';
import { type Frame, newFrame } from '../src/capture/frame.js';
import { Sensor } from '../src/flow/sensor.js';
import { dnsRecord } from '../src/schema/dns.js';
import { httpRecord } from '../src/schema/http.js';
import { tlsRecord } from '../src/schema/tls.js';
import type { Columnar } from '../src/store/columnar.js';
import { cpuS, gcCount, opt, settleGc } from './support.js';

gcCount();

/** The capture's frames as offsets into one buffer (classic pcap, µs or ns). */
interface Frames {
  buf: Buffer;
  off: Uint32Array;
  caplen: Uint32Array;
  wirelen: Uint32Array;
  sec: Uint32Array;
  ns: Uint32Array;
  linkType: number;
  n: number;
}

function loadPcap(file: string): Frames {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nano) throw new Error(`${file}: not a little-endian pcap file`);
  const linkType = buf.readUInt32LE(20);
  let cap = 1 << 20;
  let f = {
    off: new Uint32Array(cap),
    caplen: new Uint32Array(cap),
    wirelen: new Uint32Array(cap),
    sec: new Uint32Array(cap),
    ns: new Uint32Array(cap),
  };
  let n = 0;
  let o = 24;
  while (o + 16 <= buf.length) {
    const incl = buf.readUInt32LE(o + 8);
    if (o + 16 + incl > buf.length) break;
    if (n === cap) {
      cap *= 2;
      const g = {
        off: new Uint32Array(cap),
        caplen: new Uint32Array(cap),
        wirelen: new Uint32Array(cap),
        sec: new Uint32Array(cap),
        ns: new Uint32Array(cap),
      };
      for (const k of Object.keys(f) as (keyof typeof f)[]) g[k].set(f[k]);
      f = g;
    }
    f.sec[n] = buf.readUInt32LE(o);
    f.ns[n] = nano ? buf.readUInt32LE(o + 4) : buf.readUInt32LE(o + 4) * 1000;
    f.caplen[n] = incl;
    f.wirelen[n] = buf.readUInt32LE(o + 12);
    f.off[n] = o + 16;
    n++;
    o += 16 + incl;
  }
  return { buf, ...f, linkType, n };
}

interface Pass {
  cpu: number;
  gc: number;
  rows: number;
}

async function pass(frames: Frames, l7: boolean, drop: string | null): Promise<Pass> {
  let rows = 0;
  const out = (_t: string, c: Columnar): void => {
    rows += c.rows.length;
  };
  const sensor = new Sensor(() => {
    rows++;
  }, {});
  sensor.writeColumns(out, 16_384);
  const columns: L7Columns = {
    dns: new RecordColumnBuilder(dnsRecord, 16_384, out),
    tls: new RecordColumnBuilder(tlsRecord, 16_384, out),
    http: new RecordColumnBuilder(httpRecord, 16_384, out),
  };
  sensor.l7Columns.push(columns.dns, columns.tls, columns.http);
  for (const a of createAnalyzers(() => rows++, { l7, columns })) if (a.name !== drop) sensor.addHook(a);
  const fr: Frame = newFrame();
  fr.buf = frames.buf;
  fr.linkType = frames.linkType;
  global.gc?.();
  await settleGc();
  const g0 = gcCount();
  const c0 = process.cpuUsage();
  for (let i = 0; i < frames.n; i++) {
    fr.off = frames.off[i]!;
    fr.caplen = frames.caplen[i]!;
    fr.wirelen = frames.wirelen[i]!;
    fr.tsSec = frames.sec[i]!;
    fr.tsNs = frames.ns[i]!;
    sensor.onFrame(fr);
  }
  sensor.finish();
  const cpu = cpuS(process.cpuUsage(c0));
  await settleGc();
  return { cpu, gc: gcCount() - g0, rows };
}

export async function benchL7Split(
  file = 'bench/out/realistic-1360000.pcap',
  runs = 3,
  only = 'all',
): Promise<void> {
  const frames = loadPcap(file);
  const names =
    only === 'all' ? createAnalyzers(() => {}, { l7: true }).map((a) => a.name) : ([] as string[]);
  const kinds: [string, boolean, string | null][] = [
    ['metering alone', false, null],
    ['every analyzer', true, null],
    ...names.map((n): [string, boolean, string | null] => [`all but ${n}`, true, n]),
  ];
  const best = new Map<string, Pass>();
  for (let r = 0; r < runs; r++)
    for (const [label, l7, drop] of kinds) {
      const p = await pass(frames, l7, drop);
      const b = best.get(label);
      if (b === undefined || p.cpu < b.cpu) best.set(label, p);
    }
  const base = best.get('metering alone')!;
  const all = best.get('every analyzer')!;
  const M = frames.n / 1e6;
  process.stdout.write(
    `\n== L7 split: ${file}, ${frames.n} packets in memory; least CPU of ${runs}, this process ==\n\n`,
  );
  process.stdout.write(
    `metering alone   ${base.cpu.toFixed(2)} CPU-s, ${Math.round(base.gc / M)} GC/Mpkt, ${base.rows} records\n`,
  );
  process.stdout.write(
    `every analyzer   ${all.cpu.toFixed(2)} CPU-s, ${Math.round(all.gc / M)} GC/Mpkt, ${all.rows} records: L7 ${(all.cpu - base.cpu).toFixed(2)} CPU-s\n`,
  );
  for (const n of names) {
    const p = best.get(`all but ${n}`)!;
    process.stdout.write(
      `  ${n.padEnd(14)} ${(all.cpu - p.cpu).toFixed(2).padStart(6)} CPU-s (all but it: ${p.cpu.toFixed(2)}, ${Math.round(p.gc / M)} GC/Mpkt)\n`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : undefined;
  await benchL7Split(file, Number(opt('runs', '3')), opt('only', 'all'));
}
