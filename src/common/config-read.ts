import { ConfigError } from './errors.js';

/**
 * Small readers for config-file sections: each names the exact key in its error, and a string
 * "$ENV:NAME" is read from the environment so secrets need not sit in the file.
 */
export type ConfigObj = Record<string, unknown>;

export const isConfigObj = (v: unknown): v is ConfigObj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Unknown keys are errors: a typo must not silently mean "default". */
export function checkKeys(o: ConfigObj, key: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      throw new ConfigError(`${key}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
}

export function configString(v: unknown, key: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(key, 'expected a non-empty string');
  if (v.startsWith('$ENV:')) {
    const x = process.env[v.slice(5)];
    if (x === undefined) throw new ConfigError(key, `environment variable ${v.slice(5)} is not set`);
    return x;
  }
  return v;
}

/** A duration such as "30s", "2m", "1h" in ms, within [min, max] ms. */
export function configDuration(v: unknown, key: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const m = typeof v === 'string' ? /^(\d{1,6})(s|m|h|d)$/.exec(v) : null;
  const s = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'] : null;
  if (s === null || s * 1000 < min || s * 1000 > max)
    throw new ConfigError(
      key,
      `expected a duration such as "30s", "2m" or "1h", from ${min / 1000} s to ${max / 1000} s`,
    );
  return s * 1000;
}

export function configInt(v: unknown, key: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max}`);
  return v;
}

export function configBool(v: unknown, key: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(key, 'expected true or false');
  return v;
}
