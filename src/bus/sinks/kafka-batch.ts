/**
 * Kafka's RecordBatch v2 (magic 2) and the Produce request (versions 9–11, the flexible ones),
 * written straight from the bytes the outbox stored: one pass per batch copies each alert's id,
 * JSON and version into one buffer, and no object is made per alert.
 *
 * RecordBatch (https://kafka.apache.org/documentation/#recordbatch):
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2)
 *   | crc uint32 (CRC-32C of what follows) | attributes int16 | lastOffsetDelta int32
 *   | baseTimestamp int64 | maxTimestamp int64 | producerId int64 | producerEpoch int16
 *   | baseSequence int32 | records count int32 | records (compressed as one block when asked)
 * Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
 *   | keyLength varint | key | valueLength varint | value | headers count varint
 *   | (headerKeyLength varint | headerKey | headerValueLength varint | headerValue)*
 * Varints are zigzag-encoded, as in protobuf.
 */
import { compressionsAlgorithms, crc32c } from '@platformatic/kafka';
import type { KafkaCompression } from '../types.js';

/**
 * Where one record's key (the alert id), value (its JSON) and the value of its single header
 * (its version) lie in `src`: the outbox's read buffer, so nothing is sliced per alert.
 */
export interface RecordSpans {
  readonly src: Buffer;
  readonly keyAt: number;
  readonly keyEnd: number;
  readonly valueAt: number;
  readonly valueEnd: number;
  readonly headerAt: number;
  readonly headerEnd: number;
}

/** Spans over one buffer holding key, value and header value back to back. */
export function spansOf(key: Uint8Array, value: Uint8Array, header: Uint8Array): RecordSpans {
  const src = Buffer.concat([key, value, header]);
  const valueAt = key.length;
  const headerAt = valueAt + value.length;
  return { src, keyAt: 0, keyEnd: valueAt, valueAt, valueEnd: headerAt, headerAt, headerEnd: src.length };
}

export interface BatchOptions {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  /** CreateTime of every record, ms. */
  timestamp: number;
  compression: KafkaCompression;
  /** Key of the one header each record carries. */
  headerKey: Uint8Array;
}

/** Bytes of the batch header before the records (baseOffset through the records count). */
export const BATCH_OVERHEAD = 61;
/** From the start of the batch to the first byte the CRC covers (attributes). */
const CRC_FROM = 21;
const MAGIC = 2;
/** The partition leader epoch a producer writes (the broker fills it in). */
const NO_PARTITION_LEADER_EPOCH = -1;

export const COMPRESSION_BITS: Record<KafkaCompression, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3 };

/** Bytes of an unsigned LEB128 varint. */
export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Bytes of a zigzag varint of a non-negative 32-bit value (every length and delta here). */
const zvarintSize = (v: number): number => uvarintSize(v * 2);

function writeUvarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

/** A non-negative value as a zigzag varint (2v). */
const writeZvarint = (buf: Uint8Array, off: number, v: number): number => writeUvarint(buf, off, v * 2);

/** Bytes of one record, without its leading length. */
function recordBody(r: RecordSpans, offsetDelta: number, headerKeyLen: number): number {
  const k = r.keyEnd - r.keyAt;
  const v = r.valueEnd - r.valueAt;
  const h = r.headerEnd - r.headerAt;
  // attributes, timestampDelta 0, header count 1: one byte each.
  return (
    3 +
    zvarintSize(offsetDelta) +
    zvarintSize(k) +
    k +
    zvarintSize(v) +
    v +
    zvarintSize(headerKeyLen) +
    headerKeyLen +
    zvarintSize(h) +
    h
  );
}

/** At least the bytes one record takes in a batch (its varints at their largest). */
export const recordBound = (r: RecordSpans, headerKeyLen: number): number =>
  r.keyEnd - r.keyAt + r.valueEnd - r.valueAt + r.headerEnd - r.headerAt + headerKeyLen + 33;

/** Bytes `records[from..to)` take as a batch's uncompressed records section. */
export function recordsSize(
  records: readonly RecordSpans[],
  order: ArrayLike<number>,
  from: number,
  to: number,
  headerKeyLen: number,
): number {
  let size = 0;
  for (let i = from; i < to; i++) {
    const body = recordBody(records[order[i]!]!, i - from, headerKeyLen);
    size += zvarintSize(body) + body;
  }
  return size;
}

/** Small copies are cheaper as a loop than as a call into the runtime. */
function copy(dst: Buffer, off: number, src: Buffer, from: number, to: number): number {
  const n = to - from;
  if (n < 48) for (let i = 0; i < n; i++) dst[off + i] = src[from + i]!;
  else src.copy(dst, off, from, to);
  return off + n;
}

function copyAll(dst: Buffer, off: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) dst[off + i] = src[i]!;
  return off + src.length;
}

/** Write the records `order[from..to)` uncompressed into `buf` at `off`; returns the end. */
function writeRecords(
  buf: Buffer,
  off: number,
  records: readonly RecordSpans[],
  order: ArrayLike<number>,
  from: number,
  to: number,
  headerKey: Uint8Array,
): number {
  const hk = headerKey.length;
  for (let i = from; i < to; i++) {
    const r = records[order[i]!]!;
    const delta = i - from;
    off = writeZvarint(buf, off, recordBody(r, delta, hk));
    buf[off++] = 0; // attributes
    buf[off++] = 0; // timestampDelta: every record of a batch has the batch's time
    off = writeZvarint(buf, off, delta);
    off = writeZvarint(buf, off, r.keyEnd - r.keyAt);
    off = copy(buf, off, r.src, r.keyAt, r.keyEnd);
    off = writeZvarint(buf, off, r.valueEnd - r.valueAt);
    off = copy(buf, off, r.src, r.valueAt, r.valueEnd);
    buf[off++] = 2; // one header (zigzag 1)
    off = writeZvarint(buf, off, hk);
    off = copyAll(buf, off, headerKey);
    off = writeZvarint(buf, off, r.headerEnd - r.headerAt);
    off = copy(buf, off, r.src, r.headerAt, r.headerEnd);
  }
  return off;
}

/** Scratch for the uncompressed records of a compressed batch; one past this size is not kept. */
let scratch = Buffer.allocUnsafe(1 << 20);
const SCRATCH_KEEP = 16 << 20;

/**
 * One RecordBatch of the records `order[from..to)` (indexes into `records`), ready for a
 * Produce request. The buffer is the batch's own (not shared).
 */
export function encodeRecordBatch(
  records: readonly RecordSpans[],
  order: ArrayLike<number>,
  from: number,
  to: number,
  opts: BatchOptions,
): Buffer {
  const n = to - from;
  if (n <= 0) throw new RangeError('a record batch holds at least one record');
  const raw = recordsSize(records, order, from, to, opts.headerKey.length);
  let out: Buffer;
  let end: number;
  if (opts.compression === 'none') {
    out = Buffer.allocUnsafe(BATCH_OVERHEAD + raw);
    end = writeRecords(out, BATCH_OVERHEAD, records, order, from, to, opts.headerKey);
  } else {
    if (scratch.length < raw) scratch = Buffer.allocUnsafe(Math.max(raw, 2 * scratch.length));
    const w = writeRecords(scratch, 0, records, order, from, to, opts.headerKey);
    const packed: Uint8Array = compressionsAlgorithms[opts.compression].compressSync(scratch.subarray(0, w));
    if (scratch.length > SCRATCH_KEEP) scratch = Buffer.allocUnsafe(1 << 20);
    out = Buffer.allocUnsafe(BATCH_OVERHEAD + packed.length);
    out.set(packed, BATCH_OVERHEAD);
    end = BATCH_OVERHEAD + packed.length;
  }
  out.writeBigInt64BE(0n, 0);
  out.writeInt32BE(end - 12, 8);
  out.writeInt32BE(NO_PARTITION_LEADER_EPOCH, 12);
  out[16] = MAGIC;
  out.writeInt16BE(COMPRESSION_BITS[opts.compression], 21);
  out.writeInt32BE(n - 1, 23);
  out.writeBigInt64BE(BigInt(opts.timestamp), 27);
  out.writeBigInt64BE(BigInt(opts.timestamp), 35);
  out.writeBigInt64BE(opts.producerId, 43);
  out.writeInt16BE(opts.producerEpoch, 51);
  out.writeInt32BE(opts.baseSequence, 53);
  out.writeInt32BE(n, 57);
  out.writeUInt32BE(crc32c(out.subarray(CRC_FROM, end)) >>> 0, 17);
  return out;
}

/** Kafka's sequence arithmetic (DefaultRecordBatch.incrementSequence): wraps to 0 past int32. */
export function incrementSequence(seq: number, by: number): number {
  if (seq > 0x7fffffff - by) return by - (0x7fffffff - seq) - 1;
  return seq + by;
}

export interface PartitionBatch {
  partition: number;
  batch: Buffer;
}

/**
 * The body of a Produce request (v9–v11: compact strings and arrays, tagged fields), one topic,
 * one record batch per partition; the connection adds the request header. Returns the parts to
 * send in order (the batches are not copied).
 */
export function produceRequestBody(
  topic: string,
  acks: number,
  timeoutMs: number,
  parts: readonly PartitionBatch[],
): Buffer[] {
  const name = Buffer.from(topic);
  const head = Buffer.allocUnsafe(1 + 2 + 4 + 5 + 5 + name.length + 5);
  let o = 0;
  head[o++] = 0; // transactional_id: null
  o = head.writeInt16BE(acks, o);
  o = head.writeInt32BE(timeoutMs, o);
  o = writeUvarint(head, o, 2); // one topic
  o = writeUvarint(head, o, name.length + 1);
  o += name.copy(head, o);
  o = writeUvarint(head, o, parts.length + 1);
  const out: Buffer[] = [head.subarray(0, o)];
  for (const p of parts) {
    const pre = Buffer.allocUnsafe(4 + 5);
    let q = pre.writeInt32BE(p.partition, 0);
    q = writeUvarint(pre, q, p.batch.length + 1);
    out.push(pre.subarray(0, q), p.batch, TAG0);
  }
  out.push(TAG00);
  return out;
}

/** No tagged fields: the partition's, then the topic's and the request's. */
const TAG0 = Buffer.from([0]);
const TAG00 = Buffer.from([0, 0]);
