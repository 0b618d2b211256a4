import { signWebhook } from '../../bus/sinks/webhook.js';
import { render } from '../template.js';
import { call, expect2xx, masked } from './http.js';
import type { ActionAdapter, ActionRequest, AdapterKind, PlannedCall } from './types.js';

export interface RestCallConfig {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** JSON body; `{{key}}` and `{{params.NAME}}` are filled in (params: host, or the ticket's fields). */
  body?: unknown;
}

export interface RestConfig {
  apply: RestCallConfig;
  /** The call that takes it back (release); none means no undo. */
  undo?: RestCallConfig;
  /** HMAC-SHA256 key of the Vantage-Signature header (as the bus's webhooks sign). */
  secret?: string;
  ca?: string;
  timeoutMs: number;
}

/**
 * A generic REST/webhook action: firewalls, EDRs, Tetration-like enforcement APIs, or a
 * ticketing system reached by webhook. The key goes in `Idempotency-Key` so a receiver that
 * honours it (as Stripe-style APIs do) ignores a retry.
 */
export function createRestAdapter(
  name: string,
  kind: AdapterKind & ('rest' | 'ticket-webhook'),
  cfg: RestConfig,
): ActionAdapter {
  const build = (c: RestCallConfig, req: ActionRequest) => {
    const scope = { key: req.key, params: req.params } as never;
    const url = String(render(c.url, scope));
    const body = c.body === undefined ? undefined : JSON.stringify(render(c.body, scope));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': req.key,
      ...Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, String(render(v, scope))])),
    };
    if (cfg.secret && body !== undefined)
      headers['vantage-signature'] = signWebhook(cfg.secret, body, Math.floor(Date.now() / 1000));
    return { method: c.method, url, headers, ...(body !== undefined && { body }) };
  };
  const send = async (c: RestCallConfig, req: ActionRequest) => {
    const r = build(c, req);
    const a = await call(r, { ...(cfg.ca !== undefined && { ca: cfg.ca }), timeoutMs: cfg.timeoutMs });
    expect2xx(a, `${name}: ${r.method} ${r.url}`);
    let json: unknown = null;
    try {
      json = JSON.parse(a.body);
    } catch {}
    return { status: a.status, response: json };
  };
  return {
    name,
    kind,
    family: kind === 'rest' ? 'isolate' : 'ticket',
    plan(req): PlannedCall[] {
      const r = build(cfg.apply, req);
      return [
        {
          adapter: name,
          kind,
          summary: `${r.method} ${r.url}`,
          request: {
            ...r,
            headers: masked(r.headers),
            body: r.body === undefined ? null : JSON.parse(r.body),
          },
        },
      ];
    },
    apply: (req) => send(cfg.apply, req),
    ...(cfg.undo && {
      async undo(req: ActionRequest) {
        await send(cfg.undo!, req);
      },
    }),
  };
}
