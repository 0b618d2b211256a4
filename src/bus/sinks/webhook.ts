import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AlertRecord } from '../../schema/alert.js';
import { toOcsf } from '../ocsf.js';
import type { DeliveryResult, Sink, SinkDeps, SinkHealth, WebhookSinkConfig } from '../types.js';
import { post } from './http.js';

export const SIGNATURE_HEADER = 'vantage-signature';

/** `t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe signs its webhooks. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * For receivers: true when the header signs this exact body with the secret and is no older
 * than `toleranceSeconds` (a captured request replayed later is refused).
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const parts = new Map<string, string[]>();
  for (const kv of header.split(',')) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), kv.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return (parts.get('v1') ?? []).some((v) => {
    const got = Buffer.from(v);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}

/** Webhook: JSON POSTs signed with HMAC-SHA256; any 2xx is a delivery. */
export function createWebhookSink(name: string, cfg: WebhookSinkConfig, deps: SinkDeps): Sink {
  let health: SinkHealth = { ok: true, detail: 'not started' };
  const encode = (a: AlertRecord): unknown => (cfg.format === 'ocsf' ? toOcsf(a, deps.version) : a);
  const send = async (body: string): Promise<void> => {
    const sig = signWebhook(cfg.secret, body, Math.floor(Date.now() / 1000));
    const res = await post(
      cfg.url,
      body,
      {
        'content-type': 'application/json',
        'user-agent': `Vantage/${deps.version}`,
        ...cfg.headers,
        [SIGNATURE_HEADER]: sig,
      },
      { ...(cfg.ca !== undefined && { ca: cfg.ca }), timeoutMs: cfg.timeoutMs },
    );
    if (res.status < 200 || res.status > 299)
      throw new Error(`webhook answered ${res.status}: ${res.body.slice(0, 200)}`);
  };
  return {
    kind: 'webhook',
    name,
    async start() {
      health = { ok: true, detail: cfg.url };
    },
    async stop() {},
    async deliver(batch): Promise<DeliveryResult> {
      const failed: number[] = [];
      let error: string | undefined;
      try {
        if (cfg.mode === 'batch') {
          await send(JSON.stringify(batch.map(encode)));
        } else {
          for (let i = 0; i < batch.length; i++) {
            try {
              await send(JSON.stringify(encode(batch[i]!)));
            } catch (e) {
              failed.push(i);
              error = (e as Error).message;
            }
          }
        }
      } catch (e) {
        health = { ok: false, detail: (e as Error).message };
        throw e;
      }
      health = error ? { ok: false, detail: error } : { ok: true, detail: cfg.url };
      return error === undefined ? { failed } : { failed, error };
    },
    health: () => health,
  };
}
