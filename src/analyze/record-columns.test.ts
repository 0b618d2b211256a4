import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { isoNs } from '../common/time.js';
import type { TlsRecord } from '../schema/tls.js';
import { tlsRecord } from '../schema/tls.js';
import { type Columnar, columnarToRecords } from '../store/columnar.js';
import { RecordColumnBuilder, RecordOut, RowValues } from './record-columns.js';

const hex = (n: string) => fc.stringMatching(new RegExp(`^[0-9a-f]${n}$`));

/** A `tls` record as the analyzer fills it, from generated values. */
const tlsFields = fc.record({
  flow_id: fc.integer({ min: 1, max: 1e9 }),
  community_id: fc.string({ maxLength: 30 }),
  proto: fc.constantFrom(6, 17),
  client_ip: fc.ipV4(),
  client_port: fc.integer({ min: 0, max: 65535 }),
  server_ip: fc.oneof(fc.ipV4(), fc.ipV6()),
  server_port: fc.integer({ min: 0, max: 65535 }),
  vlan: fc.option(fc.integer({ min: 0, max: 4095 })),
  vni: fc.option(fc.integer({ min: 0, max: 1 << 24 })),
  quic: fc.boolean(),
  sni: fc.option(fc.domain()),
  alpn: fc.array(fc.constantFrom('h2', 'http/1.1', 'h3')),
  alpn_selected: fc.option(fc.constantFrom('h2', 'h3')),
  client_version: fc.option(fc.constantFrom('TLSv1.2', 'TLSv1.3')),
  supported_versions: fc.array(fc.constantFrom('TLSv1.2', 'TLSv1.3')),
  version: fc.option(fc.constantFrom('TLSv1.2', 'TLSv1.3')),
  cipher_suites: fc.array(fc.integer({ min: 0, max: 65535 })),
  cipher: fc.option(fc.constantFrom('0x1301', '0xc02f')),
  ja3: fc.option(hex('{32}')),
  ja3_string: fc.option(fc.string()),
  ja3s: fc.option(hex('{32}')),
  ja4: fc.option(fc.string()),
  ja4s: fc.option(fc.string()),
  hello_retry: fc.boolean(),
  cert_subject: fc.option(fc.string()),
  cert_issuer: fc.option(fc.string()),
  cert_not_before: fc.option(fc.constant('2024-01-01T00:00:00Z')),
  cert_not_after: fc.option(fc.constant('2030-06-30T23:59:59Z')),
  cert_san: fc.array(fc.domain()),
  cert_serial: fc.option(hex('{1,20}')),
  cert_sha256: fc.option(hex('{64}')),
});
const times = fc.record({
  sec: fc.integer({ min: 0, max: 4e9 }),
  ns: fc.integer({ min: 0, max: 999_999_999 }),
});

/** The record as the store keeps it: the time to the µs. */
const micros = (r: Record<string, unknown>): Record<string, unknown> => ({
  ...r,
  ts: String(r.ts).replace(/(\.\d{6})\d{3}Z$/, '$1000Z'),
});

describe('RecordColumnBuilder', () => {
  it('gives back every record it was given, in order, across buffer growth and batch ends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(tlsFields, times), { minLength: 0, maxLength: 3000 }),
        fc.integer({ min: 1, max: 2500 }),
        (recs, capacity) => {
          const batches: Columnar[] = [];
          const b = new RecordColumnBuilder(tlsRecord, capacity, (t, c) => {
            assert.equal(t, 'tls');
            assert.ok(c.rows.length <= capacity);
            batches.push(c);
          });
          // One record object refilled, as an analyzer does in column mode.
          const scratch = { type: 'tls', ts: '' } as TlsRecord;
          const want: Record<string, unknown>[] = [];
          for (const [f, t] of recs) {
            Object.assign(scratch, f);
            b.add(scratch, t.sec, t.ns);
            want.push(micros({ type: 'tls', ts: isoNs(t.sec, t.ns), ...f }));
          }
          b.flush();
          const got = batches.flatMap((c) => columnarToRecords(c, 'tls')).map(micros);
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: runs(40) },
    );
  });

  it('RecordOut: fresh records with text times to the sink, or rows with the observer seeing the ones it wants', () => {
    const sunk: unknown[] = [];
    const obj = new RecordOut<TlsRecord>('tls', (r) => sunk.push(r));
    const a = obj.begin(1_700_000_000, 5);
    a.sni = 'a.example';
    obj.end(a);
    const b = obj.begin(1_700_000_001, 0);
    assert.notEqual(a, b);
    assert.deepEqual(sunk, [{ type: 'tls', ts: '2023-11-14T22:13:20.000000005Z', sni: 'a.example' }]);

    const batches: Columnar[] = [];
    const seen: unknown[] = [];
    const cols = new RecordColumnBuilder(tlsRecord, 10, (_t, c) => batches.push(c));
    const out = new RecordOut<TlsRecord>('tls', () => assert.fail('no object in column mode'), cols, {
      wants: (r) => r.sni !== null,
      see: (r) => seen.push({ ts: r.ts, sni: r.sni }),
    });
    const r1 = out.begin(1_700_000_000, 0);
    r1.sni = null;
    out.end(r1);
    const r2 = out.begin(1_700_000_002, 0);
    assert.equal(r1, r2);
    r2.sni = 'b.example';
    out.end(r2);
    cols.flush();
    assert.deepEqual(seen, [{ ts: '2023-11-14T22:13:22.000000000Z', sni: 'b.example' }]);
    const rows = columnarToRecords(batches[0]!, 'tls');
    assert.deepEqual(
      rows.map((r) => [r.ts, r.sni]),
      [
        ['2023-11-14T22:13:20.000000000Z', null],
        ['2023-11-14T22:13:22.000000000Z', 'b.example'],
      ],
    );
  });
});

describe('RowValues', () => {
  it('reads as the Map of the same puts, rows skipped, emptied or set again', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(6), fc.oneof(fc.constant(null), fc.string(), fc.integer())), {
          maxLength: 40,
        }),
        (steps) => {
          const rv = new RowValues();
          const m = new Map<number, unknown>();
          let row = 0;
          for (const [skip, x] of steps) {
            // Mostly forward, sometimes the same row again.
            row = skip === 0 ? row : row + skip - 1;
            rv.put(row, x);
            if (x === null) m.delete(row);
            else m.set(row, x);
          }
          assert.equal(rv.size, m.size);
          assert.deepEqual(
            [...rv.entries()],
            [...m.entries()].sort((a, b) => a[0] - b[0]),
          );
          for (let r = 0; r <= row + 1; r++) {
            assert.equal(rv.get(r), m.get(r));
            assert.equal(rv.has(r), m.has(r));
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
