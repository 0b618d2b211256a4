import type { SwaggerOptions } from '@fastify/swagger';
import { accessOf } from './contract.js';
import { PROBLEM_TYPE, problemTitle } from './problem.js';

/**
 * How each route appears in the OpenAPI document. The route's own schema (what Fastify validates
 * with) gives the parameters, bodies and success responses; this adds, for every route alike,
 * what the shared machinery in contract.ts makes true of it: the error statuses with the shared
 * Problem document, the headers, the security and an operation id. Routes added later get the
 * same without writing anything.
 */

const WHY: Record<number, string> = {
  400: 'The request is malformed or a parameter is invalid; `detail` says which and why (filter errors carry `position` and `expected`).',
  401: 'No token, a malformed Authorization header, or a token that is not recognised.',
  403: "The token's role is below what this operation needs.",
  404: 'No such resource.',
  406: 'The Accept header asks for no content type this operation produces.',
  409: 'Conflict with the current state (or a request with the same Idempotency-Key is still in progress).',
  413: 'The request body is larger than the limit.',
  414: 'The request target is too long.',
  415: 'The Content-Type of the body is not one this operation reads.',
  422: 'The Idempotency-Key was already used with a different request body.',
  429: 'Rate limit reached: retry after Retry-After seconds.',
  431: 'The request headers are too large.',
  500: 'Unexpected error: it is logged and counted with the request id of the answer.',
  503: 'The server is shutting down.',
};

const str = (description: string) => ({ type: 'string', description });
const int = (description: string) => ({ type: 'integer', description });
const REQUEST_ID = str('The request id: the X-Request-Id sent, when sane, else a fresh one.');
const RATE_HEADERS = {
  'retry-after': int('Seconds until a request is allowed again.'),
  'ratelimit-limit': int('Requests allowed per window.'),
  'ratelimit-remaining': int('Requests left in the window.'),
  'ratelimit-reset': int('Seconds until the window resets.'),
};

function problemResponse(status: number, extraHeaders: Record<string, unknown> = {}) {
  return {
    description: `${problemTitle(status)}. ${WHY[status] ?? ''}`.trim(),
    headers: { 'x-request-id': REQUEST_ID, ...extraHeaders },
    content: { [PROBLEM_TYPE]: { schema: { $ref: 'Problem#' } } },
  };
}

type AnySchema = Record<string, unknown>;

function operationId(method: string, url: string): string {
  const parts = url
    .replace(/^\/api\/v1\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => (p.startsWith(':') ? `by_${p.slice(1)}` : p.replace(/[^A-Za-z0-9]+/g, '_')));
  return [method.toLowerCase(), ...(parts.length ? parts : ['root'])].join('_');
}

/** The documented form of one route: its schema plus the shared contract. */
export function documentRoute(
  schema: AnySchema | undefined,
  url: string,
  route: { method: string | string[]; config?: unknown },
): AnySchema {
  const s: AnySchema = { ...(schema ?? {}) };
  const method = (Array.isArray(route.method) ? route.method[0]! : route.method).toUpperCase();
  const access = accessOf(url, route.config);
  const declared = (s.response ?? {}) as Record<string, AnySchema>;
  const response: Record<string, unknown> = {};
  const successHeaders: AnySchema = { 'x-request-id': REQUEST_ID };
  // streamed downloads (config etag: false) carry no ETag and never answer 304
  const etag = method === 'GET' && (route.config as { etag?: boolean } | undefined)?.etag !== false;
  if (etag)
    successHeaders.etag = str(
      'Entity tag of a response answered from memory; send it back in If-None-Match.',
    );
  for (const [code, r] of Object.entries(declared)) {
    if (/^[23]/.test(code))
      response[code] = { ...r, headers: { ...((r.headers as AnySchema) ?? {}), ...successHeaders } };
  }
  if (!Object.keys(response).some((c) => c.startsWith('2'))) {
    const any = {
      description: 'Success',
      headers: successHeaders,
      content: { 'application/json': { schema: {} } },
    };
    if (method === 'GET' || method === 'HEAD') response['200'] = any;
    else {
      response['200'] = any;
      response['201'] = any;
      response['204'] = {
        description: 'Done, no content',
        type: 'null',
        headers: { 'x-request-id': REQUEST_ID },
      };
    }
  }
  if (etag) {
    response['304'] = {
      description: 'Not modified: the If-None-Match sent names the current ETag.',
      type: 'null',
      headers: { 'x-request-id': REQUEST_ID, etag: str('The current entity tag.') },
    };
  }
  const errors = new Set([400, 404, 406, 414, 429, 431, 500, 503]);
  for (const code of Object.keys(declared)) if (/^[45]\d\d$/.test(code)) errors.add(Number(code));
  if (access !== 'public') {
    errors.add(401);
    errors.add(403);
  }
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    errors.add(413);
    errors.add(415);
  }
  if (method === 'POST') {
    errors.add(409);
    errors.add(422);
  }
  for (const code of [...errors].sort()) {
    response[String(code)] = problemResponse(
      code,
      code === 429 ? RATE_HEADERS : code === 401 ? { 'www-authenticate': str('Bearer') } : {},
    );
  }
  s.response = response;
  // A body no validator reads (a streamed upload) is documented by the route's config.
  const docBody = (route.config as { docBody?: unknown } | undefined)?.docBody;
  if (docBody && !s.body) s.body = docBody;
  s.operationId ??= operationId(method, url);
  if (access === 'public') s.security = [];
  else {
    const need = `Needs a token with the ${access} role or higher.`;
    s.description = s.description ? `${String(s.description)}\n\n${need}` : need;
  }
  return s;
}

export function swaggerOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vantage API',
        version: '1',
        description:
          'Network visibility: flows, L7 records, KPIs, search, packets, alerts. Errors are RFC 9457 problem documents (application/problem+json). Changes within v1 are additive only; see CHANGELOG-api.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // The console's session (POST /api/v1/session); changes also need X-CSRF-Token.
          session: { type: 'apiKey', in: 'cookie', name: 'vantage_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        String((json as { $id?: string }).$id ?? `def-${i}`),
    },
    transformObject: (o) =>
      shareErrorResponses((o as unknown as { openapiObject: OpenApiDoc }).openapiObject) as never,
    transform: ({ schema, url, route }) => ({
      schema: documentRoute(schema as AnySchema | undefined, url, route) as never,
      url,
    }),
  };
}

type OpenApiDoc = {
  components?: { responses?: Record<string, unknown> } & Record<string, unknown>;
  paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
};

/**
 * Every operation answers an error status with the same response: it is written once in
 * components.responses (Problem400, Problem401, ...) and referenced, so the document stays small
 * and generated clients have one error type.
 */
/**
 * A choice between constants (how TypeBox writes a union of literals) is written as the
 * equivalent `enum`, which client generators turn into one enumeration rather than one type per
 * constant.
 */
function constUnionsToEnums(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) constUnionsToEnums(n);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  const any = o.anyOf;
  if (Array.isArray(any) && any.length > 0) {
    const items = any as Record<string, unknown>[];
    const type = items[0]?.type;
    // {const: x} or, as @fastify/swagger writes it, {enum: [x]}
    const one = (i: Record<string, unknown>): unknown[] =>
      'const' in i ? [i.const] : Array.isArray(i.enum) && i.enum.length === 1 ? i.enum : [];
    const plain = items.every(
      (i) =>
        one(i).length === 1 &&
        i.type === type &&
        Object.keys(i).every((k) => k === 'const' || k === 'enum' || k === 'type'),
    );
    if (plain && (type === 'string' || type === 'integer' || type === 'number')) {
      delete o.anyOf;
      o.type = type;
      o.enum = items.map((i) => one(i)[0]);
    }
  }
  for (const v of Object.values(o)) constUnionsToEnums(v);
}

function shareErrorResponses(doc: OpenApiDoc): OpenApiDoc {
  constUnionsToEnums(doc.paths);
  constUnionsToEnums(doc.components);
  const shared: Record<string, unknown> = {};
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      for (const [code, r] of Object.entries(op.responses ?? {})) {
        if (!/^[45]\d\d$/.test(code)) continue;
        const name = `Problem${code}`;
        shared[name] ??= r;
        // a route-specific response (another description) keeps its own text
        if (JSON.stringify(shared[name]) === JSON.stringify(r)) {
          op.responses![code] = { $ref: `#/components/responses/${name}` };
        }
      }
    }
  }
  doc.components = { ...doc.components, responses: { ...doc.components?.responses, ...shared } };
  return doc;
}
