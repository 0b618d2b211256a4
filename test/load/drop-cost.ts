/**
 * What a record the collector cannot keep costs, in CPU: `node dist/test/load/drop-cost.js [datagrams]`.
 *
 *  1. One thread, the load generator's IPFIX (30 records a datagram): a full decode of each
 *     datagram against counting its records from the headers (what a drop does now).
 *  2. The collector as `vantage start` runs it (the decode thread receives with the addon, a
 *     disk spool), fed by the paced sender at a rate above what it keeps: with the store never
 *     acknowledging, the spool fills and every further datagram is dropped at it; against the
 *     same datagrams all decoded. CPU-s of the process less the sender's thread, per record.
 * Figures are CPU time (shared machine: wall time would measure the neighbours).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportGen } from '../../bench/collect.js';
import { countRecords } from '../../src/collect/count.js';
import { CollectDecoder } from '../../src/collect/decoder.js';
import { createCollector } from '../../src/collect/receiver.js';
import { send } from './sender.js';

const N = Number(process.argv[2]) || 200_000;
const PER = 30;
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function inThread(): void {
  const gen = new ExportGen(10);
  const dgs = Array.from({ length: 4096 }, () => gen.next());
  let emitted = 0;
  const d = new CollectDecoder({}, () => emitted++);
  for (const g of dgs) d.decode(g, 0, g.length, '127.0.0.1', 1, Date.now());
  let c0 = cpu();
  for (let i = 0; i < N; i++) {
    const g = dgs[i & 4095]!;
    d.decode(g, 0, g.length, '127.0.0.1', 1, Date.now());
  }
  const decodeS = cpu() - c0;
  c0 = cpu();
  let counted = 0;
  for (let i = 0; i < N; i++) {
    const g = dgs[i & 4095]!;
    counted += countRecords(d, g, 0, g.length, '127.0.0.1');
  }
  const countS = cpu() - c0;
  process.stdout.write(
    `one thread, ${N} datagrams (${N * PER} records): full decode ${decodeS.toFixed(2)} CPU-s = ${((decodeS / (N * PER)) * 1e9).toFixed(0)} ns a record; counting from the headers ${countS.toFixed(3)} CPU-s = ${((countS / (N * PER)) * 1e9).toFixed(1)} ns a record (${counted} counted)\n`,
  );
}

async function collector(mode: 'drop' | 'decode'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-drop-'));
  let records = 0;
  const c = createCollector(
    {
      host: '127.0.0.1',
      udpPorts: [0],
      tcpPorts: [],
      receiveInWorker: true,
      recvBufferSize: 32 * 2 ** 20,
      workerNice: 0,
      // drop: 1 MiB of spool, and the store never acknowledges (settled 0): it is full after
      // ~800 datagrams and every further one is refused. decode: no spool, everything decoded.
      spool: mode === 'drop' ? { dir, maxBytes: 2 ** 20, aheadRecords: 3000 } : null,
      maxQueue: 1 << 20,
    },
    {
      sink: () => {},
      sinkColumns: (f) => {
        records += f.rows.length;
      },
      ...(mode === 'drop' ? { settled: () => 0 } : {}),
    },
  );
  await c.start();
  const port = c.addresses().udp[0]!;
  // Fill the spool first, so that the measured datagrams are all dropped.
  if (mode === 'drop') await send({ kind: 'ipfix', port, rate: 20_000, seconds: 0.2, nice: 0 });
  await new Promise((r) => setTimeout(r, 500));
  const before = c.stats();
  const c0 = cpu();
  const sent = await send({ kind: 'ipfix', port, rate: 40_000, seconds: N / 40_000, nice: 0 });
  for (let t = 0; t < 100; t++) {
    const s = c.stats();
    if (s.received - before.received + (s.socketDrops - before.socketDrops) >= sent.datagrams) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const used = cpu() - c0 - (sent.cpuSeconds ?? 0);
  const s = c.stats();
  const dropped = (s.spool?.full ?? 0) - (before.spool?.full ?? 0);
  const droppedRecords = (s.spool?.fullRecords ?? 0) - (before.spool?.fullRecords ?? 0);
  const kept = mode === 'drop' ? dropped : s.totals.datagrams - before.totals.datagrams;
  process.stdout.write(
    `collector, ${mode === 'drop' ? 'dropped at the full spool' : 'all decoded'}: ${sent.datagrams} datagrams sent, ${kept} ${mode === 'drop' ? `dropped (${droppedRecords} records counted)` : `decoded (${records} records)`}, socket drops ${s.socketDrops - before.socketDrops}; ${used.toFixed(2)} CPU-s beside the sender = ${((used / Math.max(1, kept * PER)) * 1e9).toFixed(0)} ns a record\n`,
  );
  await c.stop();
  rmSync(dir, { recursive: true, force: true });
}

inThread();
await collector('decode');
await collector('drop');
