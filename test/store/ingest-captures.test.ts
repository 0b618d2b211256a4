import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateRealistic } from '../../bench/gen-realistic.js';
import type { Analyzer } from '../../src/analyze/types.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { silentLogger } from '../../src/common/log.js';
import { createSensor } from '../../src/flow/sensor.js';
import type { Columnar } from '../../src/store/columnar.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { ingestCaptures } from '../../src/store/ingest.js';
import type { Rec } from '../../src/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-ingest-captures-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ingestCaptures stores while it reads: the first batch is durable before the file ends, and no record is lost', async () => {
  // ~20 MB: several read blocks of the capture reader, thousands of records.
  const pcap = join(dir, 'realistic.pcap');
  const made = generateRealistic(pcap, {
    packets: 30_000,
    flows: 2_000,
    clients: 300,
    servers: 100,
    seconds: 60,
  });
  const store = createEmbeddedStore({ dataDir: join(dir, 'data'), threads: 1 }, { log: silentLogger });
  await store.start();
  let packetsSeen = 0;
  const counter: Analyzer = {
    name: 'count',
    onPacket: () => {
      packetsSeen++;
      return undefined;
    },
  };
  const appendedAt: number[] = [];
  let held = 0;
  let maxHeld = 0;
  const appended: Record<string, number> = {};
  // The real store, with the packets read so far noted at each append.
  const watched = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append')
        return async (type: string, recs: readonly Rec[]) => {
          appendedAt.push(packetsSeen);
          held += recs.length;
          maxHeld = Math.max(maxHeld, held);
          await target.append(type, recs);
          held -= recs.length;
          appended[type] = (appended[type] ?? 0) + recs.length;
        };
      if (prop === 'appendColumns')
        return async (type: string, c: Columnar) => {
          appendedAt.push(packetsSeen);
          held += c.rows.length;
          maxHeld = Math.max(maxHeld, held);
          await target.appendColumns(type, c);
          held -= c.rows.length;
          appended[type] = (appended[type] ?? 0) + c.rows.length;
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  try {
    const s = await ingestCaptures(watched, [pcap], { batch: 100, hooks: [counter] });
    assert.equal(s.packets, made.packets);
    assert.ok(appendedAt.length > 4, `${appendedAt.length} appends`);
    assert.ok(
      appendedAt[0]! < made.packets / 2,
      `the first append waited for ${appendedAt[0]} of ${made.packets} packets`,
    );
    // what the summary says was stored is what the store holds
    for (const [type, n] of Object.entries(s.records)) {
      assert.equal(appended[type], n, type);
      assert.equal(await store.count(type, {}), n, type);
    }
    assert.ok(maxHeld <= 100, `at most one batch in the store's hands at once (${maxHeld})`);
  } finally {
    await store.stop();
  }
});

test('flow and DNS rows stored from the column path equal those stored from record objects, field for field', async () => {
  const pcap = join(dir, 'realistic-small.pcap');
  generateRealistic(pcap, {
    packets: 20_000,
    flows: 1_500,
    clients: 600,
    servers: 200,
    seconds: 60,
    seed: 7,
  });
  const cols = createEmbeddedStore({ dataDir: join(dir, 'cols'), threads: 1 }, { log: silentLogger });
  const objs = createEmbeddedStore({ dataDir: join(dir, 'objs'), threads: 1 }, { log: silentLogger });
  await cols.start();
  await objs.start();
  try {
    const s = await ingestCaptures(cols, [pcap], { batch: 500 });
    // The object path, as `vantage ingest` prints it, appended as records.
    const recs: Rec[] = [];
    const dns: Rec[] = [];
    const sensor = createSensor((r) => {
      if (r.type === 'flow') recs.push(r as Rec);
      if (r.type === 'dns') dns.push(r as Rec);
    });
    await readCaptureFile(pcap, sensor.onFrame);
    sensor.finish();
    await objs.append('flow', recs);
    await objs.append('dns', dns);
    assert.equal(s.records.flow, recs.length);
    assert.equal(s.records.dns, dns.length);
    assert.ok(dns.length > 300, `${dns.length} DNS records`);
    const all = async (st: typeof cols, type = 'flow'): Promise<Rec[]> => {
      const out: Rec[] = [];
      await st.stream({ type, desc: false }, (rows) => {
        for (const r of rows) {
          const { flow_id: _, ...rest } = r;
          out.push(rest);
        }
      });
      const key = (r: Rec) =>
        `${r.first_ts ?? r.ts}|${r.community_id}|${r.end_reason ?? r.trans_id}|${r.last_ts ?? r.status}`;
      return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    };
    const a = await all(cols);
    const b = await all(objs);
    assert.equal(a.length, recs.length);
    assert.ok(
      a.some((r) => typeof r.client_ip === 'string' && r.client_ip.includes(':')),
      'IPv6 rows',
    );
    assert.ok(
      a.some((r) => r.vlan !== null),
      'VLAN rows',
    );
    assert.ok(
      a.some((r) => r.app !== null),
      'rows with an application',
    );
    assert.deepEqual(a, b);
    assert.deepEqual(await all(cols, 'dns'), await all(objs, 'dns'));
  } finally {
    await cols.stop();
    await objs.stop();
  }
});

test("the tick (a memory trace's samples) runs between the reader's blocks while the file is read, on both paths", async () => {
  const pcap = join(dir, 'ticks.pcap');
  const made = generateRealistic(pcap, {
    packets: 10_000,
    flows: 600,
    clients: 100,
    servers: 40,
    seconds: 30,
  });
  let packetsSeen = 0;
  const counter: Analyzer = {
    name: 'count',
    onPacket: () => {
      packetsSeen++;
      return undefined;
    },
  };
  for (const workers of [0, 1]) {
    const store = createEmbeddedStore(
      { dataDir: join(dir, `ticks-${workers}`), threads: 1 },
      { log: silentLogger },
    );
    await store.start();
    const seenAt: number[] = [];
    try {
      packetsSeen = 0;
      const s = await ingestCaptures(store, [pcap], {
        workers,
        // a packet hook keeps the ingest on this thread: only the inline path can count here
        ...(workers === 0 ? { hooks: [counter] } : {}),
        tick: () => {
          seenAt.push(packetsSeen);
          return seenAt.length % 2 === 0 ? new Promise<void>((r) => setImmediate(r)) : undefined;
        },
      });
      assert.equal(s.packets, made.packets);
      assert.ok(seenAt.length >= 4, `workers ${workers}: ${seenAt.length} ticks`);
      if (workers === 0)
        assert.ok(
          seenAt[0]! < made.packets / 2,
          `the first tick after ${seenAt[0]} of ${made.packets} packets`,
        );
    } finally {
      await store.stop();
    }
  }
});

test('ingestCaptures with `after` (the store opening): nothing is recorded or stored before it settles, and its rejection is thrown with no packet written', async () => {
  const pcap = join(dir, 'after.pcap');
  generateRealistic(pcap, { packets: 6_000, flows: 400, clients: 60, servers: 20, seconds: 20, seed: 5 });
  const segments = (d: string): string[] => {
    try {
      return readdirSync(d).filter((f) => f.endsWith('.pcap'));
    } catch {
      return [];
    }
  };
  /** A while after the ingest began, with the store not open yet: no segment in its packet store. */
  const nothingRecordedYet = async (storeDir: string, workers: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      segments(join(storeDir, 'pcap')),
      [],
      `workers ${workers}: recorded before the store opened`,
    );
  };
  for (const workers of [0, 1]) {
    // Rejected: no segment may appear (a store held by a running server shares its packet store).
    const failDir = join(dir, `after-fail-${workers}`);
    const failing = createEmbeddedStore({ dataDir: failDir, threads: 1 }, { log: silentLogger });
    let release: (e: Error) => void = () => {};
    const opening = new Promise<void>((_, reject) => {
      release = reject;
    });
    const run = ingestCaptures(failing, [pcap], {
      workers,
      recorder: { dir: join(failDir, 'pcap') },
      after: opening,
    });
    await nothingRecordedYet(failDir, workers);
    release(new Error('database is locked'));
    await assert.rejects(run, /database is locked/, `workers ${workers}`);
    assert.deepEqual(segments(join(failDir, 'pcap')), [], `workers ${workers}`);

    // Resolved late: everything is read, recorded and stored once it is.
    const okDir = join(dir, `after-ok-${workers}`);
    const store = createEmbeddedStore({ dataDir: okDir, threads: 1 }, { log: silentLogger });
    let open: () => void = () => {};
    const opened = new Promise<void>((r) => {
      open = r;
    });
    let appendsBeforeOpen = 0;
    let isOpen = false;
    const watched = new Proxy(store, {
      get(t, prop, recv) {
        if (prop === 'append' || prop === 'appendColumns')
          return (...a: unknown[]) => {
            if (!isOpen) appendsBeforeOpen++;
            return (t[prop] as (...x: unknown[]) => Promise<void>)(...a);
          };
        const v = Reflect.get(t, prop, recv) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(t) : v;
      },
    });
    const done = ingestCaptures(watched, [pcap], {
      workers,
      recorder: { dir: join(okDir, 'pcap') },
      after: opened,
    });
    await nothingRecordedYet(okDir, workers);
    await store.start();
    isOpen = true;
    open();
    const s = await done;
    try {
      assert.equal(appendsBeforeOpen, 0);
      assert.ok(s.packets > 5_900, `${s.packets} packets`);
      assert.equal(s.packets_recorded, s.packets);
      assert.ok((s.records.flow ?? 0) >= 400, `workers ${workers}: ${s.records.flow} flows`);
      assert.ok(segments(join(okDir, 'pcap')).length > 0);
    } finally {
      await store.stop();
    }
  }
});
