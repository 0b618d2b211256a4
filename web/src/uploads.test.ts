import { describe, expect, it } from 'vitest';
import { describeJob, followJob, type Job } from './uploads';

const base: Job = {
  id: 'job_0123456789abcdef',
  state: 'queued',
  files: ['a.pcap.gz'],
  created: '2026-12-06T00:00:00Z',
  started: null,
  finished: null,
  progress: { compressed_bytes: 0, inflated_bytes: 0, packets: 0, records: 0 },
  kept: null,
  stopped: null,
  error: null,
};

describe('upload jobs in the console', () => {
  it('says where a job is, and what a limit kept', () => {
    expect(describeJob(base)).toBe('Waiting for the upload before it to finish.');
    expect(
      describeJob({
        ...base,
        state: 'running',
        progress: { compressed_bytes: 2 << 20, inflated_bytes: 30 << 20, packets: 1200, records: 40 },
      }),
    ).toBe('Reading: 2.0 MiB of the upload (30.0 MiB inflated), 1,200 packets, 40 records.');
    expect(
      describeJob({
        ...base,
        state: 'failed',
        error: 'stopped at the inflation-ratio limit (uploads.maxInflationRatio = 100)',
        kept: { packets: 1023, bytes: 1, records: {}, weirds: 0 },
      }),
    ).toBe(
      'Failed: stopped at the inflation-ratio limit (uploads.maxInflationRatio = 100) (1,023 packets kept).',
    );
    expect(
      describeJob({
        ...base,
        state: 'done',
        kept: { packets: 10, bytes: 1, records: { flow: 3, dns: 2 }, weirds: 0 },
      }),
    ).toBe('Done: 10 packets, 5 records stored.');
  });

  it('follows a job until it ends', async () => {
    const states: Job['state'][] = ['queued', 'running', 'running', 'done'];
    const seen: string[] = [];
    const end = await followJob('job_0123456789abcdef', (j) => seen.push(j.state), {
      get: async () => ({ ...base, state: states.shift()! }),
      sleep: async () => {},
    });
    expect(end.state).toBe('done');
    expect(seen).toEqual(['queued', 'running', 'running', 'done']);
  });
});
