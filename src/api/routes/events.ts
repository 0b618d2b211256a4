import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type EventSources, INGEST_FORMATS, type IngestFormat } from '../../events/index.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

/** Largest body one POST may carry (events are small; a batch is many lines). */
const MAX_BODY = 16 << 20;

/**
 * Third-party security events in: Suricata EVE lines, CEF, LEEF, syslog lines or JSON
 * objects (mapped by the configured webhook mapping). Each event becomes an alert; a bad line
 * is counted by name and its neighbours still count. Tokens with the `ingest` role may post
 * here and nowhere else.
 *
 *   curl -X POST -H "Authorization: Bearer $INGEST_TOKEN" -H 'content-type: application/x-ndjson' \
 *     --data-binary @eve.json 'http://127.0.0.1:8080/api/v1/events?format=eve'
 */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext, events: EventSources): void {
  void app.register(async (scope) => {
    // The body is read as text whatever its type: every format is parsed line by line here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(
      '/api/v1/events',
      {
        config: { access: 'ingest' },
        bodyLimit: MAX_BODY,
        schema: {
          tags: ['events'],
          summary: 'Post third-party security events (EVE, CEF, LEEF, syslog, JSON); each becomes an alert',
          consumes: ['application/x-ndjson', 'application/json', 'text/plain'],
          querystring: Type.Object(
            {
              format: Type.Union(
                INGEST_FORMATS.map((f) => Type.Literal(f)),
                {
                  description:
                    'eve (Suricata EVE JSON lines), ndjson/json (mapped fields), cef, leef, syslog',
                },
              ),
            },
            { additionalProperties: false },
          ),
          response: {
            202: Type.Object({
              accepted: Type.Integer(),
              alerts: Type.Integer(),
              identities: Type.Integer(),
              other: Type.Integer(),
              weird: Type.Record(Type.String(), Type.Integer()),
            }),
            400: ErrorSchema,
            413: ErrorSchema,
          },
        },
      },
      async (req, reply) => {
        const format = (req.query as { format: IngestFormat }).format;
        // An empty batch is a batch of nothing, not an error (a shipper's heartbeat).
        const body = typeof req.body === 'string' ? req.body : '';
        const r = events.ingest(format, body);
        // 202 means the alerts are stored: a kill -9 after the answer loses none of them.
        if (r.alerts > 0) await ctx.alerts?.flush();
        ctx.metrics.inc('vantage_api_events_total', 'Events posted to the API.', { format }, r.accepted);
        return reply.code(202).send(r);
      },
    );
  });
}
