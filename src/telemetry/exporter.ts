import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { RecordStore } from '../store/types.js';
import { kpiPoints } from './kpis.js';
import { renderExposition } from './prometheus.js';
import { type KpiPoint, type KpiSink, type KpiSpec, SinkError, seriesKey } from './types.js';

/** Buckets the scrape exposition looks back for each series' newest value. */
const LATEST_BUCKETS = 5;

export interface ExporterConfig {
  /** Bucket width, s. */
  stepS: number;
  /** A bucket is exported this long after it ends (flows are stored when they end), ms. */
  delayMs: number;
  /** How often the exporter looks for finished buckets, ms. */
  intervalMs: number;
  /** Distinct series published at most; points of series beyond are counted, not sent. */
  maxSeries: number;
  /** On a first start, begin this far back (ms, 0 = from now). */
  backfillMs: number;
  /** Buckets per request to a sink (bounds each write). */
  bucketsPerWrite: number;
  kpis: readonly KpiSpec[];
  /** Where each sink's progress is kept across restarts. */
  statePath: string;
}

export interface SinkStatus {
  name: string;
  kind: string;
  /** End of the last bucket the sink accepted, ms. */
  watermarkMs: number;
  pointsSent: number;
  /** Points the peer refused outright (4xx); never retried. */
  pointsRefused: number;
  errors: number;
  lastError: string | null;
  lastSuccess: string | null;
}

interface SinkState extends SinkStatus {
  sink: KpiSink;
  retryAt: number;
  backoffMs: number;
  started: boolean;
}

/**
 * Publishes network KPIs to Prometheus, InfluxDB and any other KpiSink. Each sink keeps its
 * own watermark (persisted), so a sink that was down catches up in order from where it left
 * off, and a restart neither skips nor repeats a bucket a sink accepted: the points are read
 * again from the store, which is where they live. Memory is bounded by one write's buckets.
 */
export class TelemetryExporter {
  private readonly sinks: SinkState[];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private latest: KpiPoint[] = [];
  private seriesCount = 0;
  seriesOverflow = 0;

  constructor(
    readonly cfg: ExporterConfig,
    sinks: readonly KpiSink[],
    private readonly deps: { store: RecordStore; log: Logger; metrics?: Metrics; now?: () => number },
  ) {
    const saved = this.load();
    this.sinks = sinks.map((sink) => ({
      sink,
      name: sink.name,
      kind: sink.kind,
      watermarkMs: saved[sink.name] ?? 0,
      pointsSent: 0,
      pointsRefused: 0,
      errors: 0,
      lastError: null,
      lastSuccess: null,
      retryAt: 0,
      backoffMs: 1000,
      started: false,
    }));
    deps.metrics?.collect(() => this.publishMetrics());
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.cycle(), this.cfg.intervalMs);
    this.timer.unref();
    void this.cycle();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    for (const s of this.sinks) if (s.started) await s.sink.stop().catch(() => {});
  }

  status(): SinkStatus[] {
    return this.sinks.map(({ sink: _s, retryAt: _r, backoffMs: _b, started: _st, ...rest }) => ({ ...rest }));
  }

  /** The newest finished bucket of every series, in the OpenMetrics or the Prometheus text format. */
  exposition(format: 'openmetrics' | 'text'): string {
    return renderExposition(this.latest, format);
  }

  /** Run one pass now (the timer calls it; tests call it to avoid waiting). */
  cycle(): Promise<void> {
    if (!this.running)
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private horizon(): number {
    const step = this.cfg.stepS * 1000;
    return Math.floor((this.now() - this.cfg.delayMs) / step) * step;
  }

  private async pass(): Promise<void> {
    const step = this.cfg.stepS * 1000;
    const horizon = this.horizon();
    // One read of the store per window whatever the number of sinks.
    const cache = new Map<string, KpiPoint[]>();
    const read = async (a: number, b: number): Promise<KpiPoint[]> => {
      const k = `${a}-${b}`;
      let pts = cache.get(k);
      if (!pts) {
        pts = this.limit(await kpiPoints(this.deps.store, this.cfg.kpis, a, b, this.cfg.stepS));
        cache.set(k, pts);
      }
      return pts;
    };
    try {
      // The exposition: each series' newest finished bucket within the last few (a quiet minute
      // leaves the previous value rather than an empty scrape).
      const recent = await read(horizon - LATEST_BUCKETS * step, horizon);
      const newest = new Map<string, KpiPoint>();
      for (const p of recent) {
        const k = seriesKey(p);
        const e = newest.get(k);
        if (!e || e.tMs < p.tMs) newest.set(k, p);
      }
      this.latest = [...newest.values()];
    } catch (e) {
      this.deps.log.warn(`telemetry: cannot read KPIs from the store: ${(e as Error).message}`);
      return;
    }
    for (const s of this.sinks) {
      if (this.now() < s.retryAt) continue;
      try {
        if (s.watermarkMs === 0) {
          // Kept at once: a sink that is down from the first start still catches up from here.
          s.watermarkMs = Math.max(0, horizon - Math.max(step, this.cfg.backfillMs));
          this.save();
        }
        if (!s.started) {
          await s.sink.start();
          s.started = true;
        }
        while (s.watermarkMs < horizon) {
          const a = s.watermarkMs;
          const b = Math.min(horizon, a + this.cfg.bucketsPerWrite * step);
          const pts = await read(a, b);
          try {
            await s.sink.write(pts);
            s.pointsSent += pts.length;
            s.lastSuccess = new Date(this.now()).toISOString();
          } catch (e) {
            if (e instanceof SinkError && !e.retry) {
              s.pointsRefused += pts.length;
              s.errors++;
              s.lastError = e.message;
              this.deps.log.warn(`telemetry ${s.name}: ${e.message} (${pts.length} points not sent)`);
            } else throw e;
          }
          s.watermarkMs = b;
          this.save();
        }
        s.backoffMs = 1000;
      } catch (e) {
        s.errors++;
        s.lastError = (e as Error).message;
        s.retryAt = this.now() + s.backoffMs;
        s.backoffMs = Math.min(s.backoffMs * 2, 300_000);
        this.deps.log.warn(
          `telemetry ${s.name}: ${s.lastError}; retrying in ${Math.round(s.backoffMs / 2000)} s`,
        );
      }
    }
  }

  /** Keep at most maxSeries distinct series; count the points of the others. */
  // Per window, so series that stop (an application gone from the top) free their place.
  private limit(points: KpiPoint[]): KpiPoint[] {
    const out: KpiPoint[] = [];
    const seen = new Set<string>();
    for (const p of points) {
      const k = seriesKey(p);
      if (!seen.has(k)) {
        if (seen.size >= this.cfg.maxSeries) {
          this.seriesOverflow++;
          continue;
        }
        seen.add(k);
      }
      out.push(p);
    }
    this.seriesCount = seen.size;
    return out;
  }

  private load(): Record<string, number> {
    try {
      const v = JSON.parse(readFileSync(this.cfg.statePath, 'utf8')) as { sinks?: Record<string, number> };
      return v.sinks ?? {};
    } catch {
      return {};
    }
  }

  private save(): void {
    const sinks: Record<string, number> = {};
    for (const s of this.sinks) sinks[s.name] = s.watermarkMs;
    mkdirSync(dirname(this.cfg.statePath), { recursive: true });
    const tmp = `${this.cfg.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ sinks }));
    renameSync(tmp, this.cfg.statePath);
  }

  private publishMetrics(): void {
    const m = this.deps.metrics;
    if (!m) return;
    const horizon = this.horizon();
    m.set(
      'vantage_telemetry_series',
      'Distinct KPI series in the last window published to other tools',
      {},
      this.seriesCount,
    );
    m.set(
      'vantage_telemetry_series_overflow',
      'Points not published because the series limit was reached',
      {},
      this.seriesOverflow,
    );
    for (const s of this.sinks) {
      const l = { sink: s.name, kind: s.kind };
      m.set('vantage_telemetry_points_sent', 'KPI points accepted by the sink', l, s.pointsSent);
      m.set(
        'vantage_telemetry_points_refused',
        'KPI points the sink refused (not retried)',
        l,
        s.pointsRefused,
      );
      m.set('vantage_telemetry_errors', 'Failed writes to the sink', l, s.errors);
      m.set(
        'vantage_telemetry_lag_seconds',
        'How far the sink is behind the newest finished bucket',
        l,
        s.watermarkMs === 0 ? 0 : Math.max(0, (horizon - s.watermarkMs) / 1000),
      );
    }
  }
}
