import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import type { JobView } from '../../src/jobs/jobs.js';
import { eth, ipv4, udp } from '../support/packets.js';
import { pcapFile } from '../support/pcap-writer.js';
import { rawRequest } from './harness.js';
import { samplePcap } from './pcap.js';

/**
 * Uploads as jobs against a real server: 202 and a job to follow, the two decompression bombs of
 * issue 18 stopped by the inflation ratio with bounded RSS and bounded growth of the record and
 * packet stores, the packet limit, 413 before the body for a too-large Content-Length, 422 for
 * what is not a capture, and `?wait=true` for the synchronous answer.
 */

const LIMITS = { maxCompressedBytes: 64 << 20, maxJobsPerUser: 4 };
const GRACE = 64 << 20; // the default ratioGraceBytes

let product: Product;
let admin = '';
let dir = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(uploads: typeof LIMITS & { maxPackets?: number }): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'vantage-jobs-'));
  product = await startProduct({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    uploads,
    log: silentLogger,
    print: (s) => {
      admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
    },
  });
}
async function stop(): Promise<void> {
  await product.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function upload(body: Buffer, type: string, query = '') {
  const r = await fetch(`${product.url}/api/v1/captures${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': type },
    body,
  });
  return {
    status: r.status,
    location: r.headers.get('location'),
    json: (await r.json()) as Record<string, unknown>,
  };
}

/** Follow a job to its end, sampling this process's RSS (the server runs in it). */
async function follow(id: string): Promise<{ job: JobView; peakRss: number }> {
  let peakRss = process.memoryUsage().rss;
  for (;;) {
    const r = await fetch(`${product.url}/api/v1/jobs/${id}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(r.status, 200);
    const job = (await r.json()) as JobView;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (job.state !== 'queued' && job.state !== 'running') return { job, peakRss };
    await sleep(50);
  }
}

function duBytes(d: string): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(d);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = join(d, name);
    const s = statSync(p);
    n += s.isDirectory() ? duBytes(p) : s.size;
  }
  return n;
}

async function storedRows(): Promise<number> {
  let n = 0;
  for (const def of product.store.defs) n += await product.store.count(def.type, {});
  return n;
}

/** Gzip members concatenate into one stream: `head` then `n` copies of `member`. */
function members(head: Buffer, member: Buffer, n: number): Buffer {
  const m = gzipSync(member);
  return Buffer.concat([gzipSync(head), ...Array.from({ length: n }, () => m)]);
}

async function bomb(name: string, body: Buffer) {
  const rows0 = await storedRows();
  const pcap0 = duBytes(join(dir, 'data', 'pcap'));
  const rss0 = process.memoryUsage().rss;
  const up = await upload(body, 'application/gzip');
  assert.equal(up.status, 202, JSON.stringify(up.json));
  const { job, peakRss } = await follow(up.json.id as string);
  const rows = (await storedRows()) - rows0;
  const pcap = duBytes(join(dir, 'data', 'pcap')) - pcap0;
  const secs = (Date.parse(job.finished!) - Date.parse(job.started!)) / 1000;
  console.log(
    `${name}: ${body.length} bytes gzip; ${job.state} (${job.stopped?.code}) after ${secs} s; inflated ${job.progress.inflated_bytes} from ${job.progress.compressed_bytes}; kept ${job.kept?.packets} packets, ${rows} rows, ${pcap} packet-store bytes; RSS +${((peakRss - rss0) / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.equal(job.state, 'failed');
  assert.equal(job.stopped?.code, 'max_inflation_ratio');
  assert.match(job.error!, /uploads\.maxInflationRatio/);
  assert.ok(job.progress.inflated_bytes > GRACE && job.progress.inflated_bytes <= GRACE + (1 << 20));
  assert.ok(job.progress.compressed_bytes < body.length, 'the rest of the upload was never read');
  // The packet store grows by at most the inflated bytes kept; the record store by a bounded few rows.
  assert.ok(pcap <= GRACE + (4 << 20), `packet store grew ${pcap}`);
  assert.ok(rows <= 300, `record store grew ${rows} rows`);
  assert.ok(peakRss - rss0 < 256 * 2 ** 20, `RSS grew ${peakRss - rss0}`);
  return job;
}

describe('uploads as jobs', () => {
  before(() => start(LIMITS));
  after(stop);
  it('answers 202 with a job that ingests the capture and says what it kept', async () => {
    const up = await upload(samplePcap(4, 1_730_000_000).pcap, 'application/octet-stream');
    assert.equal(up.status, 202);
    assert.equal(up.location, `/api/v1/jobs/${up.json.id}`);
    assert.ok(['queued', 'running'].includes(up.json.state as string));
    const { job } = await follow(up.json.id as string);
    assert.equal(job.state, 'done');
    assert.equal(job.kept?.records.flow, 5);
    assert.equal(job.progress.packets, job.kept?.packets);
    assert.equal(job.stopped, null);
    const list = await fetch(`${product.url}/api/v1/jobs`, { headers: { authorization: `Bearer ${admin}` } });
    assert.ok(((await list.json()) as { items: JobView[] }).items.some((j) => j.id === job.id));
  });

  it('bomb 1: a pcap header and 1 GiB of zeros, gzipped, stops at the inflation ratio', async () => {
    const job = await bomb('header + 1 GiB zeros', members(pcapFile([]), Buffer.alloc(1 << 20), 1024));
    // Zero-length records: each is a packet; the weird rows are sampled.
    assert.ok(job.kept!.packets > 4_000_000 / 2);
  });

  it('bomb 2: 130,816 zero-filled 65,535-byte packets, gzipped, stops at the inflation ratio', async () => {
    const rec = Buffer.alloc(16 + 65535);
    rec.writeUInt32LE(65535, 8);
    rec.writeUInt32LE(65535, 12);
    const job = await bomb('130,816 × 65,535 zero bytes', members(pcapFile([]), rec, 130_816));
    assert.ok(job.kept!.packets <= Math.ceil(GRACE / 65551) + 16);
  });
});

describe('the packet limit of an upload', () => {
  before(() => start({ ...LIMITS, maxPackets: 5000 }));
  after(stop);
  it('stops at the packet limit and keeps exactly that many packets', async () => {
    const pkts = Array.from({ length: 6000 }, (_, i) => ({
      data: Buffer.from(
        eth(0x0800, ipv4({ src: '10.9.0.1', dst: '10.9.0.2', proto: 17 }, udp(1000 + i, 53, [1, 2, 3]))),
      ),
      tsSec: 1_730_000_000 + i,
      tsNs: 0,
    }));
    const up = await upload(pcapFile(pkts), 'application/octet-stream');
    const { job } = await follow(up.json.id as string);
    assert.equal(job.state, 'failed');
    assert.equal(job.stopped?.code, 'max_packets');
    assert.equal(job.kept?.packets, 5000);
    assert.equal(job.kept?.records.flow, 5000);
    assert.match(job.error!, /uploads\.maxPackets = 5000/);
  });
});

describe('upload requests', () => {
  before(() => start(LIMITS));
  after(stop);

  it('refuses a too-large Content-Length with 413 before the body, and non-captures with 422', async () => {
    const port = Number(new URL(product.url).port);
    const status = await rawRequest(
      port,
      Buffer.from(
        `POST /api/v1/captures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${LIMITS.maxCompressedBytes * 2}\r\n\r\n`,
      ),
    );
    assert.equal(status, 413);
    for (const [body, why] of [
      [Buffer.from('GIF89a not a capture'), /not a capture: it starts with 0x47494638/],
      [gzipSync(Buffer.alloc(4096)), /\(gzip-compressed\): it starts with 0x00000000/],
      [Buffer.alloc(0), /not a capture: it is empty/],
    ] as const) {
      const r = await upload(body, 'application/octet-stream');
      assert.equal(r.status, 422, JSON.stringify(r.json));
      assert.match(r.json.detail as string, why);
    }
  });

  it('?wait=true answers with the summary (201), or the stopping limit (413) and the job', async () => {
    const ok = await upload(samplePcap(2, 1_731_000_000).pcap, 'application/octet-stream', '?wait=true');
    assert.equal(ok.status, 201);
    assert.equal((ok.json.records as { flow: number }).flow, 3);
    assert.equal((ok.json.job as JobView).state, 'done');
    const rec = Buffer.alloc(16 + 65535);
    rec.writeUInt32LE(65535, 8);
    rec.writeUInt32LE(65535, 12);
    const r = await upload(members(pcapFile([]), rec, 4096), 'application/gzip', '?wait=true');
    assert.equal(r.status, 413, JSON.stringify(r.json));
    assert.equal((r.json.job as JobView).stopped?.code, 'max_inflation_ratio');
  });

  it('a viewer cannot upload or read jobs; an unknown job is 404', async () => {
    const viewer = product.tokens.create('viewer', 'v').token;
    const r = await fetch(`${product.url}/api/v1/jobs`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.equal(r.status, 403);
    const n = await fetch(`${product.url}/api/v1/jobs/job_0000000000000000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(n.status, 404);
  });
});
