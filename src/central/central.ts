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
  error: string | null;
}

/**
 * The central: the federated store over the configured sensors and those that joined (kept
 * in DATA_DIR/sensors.json), and the probe behind the Sensors page.
 */
export class Central {
  readonly store: FederatedStore;
  private readonly joined: SensorSpec[];
  private readonly all: Map<string, SensorSpec>;

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
        try {
          const res = await fetch(`${s.url}/api/v1/federation/info`, {
            headers: { authorization: `Bearer ${s.token}` },
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const info = (await res.json()) as { version: string; backend: string; newest: string | null };
          const newest = info.newest ? Date.parse(info.newest) : Number.NaN;
          return {
            name: s.name,
            url: s.url,
            status: 'up',
            version: info.version,
            backend: info.backend,
            lagSeconds: Number.isNaN(newest) ? null : Math.max(0, Math.round((Date.now() - newest) / 1000)),
            rttMs: Date.now() - t0,
            error: null,
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
          };
        }
      }),
    );
  }
}
