import { parseCef } from './cef.js';
import { parseEveLine, parseEveObject } from './eve.js';
import { parseWindowsLogon } from './identity.js';
import { parseLeef } from './leef.js';
import { parseSyslogPayload, type SyslogFormat } from './payload.js';
import { deliver, type EventDeps } from './sink.js';
import { countWeird, type EventCounters, newCounters, type Parsed, weird } from './types.js';
import {
  type CompiledMapping,
  compileMapping,
  DEFAULT_WEBHOOK_MAPPING,
  parseWebhookObject,
} from './webhook.js';

/** Body formats of `POST /api/v1/events`. */
export const INGEST_FORMATS = ['eve', 'ndjson', 'cef', 'leef', 'syslog', 'json'] as const;
export type IngestFormat = (typeof INGEST_FORMATS)[number];

export interface IngestOptions extends Partial<Omit<EventDeps, 'emitter'>> {
  /** Webhook field mapping for `json` and `ndjson` (default: ECS). */
  mapping?: CompiledMapping;
  /** Payload expected in `syslog` lines (default auto). */
  syslogFormat?: SyslogFormat;
  /** Lines longer than this are cut off and counted as `line_too_long` (default 64 KiB). */
  maxLine?: number;
  /** Receive time for events without one (default now). */
  nowMs?: number;
}

export interface IngestResult {
  /** Lines or objects read. */
  accepted: number;
  alerts: number;
  identities: number;
  other: number;
  weird: Record<string, number>;
}

let defaultMapping: CompiledMapping | null = null;
const ecs = (): CompiledMapping => {
  defaultMapping ??= compileMapping(DEFAULT_WEBHOOK_MAPPING);
  return defaultMapping;
};

/** One line of a given format → parse result (shared by the API, the tail and the sockets). */
export function parseLine(format: IngestFormat, line: string, opts: IngestOptions = {}): Parsed {
  const now = opts.nowMs ?? Date.now();
  switch (format) {
    case 'eve':
      return parseEveLine(line);
    case 'cef':
      return parseCef(line, now);
    case 'leef':
      return parseLeef(line, now);
    case 'syslog':
      return parseSyslogPayload(line, opts.syslogFormat ?? 'auto', now);
    case 'ndjson':
    case 'json': {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        return weird('json_bad');
      }
      return parseJsonEvent(o, opts.mapping ?? ecs(), now);
    }
  }
}

/** A JSON object: an EVE event when it has `event_type`, a Windows logon, else the webhook mapping. */
export function parseJsonEvent(o: unknown, mapping: CompiledMapping, nowMs: number): Parsed {
  if (typeof o === 'object' && o !== null && !Array.isArray(o)) {
    const r = o as Record<string, unknown>;
    if (typeof r.event_type === 'string' && 'timestamp' in r) return parseEveObject(o);
    const w = r.winlog as Record<string, unknown> | undefined;
    const id = Number(r.EventID ?? r.event_id ?? w?.event_id);
    if (id === 4624 || id === 4634 || id === 4647) return parseWindowsLogon(r, nowMs);
  }
  return parseWebhookObject(o, mapping, nowMs);
}

/**
 * Ingest an HTTP body: every line (or, for `json`, the document or each element of its
 * array) becomes an alert, an identity, or a counted weird; a bad line never stops the rest.
 */
export function ingestText(
  format: IngestFormat,
  body: string,
  deps: EventDeps,
  opts: IngestOptions = {},
  counters: EventCounters = newCounters(),
): IngestResult {
  const before = { ...counters, weird: { ...counters.weird } };
  const d: EventDeps = {
    ...deps,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.onIdentity ? { onIdentity: opts.onIdentity } : {}),
  };
  const max = opts.maxLine ?? 64 * 1024;
  counters.bytes += Buffer.byteLength(body);
  const trimmed = body.trimStart();
  if (format === 'json' && (trimmed.startsWith('[') || !trimmed.includes('\n'))) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      counters.received++;
      countWeird(counters, 'json_bad');
      return diff(before, counters);
    }
    const items = Array.isArray(doc) ? doc : [doc];
    const now = opts.nowMs ?? Date.now();
    for (const it of items) {
      counters.received++;
      deliver(parseJsonEvent(it, opts.mapping ?? ecs(), now), counters, d);
    }
    return diff(before, counters);
  }
  let p = 0;
  while (p < body.length) {
    let e = body.indexOf('\n', p);
    if (e < 0) e = body.length;
    let line = body.slice(p, e);
    p = e + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    counters.received++;
    if (line.length > max) {
      counters.dropped++;
      countWeird(counters, 'line_too_long');
      continue;
    }
    deliver(parseLine(format, line, opts), counters, d);
  }
  return diff(before, counters);
}

function diff(b: EventCounters, a: EventCounters): IngestResult {
  const w: Record<string, number> = {};
  for (const [k, v] of Object.entries(a.weird)) {
    const n = v - (b.weird[k] ?? 0);
    if (n > 0) w[k] = n;
  }
  return {
    accepted: a.received - b.received,
    alerts: a.alerts - b.alerts,
    identities: a.identities - b.identities,
    other: a.other - b.other,
    weird: w,
  };
}
