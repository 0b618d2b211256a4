import { createHash, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { UserError } from '../common/errors.js';
import { FilterError } from '../store/filter.js';
import type { Access, ApiContext } from './context.js';
import { PROBLEM_TYPE, problem, sendProblem } from './problem.js';
import { ProblemSchema } from './schemas.js';

/**
 * The API contract as shared machinery. Every route, whoever adds it and whenever, gets the same
 * treatment without writing anything for it:
 * - the OpenAPI document lists for it every status the server can answer with (one shared
 *   RFC 9457 Problem response), the content types it produces, its security and its headers;
 * - a method its path does not have gets 405 with Allow; an Accept it cannot produce gets 406;
 * - every error becomes a problem document; an unexpected one is a 500 with a request id,
 *   logged with it and counted;
 * - X-Request-Id is echoed, GETs carry an ETag and honour If-None-Match, POSTs honour
 *   Idempotency-Key, CORS answers only for configured origins.
 *
 * A route declares what it produces in its schema (`response[2xx].content`, see `produces`);
 * everything else it writes is its own business logic.
 */

type RouteConfig = { access?: Access; produces?: string[]; etag?: boolean; idempotent?: boolean };

/** Success response with one schema per content type, in Fastify's response-schema form. */
export function produces(
  types: Record<string, TSchema>,
  description = 'Success',
): { description: string; content: Record<string, { schema: TSchema }> } {
  return {
    description,
    content: Object.fromEntries(Object.entries(types).map(([t, schema]) => [t, { schema }])),
  };
}

/** Schema of a binary download (pcap, Parquet) or a text export (CSV, NDJSON). */
export const Binary = Type.String({ format: 'binary' });
export const Text = Type.String();

const IDEMPOTENCY_KEY = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7e]+$',
  description:
    'Makes a retried POST safe: the first response to a key is stored for 24 h (per token and route) and replayed, with Idempotency-Replayed: true, to every retry with the same key and body.',
});

/** The least role a route needs: its config, else viewer under /api/ and /metrics, else public. */
export function accessOf(url: string, config: unknown): Access {
  const a = (config as RouteConfig | undefined)?.access;
  if (a !== undefined) return a;
  if (url === '/api/v1/openapi.json' || url.startsWith('/api/v1/docs')) return 'public';
  return url.startsWith('/api/') || url === '/metrics' ? 'viewer' : 'public';
}

function successTypes(schema: Record<string, unknown> | undefined): string[] {
  const resp = (schema?.response ?? {}) as Record<string, { content?: Record<string, unknown> }>;
  const out = new Set<string>();
  for (const [code, r] of Object.entries(resp)) {
    if (!/^2/.test(code)) continue;
    if (r?.content) for (const t of Object.keys(r.content)) out.add(t);
    else out.add('application/json');
  }
  return out.size ? [...out] : ['application/json'];
}

/** Media ranges of an Accept header that a response of `type` satisfies. */
export function acceptable(accept: string | undefined, types: string[]): boolean {
  if (!accept || accept.trim() === '') return true;
  const ranges = accept
    .split(',')
    .map((r) => {
      const [range, ...params] = r.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { range: range!.trim(), q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((r) => r.range !== '' && !(r.q === 0));
  if (ranges.length === 0) return true;
  return types.some((t) => {
    const [major] = t.split('/');
    return ranges.some((r) => r.range === '*/*' || r.range === `${major}/*` || r.range === t);
  });
}

const FASTIFY_ERROR_PREFIX: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported Content-Type',
};

export interface ContractOptions {
  /** Origins allowed to call the API from a browser; empty (the default) means CORS is off. */
  corsOrigins?: string[];
}

interface KnownRoute {
  re: RegExp;
  methods: Set<string>;
  wildcard: boolean;
}

interface IdemEntry {
  fingerprint: string;
  done: boolean;
  expires: number;
  status?: number;
  type?: string;
  location?: string;
  payload?: string | Buffer;
}

const IDEM_TTL_MS = 24 * 3600_000;
const IDEM_MAX = 10_000;

declare module 'fastify' {
  interface FastifyRequest {
    idemKey?: string | undefined;
  }
}

/**
 * Installs the contract on `app`. Call before any route is added and before @fastify/swagger is
 * registered, so every route passes through the onRoute hook first.
 */
export function installContract(app: FastifyInstance, ctx: ApiContext, opts: ContractOptions = {}): void {
  const known = new Map<string, KnownRoute>();
  const cors = new Set(opts.corsOrigins ?? []);

  app.addSchema(ProblemSchema);

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase());
    const url = route.url;
    const k = known.get(url) ?? {
      re: new RegExp(
        `^${url
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/:[A-Za-z0-9_]+/g, '[^/]+')
          .replace(/\*/g, '.*')}$`,
      ),
      methods: new Set<string>(),
      wildcard: url.includes('*'),
    };
    for (const m of methods) k.methods.add(m);
    known.set(url, k);
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    const config = { ...((route.config as RouteConfig | undefined) ?? {}) };
    config.access = accessOf(url, config);
    // 406 applies to the API; the console's files and the interactive docs are for browsers
    const api = (url.startsWith('/api/') || url === '/metrics') && !url.startsWith('/api/v1/docs');
    if (api && !schema.hide) config.produces ??= successTypes(schema);
    (route as { config: unknown }).config = config;
    if (methods.includes('POST') && config.idempotent !== false && !schema.hide) {
      const headers = (schema.headers ?? Type.Object({})) as { properties?: Record<string, TSchema> };
      headers.properties = { ...headers.properties, 'idempotency-key': Type.Optional(IDEMPOTENCY_KEY) };
      schema.headers = headers;
      route.schema = schema;
    }
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof UserError) {
      if (err.status === 401) reply.header('www-authenticate', 'Bearer');
      return sendProblem(req, reply, err.status, err.message, err.details);
    }
    if (err instanceof FilterError) {
      return sendProblem(req, reply, 400, err.message, {
        kind: 'filter',
        position: err.position,
        expected: err.expected,
      });
    }
    if (err.validation) return sendProblem(req, reply, 400, validationMessage(err));
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      const prefix = err.code ? FASTIFY_ERROR_PREFIX[err.code] : undefined;
      return sendProblem(req, reply, err.statusCode, prefix ? `${prefix}: ${err.message}` : err.message);
    }
    ctx.log.error('request failed', {
      request_id: String(req.id),
      method: req.method,
      url: req.url.slice(0, 200),
      error: String(err?.stack ?? err),
    });
    ctx.metrics.inc('vantage_api_errors_total', 'Unexpected API errors (answered 500), by route.', {
      route: req.routeOptions.url ?? 'unmatched',
    });
    return sendProblem(
      req,
      reply,
      500,
      `internal error; it is logged with request id ${String(req.id)}: quote it when reporting`,
    );
  });

  if (cors.size > 0) {
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (req.method !== 'OPTIONS' || typeof origin !== 'string' || !cors.has(origin)) return;
      if (!req.headers['access-control-request-method']) return;
      return reply
        .code(204)
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', 'GET, HEAD, POST, PUT, PATCH, DELETE')
        .header(
          'access-control-allow-headers',
          'authorization, content-type, idempotency-key, if-none-match, x-request-id',
        )
        .header('access-control-max-age', '600')
        .header('vary', 'Origin')
        .send();
    });
  }

  /** 405 with Allow when the path exists under other methods, else 404; OPTIONS lists them. */
  const unrouted = (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!;
    const api = path.startsWith('/api/') || path === '/metrics';
    const allowed = new Set<string>();
    for (const k of known.values()) {
      if ((k.wildcard && api) || !k.re.test(path)) continue;
      for (const m of k.methods) allowed.add(m);
    }
    if (allowed.size > 0) {
      allowed.add('OPTIONS');
      const allow = [...allowed].sort().join(', ');
      if (req.method === 'OPTIONS') return reply.code(204).header('allow', allow).send();
      return sendProblem(
        req,
        reply.header('allow', allow),
        405,
        `${req.method} is not a method of ${path.slice(0, 200)}; it allows ${allow}`,
      );
    }
    return sendProblem(req, reply, 404, `no route ${req.method} ${path.slice(0, 200)}; see /api/v1/docs`);
  };
  app.setNotFoundHandler(unrouted);
  // Answered before anything reads the body: an unknown method (QUERY) must not meet body parsing.
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return unrouted(req, reply);
  });

  // 406: before the handler does any work, and after auth (a stranger learns nothing).
  app.addHook('preValidation', async (req, reply) => {
    const types = (req.routeOptions.config as RouteConfig | undefined)?.produces;
    if (!types || acceptable(req.headers.accept, types)) return;
    return sendProblem(
      req,
      reply,
      406,
      `this route produces ${types.join(', ')}; the Accept header asks for none of them`,
    );
  });

  // Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): replay the stored response.
  const idem = new Map<string, IdemEntry>();
  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (req.method !== 'POST' || typeof key !== 'string') return;
    if ((req.routeOptions.config as RouteConfig | undefined)?.idempotent === false) return;
    const now = Date.now();
    if (idem.size >= IDEM_MAX) {
      for (const [k, e] of idem) if (e.expires < now || idem.size >= IDEM_MAX) idem.delete(k);
    }
    const scope = `${req.token?.id ?? req.ip}\n${req.routeOptions.url}\n${req.url}\n${key}`;
    const fingerprint = createHash('sha256')
      .update(
        req.body !== undefined && typeof (req.body as { pipe?: unknown })?.pipe !== 'function'
          ? JSON.stringify(req.body)
          : `${req.headers['content-type'] ?? ''}:${req.headers['content-length'] ?? ''}`,
      )
      .digest('base64url');
    const e = idem.get(scope);
    if (e && e.expires > now) {
      if (e.fingerprint !== fingerprint) {
        return sendProblem(req, reply, 422, 'this Idempotency-Key was used with a different request body');
      }
      if (!e.done) {
        return sendProblem(req, reply, 409, 'a request with this Idempotency-Key is still in progress');
      }
      reply.code(e.status!).header('idempotency-replayed', 'true');
      if (e.location) reply.header('location', e.location);
      if (e.type) reply.type(e.type);
      return reply.send(e.payload);
    }
    idem.set(scope, { fingerprint, done: false, expires: now + IDEM_TTL_MS });
    req.idemKey = scope;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', String(req.id));
    const origin = req.headers.origin;
    if (typeof origin === 'string' && cors.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header(
        'access-control-expose-headers',
        'x-request-id, etag, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, location',
      );
      reply.header('vary', 'Origin');
    }
    if (req.idemKey) {
      const e = idem.get(req.idemKey);
      const storable = typeof payload === 'string' || Buffer.isBuffer(payload);
      if (e && !e.done && reply.statusCode < 300 && storable) {
        e.done = true;
        e.status = reply.statusCode;
        e.payload = payload as string | Buffer;
        const t = reply.getHeader('content-type');
        if (typeof t === 'string') e.type = t;
        const loc = reply.getHeader('location');
        if (typeof loc === 'string') e.location = loc;
      } else if (e && !e.done) idem.delete(req.idemKey);
      req.idemKey = undefined;
    }
    // ETag on every GET answered from memory (not on streamed downloads): clients revalidate cheaply.
    const m = req.method;
    if ((m === 'GET' || m === 'HEAD') && reply.statusCode === 200) {
      if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
      if ((req.routeOptions.config as RouteConfig | undefined)?.etag === false) return payload;
      const tag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
      reply.header('etag', tag);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'private, no-cache');
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && matchesEtag(inm, tag)) {
        reply.code(304);
        reply.removeHeader('content-type');
        reply.removeHeader('content-length');
        return '';
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (req) => {
    // A key whose request ended without a stored answer (stream, abort) may be retried.
    if (req.idemKey) {
      const e = idem.get(req.idemKey);
      if (e && !e.done) idem.delete(req.idemKey);
    }
  });
}

function matchesEtag(header: string, tag: string): boolean {
  const weak = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || weak(t) === weak(tag));
}

function validationMessage(err: FastifyError): string {
  const v = err.validation![0] as
    | { params?: { additionalProperty?: string }; instancePath?: string }
    | undefined;
  const where = err.validationContext ?? 'request';
  // A choice between literals fails as one "must be equal to constant" per choice: say the choices.
  const allowed = err
    .validation!.map((e) => e as { keyword?: string; params?: { allowedValue?: unknown } })
    .filter((e) => e.keyword === 'const')
    .map((e) => String(e.params?.allowedValue));
  const field = (v?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  return v?.params?.additionalProperty
    ? `unknown ${where} parameter '${String(v.params.additionalProperty).slice(0, 64)}'; see /api/v1/docs for the accepted ones`
    : allowed.length > 1 && field
      ? `invalid ${where}: ${field} must be one of ${allowed.join(', ')}`
      : `invalid ${where}: ${err.message.replace(/^(querystring|params|body|headers)\/?/, '').trim()}`;
}

/** Errors the router meets before a route is chosen (a malformed URL, a path parameter too long). */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  const detail =
    status === 414
      ? 'a path parameter is longer than any this API accepts'
      : `malformed URL: ${err.message.slice(0, 200)}`;
  void sendProblem(req, reply.header('x-request-id', String(req.id)), status, detail);
}

/** Errors Node's HTTP parser meets before Fastify sees a request, answered as problem documents. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return;
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : err.code === 'HPE_URI_TOO_LONG'
          ? 414
          : 400;
  const id = randomUUID();
  const body = JSON.stringify(
    problem(
      status,
      status === 431 ? 'request headers too large' : `malformed HTTP request (${err.code ?? 'parse error'})`,
      id,
    ),
  );
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Content-Type: ${PROBLEM_TYPE}; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A request id from the client's X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && /^[A-Za-z0-9._:@/+=-]{1,128}$/.test(h) ? h : randomUUID();
}

/**
 * Validators: query strings, paths and headers are text, so their values are coerced to the
 * schema's types (`limit=10` is a number, `ip=a` a one-item list); a JSON body is typed already
 * and is validated as sent, so `null` where a string is documented is refused, not read as "".
 */
export function schemaController() {
  const coercing = AjvCompiler();
  const strict = AjvCompiler();
  return {
    compilersFactory: {
      buildValidator: (externalSchemas: unknown, ajvOptions: unknown) => {
        const o = ajvOptions as { customOptions?: Record<string, unknown> };
        const text = coercing(externalSchemas as never, o as never);
        const body = strict(
          externalSchemas as never,
          {
            ...o,
            customOptions: { ...o.customOptions, coerceTypes: false },
          } as never,
        );
        return (route: { httpPart?: string }) => (route.httpPart === 'body' ? body : text)(route as never);
      },
    },
  };
}
