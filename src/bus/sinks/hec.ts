import type { AlertRecord } from '../../schema/alert.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, HecSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';
import { post } from './http.js';

/**
 * Splunk HTTP Event Collector: one POST to /services/collector/event per batch, the events as
 * concatenated JSON envelopes, `Authorization: Splunk <token>`; success is HTTP 200 with
 * `{"text":"Success","code":0}` (Splunk's "Format events for HTTP Event Collector").
 */
export function hecEnvelope(a: AlertRecord, cfg: HecSinkConfig, version: string): string {
  return JSON.stringify({
    time: Date.parse(a.updated_ts) / 1000,
    host: cfg.host,
    source: cfg.source,
    sourcetype: cfg.sourcetype,
    ...(cfg.index !== undefined && { index: cfg.index }),
    event: cfg.format === 'ocsf' ? toOcsf(a, version) : a,
  });
}

export function createHecSink(name: string, cfg: HecSinkConfig, deps: SinkDeps): Sink {
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const url = `${cfg.url.replace(/\/+$/, '')}/services/collector/event`;
  return {
    kind: 'hec',
    name,
    async start() {
      health = { ok: true, detail: url };
    },
    async stop() {},
    async deliver(batch): Promise<DeliveryResult> {
      try {
        const body = batch.map((a) => hecEnvelope(a, cfg, deps.version)).join('\n');
        const res = await post(
          url,
          body,
          { authorization: `Splunk ${cfg.token}`, 'content-type': 'application/json' },
          { ...(cfg.ca !== undefined && { ca: cfg.ca }), timeoutMs: cfg.timeoutMs },
        );
        let ans: { code?: unknown; text?: unknown } = {};
        try {
          ans = JSON.parse(res.body) as typeof ans;
        } catch {}
        if (res.status !== 200 || ans.code !== 0) {
          throw new Error(`HEC answered ${res.status}: ${res.body.slice(0, 200)}`);
        }
        health = { ok: true, detail: url };
        return { failed: [] };
      } catch (e) {
        health = { ok: false, detail: (e as Error).message };
        throw e;
      }
    },
    health: () => health,
  };
}
