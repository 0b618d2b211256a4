import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { RecordStore } from '../store/types.js';
import { type CentralConfig, parseSensor } from './config.js';
import { FederatedStore, type SensorSpec } from './federated-store.js';

export interface SensorStatus {
  name: string;
  url: string;
  status: 'up' | 'down';
  version: string | null;
  backend: string | null;
  /** Seconds between now and the newest flow the sensor holds. */
  lagSeconds: number | null;
  /** Round trip of the probe, ms. */
  rttMs: number | null;
  /** Why it is down (the probe's error), or null. */
  error: string | null;
  /** Last time the sensor answered (ISO), null if never since the central started. */
  lastSeen: string | null;
  /** Records and alerts stored per second between the last two probes (null on the first). */
  recordsPerSec: number | null;
  alertsPerSec: number | null;
  /** The sensor's own health: "degraded" with its reasons (losses, a stalled store...). */
  health: 'ok' | 'degraded' | null;
  reasons: string[];
}

interface Probe {
  at: number;
  records: number;
  alerts: number;
  rates: { records: number; alerts: number } | null;
}

/**
 * The central: the federated store over the configured sensors and those that joined (kept
 * in DATA_DIR/sensors.json), and the probe behind the Sensors page.
 */
export class Central {
  readonly store: FederatedStore;
  private readonly joined: SensorSpec[];
  private readonly all: Map<string, SensorSpec>;
  /** The last successful probe of each sensor (bounded by the number of sensors). */
  private readonly probes = new Map<string, Probe>();

  constructor(
    readonly cfg: CentralConfig,
    local: RecordStore,
    private readonly dataDir: string,
    log?: Logger,
  ) {
    this.joined = this.loadJoined();
    this.all = new Map([...cfg.sensors, ...this.joined].map((s) => [s.name, s]));
    this.store = new FederatedStore(local, [...this.all.values()], {
      ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}),
      ...(log ? { log } : {}),
    });
  }

  get timeoutMs(): number {
    return this.cfg.timeoutMs ?? 10_000;
  }

  sensors(): SensorSpec[] {
    return [...this.all.values()];
  }

  private file(): string {
    return join(this.dataDir, 'sensors.json');
  }

  private loadJoined(): SensorSpec[] {
    try {
      const v = JSON.parse(readFileSync(this.file(), 'utf8')) as unknown[];
      return v.map((s, i) => parseSensor(s, `sensors.json[${i}]`));
    } catch {
      return [];
    }
  }

  /** A sensor registering itself (the caller checked the join token). */
  join(spec: unknown): SensorSpec {
    const s = parseSensor(spec, 'body');
    this.joined.splice(0, this.joined.length, ...this.joined.filter((j) => j.name !== s.name), s);
    writeFileSync(this.file(), JSON.stringify(this.joined, null, 2), { mode: 0o600 });
    this.all.set(s.name, s);
    this.store.addSensor(s);
    return s;
  }

  async status(): Promise<SensorStatus[]> {
    return Promise.all(
      this.sensors().map(async (s): Promise<SensorStatus> => {
        const t0 = Date.now();
        const last = this.probes.get(s.name);
        try {
          const res = await fetch(`${s.url}/api/v1/federation/info`, {
            headers: { authorization: `Bearer ${s.token}` },
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const info = (await res.json()) as {
            version: string;
            backend: string;
            newest: string | null;
            appended?: { records: number; alerts: number };
            health?: { status: 'ok' | 'degraded'; reasons: string[] };
          };
          const newest = info.newest ? Date.parse(info.newest) : Number.NaN;
          const now = Date.now();
          const records = info.appended?.records ?? 0;
          const alerts = info.appended?.alerts ?? 0;
          // Rates over the interval since the previous probe; a restarted sensor (counters
          // going back) starts over. Kept from the previous probe when asked again at once.
          let rates = last?.rates ?? null;
          if (last && records >= last.records && alerts >= last.alerts && now - last.at >= 1000) {
            const dt = (now - last.at) / 1000;
            rates = { records: (records - last.records) / dt, alerts: (alerts - last.alerts) / dt };
          } else if (last && (records < last.records || alerts < last.alerts)) rates = null;
          if (!last || now - last.at >= 1000 || rates === null)
            this.probes.set(s.name, { at: now, records, alerts, rates });
          return {
            name: s.name,
            url: s.url,
            status: 'up',
            version: info.version,
            backend: info.backend,
            lagSeconds: Number.isNaN(newest) ? null : Math.max(0, Math.round((Date.now() - newest) / 1000)),
            rttMs: Date.now() - t0,
            error: null,
            lastSeen: new Date(now).toISOString(),
            recordsPerSec: rates ? Math.round(rates.records * 10) / 10 : null,
            alertsPerSec: rates ? Math.round(rates.alerts * 10) / 10 : null,
            health: info.health?.status ?? null,
            reasons: info.health?.reasons ?? [],
          };
        } catch (e) {
          return {
            name: s.name,
            url: s.url,
            status: 'down',
            version: null,
            backend: null,
            lagSeconds: null,
            rttMs: null,
            error: String((e as Error).message ?? e),
            lastSeen: last ? new Date(last.at).toISOString() : null,
            recordsPerSec: null,
            alertsPerSec: null,
            health: null,
            reasons: [],
          };
        }
      }),
    );
  }
}
