import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Reader, readRecordsBatch } from '@platformatic/kafka';
import fc from 'fast-check';
import { partitionForKey } from '../../src/bus/sinks/kafka.js';
import {
  encodeRecordBatch,
  incrementSequence,
  produceRequestBody,
  type RecordSpans,
} from '../../src/bus/sinks/kafka-batch.js';
import type { KafkaCompression } from '../../src/bus/types.js';
import { ROOT } from '../support/fixtures.js';
import { runs } from '../support/fuzz.js';
import { PEERS } from '../support/peers.js';

const HEADER = Buffer.from('vantage-updated-ts');
const CODECS: KafkaCompression[] = ['none', 'lz4', 'gzip', 'snappy'];

/** CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: the slow, obvious form. */
function crc32cReference(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

interface RecordBytes {
  idBytes: Uint8Array;
  json: Uint8Array;
  updatedBytes: Uint8Array;
}

const rec = (id: string, json: string, updated: string): RecordBytes => ({
  idBytes: Buffer.from(id),
  json: Buffer.from(json),
  updatedBytes: Buffer.from(updated),
});

/** The records' parts in one buffer, in another order and with bytes between, as spans (as the outbox reads them). */
function pack(records: readonly RecordBytes[]): RecordSpans[] {
  const parts: Buffer[] = [];
  let at = 0;
  const put = (b: Uint8Array): number => {
    parts.push(Buffer.from([0x7b, 0x22]), Buffer.from(b));
    at += 2 + b.length;
    return at - b.length;
  };
  const spans = records.map((r) => {
    const headerAt = put(r.updatedBytes);
    const keyAt = put(r.idBytes);
    const valueAt = put(r.json);
    return {
      keyAt,
      keyEnd: keyAt + r.idBytes.length,
      valueAt,
      valueEnd: valueAt + r.json.length,
      headerAt,
      headerEnd: headerAt + r.updatedBytes.length,
    };
  });
  const src = Buffer.concat(parts);
  return spans.map((sp) => ({ src, ...sp }));
}

const identity = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** Awkward records: empty key and value, multi-byte varints (values past 127 and 16,383 bytes), UTF-8. */
function awkward(): RecordBytes[] {
  return [
    rec('a-1', '{"a":1}', '2026-01-01T00:00:00.000Z'),
    rec('', '', ''),
    rec(
      'ü-ключ',
      JSON.stringify({ title: 'non-ASCII: ü ß 漢字 🙂', n: 'x'.repeat(200) }),
      '2026-12-06T08:00:00.123Z',
    ),
    rec('k'.repeat(130), 'v'.repeat(20_000), 'u'.repeat(64)),
    ...Array.from({ length: 300 }, (_, i) =>
      rec(`alert-${i}`, `{"i":${i},"pad":"${'p'.repeat(i)}"}`, `t${i}`),
    ),
  ];
}

describe('Kafka RecordBatch v2 encoder', () => {
  it('CRC-32C reference: the check value of "123456789" is 0xE3069283', () => {
    assert.equal(crc32cReference(Buffer.from('123456789')), 0xe3069283);
  });

  it('any records, any codec: the client decoder reads back every field; the CRC is CRC-32C of attributes..end', () => {
    const bytes = fc.uint8Array({ maxLength: 300 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(bytes, bytes, fc.uint8Array({ maxLength: 40 })), { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...CODECS),
        fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
        fc.integer({ min: 0, max: 0x7fff }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (rs, compression, producerId, producerEpoch, baseSequence, timestamp) => {
          const records = rs.map(([k, v, u]) => ({ idBytes: k, json: v, updatedBytes: u }));
          // Records in a shuffled order: the batch holds them in the order given by `order`.
          const order = identity(records.length).reverse();
          const b = encodeRecordBatch(pack(records), order, 0, records.length, {
            producerId,
            producerEpoch,
            baseSequence,
            timestamp,
            compression,
            headerKey: HEADER,
          });
          assert.equal(b.readUInt32BE(17), crc32cReference(b.subarray(21)));
          const got = readRecordsBatch(Reader.from(b));
          assert.equal(got.firstOffset, 0n);
          assert.equal(got.length, b.length - 12);
          assert.equal(got.magic, 2);
          assert.equal(got.partitionLeaderEpoch, -1);
          assert.equal(got.attributes, { none: 0, gzip: 1, snappy: 2, lz4: 3 }[compression]);
          assert.equal(got.lastOffsetDelta, records.length - 1);
          assert.equal(got.firstTimestamp, BigInt(timestamp));
          assert.equal(got.maxTimestamp, BigInt(timestamp));
          assert.equal(got.producerId, producerId);
          assert.equal(got.producerEpoch, producerEpoch);
          assert.equal(got.firstSequence, baseSequence);
          assert.equal(got.records.length, records.length);
          got.records.forEach((r, i) => {
            const want = records[order[i]!]!;
            assert.equal(r.offsetDelta, i);
            assert.equal(r.timestampDelta, 0n);
            assert.deepEqual(new Uint8Array(r.key!), want.idBytes);
            assert.deepEqual(new Uint8Array(r.value!), want.json);
            assert.equal(r.headers.length, 1);
            assert.deepEqual(Buffer.from(r.headers[0]![0]!), HEADER);
            assert.deepEqual(new Uint8Array(r.headers[0]![1]!), want.updatedBytes);
          });
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('a sub-range of the order is a batch of just those records', () => {
    const records = pack(awkward());
    const order = identity(records.length);
    const b = encodeRecordBatch(records, order, 5, 9, {
      producerId: 7n,
      producerEpoch: 0,
      baseSequence: 100,
      timestamp: 1,
      compression: 'none',
      headerKey: HEADER,
    });
    const got = readRecordsBatch(Reader.from(b));
    assert.deepEqual(
      got.records.map((r) => r.key!.toString()),
      ['alert-1', 'alert-2', 'alert-3', 'alert-4'],
    );
    assert.throws(
      () => encodeRecordBatch(records, order, 3, 3, { ...OPTS, compression: 'none' }),
      RangeError,
    );
  });

  it("sequence numbers wrap as Kafka's DefaultRecordBatch.incrementSequence", () => {
    assert.equal(incrementSequence(0, 5), 5);
    assert.equal(incrementSequence(0x7fffffff - 5, 5), 0x7fffffff);
    assert.equal(incrementSequence(0x7fffffff, 1), 0);
    assert.equal(incrementSequence(0x7fffffff - 1, 3), 1);
  });

  it('the Produce request body (v9–v11) parses field by field with the client reader', () => {
    const b1 = encodeRecordBatch(pack(awkward()), identity(3), 0, 3, { ...OPTS, compression: 'none' });
    const b2 = encodeRecordBatch(pack(awkward()), identity(6), 3, 6, { ...OPTS, compression: 'lz4' });
    const body = Buffer.concat(
      produceRequestBody('vantage.alerts', -1, 30_000, [
        { partition: 0, batch: b1 },
        { partition: 2, batch: b2 },
      ]),
    );
    const r = Reader.from(body);
    assert.equal(r.readNullableString(), null);
    assert.equal(r.readInt16(), -1);
    assert.equal(r.readInt32(), 30_000);
    const topics = r.readArray((t) => ({
      name: t.readString(),
      parts: t.readArray((p) => ({ index: p.readInt32(), records: p.readBytes() })),
    }));
    // The reader takes each element's tagged fields; the request's own (none) are left.
    assert.equal(r.remaining, 1);
    assert.equal(body.at(-1), 0);
    assert.equal(topics.length, 1);
    assert.equal(topics[0]!.name, 'vantage.alerts');
    assert.deepEqual(
      topics[0]!.parts.map((p) => [p.index, Buffer.compare(p.records, p.index === 0 ? b1 : b2)]),
      [
        [0, 0],
        [2, 0],
      ],
    );
  });
});

const OPTS = {
  producerId: 4242n,
  producerEpoch: 3,
  baseSequence: 17,
  timestamp: Date.UTC(2026, 11, 6, 8),
  headerKey: HEADER,
};

const LIBS = join(PEERS, 'kafka', 'libs');
const ORACLE = join(ROOT, 'test', 'bus', 'KafkaBatchOracle.java');

/** Run Kafka's own record code (KafkaBatchOracle.java) on `input`; returns what it wrote. */
function oracle(cmd: 'encode' | 'decode' | 'partition', input: string | Buffer): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-kbo-'));
  const inFile = join(dir, 'in');
  const outFile = join(dir, 'out');
  writeFileSync(inFile, input);
  return new Promise<Buffer>((resolve, reject) =>
    execFile('java', ['-cp', `${LIBS}/*`, ORACLE, cmd, inFile, outFile], (err, _o, stderr) => {
      if (err) reject(new Error(`${cmd}: ${stderr || err.message}`));
      else resolve(readFileSync(outFile));
    }),
  ).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const hex = (b: Uint8Array): string => (b.length === 0 ? '.' : Buffer.from(b).toString('hex'));

function peerMissing(): string | null {
  if (existsSync(LIBS) && spawnSync('sh', ['-c', 'command -v java']).status === 0) return null;
  if (process.env.CI === 'true') throw new Error(`peer missing in CI: Kafka jars in ${LIBS}`);
  return `Kafka 4.1 jars in ${LIBS} and java`;
}

describe("Kafka RecordBatch v2 against Kafka's own record code", () => {
  it("uncompressed: byte for byte what Kafka's MemoryRecordsBuilder writes", async (t) => {
    const why = peerMissing();
    if (why) return t.skip(`peer missing: ${why}`);
    const records = awkward();
    const ours = encodeRecordBatch(pack(records), identity(records.length), 0, records.length, {
      ...OPTS,
      compression: 'none',
    });
    const spec = [
      `${OPTS.producerId} ${OPTS.producerEpoch} ${OPTS.baseSequence} ${OPTS.timestamp} none`,
      ...records.map((r) => `${hex(r.idBytes)} ${hex(r.json)} ${hex(HEADER)} ${hex(r.updatedBytes)}`),
    ].join('\n');
    const theirs = await oracle('encode', spec);
    assert.equal(ours.length, theirs.length);
    assert.ok(ours.equals(theirs), 'the same bytes');
  });

  it('every codec: Kafka checks the CRC of each batch and reads every record as written', async (t) => {
    const why = peerMissing();
    if (why) return t.skip(`peer missing: ${why}`);
    const records = awkward();
    const order = identity(records.length);
    const batches = CODECS.map((compression, i) =>
      encodeRecordBatch(pack(records), order, i * 10, records.length, {
        ...OPTS,
        baseSequence: i * 1000,
        compression,
      }),
    );
    const lines = (await oracle('decode', Buffer.concat(batches))).toString('utf8').trim().split('\n');
    let at = 0;
    CODECS.forEach((compression, i) => {
      const n = records.length - i * 10;
      assert.equal(
        lines[at++],
        `B 0 ${n - 1} ${n} ${OPTS.producerId} ${OPTS.producerEpoch} ${i * 1000} ${compression} ${OPTS.timestamp} ${OPTS.timestamp} -1 2 false`,
      );
      for (let j = 0; j < n; j++) {
        const r = records[i * 10 + j]!;
        assert.equal(
          lines[at++],
          `R ${j} ${OPTS.timestamp} ${i * 1000 + j} ${hex(r.idBytes)} ${hex(r.json)} ${hex(HEADER)} ${hex(r.updatedBytes)}`,
        );
      }
    });
    assert.equal(at, lines.length);
  });

  it("partitionForKey is Kafka's default partitioner (BuiltInPartitioner.partitionForKey)", async (t) => {
    const why = peerMissing();
    if (why) return t.skip(`peer missing: ${why}`);
    const keys = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 60 }), { numRuns: 1500, seed: 17 });
    keys.push(...Array.from({ length: 500 }, (_, i) => Buffer.from(`vantage-alert-${i}`)));
    for (const n of [1, 3, 7, 12]) {
      const got = (await oracle('partition', [String(n), ...keys.map(hex)].join('\n')))
        .toString()
        .trim()
        .split('\n')
        .map(Number);
      assert.deepEqual(
        keys.map((k) => partitionForKey(k, n)),
        got,
        `${n} partitions`,
      );
    }
  });
});
