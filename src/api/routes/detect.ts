import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AlertHub } from '../../bus/hub.js';
import { AlertAggregator } from '../../common/alerts.js';
import { notFound } from '../../common/errors.js';
import type { DetectConfig } from '../../detect/config.js';
import { runDetectors } from '../../detect/index.js';
import { type ApiContext, parseRange } from '../context.js';
import { ErrorSchema, TimeParam } from '../schemas.js';

interface Run {
  id: string;
  state: 'running' | 'done' | 'failed';
  after: string | null;
  before: string | null;
  started: string;
  finished: string | null;
  actor: string | null;
  records: number;
  alerts: number;
  error: string | null;
}

const RunSchema = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  after: Type.Union([Type.String(), Type.Null()]),
  before: Type.Union([Type.String(), Type.Null()]),
  started: Type.String(),
  finished: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Union([Type.String(), Type.Null()]),
  records: Type.Integer(),
  alerts: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
});

/** Runs kept for GET (the oldest finished ones go first). */
const KEEP = 50;

/**
 * Detectors over stored history: the records of a time range replayed in time order through
 * the same detectors as live traffic; what they find are alerts marked retro.
 *
 *   curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *     -d '{"after":"-24h"}' http://127.0.0.1:8080/api/v1/detect/runs
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/detect/runs/RUN_ID
 */
export function detectRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  deps: { hub: AlertHub; config: DetectConfig; sensor: string },
): void {
  const runs = new Map<string, Run>();
  let chain: Promise<void> = Promise.resolve();

  app.post(
    '/api/v1/detect/runs',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['detect'],
        summary:
          'Run the detectors over a time range of stored records (one run at a time; alerts are marked retro)',
        body: Type.Object(
          {
            after: TimeParam('Start of the range: ISO-8601, epoch seconds, now or relative (-24h).'),
            before: Type.Optional(TimeParam('End of the range (exclusive); default now.')),
          },
          { additionalProperties: false },
        ),
        response: { 202: RunSchema, 400: ErrorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body as { after: string; before?: string };
      const range = parseRange(b);
      const run: Run = {
        id: randomBytes(8).toString('hex'),
        state: 'running',
        after: range.after === undefined ? null : new Date(range.after / 1000).toISOString(),
        before: range.before === undefined ? null : new Date(range.before / 1000).toISOString(),
        started: new Date().toISOString(),
        finished: null,
        actor: req.token?.name ?? null,
        records: 0,
        alerts: 0,
        error: null,
      };
      runs.set(run.id, run);
      for (const [id, r] of runs) {
        if (runs.size <= KEEP) break;
        if (r.state !== 'running') runs.delete(id);
      }
      ctx.audit?.({
        action: 'detect.run',
        actor: run.actor,
        details: { id: run.id, after: run.after, before: run.before },
      });
      // Replays share the store with live writes: one at a time.
      chain = chain.then(async () => {
        const agg = new AlertAggregator(deps.hub.emit, { mode: 'final', sensor: deps.sensor });
        try {
          const r = await runDetectors(ctx.store, range, deps.config, agg);
          agg.flush();
          await deps.hub.flush();
          run.records = r.records;
          run.alerts = r.alerts;
          run.state = 'done';
        } catch (e) {
          run.state = 'failed';
          run.error = (e as Error).message;
        }
        run.finished = new Date().toISOString();
      });
      return reply.code(202).send(run);
    },
  );

  app.get(
    '/api/v1/detect/runs',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['detect'],
        summary: 'Recent runs over history',
        response: { 200: Type.Object({ items: Type.Array(RunSchema) }) },
      },
    },
    async () => ({ items: [...runs.values()].reverse() }),
  );

  app.get(
    '/api/v1/detect/runs/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['detect'],
        summary: 'One run: its state, records replayed and alerts raised',
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }),
        response: { 200: RunSchema, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const r = runs.get((req.params as { id: string }).id);
      if (!r) throw notFound('no such run (runs are kept in memory since the last start)');
      return r;
    },
  );
}
