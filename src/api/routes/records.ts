import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { badRequest, UserError } from '../../common/errors.js';
import { ALL_RECORDS } from '../../schema/records.js';
import type { AnyRecordDef } from '../../schema/registry.js';
import { type ApiContext, defOf, parseFilterParam, parseRange } from '../context.js';
import { Binary, produces, Text } from '../contract.js';
import { CONTENT_TYPE, type ExportFormat, formatFromAccept, RowStream } from '../export.js';
import { ListQuerySchema, recordSchema } from '../schemas.js';

/** Named endpoints for the record types; every registered type is also at /api/v1/records/{type}. */
export const ENDPOINTS: Record<string, string> = {
  flows: 'flow',
  dns: 'dns',
  http: 'http',
  tls: 'tls',
  dhcp: 'dhcp',
  devices: 'device',
  weird: 'weird',
  alerts: 'alert',
};

const EXPORT_CAP = 10_000_000;

type ListQ = Static<typeof ListQuerySchema>;

/**
 * Record lists and exports.
 *
 *   curl -H "Authorization: Bearer $TOKEN" \
 *     'http://127.0.0.1:8080/api/v1/flows?after=-1h&limit=50&filter=server_port%20in%20(443,8443)'
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Accept: text/csv' 'http://127.0.0.1:8080/api/v1/flows?after=-1h'
 */
export function recordRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const pageSchema = (def: AnyRecordDef | undefined) =>
    Type.Object({
      type: Type.String(),
      items: Type.Array(def ? recordSchema(def) : Type.Object({}, { additionalProperties: true })),
      next: Type.Union([Type.String(), Type.Null()], {
        description: 'Cursor of the next page; null on the last.',
      }),
    });

  const handler =
    (type: string) =>
    async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
      const q = req.query as ListQ;
      const def = defOf(ctx, type);
      const format: ExportFormat | null = q.format ?? formatFromAccept(req.headers.accept);
      if (!def) {
        if (!Object.values(ENDPOINTS).includes(type) && !ALL_RECORDS.some((d) => d.type === type)) {
          throw new UserError(404, `no record type '${type.slice(0, 32)}'; see /api/v1/fields`);
        }
        // A record type not produced yet: nothing to show, and that is not an error.
        if (format === null) return { type, items: [], next: null };
        if (format === 'parquet')
          throw new UserError(404, `no ${type} records exist yet to export as Parquet`);
        const rs = new RowStream(format, [], type);
        rs.end();
        return reply.type(CONTENT_TYPE[format]).send(rs.stream);
      }
      const range = parseRange(q);
      const filter = parseFilterParam(q.filter, def);
      let sort = q.sort;
      let desc = q.order ? q.order === 'desc' : undefined;
      if (sort?.startsWith('-')) {
        sort = sort.slice(1);
        desc = true;
      }
      if (sort !== undefined && !Object.hasOwn(def.fields, sort)) {
        throw badRequest(`sort: '${sort}' is not a field of ${type} records; see /api/v1/fields`);
      }
      const fields = q.fields
        ? q.fields
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean)
        : undefined;
      const base = {
        type,
        ...range,
        filter,
        ...(sort !== undefined ? { sort } : {}),
        ...(desc !== undefined ? { desc } : {}),
        ...(fields ? { fields } : {}),
      };
      if (format === null) {
        const page = await ctx.store.list({
          ...base,
          limit: q.limit ?? 100,
          ...(q.cursor ? { cursor: q.cursor } : {}),
        });
        return { type, items: page.items, next: page.next };
      }
      const limit = Math.min(q.limit ?? EXPORT_CAP, EXPORT_CAP);
      const name = `${type}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      if (format === 'parquet') {
        if (!ctx.store.exportParquet) throw badRequest('this store cannot export Parquet; use csv or ndjson');
        const path = join(
          ctx.tmpDir,
          `${name}-${process.pid}-${Math.random().toString(36).slice(2)}.parquet`,
        );
        await ctx.store.exportParquet({ ...base, limit }, path);
        const s = createReadStream(path);
        s.on('close', () => void rm(path, { force: true }));
        return reply
          .type(CONTENT_TYPE.parquet)
          .header('content-disposition', `attachment; filename="${name}.parquet"`)
          .send(s);
      }
      const cols = fields ?? Object.keys(def.fields);
      for (const f of cols) {
        if (!Object.hasOwn(def.fields, f))
          throw badRequest(`unknown field '${f}' in fields; see /api/v1/fields`);
      }
      // Validate the whole query before the first byte is sent.
      await ctx.store.list({ ...base, limit: 1 });
      const rs = new RowStream(format, cols, type);
      ctx.store
        .stream({ ...base, limit }, (rows) => rs.write(rows))
        .then(
          () => rs.end(),
          (e: unknown) => {
            ctx.log.warn('export stopped', { error: String(e) });
            rs.stream.destroy(e as Error);
          },
        );
      return reply
        .type(CONTENT_TYPE[format])
        .header('content-disposition', `attachment; filename="${name}.${format}"`)
        .send(rs.stream);
    };

  const route = (url: string, type: string | null) => {
    const def = type ? defOf(ctx, type) : undefined;
    app.get(
      url,
      {
        config: { access: 'viewer' },
        schema: {
          tags: ['records'],
          summary: type ? `List or export ${type} records` : 'List or export records of any registered type',
          description: def?.doc ?? 'Records of the given type.',
          querystring: ListQuerySchema,
          ...(type ? {} : { params: Type.Object({ type: Type.String({ pattern: '^[a-z_]{1,32}$' }) }) }),
          response: {
            200: produces({
              'application/json': pageSchema(def),
              'application/x-ndjson': Text,
              'text/csv': Text,
              'application/vnd.apache.parquet': Binary,
            }),
          },
        },
      },
      (req, reply) => handler(type ?? (req.params as { type: string }).type)(req, reply),
    );
  };
  for (const [path, type] of Object.entries(ENDPOINTS)) route(`/api/v1/${path}`, type);
  route('/api/v1/records/:type', null);
}
