import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eth, ipv4, udp } from '../demo/packets.js';
import { pcapFile } from '../demo/pcap-writer.js';
import type { IngestControl, IngestSummary } from '../store/ingest.js';
import { createJobs } from './jobs.js';

/**
 * The job queue: one job runs at a time, the others wait; cancel before and while running; the
 * per-user and total caps answer 429; finished jobs are forgotten past keepFinished. The ingest
 * reads through the job's own limited reader; a gate holds it so that states are observed
 * deterministically.
 */

const dir = mkdtempSync(join(tmpdir(), 'jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function upload(n = 100): string {
  const pkts = Array.from({ length: n }, (_, i) => ({
    data: Buffer.from(
      eth(0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1000 + i, 53, [1]))),
    ),
    tsSec: 1_700_000_000 + i,
    tsNs: 0,
  }));
  const p = join(dir, `u${seq++}.pcap`);
  writeFileSync(p, pcapFile(pkts));
  return p;
}

/** An ingest that waits for `open()` before reading each job's files through its reader. */
function gatedIngest() {
  const gates: (() => void)[] = [];
  let opened = 0;
  const ingest = async (files: string[], _names: string[], ctl: IngestControl): Promise<IngestSummary> => {
    if (opened === 0) await new Promise<void>((r) => gates.push(r));
    else opened--;
    const s: IngestSummary = {
      files: files.length,
      packets: 0,
      bytes: 0,
      records: { flow: 0 },
      unstored: {},
      weirds: 0,
      errors: [],
      elapsed_s: 0,
    };
    ctl.live?.(s);
    for (const f of files) {
      try {
        const r = await ctl.read!(f, (fr) => {
          s.packets++;
          s.bytes += fr.wirelen;
          s.records.flow!++;
        });
        if (r.error) s.errors.push({ file: f, message: r.error.message });
      } catch (e) {
        const stop = e as { code?: string; message: string };
        if (!stop.code) throw e;
        s.stopped = { code: stop.code, message: stop.message };
        break;
      }
    }
    return s;
  };
  return {
    ingest,
    open(): void {
      const g = gates.shift();
      if (g) g();
      else opened++;
    },
  };
}

const alice = { id: 'a', name: 'alice' };
const bob = { id: 'b', name: 'bob' };

describe('upload jobs', () => {
  it('run one at a time, report what they kept, and remove their files', async () => {
    const g = gatedIngest();
    const jobs = createJobs({}, { ingest: g.ingest });
    jobs.start();
    const f1 = upload(100);
    const j1 = jobs.submit(alice, [f1], ['one.pcap']);
    const j2 = jobs.submit(bob, [upload(50)], ['two.pcap']);
    assert.equal(jobs.get(j1.id)!.state, 'running');
    assert.equal(jobs.get(j2.id)!.state, 'queued');
    g.open();
    const end1 = await jobs.wait(j1.id);
    assert.equal(end1.job.state, 'done');
    assert.deepEqual(end1.job.kept, {
      packets: 100,
      bytes: end1.summary!.bytes,
      records: { flow: 100 },
      weirds: 0,
    });
    assert.equal(end1.job.progress.packets, 100);
    assert.equal(existsSync(f1), false, 'the upload file is removed');
    g.open();
    assert.equal((await jobs.wait(j2.id)).job.kept?.packets, 50);
    assert.deepEqual(
      jobs.list('a').map((j) => j.id),
      [j1.id],
    );
    assert.equal(jobs.list(null).length, 2);
    await jobs.stop();
  });

  it('cancel a queued job at once and a running one at its next chunk', async () => {
    const g = gatedIngest();
    const jobs = createJobs({}, { ingest: g.ingest });
    jobs.start();
    const run = jobs.submit(alice, [upload(20_000)], ['big.pcap']);
    const queued = jobs.submit(bob, [upload(10)], ['small.pcap']);
    const c = jobs.cancel(queued.id)!;
    assert.equal(c.state, 'cancelled');
    assert.equal(c.stopped?.code, 'cancelled');
    assert.equal(jobs.cancel(run.id)!.state, 'running');
    g.open();
    const end = await jobs.wait(run.id);
    assert.equal(end.job.state, 'cancelled');
    assert.equal(end.job.kept?.packets, 0, 'cancelled before its first chunk was read');
    assert.equal(jobs.counters.cancelled, 2);
    await jobs.stop();
  });

  it('answer 429 past the jobs per user and in all, and forget old finished jobs', async () => {
    const g = gatedIngest();
    const jobs = createJobs({ maxJobsPerUser: 2, maxJobs: 3, keepFinished: 2 }, { ingest: g.ingest });
    jobs.start();
    const a1 = jobs.submit(alice, [upload()], ['a1']);
    jobs.submit(alice, [upload()], ['a2']);
    assert.throws(() => jobs.submit(alice, [upload()], ['a3']), {
      status: 429,
      message: /maxJobsPerUser = 2/,
    });
    jobs.submit(bob, [upload()], ['b1']);
    assert.throws(() => jobs.submit(bob, [upload()], ['b2']), { status: 429, message: /maxJobs = 3/ });
    assert.equal(jobs.counters.refused_busy, 2);
    for (let i = 0; i < 3; i++) g.open();
    await jobs.wait(a1.id);
    // A job reads as done before its files are removed and the finished list is trimmed.
    const until = Date.now() + 10_000;
    while (
      (jobs.list(null).some((j) => j.state !== 'done') || jobs.counters.forgotten < 1) &&
      Date.now() < until
    )
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(jobs.list(null).length, 2);
    assert.equal(jobs.get(a1.id), null);
    assert.equal(jobs.counters.forgotten, 1);
    await jobs.stop();
  });

  it('end failed with the limit named, keeping what was read before it', async () => {
    const g = gatedIngest();
    const jobs = createJobs({ maxPackets: 30 }, { ingest: g.ingest });
    jobs.start();
    const j = jobs.submit(alice, [upload(100)], ['x']);
    g.open();
    const end = (await jobs.wait(j.id)).job;
    assert.equal(end.state, 'failed');
    assert.equal(end.stopped?.code, 'max_packets');
    assert.equal(end.kept?.packets, 30);
    assert.match(end.error!, /uploads\.maxPackets = 30/);
    await jobs.stop();
  });
});
