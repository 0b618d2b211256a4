import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokerConfig } from '../../src/broker/index.js';
import type { CaptureSourceConfig } from '../../src/cli/config-file.js';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';

/** A product on loopback with a VXLAN mirror receiver on 127.0.0.1 (ephemeral port). */
export interface LiveHarness {
  product: Product;
  base: string;
  dir: string;
  admin: string;
  analyst: string;
  viewer: string;
  /** The VXLAN receiver's port. */
  vxlanPort: number;
  /** Packets the VXLAN receiver has taken so far. */
  received(): number;
  close(): Promise<void>;
}

export async function startLive(
  opts: { broker?: BrokerConfig; capture?: CaptureSourceConfig[]; vxlan?: boolean } = {},
): Promise<LiveHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-start-'));
  let admin = '';
  const product = await startProduct({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    rateLimit: 100_000,
    log: silentLogger,
    print: (s) => {
      admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
    },
    ...(opts.vxlan === false ? {} : { mirror: { vxlan: ['127.0.0.1:0'] } }),
    ...(opts.capture ? { capture: opts.capture } : {}),
    ...(opts.broker ? { broker: opts.broker } : {}),
    // Replayed traffic is compressed in time: short timeouts let flows end while the test waits.
    flow: { idleTimeout: 1, tcpIdleTimeout: 1, tcpEndTimeout: 0.2 },
    flushMs: 200,
  });
  const vx = () => product.sources().find((s) => s.kind === 'vxlan');
  return {
    product,
    base: product.url,
    dir,
    admin,
    analyst: product.tokens.create('analyst', 'test-analyst').token,
    viewer: product.tokens.create('viewer', 'test-viewer').token,
    vxlanPort: vx()?.port ?? 0,
    received: () => vx()?.packets ?? 0,
    async close() {
      await product.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function api(
  h: LiveHarness,
  path: string,
  token: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{
  status: number;
  json: Record<string, unknown> & { error?: { message: string } };
  text: string;
}> {
  const res = await fetch(h.base + path, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: res.status, json, text };
}

/** Poll `fn` until it returns a truthy value (or throw after `ms`). */
export async function until<T>(
  fn: () => Promise<T> | T,
  ms = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
