import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Product, startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { samplePcap } from './pcap.js';

export interface Harness {
  product: Product;
  base: string;
  admin: string;
  analyst: string;
  viewer: string;
  dir: string;
  close(): Promise<void>;
}

/** A real server on loopback (port 0) over a real store in a temp dir, seeded with a sample capture. */
export async function startHarness(
  opts: { rateLimit?: number; broker?: boolean; corsOrigins?: string[] } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-api-'));
  const samples = join(dir, 'samples');
  mkdirSync(samples);
  writeFileSync(join(samples, 'sample.pcap'), samplePcap().pcap);
  let admin = '';
  const product = await startProduct({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    samplesDir: samples,
    rateLimit: opts.rateLimit ?? 100_000,
    ...(opts.broker ? { broker: { decapsulate: true, targets: [] } } : {}),
    ...(opts.corsOrigins ? { corsOrigins: opts.corsOrigins } : {}),
    log: silentLogger,
    print: (s) => {
      admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
    },
  });
  await product.samplesDone;
  const analyst = product.tokens.create('analyst', 'test').token;
  const viewer = product.tokens.create('viewer', 'test').token;
  return {
    product,
    base: product.url,
    admin,
    analyst,
    viewer,
    dir,
    async close() {
      await product.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function get(
  h: Harness,
  path: string,
  token: string | null = h.viewer,
  headers: Record<string, string> = {},
) {
  const res = await fetch(h.base + path, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return {
    status: res.status,
    text,
    json: json as Record<string, unknown> & { error?: { message: string; position?: number } },
    headers: res.headers,
  };
}

/** Send raw bytes as an HTTP request (for inputs fetch refuses to send); returns the status. */
export function rawRequest(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      if (!/^HTTP\/1\.1 (\d{3})/.test(buf)) resolve(0);
    });
    s.write(bytes);
  });
}
