/** Small builders for hand-made export datagrams, and export payloads out of captures. */
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { Decoder } from '../../src/decode/decoder.js';

export type FieldSpec = [id: number, len: number, pen?: number];

export function u16(v: number): number[] {
  return [(v >>> 8) & 255, v & 255];
}
export function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** IPFIX template record (set id 2 content) or options template record (set id 3) body. */
export function templateRecord(id: number, fields: FieldSpec[], scopeCount = -1): number[] {
  const out = [...u16(id), ...u16(fields.length)];
  if (scopeCount >= 0) out.push(...u16(scopeCount));
  for (const [fid, len, pen] of fields) {
    out.push(...u16(pen ? fid | 0x8000 : fid), ...u16(len));
    if (pen) out.push(...u32(pen));
  }
  return out;
}

export function set(id: number, body: number[]): number[] {
  return [...u16(id), ...u16(body.length + 4), ...body];
}

export function ipfix(domain: number, seq: number, sets: number[][], exportSec = 1_700_000_000): Buffer {
  const body = sets.flat();
  return Buffer.from([
    ...u16(10),
    ...u16(16 + body.length),
    ...u32(exportSec),
    ...u32(seq),
    ...u32(domain),
    ...body,
  ]);
}

export function netflow9(sourceId: number, seq: number, sets: number[][], count = sets.length): Buffer {
  const body = sets.flat();
  return Buffer.from([
    ...u16(9),
    ...u16(count),
    ...u32(100_000),
    ...u32(1_700_000_000),
    ...u32(seq),
    ...u32(sourceId),
    ...body,
  ]);
}

export interface ExportDatagram {
  payload: Buffer;
  src: string;
  sport: number;
  dport: number;
  ms: number;
}

/** UDP payloads of a capture (copies), with source address/port and time. */
export async function exportDatagrams(path: string): Promise<ExportDatagram[]> {
  const dec = new Decoder();
  const out: ExportDatagram[] = [];
  await readCaptureFile(path, (f) => {
    const p = dec.decode(f);
    if (p.proto !== 17 || p.payloadOff < 0) return;
    const n = p.ipVer === 4 ? 4 : 16;
    const a = p.buf.subarray(p.srcOff, p.srcOff + n);
    out.push({
      payload: Buffer.from(p.buf.subarray(p.payloadOff, p.payloadOff + p.payloadCapLen)),
      src: n === 4 ? [...a].join('.') : Buffer.from(a).toString('hex'),
      sport: p.srcPort,
      dport: p.dstPort,
      ms: p.tsSec * 1000 + Math.floor(p.tsNs / 1e6),
    });
  });
  return out;
}

/** Sums of the flow records among `recs`. */
export function totals(recs: { type: string; [k: string]: unknown }[]): {
  records: number;
  packets: number;
  bytes: number;
} {
  let records = 0;
  let packets = 0;
  let bytes = 0;
  for (const r of recs) {
    if (r.type !== 'exported_flow') continue;
    records++;
    packets += r.packets as number;
    bytes += r.bytes as number;
  }
  return { records, packets, bytes };
}

/** Run the sensor with the capture collector hook over a capture; every record it emits. */
export async function collectCapture(
  path: string,
  ports: number[],
): Promise<{ type: string; [k: string]: unknown }[]> {
  const { Sensor } = await import('../../src/flow/sensor.js');
  const { createCaptureCollector } = await import('../../src/collect/capture-hook.js');
  const recs: { type: string; [k: string]: unknown }[] = [];
  const sink = (r: { type: string; [k: string]: unknown }): void => {
    recs.push(r);
  };
  const s = new Sensor(sink);
  s.addHook(createCaptureCollector(sink, { ports }));
  await readCaptureFile(path, s.onFrame);
  s.finish();
  return recs;
}
