import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateRealistic } from '../../bench/gen-realistic.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { createThreadedPipeline } from '../../src/capture/workers/threaded.js';
import { silentLogger } from '../../src/common/log.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { type IngestSummary, ingestCaptures } from '../../src/store/ingest.js';
import type { Rec, RecordStore } from '../../src/store/types.js';
import { scanAndSshBruteForce } from '../detect/capture-kit.js';
import { T0 } from '../detect/labelled.js';
import { fixture, listCaptures, ROOT } from '../support/fixtures.js';
import { pcapFile } from '../support/pcap-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-ingest-workers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const realistic = join(dir, 'realistic.pcap');
generateRealistic(realistic, {
  packets: 40_000,
  flows: 2_500,
  clients: 400,
  servers: 120,
  seconds: 90,
  seed: 11,
});

/** Every stored row of every type, in the store's own order. Flow ids are drawn at random per flow table. */
async function rows(store: RecordStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const d of store.defs) {
    const list: string[] = [];
    await store.stream({ type: d.type, desc: false }, (rs) => {
      for (const r of rs) {
        const { flow_id: _id, ...rest } = r as Rec;
        list.push(JSON.stringify(rest));
      }
    });
    if (list.length > 0) out[d.type] = list;
  }
  return out;
}

async function ingestInto(
  name: string,
  files: string[],
  workers: number,
  packets: boolean,
): Promise<{
  summary: IngestSummary;
  rows: Record<string, string[]>;
  pcap: Map<string, Buffer>;
  index: Map<number, string>;
}> {
  const data = join(dir, name);
  const store = createEmbeddedStore({ dataDir: data, threads: 1 }, { log: silentLogger });
  await store.start();
  try {
    const summary = await ingestCaptures(store, files, {
      workers,
      // Small batches: many column batches and commits cross the thread boundary.
      batch: 1000,
      ...(packets ? { recorder: { dir: join(data, 'pcap') } } : {}),
    });
    const pcap = new Map<string, Buffer>();
    if (packets)
      for (const f of readdirSync(join(data, 'pcap')))
        if (f.endsWith('.pcap')) pcap.set(f, readFileSync(join(data, 'pcap', f)));
    // Each segment's index, every array but the flow ids (drawn at random per flow table).
    const index = new Map<number, string>();
    if (packets) {
      const ps = await PcapStore.open(join(data, 'pcap'));
      for (const v of ps.views()) {
        const x = ps.index(v.seq);
        assert.ok(x, `segment ${v.seq} has an index`);
        const { flowId: _ids, ...arrays } = x.d;
        index.set(
          v.seq,
          JSON.stringify({
            meta: x.meta,
            arrays: Object.entries(arrays).map(([k, a]) => [k, Array.from(a)]),
          }),
        );
      }
    }
    return { summary, rows: await rows(store), pcap, index };
  } finally {
    await store.stop();
  }
}

const same = (s: IngestSummary) => ({
  packets: s.packets,
  bytes: s.bytes,
  records: s.records,
  unstored: s.unstored,
  weirds: s.weirds,
  errors: s.errors,
  dropped: s.dropped,
  stopped: s.stopped,
  packets_recorded: s.packets_recorded,
});

test('one pipeline worker stores exactly the rows of the inline path, row for row, and records the same packets and index', async () => {
  // Every fixture capture (damaged ones included) and a realistic mix in one ingest (several
  // files through one flow table), and a damaged capture alone (its error and weird).
  const files = [...listCaptures().map(fixture), realistic];
  const runs: [string, string[]][] = [
    ['all', files],
    ['damaged', [fixture('corrupt-record-length-tls.pcap')]],
  ];
  let compared = 0;
  for (const [name, list] of runs) {
    const a = await ingestInto(`${name}-inline`, list, 0, true);
    const b = await ingestInto(`${name}-worker`, list, 1, true);
    assert.equal(a.summary.workers, 0);
    assert.equal(b.summary.workers, 1);
    assert.deepEqual(same(b.summary), same(a.summary), name);
    assert.deepEqual(Object.keys(b.rows).sort(), Object.keys(a.rows).sort(), name);
    for (const [type, want] of Object.entries(a.rows)) {
      assert.deepEqual(b.rows[type], want, `${name}: ${type}`);
      compared += want.length;
    }
    assert.deepEqual([...b.pcap.keys()], [...a.pcap.keys()], name);
    for (const [f, bytes] of a.pcap) assert.ok(bytes.equals(b.pcap.get(f)!), `${name}: ${f} differs`);
    assert.ok(a.index.size > 0);
    assert.deepEqual(b.index, a.index, `${name}: segment indexes differ`);
    assert.equal(b.summary.packets_recorded, b.summary.packets, name);
  }
  assert.ok(compared > 4000, `${compared} rows compared`);
});

test('two pipeline workers: every packet is metered once, and per-flow records are the same as inline', async () => {
  const files = [realistic, fixture('ipv6-mixed-tcp-udp-ssh-dns.pcap'), fixture('vxlan-http.pcap')];
  const a = await ingestInto('two-inline', files, 0, false);
  const b = await ingestInto('two-workers', files, 2, false);
  assert.equal(b.summary.workers, 2);
  assert.equal(b.summary.packets, a.summary.packets);
  assert.equal(b.summary.bytes, a.summary.bytes);
  // Each worker has its own flow-table clock (when closed flows are swept) and its own
  // host-level state (names learned from DNS, host attributes), so flow rows and host records
  // may differ; the packets and bytes the flows account for, and each flow's L7 records, do not.
  const sums = (rs: string[]) => {
    let packets = 0;
    let bytes = 0;
    for (const r of rs.map((x) => JSON.parse(x) as Record<string, number>)) {
      packets += r.client_packets! + r.server_packets!;
      bytes += r.client_wire_bytes! + r.server_wire_bytes!;
    }
    return { packets, bytes };
  };
  assert.deepEqual(sums(b.rows.flow ?? []), sums(a.rows.flow ?? []));
  assert.ok((a.rows.flow?.length ?? 0) > 2000);
  for (const type of ['dns', 'http', 'tls', 'ssh']) {
    assert.ok((a.rows[type]?.length ?? 0) > 0, type);
    assert.deepEqual([...(b.rows[type] ?? [])].sort(), [...(a.rows[type] ?? [])].sort(), type);
  }
});

test('file input through worker threads loses nothing: the reader waits when every batch buffer is in flight', async () => {
  let inline = 0;
  await readCaptureFile(realistic, () => {
    inline++;
  });
  const flows: number[] = [];
  const p = createThreadedPipeline(() => {}, {
    flow: {},
    l7: true,
    workers: 1,
    lossless: true,
    // Small buffers: a 4 MiB read block needs far more of them than are free at once.
    batchBytes: 16 << 10,
    batchPackets: 1 << 16,
    columns: (type, c) => {
      if (type === 'flow') flows.push(c.rows.length);
    },
    columnRows: 500,
  });
  await p.ready;
  let waits = 0;
  const s = await readCaptureFile(realistic, p.onFrame, () => {
    const w = p.between();
    if (w) waits++;
    return w;
  });
  const c = await p.finish();
  assert.equal(s.packets, inline);
  assert.equal(c.frames, inline);
  assert.deepEqual(c.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
  assert.equal(p.buffersGrown, 0);
  assert.ok(waits > 0, 'the reader never waited');
  assert.ok(flows.length > 1 && flows.reduce((x, y) => x + y, 0) > 2000);
});

test('vantage ingest --store: the detectors raise the same alerts with a pipeline worker as on one thread', async () => {
  const kit = scanAndSshBruteForce();
  const attack = join(dir, 'attack.pcap');
  writeFileSync(attack, pcapFile(kit.packets(T0)));
  const alerts = async (workers: string): Promise<string[]> => {
    const data = join(dir, `alerts-${workers}`);
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/vantage.js'), 'ingest', attack, realistic, '--store', data, '--workers', workers],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const store = createEmbeddedStore({ dataDir: data, threads: 1 }, { log: silentLogger });
    await store.start();
    try {
      // Flow ids (in the evidence too) are drawn at random per flow table.
      const out: string[] = [];
      await store.stream({ type: 'alert', desc: false }, (rs) => {
        for (const a of rs)
          out.push(
            JSON.stringify(a, (k, v) => (k === 'flow_id' || k === 'example_flow_ids' ? undefined : v)),
          );
      });
      return out.sort();
    } finally {
      await store.stop();
    }
  };
  const one = await alerts('0');
  assert.ok(one.length >= 2, `${one.length} alerts`);
  assert.deepEqual(await alerts('1'), one);
});
