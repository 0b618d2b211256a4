import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CollectDecoder } from '../decoder.js';
import type { CollectedRecord, ExportedFlowRecord } from '../types.js';

const u32 = (...v: number[]): number[] =>
  v.flatMap((x) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);

/** An sFlow v5 datagram with one flow sample (sampling 1 in 100) holding one record. */
function datagram(format: number, body: number[]): Buffer {
  const record = [...u32(format, body.length), ...body];
  const sample = [...u32(7, 1, 100, 1000, 0, 3, 4, 1), ...record];
  return Buffer.from([
    ...u32(5, 1),
    192,
    0,
    2,
    1,
    ...u32(0, 42, 123456, 1),
    ...u32(1, sample.length),
    ...sample,
  ]);
}

function decode(b: Buffer): ExportedFlowRecord[] {
  const out: CollectedRecord[] = [];
  new CollectDecoder({}, (r) => out.push(r)).decode(b, 0, b.length, '192.0.2.1', 6343, 1_700_000_000_000);
  return out.filter((r): r is ExportedFlowRecord => r.type === 'exported_flow');
}

test('sFlow sampled IPv4 and IPv6 records become flow records', () => {
  const v4 = decode(datagram(3, u32(1500, 6, 0x0a000001, 0x0a000002, 40000, 443, 0x12, 0)));
  assert.equal(v4.length, 1);
  assert.deepEqual(
    [v4[0]!.type, v4[0]!.src_ip, v4[0]!.dst_ip, v4[0]!.src_port, v4[0]!.dst_port, v4[0]!.proto],
    ['exported_flow', '10.0.0.1', '10.0.0.2', 40000, 443, 6],
  );
  const a6 = [0x20010db8, 0, 0, 1];
  const b6 = [0x20010db8, 0, 0, 2];
  const v6 = decode(datagram(4, u32(1280, 17, ...a6, ...b6, 5353, 53, 0, 0)));
  assert.equal(v6.length, 1);
  assert.deepEqual(
    [v6[0]!.src_ip, v6[0]!.dst_ip, v6[0]!.src_port, v6[0]!.dst_port, v6[0]!.proto],
    ['2001:db8::1', '2001:db8::2', 5353, 53, 17],
  );
  // a record shorter than its format needs yields no flow (nothing is made up from it)
  assert.equal(decode(datagram(4, u32(1280, 17, ...a6))).length, 0);
});
