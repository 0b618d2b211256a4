import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { UserError } from '../common/errors.js';
import { DEFAULT_AUTH } from './auth/config.js';
import { auditChanges, createAuth } from './auth/index.js';
import { hashToken, type Role } from './auth.js';
import type { Access, ApiContext } from './context.js';
import {
  clientErrorHandler,
  frameworkErrors,
  installContract,
  requestId,
  schemaController,
} from './contract.js';
import { federationRoutes } from './federation/routes.js';
import { swaggerOptions } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { alertRoutes } from './routes/alerts.js';
import { brokerRoutes } from './routes/broker.js';
import { captureRoutes } from './routes/captures.js';
import { consoleRoutes } from './routes/console.js';
import { dashboardRoutes } from './routes/dashboards.js';
import { detectRoutes } from './routes/detect.js';
import { eventRoutes } from './routes/events.js';
import { geoRoutes } from './routes/geo.js';
import { intelRoutes } from './routes/intel.js';
import { kpiRoutes } from './routes/kpis.js';
import { monitorRoutes } from './routes/monitors.js';
import { pcapRoutes } from './routes/pcap.js';
import { playbookRoutes } from './routes/playbooks.js';
import { policyRoutes } from './routes/policy.js';
import { recordRoutes } from './routes/records.js';
import { searchRoutes } from './routes/search.js';
import { sessionRoutes } from './routes/session.js';
import { sinkRoutes } from './routes/sinks.js';
import { streamRoutes } from './routes/stream.js';
import { LANDING, systemRoutes } from './routes/system.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { userRoutes } from './routes/users.js';
import { SEMANTIC } from './schemas.js';

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
    // Long enough for any path parameter the schemas admit, percent-encoded (so the schema
    // refuses a too-long one with a 400 naming it); longer still is a 414.
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors,
    return503OnClosing: true,
    // Room for the longest query the schemas admit (filter, fields, cursor percent-encoded), so
    // an over-long parameter meets its schema (400 naming it) rather than the header limit (431).
    http: { maxHeaderSize: 256 << 10 },
    requestIdHeader: false,
    genReqId: requestId,
    clientErrorHandler,
    schemaController: schemaController() as never,
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
        keywords: [SEMANTIC],
      },
    },
  });

  installContract(app, ctx, { corsOrigins: ctx.corsOrigins ?? [] });
  // Routes read ctx.auth; a context built without one (tests) gets the defaults over its tokens.
  ctx.auth ??= createAuth(DEFAULT_AUTH, {
    // Users live next to the tokens they own.
    dataDir: dirname(ctx.tokens.path),
    tokens: ctx.tokens,
    metrics: ctx.metrics,
    audit: ctx.audit,
  });
  const auth = ctx.auth;

  await app.register(rateLimit, {
    global: true,
    max: ctx.rateLimit,
    timeWindow: 60_000,
    // RateLimit-* and Retry-After (draft-ietf-httpapi-ratelimit-headers), as the 429 documents them.
    enableDraftSpec: true,
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
  await app.register(swagger, swaggerOptions());
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs' });

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    let access = (req.routeOptions.config as { access?: Access } | undefined)?.access;
    if (PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) access = 'public';
    if (access === undefined) access = path.startsWith('/api/') || path === '/metrics' ? 'viewer' : 'public';
    if (access === 'public') return;
    auth.authorize(req, access);
  });
  auditChanges(app, auth);
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
  telemetryRoutes(app, ctx);
  if (ctx.events) eventRoutes(app, ctx, ctx.events);
  if (ctx.detect && ctx.alerts) detectRoutes(app, ctx, { hub: ctx.alerts, ...ctx.detect });
  if (ctx.broker) brokerRoutes(app, ctx, ctx.broker);
  if (ctx.broker) streamRoutes(app, ctx, ctx.broker);
  consoleRoutes(app, ctx);
  sessionRoutes(app, ctx, auth);
  userRoutes(app, ctx, auth);
  dashboardRoutes(app, ctx);
  geoRoutes(app, ctx);
  if (ctx.intel) intelRoutes(app, ctx, ctx.intel);
  if (ctx.respond) playbookRoutes(app, ctx, ctx.respond);
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
