import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertRecordOf } from '../../src/common/alerts.js';
import { exportedFlowRecord, flowRecord } from '../../src/schema/records.js';
import type { FieldDef } from '../../src/schema/registry.js';
import { parseFilter } from '../../src/store/filter.js';
import { syntheticFlows } from '../../src/store/synthetic.js';
import type { Rec, RecordStore } from '../../src/store/types.js';
import { isoToMicros } from '../../src/store/values.js';

/**
 * The record store conformance suite: every backend must pass it. `open` returns a started
 * store on the same data each time it is called with the same key (to test persistence);
 * `compact` (optional) moves data into the backend's long-term layout.
 */
export interface Backend {
  name: string;
  open(key: string): Promise<RecordStore>;
  compact?(s: RecordStore): Promise<void>;
}

const N = 3000;
const START = Date.UTC(2024, 0, 1) * 1000;
const SPAN = 3 * 86_400_000_000;

const us = (iso: unknown): number => isoToMicros(String(iso));
const F = (s: string) => parseFilter(s, flowRecord);

export function runConformance(b: Backend): void {
  describe(`store conformance: ${b.name}`, () => {
    let store: RecordStore;
    const data = syntheticFlows(N, { startUs: START, spanUs: SPAN, seed: 7 }) as unknown as Rec[];
    // Edge values: IPv6, nulls, big counters, a string needing escapes.
    data[0] = {
      ...data[0]!,
      client_ip: '2001:db8::1',
      app: 'a "quoted", app\nwith newline',
      client_wire_bytes: 2 ** 40,
    };
    data[1] = { ...data[1]!, client_mac: null, rtt_ms: null, vlan: null };

    before(async () => {
      store = await b.open('main');
      for (let i = 0; i < N; i += 1000) await store.append('flow', data.slice(i, i + 1000));
    });
    after(async () => {
      await store.stop();
    });

    const match = (pred: (r: Rec) => boolean) => data.filter(pred).length;

    const checkAll = () => {
      it('returns what was appended, field by field', async () => {
        const page = await store.list({ type: 'flow', limit: N, desc: false, sort: 'flow_id' });
        assert.equal(page.items.length, N);
        for (let i = 0; i < N; i++) {
          const got = page.items[i]!;
          const want = data[i]!;
          for (const f of Object.keys(flowRecord.fields)) {
            if (f.endsWith('_ts')) assert.equal(us(got[f]), Math.floor(us(want[f])), f);
            else assert.deepEqual(got[f], want[f] ?? null, `${f} of row ${i}`);
          }
        }
      });

      it('filters by CIDR, list, contains, negation, null, alias and IPv6', async () => {
        const cases: [string, (r: Rec) => boolean][] = [
          ['client_ip = 10.0.0.0/24', (r) => String(r.client_ip).startsWith('10.0.0.')],
          ['server_port in (443, 8443)', (r) => r.server_port === 443 || r.server_port === 8443],
          ['app ~ "GOO"', (r) => String(r.app ?? '').includes('goo')],
          ['not app ~ goo', (r) => !String(r.app ?? '').includes('goo')],
          ['app = null', (r) => r.app == null],
          ['rtt_ms exists and rtt_ms > 10', (r) => r.rtt_ms != null && Number(r.rtt_ms) > 10],
          [
            'ip = 192.168.0.0/16',
            (r) => String(r.client_ip).startsWith('192.168.') || String(r.server_ip).startsWith('192.168.'),
          ],
          ['client_ip = 2001:db8::/32', (r) => String(r.client_ip).startsWith('2001:db8:')],
          ['client_ip = 2001:db8::1', (r) => r.client_ip === '2001:db8::1'],
          [
            'port != 53 and proto = 17',
            (r) => r.server_port !== 53 && r.client_port !== 53 && r.proto === 17,
          ],
          [
            '(server_port = 80 or server_port = 22) and not client_mac = null',
            (r) => [80, 22].includes(Number(r.server_port)) && r.client_mac != null,
          ],
          [
            `first_ts >= ${new Date(START / 1000 + 86_400_000).toISOString()}`,
            (r) => us(r.first_ts) >= START + 86_400_000_000,
          ],
        ];
        for (const [f, pred] of cases) {
          assert.equal(await store.count('flow', { filter: F(f) }), match(pred), f);
        }
      });

      it('pages with a cursor through every row exactly once, in order', async () => {
        for (const [sort, desc] of [
          [undefined, true],
          ['rtt_ms', false],
          ['client_ip', true],
        ] as const) {
          const seen = new Set<unknown>();
          let cursor: string | null = null;
          let prev: Rec | null = null;
          let pages = 0;
          do {
            const page: Awaited<ReturnType<RecordStore['list']>> = await store.list({
              type: 'flow',
              limit: 700,
              desc,
              ...(sort ? { sort } : {}),
              fields: ['flow_id', 'first_ts', 'rtt_ms', 'client_ip'],
              ...(cursor ? { cursor } : {}),
            });
            for (const r of page.items) {
              assert.ok(!seen.has(r.flow_id), `duplicate row ${r.flow_id} sorting by ${sort}`);
              seen.add(r.flow_id);
              if (prev && sort === undefined) assert.ok(us(prev.first_ts) >= us(r.first_ts));
              if (prev && sort === 'rtt_ms' && prev.rtt_ms !== null && r.rtt_ms !== null) {
                assert.ok(Number(prev.rtt_ms) <= Number(r.rtt_ms));
              }
              prev = r;
            }
            cursor = page.next;
            pages++;
          } while (cursor && pages < 100);
          assert.equal(seen.size, N, `rows seen sorting by ${sort}`);
        }
      });

      it('limits by time range (after inclusive, before exclusive)', async () => {
        const a = START + 86_400_000_000;
        const z = START + 2 * 86_400_000_000;
        const n = await store.count('flow', { after: a, before: z });
        assert.equal(
          n,
          match((r) => us(r.first_ts) >= a && us(r.first_ts) < z),
        );
        const page = await store.list({ type: 'flow', after: a, before: z, limit: 5 });
        for (const r of page.items) assert.ok(us(r.first_ts) >= a && us(r.first_ts) < z);
      });

      it('ranks top values and sums KPI series consistently with the rows', async () => {
        const top = await store.top({ type: 'flow', by: 'bytes', dim: 'server_ip', limit: 3 });
        const sums = new Map<unknown, number>();
        for (const r of data) {
          sums.set(
            r.server_ip,
            (sums.get(r.server_ip) ?? 0) + Number(r.client_wire_bytes) + Number(r.server_wire_bytes),
          );
        }
        const best = [...sums.entries()].sort((x, y) => y[1] - x[1]).slice(0, 3);
        assert.deepEqual(
          top.map((t) => [t.key, t.bytes]),
          best,
        );
        const series = await store.timeseries({ metric: 'flows', step: 3600 });
        const total = series.series[0]!.points.reduce((s, [, v]) => s + Number(v) * 3600, 0);
        assert.ok(Math.abs(total - N) < 0.01, `flows summed over the series: ${total}`);
        const bps = await store.timeseries({ metric: 'bps', step: 86_400, groupBy: 'app', groups: 2 });
        assert.equal(bps.series.length, 3);
        assert.equal(bps.series[2]!.group, 'other');
      });

      it('lists distinct values with first/last time', async () => {
        const d = await store.distinct('flow', 'server_mac', { limit: 5 });
        assert.equal(d.length, 1);
        assert.equal(d[0]!.value, '02:00:00:00:ff:01');
        assert.equal(d[0]!.count, N);
      });

      it('streams every matching row', async () => {
        let n = 0;
        const total = await store.stream({ type: 'flow', filter: F('proto = 6') }, (rows) => {
          n += rows.length;
        });
        assert.equal(total, n);
        assert.equal(
          n,
          match((r) => r.proto === 6),
        );
      });

      it('replaces keyed records (alerts) by key, whichever batch they come in', async () => {
        const ts = Date.UTC(2024, 0, 2);
        const mk = (i: number, count: number) => ({
          ...alertRecordOf(
            { ts: ts + i, category: 'scan', detector: 'test', title: `t${i}`, severity: 50, confidence: 50 },
            'conf',
            `id-${i}`,
          ),
          count,
        });
        await store.append('alert', [mk(1, 1), mk(2, 1), mk(1, 2)]);
        await store.append('alert', [mk(2, 5), mk(3, 1)]);
        const page = await store.list({ type: 'alert', limit: 10, sort: 'alert_id', desc: false });
        assert.deepEqual(
          page.items.map((r) => [r.alert_id, r.count]),
          [
            ['id-1', 2],
            ['id-2', 5],
            ['id-3', 1],
          ],
        );
        assert.equal(await store.count('alert', {}), 3);
      });

      it('answers unknown record types with no rows', async () => {
        assert.deepEqual(await store.list({ type: 'no_such_type', limit: 10 }), { items: [], next: null });
        assert.equal(await store.count('no_such_type', {}), 0);
      });
    };

    describe('exported flows', () => {
      // Collected flows carry one direction's `bytes` and `packets` (no client/server split):
      // a top-N by bytes or packets ranks by them.
      let ex: RecordStore;
      const rows: Rec[] = [];
      const blank = (): Rec => {
        const r: Rec = { type: 'exported_flow' };
        for (const [f, d] of Object.entries(exportedFlowRecord.fields as Record<string, FieldDef>)) {
          if (d.nullable) r[f] = null;
          else if (d.type === 'ts') r[f] = new Date(START / 1000).toISOString();
          else if (d.type === 'ip') r[f] = '192.0.2.1';
          else if (d.type === 'string') r[f] = 'ipfix';
          else r[f] = 0;
        }
        return r;
      };
      for (let i = 0; i < 60; i++) {
        const host = i % 6;
        rows.push({
          ...blank(),
          src_ip: `10.0.0.${host}`,
          // Host 5 sends the most bytes in few packets, host 0 the most packets.
          bytes: host === 5 ? 90_000 : 1000 * (host + 1),
          packets: host === 0 ? 500 : host + 1,
          first_ts: new Date(START / 1000 + i * 1000).toISOString(),
        });
      }
      before(async () => {
        ex = await b.open('exported');
        await ex.append('exported_flow', rows);
      });
      after(async () => {
        await ex.stop();
      });
      it('ranks exported flows by their own bytes and packets', async () => {
        const byBytes = await ex.top({ type: 'exported_flow', by: 'bytes', dim: 'src_ip', limit: 2 });
        assert.deepEqual(
          byBytes.map((t) => [t.key, t.bytes, t.packets, t.flows]),
          [
            ['10.0.0.5', 900_000, 60, 10],
            ['10.0.0.4', 50_000, 50, 10],
          ],
        );
        const byPackets = await ex.top({ type: 'exported_flow', by: 'packets', dim: 'src_ip', limit: 1 });
        assert.deepEqual(
          byPackets.map((t) => [t.key, t.packets]),
          [['10.0.0.0', 5000]],
        );
      });
    });

    describe('flows a mirror kept 1 in N under overload', () => {
      // Such a flow stands for N (`sampling_rate` N, its own counts exact): counts of flows and
      // sums of bytes and packets weigh it N, in top-N and in series, raw or pre-aggregated.
      let sm: RecordStore;
      const base = Date.UTC(2024, 5, 1) * 1000;
      const rows = (
        syntheticFlows(600, { startUs: base, spanUs: 600_000_000, seed: 11 }) as unknown as Rec[]
      ).map(
        (r, i): Rec => ({
          ...r,
          server_ip: `192.0.2.${i % 3}`,
          // Server .2 has a third of the rows, but they stand for 8 flows each.
          sampling_rate: i % 3 === 2 ? 8 : i % 5 === 0 ? 1 : null,
        }),
      );
      const w = (r: Rec): number => Number(r.sampling_rate ?? 1);
      const want = new Map<string, { bytes: number; packets: number; flows: number }>();
      for (const r of rows) {
        const k = String(r.server_ip);
        const e = want.get(k) ?? { bytes: 0, packets: 0, flows: 0 };
        e.bytes += (Number(r.client_wire_bytes) + Number(r.server_wire_bytes)) * w(r);
        e.packets += (Number(r.client_packets) + Number(r.server_packets)) * w(r);
        e.flows += w(r);
        want.set(k, e);
      }
      const ranked = [...want.entries()].sort((x, y) => y[1].flows - x[1].flows);
      const totalFlows = rows.reduce((a, r) => a + w(r), 0);
      const totalBytes = rows.reduce(
        (a, r) => a + (Number(r.client_wire_bytes) + Number(r.server_wire_bytes)) * w(r),
        0,
      );
      before(async () => {
        sm = await b.open('sampled');
        await sm.append('flow', rows);
      });
      after(async () => {
        await sm.stop();
      });
      const byCount = (x: unknown[], y: unknown[]): number =>
        Number(y[1]) - Number(x[1]) || String(x[0]).localeCompare(String(y[0]));
      const check = async (): Promise<void> => {
        // Open range, a range of whole minutes, and one cutting minutes at both ends.
        for (const range of [
          {},
          { after: base, before: base + 600_000_000 },
          { after: base + 1, before: base + 599_999_999 },
        ]) {
          const top = await sm.top({ type: 'flow', by: 'flows', dim: 'server_ip', limit: 3, ...range });
          const inRange = rows.filter((r) => {
            const t = us(r.first_ts);
            return (
              (range.after === undefined || t >= range.after) &&
              (range.before === undefined || t < range.before)
            );
          });
          const flowsOf = (k: string): number =>
            inRange.filter((r) => r.server_ip === k).reduce((a, r) => a + w(r), 0);
          assert.deepEqual(
            // Ties in any order: ranked by count, then by key here.
            top.map((t) => [t.key, t.flows]).sort(byCount),
            ranked.map(([k]) => [k, flowsOf(k)]).sort(byCount),
            JSON.stringify(range),
          );
        }
        const top = await sm.top({ type: 'flow', by: 'bytes', dim: 'server_ip', limit: 3 });
        assert.deepEqual(
          top.map((t) => [t.key, t.bytes, t.packets, t.flows]),
          [...want.entries()]
            .sort((x, y) => y[1].bytes - x[1].bytes)
            .map(([k, e]) => [k, e.bytes, e.packets, e.flows]),
        );
        for (const range of [{}, { after: base, before: base + 600_000_000 }]) {
          const flows = await sm.timeseries({ metric: 'flows', step: 60, ...range });
          const f = flows.series[0]!.points.reduce((a, [, v]) => a + Number(v) * 60, 0);
          assert.ok(Math.abs(f - totalFlows) < 0.01, `flows ${f} vs ${totalFlows} ${JSON.stringify(range)}`);
          const bps = await sm.timeseries({ metric: 'bps', step: 60, ...range });
          const bytes = bps.series[0]!.points.reduce((a, [, v]) => a + (Number(v) * 60) / 8, 0);
          assert.ok(
            Math.abs(bytes - totalBytes) < totalBytes * 1e-6,
            `bytes ${bytes} vs ${totalBytes} ${JSON.stringify(range)}`,
          );
        }
      };
      it('weighs them in top-N and series (live)', check);
      it('weighs them in top-N and series (after compaction)', async () => {
        if (b.compact) await b.compact(sm);
        await check();
      });
    });

    describe('live', checkAll);
    describe('after compaction', () => {
      before(async () => {
        if (b.compact) await b.compact(store);
      });
      checkAll();
    });
    describe('after restart', () => {
      before(async () => {
        await store.stop();
        store = await b.open('main');
      });
      checkAll();
    });
  });
}
