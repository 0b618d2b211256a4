import { ConfigError } from '../common/errors.js';
import type { SensorSpec } from './federated-store.js';

/** The `central` key: {"sensors": [{"name", "url", "token"}], "timeoutMs", "joinToken"}. */
export interface CentralConfig {
  sensors: SensorSpec[];
  /** Longest wait for one sensor's answer (default 10 s); a slower sensor is left out, named. */
  timeoutMs?: number;
  /** Sensors that present this token at POST /api/v1/federation/join are added. */
  joinToken?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function parseSensor(v: unknown, key: string): SensorSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['name', 'url', 'token'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key; known: name, url, token');
  if (typeof o.name !== 'string' || !NAME.test(o.name) || o.name === 'central')
    throw new ConfigError(`${key}.name`, 'expected a name of letters, digits, _ . - (not "central")');
  let u: URL;
  try {
    u = new URL(String(o.url));
  } catch {
    throw new ConfigError(`${key}.url`, 'expected the sensor API URL, e.g. http://10.0.0.5:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(`${key}.url`, 'expected http(s)://');
  if (typeof o.token !== 'string' || o.token.length < 8)
    throw new ConfigError(`${key}.token`, 'expected an API token of the sensor (analyst role or higher)');
  return { name: o.name, url: String(o.url).replace(/\/+$/, ''), token: o.token };
}

export function parseCentralConfig(v: unknown, key = 'central'): CentralConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['sensors', 'timeoutMs', 'joinToken'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key; known: sensors, timeoutMs, joinToken');
  if (o.sensors !== undefined && !Array.isArray(o.sensors))
    throw new ConfigError(`${key}.sensors`, 'expected a list');
  const sensors = ((o.sensors as unknown[] | undefined) ?? []).map((s, i) =>
    parseSensor(s, `${key}.sensors[${i}]`),
  );
  const names = new Set<string>();
  for (const [i, s] of sensors.entries()) {
    if (names.has(s.name))
      throw new ConfigError(`${key}.sensors[${i}].name`, `duplicate sensor name ${s.name}`);
    names.add(s.name);
  }
  const c: CentralConfig = { sensors };
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs >= 100 && o.timeoutMs <= 600_000))
      throw new ConfigError(`${key}.timeoutMs`, 'expected a number of ms from 100 to 600000');
    c.timeoutMs = o.timeoutMs;
  }
  if (o.joinToken !== undefined) {
    if (typeof o.joinToken !== 'string' || o.joinToken.length < 16)
      throw new ConfigError(`${key}.joinToken`, 'expected a secret of at least 16 characters');
    c.joinToken = o.joinToken;
  }
  return c;
}
