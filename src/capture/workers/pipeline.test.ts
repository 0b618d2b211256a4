import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { CaptureKit, dnsMessage, httpRequest, httpResponse } from '../../../test/detect/capture-kit.js';
import { runs } from '../../../test/support/fuzz.js';
import { pcapFile } from '../../../test/support/pcap-writer.js';
import { type HeapReport, threadHeaps } from '../../common/thread-heap.js';
import { Decoder } from '../../decode/decoder.js';
import { createSensor, type SensorRecord } from '../../flow/sensor.js';
import { type Columnar, columnarToRecords } from '../../store/columnar.js';
import { readCaptureFile } from '../capture-file.js';
import { newFrame } from '../frame.js';
import { FlowSamplingMarks } from '../sampling-marks.js';
import { BatchWriter, readBatch } from './batch.js';
import { createInlinePipeline } from './pipeline.js';
import { symmetricFlowHash } from './shard.js';
import { createThreadedPipeline } from './threaded.js';

const fixture = (n: string): string =>
  new URL(`../../../../test/fixtures/pcaps/${n}`, import.meta.url).pathname;

/** Swap source and destination (addresses and ports) of an Ethernet/IPv4/TCP frame in place. */
function swapDirection(b: Buffer): void {
  const ip = 14;
  const s = b.readUInt32BE(ip + 12);
  b.writeUInt32BE(b.readUInt32BE(ip + 16), ip + 12);
  b.writeUInt32BE(s, ip + 16);
  const l4 = ip + (b[ip]! & 0xf) * 4;
  const sp = b.readUInt16BE(l4);
  b.writeUInt16BE(b.readUInt16BE(l4 + 2), l4);
  b.writeUInt16BE(sp, l4 + 2);
}

test('the shard hash is symmetric: both directions of a flow land on the same worker', async () => {
  const d = new Decoder();
  let n = 0;
  await readCaptureFile(fixture('http-methods-many.pcap'), (f) => {
    const b = Buffer.from(f.buf.subarray(f.off, f.off + f.caplen));
    const g = newFrame();
    g.buf = b;
    g.caplen = b.length;
    g.wirelen = b.length;
    const h1 = symmetricFlowHash(d.decode(g));
    swapDirection(b);
    const h2 = symmetricFlowHash(d.decode(g));
    assert.equal(h1, h2);
    n++;
  });
  assert.ok(n > 600);
});

test('the threaded pipeline meters the same flows as the inline one', async () => {
  const files = [
    'http-methods-many.pcap',
    'ipv6-mixed-tcp-udp-ssh-dns.pcap',
    'tcp-retransmissions-http.pcap',
  ];
  const key = (rs: SensorRecord[]): string[] =>
    rs
      .filter((r) => r.type === 'flow')
      .map((r) => {
        const { flow_id: _id, app: _app, ...rest } = r as Record<string, unknown>;
        return JSON.stringify(rest);
      })
      .sort();
  const inline: SensorRecord[] = [];
  const threaded: SensorRecord[] = [];
  const a = createInlinePipeline((r) => inline.push(r), { flow: {}, l7: true });
  const b = createThreadedPipeline((r) => threaded.push(r), {
    flow: {},
    l7: true,
    workers: 2,
    buffersPerWorker: 4096,
  });
  await b.ready;
  for (const f of files) {
    await readCaptureFile(fixture(f), a.onFrame);
    await readCaptureFile(fixture(f), b.onFrame);
  }
  const ca = await a.finish();
  const cb = await b.finish();
  assert.equal(cb.frames, ca.frames);
  assert.deepEqual(cb.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
  assert.deepEqual(key(threaded), key(inline));
});

/** Column rows of `files` (in order) from the inline sensor and from one pipeline worker. */
async function columnRows(
  files: string[],
  columnRows: number,
): Promise<{ inline: string[]; threaded: string[]; objsA: SensorRecord[]; objsB: SensorRecord[] }> {
  const rowsOf = () => {
    const out: string[] = [];
    const columns = (type: string, c: Columnar): void => {
      for (const r of columnarToRecords(c, type)) {
        const { flow_id: _id, ...rest } = r;
        out.push(JSON.stringify(rest));
      }
    };
    return { out, columns };
  };
  const a = rowsOf();
  const b = rowsOf();
  const objsA: SensorRecord[] = [];
  const objsB: SensorRecord[] = [];
  const inline = createInlinePipeline((r) => objsA.push(r), {
    flow: {},
    l7: true,
    columns: a.columns,
    columnRows,
  });
  const threaded = createThreadedPipeline((r) => objsB.push(r), {
    flow: {},
    l7: true,
    workers: 1,
    columns: b.columns,
    columnRows,
  });
  await threaded.ready;
  for (const f of files) {
    await readCaptureFile(f, inline.onFrame);
    await readCaptureFile(f, threaded.onFrame);
  }
  await inline.finish();
  const c = await threaded.finish();
  assert.deepEqual(c.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
  return { inline: a.out, threaded: b.out, objsA, objsB };
}

test('column batches from worker threads carry the same flow, DNS, TLS and HTTP rows as the inline sensor', async () => {
  const files = [
    'dns-udp-many-types-nxdomain.pcap',
    'dns-edns-ecs-dnssec-v4v6.pcap',
    'ipv6-mixed-tcp-udp-ssh-dns.pcap',
    'http-methods-many.pcap',
    'tls12-sni-chrome.pcap',
    'tls13-chrome-kyber-large-clienthello.pcap',
    'quic-chromium-sni.pcap',
  ].map(fixture);
  const { inline, threaded, objsA, objsB } = await columnRows(files, 64);
  // One worker: the same rows in the same order, several batches of each type, JSON columns
  // (DNS answers, TLS lists) included.
  assert.ok(inline.length > 100, `${inline.length} rows`);
  for (const want of ['"qtype_name"', '"answers":[{', '"cipher_suites":[', '"method":"'])
    assert.ok(
      inline.some((r) => r.includes(want)),
      want,
    );
  assert.deepEqual(threaded, inline);
  assert.equal(
    objsA.some((r) => r.type === 'flow' || r.type === 'dns'),
    false,
  );
  assert.deepEqual(
    objsB.map((r) => r.type),
    objsA.map((r) => r.type),
  );
});

test('column batches from worker threads: non-ASCII and long texts, and captures whose batches are of one type', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-pipeline-cols-'));
  try {
    // HTTP with a UTF-8 host, URI and a 30,000-character URI (one dictionary entry of 60 KB of
    // UTF-8); DNS names with bytes above 0x7f.
    const kit = new CaptureKit();
    const requests: [string, string][] = [
      ['bücher.example', '/日本語/ページ?q=ü'],
      ['ascii.example', `/${'ü'.repeat(30_000)}`],
      ['😀.example', '/'],
    ];
    for (const [i, [host, uri]] of requests.entries())
      kit.tcpSession(1 + i, '10.0.0.1', '10.0.0.2', 40_000 + i, 80, {
        req: httpRequest('GET', host, uri),
        resp: httpResponse(200, 'OK', 10),
      });
    for (const [i, name] of ['bücher.example', 'ü.ü', 'plain.example'].entries())
      kit.udp(
        10 + i,
        '10.0.0.1',
        '10.0.0.53',
        50_000 + i,
        53,
        dnsMessage(i, false, name, 1, 0, []),
        dnsMessage(i, true, name, 1, 0, [{ type: 1, data: Buffer.from([10, 0, 0, i]) }]),
      );
    const crafted = join(dir, 'non-ascii.pcap');
    writeFileSync(crafted, pcapFile(kit.packets(1_700_000_000)));
    const r = await columnRows([crafted], 2);
    assert.ok(
      r.inline.some((x) => x.includes('bücher.example')),
      'a non-ASCII host',
    );
    assert.ok(
      r.inline.some((x) => x.includes('ü'.repeat(30_000))),
      'the long URI',
    );
    assert.deepEqual(r.threaded, r.inline);
    // Flows alone (no L7 record), and flows and DNS alone.
    for (const f of ['icmp-echo-pings.pcap', 'dns-udp-many-types-nxdomain.pcap']) {
      const one = await columnRows([fixture(f)], 4096);
      assert.ok(one.inline.length > 0, f);
      assert.deepEqual(one.threaded, one.inline, f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batches: any sequence of frames comes out of a batch as it went in, and damage ends a batch without a crash', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          len: fc.integer({ min: 0, max: 3000 }),
          sec: fc.nat(),
          ns: fc.integer({ min: 0, max: 999_999_999 }),
          wire: fc.integer({ min: 0, max: 70_000 }),
          link: fc.constantFrom(1, 1, 1, 101, 113),
          ifx: fc.constantFrom(0, 0, 1),
          fill: fc.nat(255),
        }),
        { maxLength: 60 },
      ),
      fc.nat(),
      (frames, cut) => {
        const batches: { w: BatchWriter; frames: typeof frames }[] = [];
        let w = new BatchWriter(new ArrayBuffer(8192));
        let cur: typeof frames = [];
        for (const fr of frames) {
          const f = newFrame();
          f.buf = Buffer.alloc(fr.len + 10, fr.fill);
          f.off = 10;
          f.caplen = fr.len;
          f.wirelen = fr.wire;
          f.tsSec = fr.sec;
          f.tsNs = fr.ns;
          f.linkType = fr.link;
          f.ifIndex = fr.ifx;
          if (!w.append(f)) {
            if (w.packets > 0) batches.push({ w, frames: cur });
            w = new BatchWriter(new ArrayBuffer(8192));
            cur = [];
            if (!w.append(f)) continue; // larger than a batch: the pipeline counts it
          }
          cur.push(fr);
        }
        if (w.packets > 0) batches.push({ w, frames: cur });
        for (const { w: b, frames: want } of batches) {
          const got: unknown[] = [];
          const n = readBatch(b.buf, b.used, b.linkType, b.ifIndex, newFrame(), (f) => {
            const bytes = f.buf.subarray(f.off, f.off + f.caplen);
            got.push([
              f.caplen,
              f.tsSec,
              f.tsNs,
              f.wirelen,
              f.linkType,
              f.ifIndex,
              bytes.every((x) => x === (want[got.length]?.fill ?? -1)),
            ]);
          });
          assert.equal(n, want.length);
          assert.deepEqual(
            got,
            want.map((x) => [x.len, x.sec, x.ns, x.wire, x.link, x.ifx, true]),
          );
          // A batch cut anywhere (a damaged length) gives a prefix of its frames and no crash.
          const at = cut % (b.used + 1);
          let m = 0;
          readBatch(b.buf, at, b.linkType, b.ifIndex, newFrame(), (f) => {
            assert.ok(f.off + f.caplen <= at);
            m++;
          });
          assert.ok(m <= want.length);
        }
      },
    ),
    { numRuns: runs(300) },
  );
});

test('overload-sampling factors travel with the batches: the worker puts the same sampling_rate on each flow as the marks on the calling thread', async () => {
  const files = [
    'http-methods-many.pcap',
    'dns-udp-many-types-nxdomain.pcap',
    'ipv6-mixed-tcp-udp-ssh-dns.pcap',
  ];
  // A factor per packet, the same sequence on both sides; a flow takes its first packet's.
  const FACTORS = [1, 2, 4, 8, 16];
  const sequence = (): { factor: number; next(): void } => {
    let i = 0;
    return {
      factor: 1,
      next() {
        this.factor = FACTORS[i++ % FACTORS.length]!;
      },
    };
  };
  const rows =
    (out: string[]) =>
    (type: string, c: Columnar): void => {
      if (type !== 'flow') return;
      for (const r of columnarToRecords(c, type)) {
        const { flow_id: _id, ...rest } = r;
        out.push(JSON.stringify(rest));
      }
    };
  const want: string[] = [];
  const seqA = sequence();
  const marks = new FlowSamplingMarks(seqA);
  const out = rows(want);
  const sensor = createSensor(() => {}, {
    flow: {},
    l7: true,
    hooks: [marks],
    columns: (type, c) => out(type, type === 'flow' ? marks.fillColumns(c) : c),
    columnRows: 64,
  });
  const got: string[] = [];
  const seqB = sequence();
  const threaded = createThreadedPipeline(() => {}, {
    flow: {},
    l7: true,
    workers: 1,
    columns: rows(got),
    columnRows: 64,
    buffersPerWorker: 4096,
    samplingFactor: () => seqB.factor,
  });
  await threaded.ready;
  for (const f of files) {
    await readCaptureFile(fixture(f), (fr) => {
      seqA.next();
      sensor.onFrame(fr);
    });
    await readCaptureFile(fixture(f), (fr) => {
      seqB.next();
      threaded.onFrame(fr);
    });
  }
  sensor.finish();
  const c = await threaded.finish();
  assert.deepEqual(c.drops, { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 });
  assert.ok(want.length > 50);
  const rates = new Set(want.map((r) => (JSON.parse(r) as { sampling_rate: number }).sampling_rate));
  assert.ok(rates.size >= 4, `flows with several factors: ${[...rates].join(',')}`);
  assert.deepEqual(got.sort(), want.sort());
});

test('a pcap file read straight into batches: the worker and the hooks here get the frames the frame path gives, whatever the record sizes, units and damage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-direct-read-'));
  const batchBytes = 4096;
  /** Every packet the hooks on this thread see, as text; the damage the read reports. */
  const through = async (path: string, direct: boolean) => {
    const seen: string[] = [];
    const hook = {
      name: 'probe',
      onPacket(p: {
        tsSec: number;
        tsNs: number;
        caplen: number;
        wirelen: number;
        buf: Buffer;
        frameOff: number;
      }) {
        const b = p.buf.subarray(p.frameOff, p.frameOff + p.caplen);
        seen.push(`${p.tsSec}.${p.tsNs} ${p.caplen}/${p.wirelen} ${b.toString('hex')}`);
      },
    };
    const pl = createThreadedPipeline(() => {}, {
      flow: {},
      l7: false,
      workers: 1,
      lossless: true,
      batchBytes,
      batchPackets: 1 << 16,
      mainHooks: [hook as never],
    });
    await pl.ready;
    const s = direct ? await pl.readFile(path, () => pl.between()) : null;
    assert.equal(
      s === null,
      !direct || !path.endsWith('.le.pcap'),
      'only little-endian pcap is read directly',
    );
    const sum = s ?? (await readCaptureFile(path, pl.onFrame, () => pl.between()));
    pl.endOfFile();
    const c = await pl.finish();
    return { seen, error: sum.error?.message ?? null, frames: c.frames, drops: c.drops };
  };
  try {
    const packet = fc.record({
      len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: batchBytes - 48 - 16 })),
      sec: fc.integer({ min: 0, max: 0xffffffff }),
      frac: fc.oneof(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: 0xffffffff })),
      short: fc.boolean(),
      fill: fc.integer({ min: 0, max: 255 }),
    });
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(packet, { maxLength: 60 }),
        fc.boolean(),
        fc.constantFrom('none', 'truncated', 'corrupt', 'huge'),
        async (pkts, ns, damage) => {
          k++;
          const recs: Buffer[] = [];
          const h = Buffer.alloc(24);
          h.writeUInt32LE(ns ? 0xa1b23c4d : 0xa1b2c3d4, 0);
          h.writeUInt16LE(2, 4);
          h.writeUInt16LE(4, 6);
          h.writeUInt32LE(65535, 16);
          h.writeUInt32LE(1, 20);
          recs.push(h);
          const rec = (len: number, p: { sec: number; frac: number; short: boolean; fill: number }) => {
            const r = Buffer.alloc(16 + len, p.fill);
            r.writeUInt32LE(p.sec, 0);
            r.writeUInt32LE(p.frac, 4);
            r.writeUInt32LE(len, 8);
            r.writeUInt32LE(p.short ? Math.max(0, len - 1) : len + 4, 12);
            return r;
          };
          pkts.forEach((p, i) => {
            // A frame larger than a batch is dropped (and counted) by both paths.
            if (damage === 'huge' && i === 1) recs.push(rec(batchBytes + 10, p));
            recs.push(rec(p.len, p));
          });
          if (damage === 'truncated')
            recs.push(rec(30, pkts[0] ?? { sec: 1, frac: 2, short: false, fill: 1 }).subarray(0, 20));
          if (damage === 'corrupt') {
            const r = Buffer.alloc(16);
            r.writeUInt32LE(300_000, 8);
            recs.push(r, Buffer.alloc(40));
          }
          const path = join(dir, `c${k}.le.pcap`);
          writeFileSync(path, Buffer.concat(recs));
          const a = await through(path, false);
          const b = await through(path, true);
          assert.deepEqual(b, a);
          assert.equal(a.frames, pkts.length);
          if (damage === 'huge') assert.equal(a.drops.frame_too_large, pkts.length > 1 ? 1 : 0);
        },
      ),
      { numRuns: runs(25) },
    );
    // Other kinds of file are left to the frame path.
    const be = join(dir, 'be.pcap');
    writeFileSync(be, pcapFile([{ data: Buffer.alloc(60, 7), tsSec: 1, tsNs: 2000 }], { be: true }));
    assert.deepEqual(await through(be, true), await through(be, false));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pcap file read straight into batches queues up to the pool less two ahead of the worker, never more, and every batch is processed by the end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-direct-queue-'));
  try {
    // 1 MiB batches: a pool of 44. Far more batches than that in the file.
    const batchBytes = 1 << 20;
    const packets = 64 * 700;
    const recs: Buffer[] = [];
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(1, 20);
    recs.push(h);
    for (let i = 0; i < packets; i++) {
      const r = Buffer.alloc(16 + 1500, i & 0xff);
      r.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), 0);
      r.writeUInt32LE((i % 1000) * 1000, 4);
      r.writeUInt32LE(1500, 8);
      r.writeUInt32LE(1500, 12);
      recs.push(r);
    }
    const path = join(dir, 'many.pcap');
    writeFileSync(path, Buffer.concat(recs));
    const run = async (wait: boolean) => {
      let seen = 0;
      let last = -1;
      let ordered = true;
      const hook = {
        name: 'probe',
        onPacket(p: { tsSec: number; tsNs: number }) {
          const k = (p.tsSec - 1_700_000_000) * 1000 + p.tsNs / 1e6;
          if (k !== last + 1) ordered = false;
          last = k;
          seen++;
        },
      };
      const pl = createThreadedPipeline(() => {}, {
        flow: {},
        l7: false,
        workers: 1,
        lossless: true,
        batchBytes,
        batchPackets: 1 << 16,
        mainHooks: [hook as never],
      });
      await pl.ready;
      const s = await pl.readFile(path, wait ? () => pl.between() : () => undefined);
      const c = await pl.finish();
      return { s, c, pl, seen, ordered };
    };
    const a = await run(true);
    assert.equal(a.s?.packets, packets);
    assert.equal(a.c.frames, packets, 'every batch reached the worker before finish resolved');
    assert.equal(a.seen, packets, 'every batch came back to the hooks here');
    assert.ok(a.ordered, 'in file order');
    assert.equal(a.pl.buffersGrown, 0, 'the reader waited before the pool ran out');
    // The reader holds the next buffer while it waits for two free: at most pool - 1 out.
    assert.ok(a.pl.peakInFlight <= a.pl.pool - 1, `${a.pl.peakInFlight} of ${a.pl.pool}`);
    // The reader runs until it has to wait (this thread takes buffers back only then): it waits
    // with fewer than two free, not with fewer than a read block's worth (18 at 1 MiB).
    assert.ok(a.pl.peakInFlight >= a.pl.pool - 3, `${a.pl.peakInFlight} of ${a.pl.pool}`);
    // A reader that never waits grows the pool (the bound above is the wait's doing).
    const b = await run(false);
    assert.equal(b.c.frames, packets);
    assert.ok(b.pl.buffersGrown > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pipeline worker reports its heap to the memory trace, within the young generation it was given, and is forgotten when it ends', async () => {
  const seen: HeapReport[] = [];
  let name = '';
  const p = createThreadedPipeline(() => {}, {
    flow: {},
    l7: true,
    workers: 1,
    buffersPerWorker: 4096,
    youngMb: 12,
    onRoom: () => {
      for (const [k, h] of Object.entries(threadHeaps()))
        if (k.startsWith('pipeline ')) {
          name = k;
          seen.push(h);
        }
    },
  });
  await p.ready;
  await readCaptureFile(fixture('http-methods-many.pcap'), p.onFrame);
  await p.finish();
  assert.ok(seen.length > 0, 'a report came with the returned batches');
  for (const h of seen) {
    assert.ok(h.used > 0 && h.total >= h.used, JSON.stringify(h));
    // 12 MB of young generation: semi-spaces of 4 MiB, a new space of at most 8 MiB.
    assert.ok(h.young > 0 && h.young <= 8 * 2 ** 20, `young ${h.young}`);
    assert.ok(h.external >= 0);
  }
  for (let i = 0; i < 50 && name in threadHeaps(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(name in threadHeaps(), false, 'the ended worker is forgotten');
});

test("hooks on this thread that are idle (a broker with no target) skip the worker's batches undecoded, and still see the right flows once they are not", async () => {
  const path = fixture('ipv6-mixed-tcp-udp-ssh-dns.pcap');
  /** Every packet the hook sees with its flow's id and Community ID; idle for the first batches. */
  const through = async (idleBatches: number) => {
    const seen: string[] = [];
    let batches = 0;
    let skipped = 0;
    const hook = {
      name: 'probe',
      onPacket(
        p: { tsSec: number; tsNs: number },
        flows: { flowId(s: number): number; communityId(s: number): string },
        slot: number,
      ) {
        seen.push(
          `${p.tsSec}.${p.tsNs} ${slot < 0 ? '-' : `${flows.flowId(slot)} ${flows.communityId(slot)}`}`,
        );
      },
      idle: () => batches++ < idleBatches,
      skipped(n: number) {
        skipped += n;
      },
    };
    const pl = createThreadedPipeline(() => {}, {
      flow: {},
      l7: false,
      workers: 1,
      lossless: true,
      batchBytes: 2048,
      batchPackets: 1 << 16,
      mainHooks: [hook as never],
    });
    await pl.ready;
    await readCaptureFile(path, pl.onFrame, () => pl.between());
    pl.endOfFile();
    const c = await pl.finish();
    return { seen, skipped, batches, frames: c.frames };
  };
  const all = await through(0);
  assert.ok(all.batches > 8, `${all.batches} batches`);
  assert.equal(all.skipped, 0);
  assert.equal(all.seen.length, all.frames);
  const part = await through(4);
  assert.ok(part.skipped > 0, 'the idle batches were skipped');
  assert.equal(part.skipped + part.seen.length, all.frames, 'every packet seen or counted as skipped');
  // The flows first announced in the skipped batches keep their ids in the batches after.
  // Flow ids differ from run to run (each table draws its own): the same packets have the same
  // Community IDs, and one run's ids map one to one onto the other's.
  const rest = all.seen.slice(part.skipped);
  const cut = (s: string) => s.split(' ');
  assert.deepEqual(
    part.seen.map((s) => `${cut(s)[0]} ${cut(s)[2]}`),
    rest.map((s) => `${cut(s)[0]} ${cut(s)[2]}`),
  );
  const ids = new Map<string, string>();
  const back = new Map<string, string>();
  rest.forEach((s, i) => {
    const a = cut(s)[1]!;
    const b = cut(part.seen[i]!)[1]!;
    assert.equal(ids.get(a) ?? b, b, `packet ${i}: flow ${a} is one flow in both runs`);
    assert.equal(back.get(b) ?? a, a, `packet ${i}: flow ${b} is one flow in both runs`);
    ids.set(a, b);
    back.set(b, a);
  });
  const before = new Set(all.seen.slice(0, part.skipped).map((s) => cut(s)[2]));
  assert.ok(
    part.seen.some((s) => before.has(cut(s)[2])),
    'a flow that began while idle is seen after',
  );
});
