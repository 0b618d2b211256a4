import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP call, answer read whole (bounded to 1 MiB); any method, a custom CA for HTTPS. */
export function call(c: HttpCall, o: { ca?: string; timeoutMs: number }): Promise<HttpAnswer> {
  const u = new URL(c.url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      {
        method: c.method,
        headers: {
          ...(c.body !== undefined && { 'content-length': Buffer.byteLength(c.body) }),
          ...c.headers,
        },
        timeout: o.timeoutMs,
        ...(o.ca !== undefined && { ca: readFileSync(o.ca) }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 1 << 20) text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer from ${u.host} in ${o.timeoutMs} ms`)));
    r.on('error', reject);
    r.end(c.body);
  });
}

export function expect2xx(a: HttpAnswer, what: string): void {
  if (a.status < 200 || a.status > 299)
    throw new Error(`${what} answered ${a.status}: ${a.body.slice(0, 200)}`);
}

/** Header values shown in dry runs: credentials masked. */
export function masked(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    out[k] = /authorization|token|secret|signature|key|cookie/i.test(k) ? '***' : v;
  }
  return out;
}
