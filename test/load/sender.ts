/**
 * A paced loopback sender on its own thread: IPFIX (30 records per datagram, the bench's
 * generator) or VXLAN-mirrored frames of a capture. Reports what the kernel accepted: the
 * independent truth the accounting is checked against.
 */
import dgram from 'node:dgram';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ExportGen } from '../../bench/collect.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { threadCpuSeconds } from '../../src/capture/workers/thread-cpu.js';
import { niceThread } from '../../src/common/priority.js';

export interface SendJob {
  kind: 'ipfix' | 'vxlan';
  port: number;
  /** Datagrams per second (0: as fast as possible). */
  rate: number;
  seconds: number;
  /** VXLAN: the capture whose frames are mirrored (looped). */
  capture?: string;
  /**
   * Nice value of the sending thread (0, the default, leaves it). The soak runs its senders at
   * 19: they stand in for exporters and mirror sources on other machines, which take nothing
   * from Vantage's cores. Here they share two cores with it, and loopback charges the kernel's
   * delivery of each datagram to the sender: at normal priority they would take CPU from the
   * thread that answers the API, which a real deployment never sees. Niced, they take the
   * cores' idle time; what they cannot send in time shows as a lower `datagrams` (the truth
   * the accounting uses).
   */
  nice?: number;
}

export interface Sent {
  datagrams: number;
  errors: number;
  seconds: number;
  /** CPU-s the sending thread used (kernel delivery on loopback included). */
  cpuSeconds?: number;
}

async function run(job: SendJob): Promise<Sent> {
  if (job.nice) niceThread(job.nice);
  const cpu0 = threadCpuSeconds();
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  let next: () => Buffer;
  if (job.kind === 'ipfix') {
    const gen = new ExportGen(10);
    next = () => gen.next();
  } else {
    const frames: Buffer[] = [];
    await readCaptureFile(job.capture!, (f) => {
      if (f.linkType !== 1) return; // VXLAN carries Ethernet
      const b = Buffer.alloc(8 + f.caplen);
      b[0] = 0x08; // VNI present
      b.writeUIntBE(42, 4, 3);
      f.buf.copy(b, 8, f.off, f.off + f.caplen);
      frames.push(b);
    });
    let i = 0;
    next = () => frames[i++ % frames.length]!;
  }
  let sent = 0;
  let ok = 0;
  let errors = 0;
  const total = job.rate > 0 ? Math.floor(job.rate * job.seconds) : Number.POSITIVE_INFINITY;
  const t0 = Date.now();
  await new Promise<void>((done) => {
    const cb = (e: Error | null): void => {
      if (e) errors++;
      else ok++;
    };
    const tick = (): void => {
      const el = (Date.now() - t0) / 1000;
      const target = job.rate > 0 ? Math.min(Math.floor(job.rate * el), total) : sent + 2000;
      while (sent < target) {
        sent++;
        s.send(next(), job.port, '127.0.0.1', cb);
      }
      if (el < job.seconds && sent < total) setTimeout(tick, 2);
      else {
        const wait = (): void => {
          if (ok + errors >= sent) done();
          else setTimeout(wait, 5);
        };
        wait();
      }
    };
    tick();
  });
  s.close();
  return { datagrams: ok, errors, seconds: (Date.now() - t0) / 1000, cpuSeconds: threadCpuSeconds() - cpu0 };
}

if (!isMainThread && (workerData as { loadSender?: SendJob } | null)?.loadSender)
  void run((workerData as { loadSender: SendJob }).loadSender).then((r) => parentPort!.postMessage(r));

/** Run a job on its own thread. */
export function send(job: SendJob): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { loadSender: job } });
    w.once('message', (r: Sent) => {
      resolve(r);
      void w.terminate();
    });
    w.once('error', reject);
  });
}
