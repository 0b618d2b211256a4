import { ConfigError } from '../common/errors.js';

/**
 * Limits on one capture upload and on the upload jobs in all (config key `uploads`). The
 * defaults let a day of a busy link through and stop a decompression bomb within seconds.
 */
export interface UploadLimits {
  /** Largest upload as sent (compressed), bytes; a larger Content-Length is refused with 413. */
  maxCompressedBytes: number;
  /** Most bytes a compressed upload may inflate to; the job stops there. */
  maxInflatedBytes: number;
  /** Most inflated bytes per compressed byte read, checked once past `ratioGraceBytes`. */
  maxInflationRatio: number;
  /** Inflated bytes before the ratio is checked (headers and tiny files compress well). */
  ratioGraceBytes: number;
  /** Most packets read from one upload (all of its files). */
  maxPackets: number;
  /** Wall time of one job once it runs, seconds. */
  maxJobSeconds: number;
  /** Jobs queued or running, per user. */
  maxJobsPerUser: number;
  /** Jobs queued or running, in all. */
  maxJobs: number;
  /** Finished jobs kept for GET /api/v1/jobs/{id}, the oldest forgotten first. */
  keepFinished: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  maxCompressedBytes: 1 << 30,
  maxInflatedBytes: 4 * 2 ** 30,
  maxInflationRatio: 100,
  ratioGraceBytes: 64 << 20,
  maxPackets: 20_000_000,
  maxJobSeconds: 1800,
  maxJobsPerUser: 2,
  maxJobs: 8,
  keepFinished: 200,
};

const RANGES: Record<keyof UploadLimits, [number, number]> = {
  maxCompressedBytes: [1, Number.MAX_SAFE_INTEGER],
  maxInflatedBytes: [1, Number.MAX_SAFE_INTEGER],
  maxInflationRatio: [1, 1e9],
  ratioGraceBytes: [0, Number.MAX_SAFE_INTEGER],
  maxPackets: [1, Number.MAX_SAFE_INTEGER],
  maxJobSeconds: [1, 7 * 86400],
  maxJobsPerUser: [1, 1000],
  maxJobs: [1, 10_000],
  keepFinished: [0, 100_000],
};

/** Validate `uploads` from the config file; errors name the key, e.g. uploads.maxPackets. */
export function parseUploadLimits(v: unknown, key = 'uploads'): Partial<UploadLimits> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const out: Partial<UploadLimits> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === '$comment') continue;
    const range = RANGES[k as keyof UploadLimits];
    if (!range) {
      throw new ConfigError(`${key}.${k}`, `unknown key; expected one of ${Object.keys(RANGES).join(', ')}`);
    }
    if (typeof x !== 'number' || !Number.isInteger(x) || x < range[0] || x > range[1]) {
      throw new ConfigError(`${key}.${k}`, `expected an integer from ${range[0]} to ${range[1]}`);
    }
    out[k as keyof UploadLimits] = x;
  }
  return out;
}

export function uploadLimits(partial: Partial<UploadLimits> = {}): UploadLimits {
  const l = { ...DEFAULT_UPLOAD_LIMITS, ...partial };
  parseUploadLimits(l, 'uploads');
  return l;
}
