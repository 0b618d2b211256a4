import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { UserError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import { type IngestControl, IngestStop, type IngestSummary } from '../store/ingest.js';
import { type UploadLimits, uploadLimits } from './limits.js';
import { type ReadCounters, readCaptureLimited, type StopSignal } from './reader.js';

/**
 * Capture uploads as jobs: the request stores the upload and returns at once; the jobs run one
 * at a time off the request, within the upload limits, and report progress, what was kept and
 * why they stopped. Finished jobs are kept (up to `keepFinished`) for their owners to read.
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobView {
  id: string;
  kind: 'capture_upload';
  state: JobState;
  /** Token id and name of who submitted it. */
  owner: { id: string; name: string };
  files: string[];
  created: string;
  started: string | null;
  finished: string | null;
  progress: {
    compressed_bytes: number;
    inflated_bytes: number;
    packets: number;
    records: number;
  };
  /** What the ingest stored (per record type) and read, once it ran. */
  kept: {
    packets: number;
    bytes: number;
    records: Record<string, number>;
    weirds: number;
    /** What the flow table could not keep: fragments never matched to a flow, trains evicted at its cap. */
    dropped?: { fragments_orphaned: number; fragment_trains_evicted: number };
  } | null;
  /** The limit or cancel that ended the job early: a stable code and a sentence. */
  stopped: { code: string; message: string } | null;
  error: string | null;
  /** The limits the job ran under. */
  limits: UploadLimits;
}

export interface JobsDeps {
  ingest: (files: string[], names: string[], ctl: IngestControl) => Promise<unknown>;
  log?: Logger;
  metrics?: Metrics;
}

interface Job {
  view: JobView;
  paths: string[];
  counters: ReadCounters;
  live: IngestSummary | null;
  summary: IngestSummary | null;
  signal: StopSignal;
  done: Promise<JobView>;
  resolve: (v: JobView) => void;
}

export interface Jobs {
  readonly limits: UploadLimits;
  readonly counters: {
    submitted: number;
    refused_busy: number;
    done: number;
    failed: number;
    cancelled: number;
    forgotten: number;
  };
  start(): void;
  stop(): Promise<void>;
  /** Queue an upload; the job owns `paths` (temporary files) and removes them when it ends. */
  submit(owner: { id: string; name: string }, paths: string[], names: string[]): JobView;
  get(id: string): JobView | null;
  list(ownerId: string | null): JobView[];
  cancel(id: string): JobView | null;
  /** Resolves when the job has ended, with the ingest summary when it ran. */
  wait(id: string): Promise<{ job: JobView; summary: IngestSummary | null }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function createJobs(config: Partial<UploadLimits>, deps: JobsDeps): Jobs {
  const limits = uploadLimits(config);
  const jobs = new Map<string, Job>();
  const queue: Job[] = [];
  const finished: string[] = [];
  let running: Job | null = null;
  let started = false;
  let stopping = false;
  const counters = { submitted: 0, refused_busy: 0, done: 0, failed: 0, cancelled: 0, forgotten: 0 };

  const snapshot = (j: Job): JobView => {
    const v = j.view;
    v.progress.compressed_bytes = j.counters.compressedBytes;
    v.progress.inflated_bytes = j.counters.inflatedBytes;
    v.progress.packets = j.counters.packets;
    if (j.live) {
      let n = 0;
      for (const k in j.live.records) n += j.live.records[k]!;
      v.progress.records = n;
    }
    return structuredClone(v);
  };

  const end = async (j: Job, state: JobState): Promise<void> => {
    j.view.state = state;
    j.view.finished = iso(Date.now());
    counters[state === 'done' ? 'done' : state === 'failed' ? 'failed' : 'cancelled']++;
    deps.metrics?.inc('vantage_upload_jobs_total', 'Capture upload jobs by how they ended.', { state });
    await Promise.all(j.paths.map((p) => rm(p, { force: true })));
    finished.push(j.view.id);
    while (finished.length > limits.keepFinished) {
      jobs.delete(finished.shift()!);
      counters.forgotten++;
    }
    j.resolve(snapshot(j));
  };

  const run = async (j: Job): Promise<void> => {
    running = j;
    j.view.state = 'running';
    j.view.started = iso(Date.now());
    const timer = setTimeout(() => {
      j.signal.stop ??= new IngestStop(
        'max_job_seconds',
        `stopped at the time limit (uploads.maxJobSeconds = ${limits.maxJobSeconds} s); the packets before it were kept`,
      );
    }, limits.maxJobSeconds * 1000);
    let state: JobState = 'done';
    try {
      const s = (await deps.ingest(j.paths, j.view.files, {
        read: (file, onFrame, between) =>
          readCaptureLimited(file, onFrame, limits, j.counters, j.signal, between),
        live: (x) => {
          j.live = x;
        },
      })) as IngestSummary;
      j.summary = s;
      j.view.kept = {
        packets: s.packets,
        bytes: s.bytes,
        records: s.records,
        weirds: s.weirds,
        ...(s.dropped ? { dropped: s.dropped } : {}),
      };
      if (s.stopped) {
        j.view.stopped = s.stopped;
        state = s.stopped.code === 'cancelled' ? 'cancelled' : 'failed';
        if (state === 'failed') j.view.error = s.stopped.message;
      } else if (s.packets === 0 && s.errors.length > 0) {
        state = 'failed';
        j.view.error = `not a readable capture: ${s.errors.map((e) => e.message).join('; ')}`;
      } else if (s.errors.length > 0) {
        j.view.error = s.errors.map((e) => `${e.file}: ${e.message}`).join('; ');
      }
    } catch (e) {
      state = 'failed';
      j.view.error = `ingest failed: ${(e as Error).message}`;
      deps.log?.error('upload job failed', { id: j.view.id, error: String(e) });
    } finally {
      clearTimeout(timer);
      running = null;
    }
    await end(j, state);
  };

  const pump = (): void => {
    if (!started || stopping || running) return;
    const j = queue.shift();
    if (!j) return;
    void run(j).finally(pump);
  };

  const active = (): Job[] => [...queue, ...(running ? [running] : [])];

  return {
    limits,
    counters,
    start() {
      started = true;
      pump();
    },
    async stop() {
      stopping = true;
      const cur = running as Job | null;
      for (const j of queue.splice(0)) await end(j, 'cancelled');
      if (cur) {
        cur.signal.stop ??= new IngestStop('cancelled', 'cancelled: the server is stopping');
        await cur.done;
      }
    },
    submit(owner, paths, names) {
      const act = active();
      if (stopping || act.length >= limits.maxJobs) {
        counters.refused_busy++;
        throw new UserError(
          429,
          `${act.length} upload jobs are queued or running (uploads.maxJobs = ${limits.maxJobs}); try again when one has finished`,
        );
      }
      const mine = act.filter((j) => j.view.owner.id === owner.id).length;
      if (mine >= limits.maxJobsPerUser) {
        counters.refused_busy++;
        throw new UserError(
          429,
          `you have ${mine} upload jobs queued or running (uploads.maxJobsPerUser = ${limits.maxJobsPerUser}); wait for one to finish or cancel it`,
        );
      }
      const id = `job_${randomBytes(8).toString('hex')}`;
      let resolve: (v: JobView) => void = () => {};
      const done = new Promise<JobView>((r) => {
        resolve = r;
      });
      const j: Job = {
        view: {
          id,
          kind: 'capture_upload',
          state: 'queued',
          owner: { ...owner },
          files: [...names],
          created: iso(Date.now()),
          started: null,
          finished: null,
          progress: { compressed_bytes: 0, inflated_bytes: 0, packets: 0, records: 0 },
          kept: null,
          stopped: null,
          error: null,
          limits,
        },
        paths: [...paths],
        counters: { compressedBytes: 0, inflatedBytes: 0, packets: 0 },
        live: null,
        summary: null,
        signal: { stop: null },
        done,
        resolve,
      };
      jobs.set(id, j);
      queue.push(j);
      counters.submitted++;
      const view = snapshot(j);
      pump();
      return view;
    },
    get(id) {
      const j = jobs.get(id);
      return j ? snapshot(j) : null;
    },
    list(ownerId) {
      const out: JobView[] = [];
      for (const j of jobs.values())
        if (ownerId === null || j.view.owner.id === ownerId) out.push(snapshot(j));
      return out.reverse();
    },
    cancel(id) {
      const j = jobs.get(id);
      if (!j) return null;
      if (j.view.state === 'queued') {
        queue.splice(queue.indexOf(j), 1);
        j.view.stopped = { code: 'cancelled', message: 'cancelled before it ran' };
        void end(j, 'cancelled');
      } else if (j.view.state === 'running') {
        j.signal.stop ??= new IngestStop(
          'cancelled',
          'cancelled while running; the packets before it were kept',
        );
      }
      return snapshot(j);
    },
    wait(id) {
      const j = jobs.get(id);
      if (!j) return Promise.reject(new UserError(404, `no job ${id}`));
      return j.done.then((job) => ({ job, summary: j.summary }));
    },
  };
}
