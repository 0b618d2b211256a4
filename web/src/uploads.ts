import { request } from './api';

/** An upload job as GET /api/v1/jobs/{id} returns it. */
export interface Job {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  files: string[];
  created: string;
  started: string | null;
  finished: string | null;
  progress: { compressed_bytes: number; inflated_bytes: number; packets: number; records: number };
  kept: {
    packets: number;
    bytes: number;
    records: Record<string, number>;
    weirds: number;
    dropped?: { fragments_orphaned: number; fragment_trains_evicted: number };
  } | null;
  stopped: { code: string; message: string } | null;
  error: string | null;
}

export const ENDED = new Set<Job['state']>(['done', 'failed', 'cancelled']);

const n = (x: number): string => x.toLocaleString('en-US');

function bytes(x: number): string {
  if (x < 1024) return `${x} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = x / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}

/** One sentence on where a job is, for the upload list. */
export function describeJob(j: Job): string {
  const p = j.progress;
  const read = `${n(p.packets)} packets, ${n(p.records)} records`;
  switch (j.state) {
    case 'queued':
      return 'Waiting for the upload before it to finish.';
    case 'running':
      return `Reading: ${bytes(p.compressed_bytes)} of the upload${p.inflated_bytes !== p.compressed_bytes ? ` (${bytes(p.inflated_bytes)} inflated)` : ''}, ${read}.`;
    case 'done': {
      const k = j.kept;
      const total = k ? Object.values(k.records).reduce((a, b) => a + b, 0) : 0;
      return `Done: ${n(k?.packets ?? 0)} packets, ${n(total)} records stored${j.error ? `; ${j.error}` : ''}.`;
    }
    case 'cancelled':
      return `Cancelled; kept what was read before: ${n(j.kept?.packets ?? 0)} packets.`;
    default:
      return `Failed: ${j.error ?? 'unknown error'}${j.kept ? ` (${n(j.kept.packets)} packets kept)` : ''}.`;
  }
}

/** Upload one capture file; the answer is the job (202). */
export async function uploadCapture(file: Blob, name: string): Promise<Job> {
  const form = new FormData();
  form.append('file', file, name);
  const res = await request('/api/v1/captures', { method: 'POST', body: form });
  return (await res.json()) as Job;
}

export async function getJob(id: string, signal?: AbortSignal): Promise<Job> {
  const res = await request(`/api/v1/jobs/${encodeURIComponent(id)}`, signal ? { signal } : {});
  return (await res.json()) as Job;
}

export async function cancelJob(id: string): Promise<Job> {
  const res = await request(`/api/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  return (await res.json()) as Job;
}

/** Poll a job until it ends, reporting every state seen; `sleep` is injectable for tests. */
export async function followJob(
  id: string,
  onUpdate: (j: Job) => void,
  opts: {
    signal?: AbortSignal;
    every?: number;
    get?: typeof getJob;
    sleep?: (ms: number) => Promise<void>;
  } = {},
): Promise<Job> {
  const get = opts.get ?? getJob;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let every = opts.every ?? 500;
  for (;;) {
    const j = await get(id, opts.signal);
    onUpdate(j);
    if (ENDED.has(j.state)) return j;
    await sleep(every);
    every = Math.min(every * 1.5, 5000);
  }
}
