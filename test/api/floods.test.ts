import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { MAX_FRAGMENT_TRAINS } from '../../src/flow/flow-table.js';
import { createSensor, type SensorRecord } from '../../src/flow/sensor.js';
import { eth, ipv4, tcp } from '../support/packets.js';
import { pcapFile, type TestPacket } from '../support/pcap-writer.js';

/**
 * Hostile state floods through the full sensor (flow table, TCP streams, every L7 analyzer), as
 * an upload would run them: 100,000 concurrent half-open TCP streams each holding an unfinished
 * HTTP request, and 300,000 IP fragments whose first fragment never comes, all within one second
 * so no timeout helps. Each ends with the counters that say what was kept and dropped, with RSS
 * under the bound stated.
 */

const dir = mkdtempSync(join(tmpdir(), 'floods-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_733_000_000;

async function run(pkts: TestPacket[]) {
  const path = join(dir, `f${pkts.length}.pcap`);
  writeFileSync(path, pcapFile(pkts));
  pkts.length = 0; // let the packets go before measuring
  const records: Record<string, number> = {};
  const sensor = createSensor((r: SensorRecord) => {
    records[r.type] = (records[r.type] ?? 0) + 1;
  });
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let n = 0;
  await readCaptureFile(path, (f) => {
    sensor.onFrame(f);
    if ((++n & 0x3fff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
  });
  const active = sensor.flows.activeFlows;
  peak = Math.max(peak, process.memoryUsage().rss);
  const c = sensor.finish();
  return { c, records, active, stats: sensor.flows.stats, rssGrowth: peak - rss0 };
}

describe('state floods stay bounded and counted', () => {
  it('100,000 concurrent half-open TCP streams with unfinished HTTP requests', async () => {
    const N = 100_000;
    const pkts: TestPacket[] = [];
    const req = [...Buffer.from('GET /a-request-that-never-ends HTTP/1.1\r\nHost: victim\r\nX-Pad: ')];
    for (let i = 0; i < N; i++) {
      const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const ts = T0 + i / N;
      const syn = eth(
        0x0800,
        ipv4({ src, dst: '192.0.2.80', proto: 6 }, tcp({ sport: 40000, dport: 80, seq: 1000, flags: 0x02 })),
      );
      // Data without the handshake completing: the HTTP parser holds the partial request.
      const data = eth(
        0x0800,
        ipv4(
          { src, dst: '192.0.2.80', proto: 6 },
          tcp({ sport: 40000, dport: 80, seq: 1001, flags: 0x18 }, req),
        ),
      );
      pkts.push({ data: Buffer.from(syn), tsSec: Math.floor(ts), tsNs: Math.round((ts % 1) * 1e9) });
      pkts.push({ data: Buffer.from(data), tsSec: Math.floor(ts), tsNs: Math.round((ts % 1) * 1e9) + 1 });
    }
    const r = await run(pkts);
    console.log(
      `half-open: ${r.active} flows open at once, ${r.records.flow} flow records, ${r.records.weird ?? 0} weird rows, RSS +${(r.rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(r.c.frames, 2 * N);
    assert.equal(r.active, N, 'every stream is open at once');
    assert.equal(r.records.flow, N, 'each ends as one flow record at the end of the capture');
    assert.equal(r.stats.flowsCreated, N);
    assert.ok(r.rssGrowth < 512 * 2 ** 20, `RSS grew ${r.rssGrowth}`);
  });

  it('300,000 fragments whose first fragment never comes', async () => {
    const N = 300_000;
    const pkts: TestPacket[] = [];
    for (let i = 0; i < N; i++) {
      const src = `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`;
      const ts = T0 + i / N;
      const frag = eth(
        0x0800,
        ipv4(
          { src, dst: '192.0.2.53', proto: 17, id: i & 0xffff, mf: true, fragOffset: 185 },
          new Array(64).fill(0x41),
        ),
      );
      pkts.push({ data: Buffer.from(frag), tsSec: Math.floor(ts), tsNs: Math.round((ts % 1) * 1e9) });
    }
    const r = await run(pkts);
    console.log(
      `fragments: ${r.stats.fragmentsOrphaned} orphaned, ${r.stats.fragmentTrainsEvicted} trains evicted at the cap of ${MAX_FRAGMENT_TRAINS}, ${r.records.weird ?? 0} weird rows, RSS +${(r.rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(r.c.frames, N);
    assert.equal(r.stats.fragmentTrainsEvicted, N - MAX_FRAGMENT_TRAINS);
    assert.equal(r.stats.fragmentsOrphaned, N, 'every fragment is counted as never attributed');
    assert.equal(r.stats.fragmentsAttributed, 0);
    assert.ok((r.records.weird ?? 0) <= 200, 'weird rows are sampled');
    assert.ok(r.rssGrowth < 256 * 2 ** 20, `RSS grew ${r.rssGrowth}`);
  });
});
