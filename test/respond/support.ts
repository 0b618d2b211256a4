import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Product, type ProductOptions, startProduct } from '../../src/cli/start.js';
import { alertRecordOf } from '../../src/common/alerts.js';
import { silentLogger } from '../../src/common/log.js';
import { parseResponderConfig } from '../../src/respond/config.js';
import type { AlertRecord } from '../../src/schema/alert.js';

export interface RespondProduct {
  product: Product;
  base: string;
  admin: string;
  dir: string;
  token(role: 'viewer' | 'analyst' | 'admin', name: string): string;
}

/** The product on loopback with a `respond` config (adapters, approvers), over a fresh or given data dir. */
export async function startRespond(
  respond: Record<string, unknown>,
  dir?: string,
  extra: Partial<ProductOptions> = {},
): Promise<RespondProduct> {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'vantage-respond-'));
  let admin = '';
  const product = await startProduct({
    dataDir: join(d, 'data'),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    packets: false,
    log: silentLogger,
    respond: parseResponderConfig({ backoffMs: 50, ...respond }),
    ...extra,
    print: (s) => {
      admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
    },
  });
  return {
    product,
    base: product.url,
    admin,
    dir: d,
    token: (role, name) => product.tokens.create(role, name).token,
  };
}

export async function api(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{
  status: number;
  json: Record<string, unknown> & { error?: { message: string } };
  text: string;
}> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: res.status, json, text };
}

/** Poll until `fn` returns a value (not undefined/false); fails after `ms` with `what`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function scanAlert(over: Partial<AlertRecord> = {}, key = String(Math.random())): AlertRecord {
  return {
    ...alertRecordOf(
      {
        ts: Date.now(),
        category: 'scan',
        detector: 'scan.vertical',
        title: 'Port scan of 10.9.1.2',
        severity: 70,
        confidence: 90,
        src_ip: '10.9.0.2',
        dst_ip: '10.9.1.2',
        key,
      },
      'test',
    ),
    ...over,
  };
}

/** Links (approve, deny) sent to one approver in a Slack-shaped message. */
export function slackLinks(bodies: unknown[], who: string): { approve: string; deny: string } | undefined {
  for (const b of bodies) {
    const m = b as { text: string; blocks: { type: string; elements?: { url: string }[] }[] };
    if (!m.text.includes(`Requested of ${who}.`)) continue;
    const urls = m.blocks.find((x) => x.type === 'actions')?.elements?.map((e) => e.url) ?? [];
    return { approve: urls[0]!, deny: urls[1]! };
  }
  return undefined;
}
