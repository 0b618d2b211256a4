import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { RecordStore } from '../store/types.js';
import type { TelemetryConfig } from './config.js';
import { TelemetryExporter } from './exporter.js';
import { createInfluxSink } from './influx.js';
import { createPrometheusSink } from './prometheus.js';
import type { KpiSink } from './types.js';

export { parseLakeConfig, parseTelemetryConfig, type TelemetryConfig } from './config.js';
export { TelemetryExporter } from './exporter.js';
export { type LakeConfig, LakeExporter } from './lake.js';

/** The KPI exporters the config names, over one store. Inert until start(). */
export function createTelemetry(
  cfg: TelemetryConfig,
  deps: { store: RecordStore; dataDir: string; log: Logger; metrics?: Metrics; now?: () => number },
): TelemetryExporter {
  const sinks: KpiSink[] = [];
  if (cfg.prometheus) sinks.push(createPrometheusSink(cfg.prometheus));
  if (cfg.influxdb) sinks.push(createInfluxSink(cfg.influxdb));
  return new TelemetryExporter(
    {
      stepS: cfg.stepS,
      delayMs: cfg.delayMs,
      intervalMs: cfg.intervalMs,
      maxSeries: cfg.maxSeries,
      backfillMs: cfg.backfillMs,
      bucketsPerWrite: 60,
      kpis: cfg.kpis,
      statePath: join(deps.dataDir, 'telemetry', 'state.json'),
    },
    sinks,
    deps,
  );
}
