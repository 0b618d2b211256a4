import { type KpiPoint, type KpiSink, SinkError } from './types.js';

export interface InfluxConfig {
  /** Base URL of InfluxDB 1.x (or a 2.x with the 1.x compatibility API), e.g. http://influx:8086. */
  url: string;
  db: string;
  username?: string;
  password?: string;
  /** Retention policy to write into (default: the database's default). */
  retentionPolicy?: string;
  /** Create the database at start when it does not exist. */
  createDatabase: boolean;
  timeoutMs: number;
}

/**
 * InfluxDB line protocol over HTTP (`/write`, precision ms). One measurement per KPI
 * (`vantage_bps`...), the grouping and the quantile as tags, the value as field `value`,
 * the bucket's start as the time.
 */
export function createInfluxSink(cfg: InfluxConfig, name = 'influxdb'): KpiSink {
  const auth =
    cfg.username !== undefined
      ? { authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')}` }
      : {};
  const base = cfg.url.replace(/\/+$/, '');
  const call = async (path: string, params: Record<string, string>, body?: string): Promise<Response> => {
    const u = new URL(base + path);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    try {
      return await fetch(u, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain; charset=utf-8' },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
    } catch (e) {
      throw new SinkError(`InfluxDB at ${base} failed: ${(e as Error).message}`, true);
    }
  };
  return {
    kind: 'influxdb',
    name,
    async start() {
      if (!cfg.createDatabase) return;
      const res = await call('/query', { q: `CREATE DATABASE "${cfg.db.replace(/"/g, '\\"')}"` });
      await res.body?.cancel();
      if (!res.ok)
        throw new SinkError(`InfluxDB refused CREATE DATABASE ${cfg.db}: ${res.status}`, res.status >= 500);
    },
    async stop() {},
    async write(points) {
      if (points.length === 0) return;
      const params: Record<string, string> = { db: cfg.db, precision: 'ms' };
      if (cfg.retentionPolicy) params.rp = cfg.retentionPolicy;
      const res = await call('/write', params, lineProtocol(points));
      if (res.ok) {
        await res.body?.cancel();
        return;
      }
      const text = (await res.text()).slice(0, 300);
      throw new SinkError(
        `InfluxDB /write answered ${res.status}: ${text}`,
        res.status >= 500 || res.status === 429,
      );
    },
  };
}

/** Points as InfluxDB line protocol, one line each. */
export function lineProtocol(points: readonly KpiPoint[]): string {
  let s = '';
  for (const p of points) {
    s += `vantage_${p.metric}`;
    if (p.groupBy !== null) s += `,group_by=${tag(p.groupBy)},group=${tag(p.group ?? 'none')}`;
    if (p.stat !== null) s += `,stat=${p.stat}`;
    s += ` value=${Number.isFinite(p.value) ? p.value : 0} ${p.tMs}\n`;
  }
  return s;
}

// Tag keys and values escape commas, equals signs and spaces; an empty tag value is not allowed.
function tag(v: string): string {
  return v === '' ? '_' : v.replace(/[,= \\]/g, (c) => `\\${c}`);
}
