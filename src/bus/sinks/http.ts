import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  body: string;
}

/** POST a body and read the whole answer (bounded); a custom CA for HTTPS receivers. */
export function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  o: { ca?: string; timeoutMs: number },
): Promise<HttpAnswer> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      {
        method: 'POST',
        headers: { 'content-length': Buffer.byteLength(body), ...headers },
        timeout: o.timeoutMs,
        ...(o.ca !== undefined && { ca: readFileSync(o.ca) }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (text.length < 65_536) text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer from ${u.host} in ${o.timeoutMs} ms`)));
    r.on('error', reject);
    r.end(body);
  });
}
