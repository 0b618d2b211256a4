import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateRealistic } from '../../bench/gen-realistic.js';
import { readCaptureFile } from '../capture/capture-file.js';
import { type Columnar, columnarToRecords } from '../store/columnar.js';
import { FLOW_NUM, FLOW_STR } from './flow-columns.js';
import { createSensor, type SensorRecord } from './sensor.js';

const PCAPS = join(import.meta.dirname, '../../../test/fixtures/pcaps');
const dir = mkdtempSync(join(tmpdir(), 'vantage-flow-columns-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What the object path gives, with times cut to the µs (what the store keeps of them). */
function toMicros(r: Record<string, unknown>): Record<string, unknown> {
  const out = { ...r };
  for (const k of ['first_ts', 'last_ts', 'ts'])
    if (typeof out[k] === 'string') out[k] = (out[k] as string).replace(/(\.\d{6})\d{3}Z$/, '$1000Z');
  delete out.flow_id;
  return out;
}

/** The L7 record types a sensor writes in column form. */
const L7 = ['dns', 'tls', 'http'];

async function both(file: string, rows: number) {
  const objects: SensorRecord[] = [];
  const a = createSensor((r) => objects.push(r));
  await readCaptureFile(file, a.onFrame);
  a.finish();
  const others: SensorRecord[] = [];
  const batches: Columnar[] = [];
  const l7: Record<string, Record<string, unknown>[]> = { dns: [], tls: [], http: [] };
  const b = createSensor((r) => others.push(r), {
    columns: (type, c) => {
      if (type === 'flow') batches.push(c);
      else if (l7[type]) l7[type].push(...columnarToRecords(c, type));
      else assert.fail(`a batch of ${type}`);
    },
    columnRows: rows,
  });
  await readCaptureFile(file, b.onFrame);
  b.finish();
  const flows = batches.flatMap((c) => columnarToRecords(c, 'flow'));
  return { objects, others, flows, batches, l7, dns: l7.dns! };
}

describe('flow, DNS, TLS and HTTP records in column form', () => {
  const files = readdirSync(PCAPS)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .map((f) => join(PCAPS, f));
  it('equal the object records, field for field and in order, for every fixture capture', async () => {
    let flows = 0;
    const counts: Record<string, number> = { dns: 0, tls: 0, http: 0 };
    // Certificate validity times are kept as the text the record has (not the time column).
    let certTimes = 0;
    for (const file of files) {
      const { objects, others, flows: cols, l7 } = await both(file, 3);
      for (const t of L7) {
        const want = objects.filter((r) => r.type === t).map(toMicros);
        assert.deepEqual(l7[t]!.map(toMicros), want, `${file}: ${t}`);
        counts[t]! += want.length;
      }
      certTimes += l7.tls!.filter((r) => typeof r.cert_not_after === 'string').length;
      const objFlows = objects.filter((r) => r.type === 'flow');
      assert.deepEqual(cols.map(toMicros), objFlows.map(toMicros), file);
      // The other records (L7, weirds) are unchanged and in the same order.
      const noId = (r: Record<string, unknown>) => {
        const { flow_id: _, ...rest } = r;
        return rest;
      };
      assert.deepEqual(
        others.map(noId),
        objects.filter((r) => r.type !== 'flow' && !L7.includes(r.type)).map(noId),
        file,
      );
      // ... and name their flows by the ids the column rows carry.
      const ids = new Set(cols.map((r) => r.flow_id));
      for (const r of others) if ('flow_id' in r) assert.ok(ids.has(r.flow_id), `${file}: ${r.type}`);
      flows += objFlows.length;
    }
    assert.ok(flows > 200, `${flows} flows compared`);
    assert.ok(counts.dns! > 100, `${counts.dns} DNS records compared`);
    assert.ok(counts.tls! >= 5, `${counts.tls} TLS records compared`);
    assert.ok(certTimes > 0, 'no TLS record with a certificate compared');
    assert.ok(counts.http! > 20, `${counts.http} HTTP records compared`);
  });

  it('on many hosts (address caches evicting and batches turning over) every address and MAC is right', async () => {
    const pcap = join(dir, 'realistic.pcap');
    generateRealistic(pcap, { packets: 60_000, flows: 5_000, clients: 3_000, servers: 1_500, seconds: 120 });
    const { objects, flows, batches, l7, others } = await both(pcap, 1000);
    const objFlows = objects.filter((r) => r.type === 'flow');
    let l7Count = 0;
    for (const t of L7) {
      const want = objects.filter((r) => r.type === t);
      assert.ok(want.length > 100, `${want.length} ${t} records`);
      assert.deepEqual(l7[t]!.map(toMicros), want.map(toMicros), t);
      l7Count += want.length;
    }
    assert.equal(others.length, objects.length - objFlows.length - l7Count);
    assert.ok(objFlows.length >= 5000);
    assert.deepEqual(flows.map(toMicros), objFlows.map(toMicros));
    // Each batch's dictionary holds an address once (the cache), not once per record.
    for (const c of batches) {
      assert.deepEqual(c.num, FLOW_NUM);
      assert.deepEqual(c.str, FLOW_STR);
      const ci = FLOW_STR.indexOf('client_ip');
      const seen = new Map<string, Set<number>>();
      for (const i of Array.from(c.rows)) {
        const d = c.s[i * FLOW_STR.length + ci]!;
        const t = c.dict[d]!;
        const s = seen.get(t) ?? new Set();
        s.add(d);
        seen.set(t, s);
      }
      const repeats = [...seen.values()].filter((s) => s.size > 1).length;
      assert.ok(repeats <= seen.size / 20, `${repeats} of ${seen.size} addresses entered more than once`);
      assert.ok(c.dict.length < c.rows.length * 4, `${c.dict.length} entries for ${c.rows.length} rows`);
    }
  });
});
