import type { Bus } from '../bus/bus.js';
import type { AlertHub } from '../bus/hub.js';
import type { Central } from '../central/central.js';
import type { SnmpInterfaces } from '../collect/snmp/interfaces.js';
import { badRequest, UserError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../common/metrics.js';
import type { DetectConfig } from '../detect/config.js';
import type { Monitors } from '../detect/monitors/monitors.js';
import type { EventSources } from '../events/index.js';
import type { Intel } from '../intel/intel.js';
import type { Jobs } from '../jobs/jobs.js';
import type { UploadLimits } from '../jobs/limits.js';
import type { Responder } from '../respond/responder.js';
import type { AnyRecordDef } from '../schema/registry.js';
import { type Cond, FilterError, parseFilter } from '../store/filter.js';
import type { IngestControl } from '../store/ingest.js';
import type { RecordStore, TimeRange } from '../store/types.js';
import type { TelemetryExporter } from '../telemetry/exporter.js';
import type { LakeExporter } from '../telemetry/lake.js';
import type { AuditLog } from './audit.js';
import type { Auth } from './auth/index.js';
import type { Role, TokenStore } from './auth.js';
import type { BrokerRouteDeps } from './routes/broker.js';
import type { PcapRouteDeps } from './routes/pcap.js';
import type { PolicyRouteDeps } from './routes/policy.js';
import { parseApiTime } from './time.js';

/** What every route module receives. */
export interface ApiContext {
  store: RecordStore;
  tokens: TokenStore;
  /** Users, sessions, lockout and OIDC; built with defaults over `tokens` when absent. */
  auth?: Auth;
  metrics: Metrics;
  log: Logger;
  /** Largest capture upload, bytes. */
  maxUploadBytes: number;
  /** Requests per minute per token (or per address without a token). */
  rateLimit: number;
  /** The data directory (saved dashboards live here). */
  dataDir: string;
  /** Directory for temporary files (uploads, Parquet exports). */
  tmpDir: string;
  /** Built console to serve at /, when present. */
  webDir: string | null;
  /** Ingest captures into the store (upload jobs); `ctl` brings the job's reader and limits. */
  ingest: (files: string[], names: string[], ctl?: IngestControl) => Promise<unknown>;
  /** Upload limits (config key `uploads`); maxCompressedBytes defaults to maxUploadBytes. */
  uploads?: Partial<UploadLimits>;
  /** The upload job runner, when the caller builds its own (else the capture routes do). */
  jobs?: Jobs;
  /** The packet store and the audit log of its downloads, when packets are recorded. */
  pcap?: PcapRouteDeps;
  /** The packet broker (live streams, replication targets) and the audit log, when there is one. */
  broker?: BrokerRouteDeps;
  /** The alert hub: alert state changes and pivots (routes exist when it does). */
  alerts?: AlertHub;
  /** The communication policy: proposals, versions, compliance. */
  policy?: PolicyRouteDeps;
  /** The alert bus: sinks, outbox, dead letters. */
  bus?: Bus;
  /** Third-party security events (POST /api/v1/events) and identities. */
  events?: EventSources;
  /** The detectors' configuration, for runs over stored history. */
  detect?: { config: DetectConfig; sensor: string };
  /** Network monitors and their threshold rules. */
  monitors?: Monitors;
  /** Network KPIs for Prometheus and InfluxDB (served for scraping at /metrics/network). */
  telemetry?: TelemetryExporter;
  /** The Parquet data lake exporter. */
  lake?: LakeExporter;
  /** SNMP-polled devices (interface names of exporters). */
  snmp?: SnmpInterfaces;
  /** The audit log (who changed what). */
  audit?: AuditLog;
  /** Threat intelligence (feeds, IOC store, matcher, retro-hunts), when configured. */
  intel?: Intel;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  corsOrigins?: string[];
  /** Response playbooks, runs, approvals and their audit chain, when configured. */
  respond?: Responder;
  /** The central (config key central): sensors, join, federated pcap. */
  central?: Central;
  /** Counters of live sources and the broker, added to GET /api/v1/stats. */
  liveStats?: () => Record<string, unknown>;
  /** `degraded` with the reasons while a source is losing data (the loss ledger). */
  health?: () => { status: 'ok' | 'degraded'; reasons: string[] };
}

/** Route-level access: the least role that may call it, or public. */
export type Access = Role | 'public';

export function defOf(ctx: ApiContext, type: string): AnyRecordDef | undefined {
  return ctx.store.defs.find((d) => d.type === type);
}

export function parseRange(q: { after?: string | undefined; before?: string | undefined }): TimeRange {
  const r: TimeRange = {};
  for (const k of ['after', 'before'] as const) {
    const v = q[k];
    if (v === undefined || v === '') continue;
    const us = parseApiTime(v);
    if (us === null) {
      throw badRequest(
        `${k}: '${v.slice(0, 64)}' is not a time; use ISO-8601 (2024-05-01T10:00:00Z), epoch seconds or a relative time such as -1h`,
      );
    }
    r[k] = us;
  }
  // A range that ends before it starts is empty, not an error: the schema cannot say "after < before".
  if (r.after !== undefined && r.before !== undefined && r.after >= r.before) r.before = r.after;
  return r;
}

export function parseFilterParam(text: string | undefined, def: AnyRecordDef): Cond | null {
  if (!text) return null;
  try {
    return parseFilter(text, def);
  } catch (e) {
    if (e instanceof FilterError) {
      throw new UserError(400, e.message, { kind: 'filter', position: e.position, expected: e.expected });
    }
    throw e;
  }
}
