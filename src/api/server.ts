import { existsSync } from 'node:fs';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { UserError } from '../common/errors.js';
import { hashToken, type Role, roleAllows } from './auth.js';
import type { Access, ApiContext } from './context.js';
import { federationRoutes } from './federation/routes.js';
import { adminRoutes } from './routes/admin.js';
import { alertRoutes } from './routes/alerts.js';
import { brokerRoutes } from './routes/broker.js';
import { captureRoutes } from './routes/captures.js';
import { consoleRoutes } from './routes/console.js';
import { dashboardRoutes } from './routes/dashboards.js';
import { eventRoutes } from './routes/events.js';
import { geoRoutes } from './routes/geo.js';
import { intelRoutes } from './routes/intel.js';
import { kpiRoutes } from './routes/kpis.js';
import { monitorRoutes } from './routes/monitors.js';
import { pcapRoutes } from './routes/pcap.js';
import { policyRoutes } from './routes/policy.js';
import { recordRoutes } from './routes/records.js';
import { searchRoutes } from './routes/search.js';
import { sinkRoutes } from './routes/sinks.js';
import { streamRoutes } from './routes/stream.js';
import { LANDING, systemRoutes } from './routes/system.js';

declare module 'fastify' {
  interface FastifyRequest {
    token?: { id: string; role: Role; name: string };
  }
}

const PUBLIC_PREFIXES = ['/api/v1/docs', '/api/v1/openapi.json'];

/**
 * The HTTP API: built inert here, listening once the caller calls `listen`. Every route but
 * health, the API documentation and the console's static files needs a bearer token whose
 * role is at least the route's `access`.
 */
export async function createApiServer(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  });

  app.setErrorHandler((err: FastifyError & { position?: number }, req, reply) => {
    let status = 500;
    let message = 'internal error';
    let details: Record<string, unknown> = {};
    if (err instanceof UserError) {
      status = err.status;
      message = err.message;
      details = err.details;
    } else if (err.validation) {
      status = 400;
      const v = err.validation[0] as
        | { params?: { additionalProperty?: string }; instancePath?: string }
        | undefined;
      const where = err.validationContext ?? 'request';
      // A choice between literals fails as one "must be equal to constant" per choice: say the choices.
      const allowed = err.validation
        .map((e) => e as { keyword?: string; params?: { allowedValue?: unknown } })
        .filter((e) => e.keyword === 'const')
        .map((e) => String(e.params?.allowedValue));
      const field = (v?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
      message = v?.params?.additionalProperty
        ? `unknown ${where} parameter '${String(v.params.additionalProperty).slice(0, 64)}'; see /api/v1/docs for the accepted ones`
        : allowed.length > 1 && field
          ? `invalid ${where}: ${field} must be one of ${allowed.join(', ')}`
          : `invalid ${where}: ${err.message.replace(/^(querystring|params|body|headers)\/?/, '').trim()}`;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = err.message;
      if (status === 413) message = `request body too large: ${err.message}`;
    } else {
      ctx.log.error('request failed', { url: req.url.slice(0, 200), error: String(err?.stack ?? err) });
    }
    void reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send({ error: { status, message, ...details } });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      error: {
        status: 404,
        message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; see /api/v1/docs`,
      },
    });
  });

  await app.register(rateLimit, {
    global: true,
    max: ctx.rateLimit,
    timeWindow: 60_000,
    keyGenerator: (req) => {
      const h = req.headers.authorization;
      return typeof h === 'string' && h.length < 512 ? `t:${hashToken(h)}` : `a:${req.ip}`;
    },
    errorResponseBuilder: (_req, c) => {
      const e = new UserError(
        429,
        `rate limit of ${c.max} requests per minute reached; retry in ${Math.ceil(c.ttl / 1000)} s`,
      );
      (e as unknown as { statusCode: number }).statusCode = 429;
      return e as unknown as object;
    },
  });
  await app.register(multipart, {
    limits: { fileSize: ctx.maxUploadBytes, files: 16, fields: 16, parts: 32 },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Vantage API',
        version: '1',
        description: 'Network visibility: flows, L7 records, KPIs, search, exports.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs' });

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    let access = (req.routeOptions.config as { access?: Access } | undefined)?.access;
    if (PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) access = 'public';
    if (access === undefined) access = path.startsWith('/api/') || path === '/metrics' ? 'viewer' : 'public';
    if (access === 'public') return;
    const h = req.headers.authorization;
    if (!h) {
      throw new UserError(
        401,
        'missing token: send "Authorization: Bearer <token>"; the first start wrote an admin token to DATA_DIR/admin-token',
      );
    }
    const m = /^Bearer ([A-Za-z0-9_.~+/=-]{8,256})$/i.exec(h);
    if (!m) throw new UserError(401, 'malformed Authorization header: expected "Bearer <token>"');
    const e = ctx.tokens.verify(m[1]!);
    if (!e)
      throw new UserError(
        401,
        'token not recognised: it may be revoked or mistyped; create one with `vantage token create`',
      );
    if (!roleAllows(e.role, access)) {
      throw new UserError(
        403,
        `this route needs the ${access} role or higher; your token has the ${e.role} role`,
      );
    }
    req.token = { id: e.id, role: e.role, name: e.name };
  });
  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.inc('vantage_api_requests_total', 'API requests by route and status.', {
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });

  systemRoutes(app, ctx);
  recordRoutes(app, ctx);
  kpiRoutes(app, ctx);
  searchRoutes(app, ctx);
  captureRoutes(app, ctx);
  adminRoutes(app, ctx);
  if (ctx.pcap) pcapRoutes(app, ctx, ctx.pcap);
  if (ctx.alerts) alertRoutes(app, ctx, ctx.alerts);
  if (ctx.monitors) monitorRoutes(app, ctx, ctx.monitors);
  if (ctx.policy) policyRoutes(app, ctx, ctx.policy);
  if (ctx.bus) sinkRoutes(app, ctx, ctx.bus);
  if (ctx.events) eventRoutes(app, ctx, ctx.events);
  if (ctx.broker) brokerRoutes(app, ctx, ctx.broker);
  if (ctx.broker) streamRoutes(app, ctx, ctx.broker);
  consoleRoutes(app, ctx);
  dashboardRoutes(app, ctx);
  geoRoutes(app, ctx);
  if (ctx.intel) intelRoutes(app, ctx, ctx.intel);
  federationRoutes(app, ctx, ctx.central);
  app.get('/api/v1/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  if (ctx.webDir && existsSync(ctx.webDir)) {
    await app.register(fastifyStatic, { root: ctx.webDir, prefix: '/', wildcard: true });
  } else {
    app.get('/', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(LANDING),
    );
  }
  return app;
}
