import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { silentLogger } from '../../src/common/log.js';
import { ALL_RECORDS } from '../../src/schema/records.js';
import type { AnyRecordDef } from '../../src/schema/registry.js';
import { recordsToColumnar } from '../../src/store/distributed/columns.js';
import { type ChNode, exec, insertBody } from '../../src/store/distributed/http.js';
import { NativeColumnsEncoder, NativeRecordsEncoder } from '../../src/store/distributed/native.js';
import { chColumns, localTable } from '../../src/store/distributed/schema.js';
import { createClickHouseStore } from '../../src/store/distributed/store.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Rec } from '../../src/store/types.js';
import { startChdb, startClickHouseCluster } from '../support/clickhouse.js';
import { fuzzedRecord } from '../support/field-values.js';
import { runs } from '../support/fuzz.js';
import { isMissing } from '../support/peers.js';

/**
 * The Native insert path against the server itself: rows stored through the RowBinary path
 * (which the conformance suite checks against the embedded store) are read back with
 * `SELECT … FORMAT Native`, and the server's bytes must equal the bytes our encoders make for
 * the same records, from objects and from column batches, on 18.16 and on current ClickHouse
 * (chdb). Then the same records inserted as Native must read back identical.
 */
const flow = ALL_RECORDS.find((d) => d.type === 'flow')!;

function fromRecords(def: AnyRecordDef, recs: readonly Rec[], seq: number): Buffer {
  const idx = Array.from(recs, (_, i) => i);
  return new NativeRecordsEncoder(def).encode(recs, idx, (i) => seq + i);
}

function fromColumns(
  def: AnyRecordDef,
  recs: readonly Rec[],
  seq: number,
  enc = new NativeColumnsEncoder(def),
) {
  return Buffer.from(enc.encode(recordsToColumnar(def, recs), 0, recs.length, seq));
}

/** Byte equality, reporting where two blocks first differ (a diff of the arrays is unreadable). */
function sameBytes(a: Buffer, b: Buffer, msg: string): void {
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const around = (x: Buffer) => x.subarray(Math.max(0, i - 24), i + 24).toString('hex');
  assert.fail(
    `${msg}: ${a.length} vs ${b.length} bytes, first difference at ${i}\n${around(a)}\n${around(b)}\n${JSON.stringify(a.subarray(Math.max(0, i - 64), i).toString('latin1'))}`,
  );
}

describe('clickhouse Native encoders', () => {
  it('make the same block from column batches as from records (fuzzed values, every type)', () => {
    for (const def of ALL_RECORDS.filter((d) => !d.key)) {
      const enc = new NativeColumnsEncoder(def);
      fc.assert(
        fc.property(fc.array(fuzzedRecord(def), { maxLength: 12 }), fc.nat({ max: 2 ** 40 }), (recs, seq) => {
          sameBytes(fromColumns(def, recs, seq, enc), fromRecords(def, recs, seq), def.type);
        }),
        { numRuns: runs(40) },
      );
    }
  });

  it('gives the same bytes across the encoder’s row chunks (fuzzed flows of 250–700 rows)', () => {
    const enc = new NativeColumnsEncoder(flow);
    fc.assert(
      fc.property(
        fc.array(fuzzedRecord(flow), { minLength: 250, maxLength: 700 }),
        fc.nat({ max: 300 }),
        (recs, from) => {
          // A selection that starts inside the batch, as a batch split over shards is.
          const c = recordsToColumnar(flow, recs);
          const a = Math.min(from, recs.length);
          const got = Buffer.from(enc.encode(c, a, recs.length, 5));
          sameBytes(got, fromRecords(flow, recs.slice(a), 5), 'chunked');
        },
      ),
      { numRuns: runs(8) },
    );
  });

  it('splits a batch into blocks that number their rows on', () => {
    const recs = syntheticFlows(3000, { seed: 5 }) as unknown as Rec[];
    const enc = new NativeColumnsEncoder(flow);
    const c = recordsToColumnar(flow, recs);
    // The second block reuses the first one's buffer (the store's pool).
    const a = Buffer.from(enc.encode(c, 0, 1000, 7));
    const b = enc.encode(c, 1000, 3000, 1007, Buffer.allocUnsafe(1 << 22));
    sameBytes(a, fromRecords(flow, recs.slice(0, 1000), 7), 'first block');
    sameBytes(Buffer.from(b), fromRecords(flow, recs.slice(1000), 1007), 'second block');
  });
});

const c = await startClickHouseCluster(1);
const one = isMissing(c) ? null : c;
const d = await startChdb();
const chdb = isMissing(d) ? null : d;
after(async () => {
  await one?.stop();
  await chdb?.stop();
});

async function selectNative(n: ChNode, db: string, def: AnyRecordDef): Promise<Buffer> {
  const names = `${chColumns(def)
    .map((x) => x.name)
    .join(', ')}, _seq`;
  const r = await fetch(n.url, {
    method: 'POST',
    body: `SELECT ${names} FROM ${localTable(db, def)} ORDER BY _seq FORMAT Native`,
  });
  assert.equal(r.status, 200);
  return Buffer.from(await r.arrayBuffer());
}

for (const [name, peer] of [
  ['clickhouse 18.16', () => (one ? one.urls[0]! : null)],
  ['chdb (current ClickHouse)', () => chdb?.url ?? null],
] as const) {
  const skip = peer()
    ? false
    : [c, d]
        .filter(isMissing)
        .map((m) => m.missing)
        .join('; ');
  describe(`Native against ${name}`, { skip }, () => {
    it('our blocks equal the server’s own Native output of the same rows, and insert back identically', async () => {
      const url = peer()!;
      const open = async (db: string, insertFormat: 'native' | 'rowbinary') => {
        const s = createClickHouseStore({ url, database: db, insertFormat }, { log: silentLogger });
        await s.start();
        return s;
      };
      const rb = await open('nat_rb', 'rowbinary');
      const nat = await open('nat_n', 'native');
      const node = { url };
      // Both stores number rows from 1 across types (fresh databases, one counter per store).
      let seq = 1;
      for (const def of ALL_RECORDS) {
        const recs = fc.sample(fuzzedRecord(def), { numRuns: runs(60), seed: 42 });
        // Keyed records: distinct keys, so no replacement merges two rows before the read.
        if (def.key) for (const [i, r] of recs.entries()) r[def.key] = `k${i}`;
        await rb.append(def.type, recs);
        await nat.append(def.type, recs);
        const truth = await selectNative(node, 'nat_rb', def);
        sameBytes(fromRecords(def, recs, seq), truth, `${def.type}: records → Native`);
        if (!def.key) sameBytes(fromColumns(def, recs, seq), truth, `${def.type}: columns → Native`);
        sameBytes(await selectNative(node, 'nat_n', def), truth, `${def.type}: inserted as Native`);
        seq += recs.length;
      }
      // The column path of the store, a flow batch over several days: the same rows again.
      const flows = syntheticFlows(20_000, { seed: 11, spanUs: 3 * 86_400_000_000 }) as unknown as Rec[];
      await rb.append('flow', flows);
      await nat.appendColumns('flow', recordsToColumnar(flow, flows));
      sameBytes(
        await selectNative(node, 'nat_n', flow),
        await selectNative(node, 'nat_rb', flow),
        'column path',
      );
      await rb.dropAll();
      await nat.dropAll();
    });

    it('a malformed block is refused whole and the next insert is taken', async () => {
      const url = peer()!;
      const node = { url };
      const s = createClickHouseStore({ url, database: 'nat_bad' }, { log: silentLogger });
      await s.start();
      const recs = syntheticFlows(100, { seed: 1 }) as unknown as Rec[];
      const good = fromRecords(flow, recs, 1);
      const cols = `(${chColumns(flow)
        .map((x) => x.name)
        .join(', ')}, _seq)`;
      // Cut short, and a row count larger than the data: neither may store a row.
      for (const bad of [
        good.subarray(0, good.length - 3),
        Buffer.concat([Buffer.from([good[0]!, 0xff, 0x7f]), good.subarray(2)]),
      ])
        await assert.rejects(insertBody(node, `nat_bad.flow_local ${cols}`, 'Native', bad));
      await insertBody(node, `nat_bad.flow_local ${cols}`, 'Native', good);
      assert.equal(await s.count('flow', {}), 100);
      await exec(node, 'DROP DATABASE nat_bad');
    });
  });
}
