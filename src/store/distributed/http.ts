import http from 'node:http';
import https from 'node:https';

/**
 * A minimal ClickHouse HTTP client: statements go in the POST body, inserts carry their rows
 * (Native or RowBinary) in the body with the statement in `query`. Results are read as TabSeparated,
 * the one text format whose escaping is identical on 18.16 and current servers.
 */
export interface ChNode {
  /** http://host:port of the node's HTTP interface. */
  url: string;
  user?: string;
  password?: string;
}

export class ClickHouseError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ClickHouseError';
  }
}

export interface HttpOpts {
  database?: string;
  timeoutMs?: number;
  /** Server settings for an insert (URL parameters), e.g. insert_distributed_sync. */
  settings?: Readonly<Record<string, string>>;
  /** Content-Encoding of an insert's body the caller compressed (gzip, deflate). */
  contentEncoding?: string;
}

function headers(n: ChNode): Record<string, string> {
  const h: Record<string, string> = {};
  if (n.user) h['X-ClickHouse-User'] = n.user;
  if (n.password) h['X-ClickHouse-Key'] = n.password;
  return h;
}

function endpoint(n: ChNode, params: Record<string, string>): string {
  const u = new URL(n.url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

async function send(
  n: ChNode,
  params: Record<string, string>,
  body: string | Uint8Array,
  o: HttpOpts,
): Promise<string> {
  const p = { ...params };
  if (o.database) p.database = o.database;
  const go = () =>
    fetch(endpoint(n, p), {
      method: 'POST',
      headers: headers(n),
      body,
      signal: AbortSignal.timeout(o.timeoutMs ?? 300_000),
    });
  let res: Response;
  try {
    res = await go();
  } catch (e) {
    // ClickHouse closes idle keep-alive connections after 3 s, fetch keeps them 4 s: a request
    // sent on one it just closed fails before the server read it. Sent again once, anew.
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw e;
    res = await go();
  }
  const text = await res.text();
  if (!res.ok) throw new ClickHouseError(`clickhouse ${n.url}: ${text.trim().slice(0, 2000)}`, res.status);
  return text;
}

/** Run a statement; returns the raw TabSeparated answer. */
export function exec(n: ChNode, sql: string, o: HttpOpts = {}): Promise<string> {
  return send(n, {}, sql, o);
}

/** Run a SELECT and return its rows as arrays of unescaped fields (null for \N). */
export async function rows(n: ChNode, sql: string, o: HttpOpts = {}): Promise<(string | null)[][]> {
  return parseTsv(await send(n, {}, `${sql} FORMAT TabSeparated`, o));
}

/** Sockets given a last-resort error listener (once each: they are reused). */
const guarded = new WeakSet<object>();

/** Keep-alive connections for inserts, several at once (one per insert in flight). */
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

/** The insert formats the store writes: both are binary and exact, Native is columnar. */
export type InsertFormat = 'Native' | 'RowBinary';

export function insertRowBinary(n: ChNode, table: string, data: Uint8Array, o: HttpOpts = {}): Promise<void> {
  return insertBody(n, table, 'RowBinary', data, o);
}

/**
 * Insert rows encoded in `format` into a table. Sent with node:http rather than fetch: fetch
 * copies a body buffer before sending it, which for inserts of tens of MB cost more than
 * encoding them.
 */
export function insertBody(
  n: ChNode,
  table: string,
  format: InsertFormat,
  data: Uint8Array,
  o: HttpOpts = {},
): Promise<void> {
  const params: Record<string, string> = { ...o.settings, query: `INSERT INTO ${table} FORMAT ${format}` };
  if (o.database) params.database = o.database;
  const u = new URL(endpoint(n, params));
  const tls = u.protocol === 'https:';
  const once = (): Promise<void> =>
    new Promise((ok, fail) => {
      const req = (tls ? https : http).request(
        u,
        {
          method: 'POST',
          agent: tls ? agents.https : agents.http,
          headers: {
            ...headers(n),
            'content-length': String(data.byteLength),
            ...(o.contentEncoding ? { 'content-encoding': o.contentEncoding } : {}),
          },
          timeout: o.timeoutMs ?? 300_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', fail);
          res.on('end', () => {
            if (res.statusCode === 200) return ok();
            // The server may answer an error before it read the whole body: this connection
            // is not reused, and the rest of the body is not written to it.
            req.destroy();
            const text = Buffer.concat(chunks).toString('utf8');
            fail(
              new ClickHouseError(`clickhouse ${n.url}: ${text.trim().slice(0, 2000)}`, res.statusCode ?? 0),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`clickhouse ${n.url}: insert timed out`)));
      // A write failing after the answer (EPIPE on a closed connection) is reported through
      // `req` once; a second error of the same socket must not become an uncaught exception.
      req.on('socket', (sock) => {
        if (guarded.has(sock)) return;
        guarded.add(sock);
        sock.on('error', () => undefined);
      });
      req.on('error', (e: Error & { code?: string }) => {
        // A kept-alive connection the server closed as the request went out: it was not read.
        if (req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE'))
          fail(Object.assign(e, { retry: true }));
        else fail(e);
      });
      req.end(data);
    });
  return once().catch((e: { retry?: boolean }) => {
    if (e.retry) return once();
    throw e;
  });
}

const UNESCAPE: Record<string, string> = {
  b: '\b',
  f: '\f',
  r: '\r',
  n: '\n',
  t: '\t',
  '0': '\0',
  "'": "'",
  '\\': '\\',
  a: '\x07',
  v: '\v',
};

function field(s: string): string | null {
  if (s === '\\N') return null;
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      const e = s[++i]!;
      out += UNESCAPE[e] ?? e;
    } else out += c;
  }
  return out;
}

export function parseTsv(text: string): (string | null)[][] {
  if (text.length === 0) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.split('\t').map(field));
}
