import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * RFC 9457 problem documents: the one error shape every route answers with. The `error`
 * member repeats status and message in the shape API v1 had before problem documents, so
 * clients written against it keep working (deprecated; see docs/CHANGELOG-api.md).
 */
export const PROBLEM_TYPE = 'application/problem+json';

const TITLES: Record<number, [string, string]> = {
  400: ['Bad Request', 'bad-request'],
  401: ['Unauthorized', 'unauthorized'],
  403: ['Forbidden', 'forbidden'],
  404: ['Not Found', 'not-found'],
  405: ['Method Not Allowed', 'method-not-allowed'],
  406: ['Not Acceptable', 'not-acceptable'],
  408: ['Request Timeout', 'request-timeout'],
  409: ['Conflict', 'conflict'],
  410: ['Gone', 'gone'],
  411: ['Length Required', 'length-required'],
  412: ['Precondition Failed', 'precondition-failed'],
  413: ['Content Too Large', 'content-too-large'],
  414: ['URI Too Long', 'uri-too-long'],
  415: ['Unsupported Media Type', 'unsupported-media-type'],
  416: ['Range Not Satisfiable', 'range-not-satisfiable'],
  422: ['Unprocessable Content', 'unprocessable-content'],
  429: ['Too Many Requests', 'too-many-requests'],
  431: ['Request Header Fields Too Large', 'request-header-fields-too-large'],
  500: ['Internal Server Error', 'internal-error'],
  503: ['Service Unavailable', 'service-unavailable'],
};

export function problemTitle(status: number): string {
  return TITLES[status]?.[0] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** A stable URI per kind of problem; filter errors have their own so clients can point at the position. */
export function problemType(status: number, kind?: string): string {
  return `urn:vantage:problem:${kind ?? TITLES[status]?.[1] ?? String(status)}`;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id: string;
  position?: number;
  expected?: string;
  error: { status: number; message: string; position?: number; expected?: string };
  [k: string]: unknown;
}

export function problem(
  status: number,
  detail: string,
  requestId: string,
  extra: Record<string, unknown> = {},
  instance?: string,
): Problem {
  const { kind, ...rest } = extra as { kind?: string } & Record<string, unknown>;
  return {
    ...rest,
    type: problemType(status, typeof kind === 'string' ? kind : undefined),
    title: problemTitle(status),
    status,
    detail,
    ...(instance !== undefined ? { instance: instance.slice(0, 512) } : {}),
    request_id: requestId,
    error: { ...rest, status, message: detail },
  };
}

/** Answer with a problem document; serialized here so no route schema can reshape it. */
export function sendProblem(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const body = problem(status, detail, String(req.id), extra, req.url.split('?')[0]);
  return reply.code(status).type(`${PROBLEM_TYPE}; charset=utf-8`).send(JSON.stringify(body));
}
