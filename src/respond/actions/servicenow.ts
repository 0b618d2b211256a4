import { call, expect2xx, masked } from './http.js';
import type { ActionAdapter, ActionRequest, PlannedCall } from './types.js';

export interface ServiceNowConfig {
  /** https://<instance>.service-now.com */
  instance: string;
  user?: string;
  password?: string;
  /** OAuth bearer token, instead of Basic auth. */
  token?: string;
  table: string;
  ca?: string;
  timeoutMs: number;
}

/**
 * Incidents through the ServiceNow Table API (`POST /api/now/table/incident`, answer 201 with
 * `{result: {sys_id, number}}`). The request key is written to `correlation_id`, and an
 * incident with that correlation id is looked up before one is created: a retried step finds
 * the first incident instead of opening a second. Updates are work notes on the kept sys_id.
 */
export function createServiceNowAdapter(name: string, cfg: ServiceNowConfig): ActionAdapter {
  const base = `${cfg.instance.replace(/\/+$/, '')}/api/now/table/${cfg.table}`;
  const headers = (): Record<string, string> => ({
    accept: 'application/json',
    'content-type': 'application/json',
    ...(cfg.token
      ? { authorization: `Bearer ${cfg.token}` }
      : cfg.user !== undefined
        ? { authorization: `Basic ${Buffer.from(`${cfg.user}:${cfg.password ?? ''}`).toString('base64')}` }
        : {}),
  });
  const o = { ...(cfg.ca !== undefined && { ca: cfg.ca }), timeoutMs: cfg.timeoutMs };
  const createBody = (req: ActionRequest) => {
    const p = req.params;
    const body: Record<string, string> = {
      short_description: String(p.short_description ?? '').slice(0, 160),
      description: String(p.description ?? ''),
      urgency: String(p.urgency ?? 2),
      impact: String(p.impact ?? 2),
      correlation_id: req.key,
      correlation_display: 'Vantage',
    };
    if (p.caller !== undefined && p.caller !== null && p.caller !== '') body.caller_id = String(p.caller);
    if (p.work_notes) body.work_notes = String(p.work_notes);
    return body;
  };
  return {
    name,
    kind: 'servicenow',
    family: 'ticket',
    plan(req): PlannedCall[] {
      const sysId = req.params.sys_id;
      if (typeof sysId === 'string') {
        return [
          {
            adapter: name,
            kind: 'servicenow',
            summary: `PATCH work notes on incident ${sysId}`,
            request: {
              method: 'PATCH',
              url: `${base}/${sysId}`,
              headers: masked(headers()),
              body: { work_notes: req.params.work_notes },
            },
          },
        ];
      }
      return [
        {
          adapter: name,
          kind: 'servicenow',
          summary: `POST incident "${String(req.params.short_description ?? '').slice(0, 80)}"`,
          request: { method: 'POST', url: base, headers: masked(headers()), body: createBody(req) },
        },
      ];
    },
    async apply(req) {
      const sysId = req.params.sys_id;
      if (typeof sysId === 'string') {
        if (!/^[0-9a-f]{32}$/.test(sysId))
          throw new Error(`servicenow: '${sysId.slice(0, 40)}' is not a sys_id`);
        const a = await call(
          {
            method: 'PATCH',
            url: `${base}/${sysId}`,
            headers: headers(),
            body: JSON.stringify({ work_notes: String(req.params.work_notes ?? '') }),
          },
          o,
        );
        expect2xx(a, `${name}: PATCH incident`);
        return { sys_id: sysId, updated: true };
      }
      const q = new URLSearchParams({
        sysparm_query: `correlation_id=${req.key}`,
        sysparm_limit: '1',
        sysparm_fields: 'sys_id,number',
      });
      const found = await call({ method: 'GET', url: `${base}?${q}`, headers: headers() }, o);
      expect2xx(found, `${name}: GET incident`);
      const hit = (JSON.parse(found.body) as { result?: { sys_id: string; number: string }[] }).result?.[0];
      if (hit) return { sys_id: hit.sys_id, number: hit.number, existed: true };
      const a = await call(
        { method: 'POST', url: base, headers: headers(), body: JSON.stringify(createBody(req)) },
        o,
      );
      expect2xx(a, `${name}: POST incident`);
      const r = (JSON.parse(a.body) as { result: { sys_id: string; number: string } }).result;
      return { sys_id: r.sys_id, number: r.number, existed: false };
    },
  };
}
