import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { notFound, UserError } from '../../common/errors.js';
import { createJobs, type Jobs } from '../../jobs/jobs.js';
import { inflatedHead } from '../../jobs/reader.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

/**
 * Upload pcap/pcapng captures, plain or compressed with gzip, zstd or xz. The upload is stored
 * and answered at once with 202 and a job (`/api/v1/jobs/{id}`) that ingests it off the request,
 * within the upload limits (config key `uploads`); `?wait=true` answers when the job has ended,
 * with the ingest summary (201), as before jobs. Send multipart form data (field `file`, several
 * allowed) or a raw body.
 *
 *   curl -H "Authorization: Bearer $TOKEN" -F file=@trace.pcap.gz http://127.0.0.1:8080/api/v1/captures
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
 *     --data-binary @trace.pcap 'http://127.0.0.1:8080/api/v1/captures?wait=true'
 */

const JobSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.Literal('capture_upload'),
    state: Type.Union(['queued', 'running', 'done', 'failed', 'cancelled'].map((s) => Type.Literal(s))),
    owner: Type.Object({ id: Type.String(), name: Type.String() }),
    files: Type.Array(Type.String()),
    created: Type.String({ format: 'date-time' }),
    started: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finished: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    progress: Type.Object({
      compressed_bytes: Type.Integer({ description: 'Upload bytes read so far (as sent).' }),
      inflated_bytes: Type.Integer({ description: 'Capture bytes read after decompression.' }),
      packets: Type.Integer(),
      records: Type.Integer({ description: 'Records produced so far.' }),
    }),
    kept: Type.Union([
      Type.Object(
        {
          packets: Type.Integer(),
          bytes: Type.Integer(),
          records: Type.Record(Type.String(), Type.Integer()),
          weirds: Type.Integer(),
          dropped: Type.Optional(
            Type.Object({
              fragments_orphaned: Type.Integer({ description: 'IP fragments never matched to a flow.' }),
              fragment_trains_evicted: Type.Integer({
                description: 'Fragment trains dropped at the flow table cap (65,536 at once).',
              }),
            }),
          ),
        },
        { description: 'What the job read and stored; set once it ran.' },
      ),
      Type.Null(),
    ]),
    stopped: Type.Union([
      Type.Object(
        {
          code: Type.String({
            description: 'cancelled, max_job_seconds, max_packets, max_inflated_bytes or max_inflation_ratio',
          }),
          message: Type.String(),
        },
        { description: 'The limit or cancel that ended the job early.' },
      ),
      Type.Null(),
    ]),
    error: Type.Union([Type.String(), Type.Null()]),
    limits: Type.Record(Type.String(), Type.Integer()),
  },
  { $id: 'Job' },
);
const JobIdParams = Type.Object({ id: Type.String({ pattern: '^job_[0-9a-f]{16}$' }) });

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1, 0x0a0d0d0a]);

export function captureRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const jobs: Jobs =
    ctx.jobs ??
    createJobs(ctx.uploads ?? { maxCompressedBytes: ctx.maxUploadBytes }, {
      ingest: ctx.ingest,
      log: ctx.log,
      metrics: ctx.metrics,
    });
  const maxBytes = jobs.limits.maxCompressedBytes;
  jobs.start();
  app.addHook('onClose', async () => {
    await jobs.stop();
  });
  app.addContentTypeParser(
    [
      'application/octet-stream',
      'application/vnd.tcpdump.pcap',
      'application/x-pcapng',
      'application/gzip',
      'application/zstd',
      'application/x-xz',
    ],
    { bodyLimit: maxBytes },
    (_req, payload, done) => done(null, payload),
  );
  const tooLarge = () =>
    new UserError(
      413,
      `upload larger than ${maxBytes} bytes (uploads.maxCompressedBytes); split the capture or raise the limit`,
    );
  app.post(
    '/api/v1/captures',
    {
      config: {
        access: 'analyst',
        // The body is streamed to disk, never parsed by a validator: documented here for clients.
        docBody: {
          description: 'Capture files: pcap or pcapng, plain or compressed with gzip, zstd or xz.',
          content: {
            'multipart/form-data': {
              schema: Type.Object({
                file: Type.Array(Type.String({ format: 'binary' }), { minItems: 1, maxItems: 16 }),
              }),
            },
            'application/octet-stream': { schema: Type.String({ format: 'binary' }) },
          },
        },
      },
      bodyLimit: maxBytes,
      schema: {
        tags: ['ingest'],
        summary:
          'Upload capture files; they are ingested by a job (202), or before the answer with wait=true (201)',
        consumes: ['multipart/form-data', 'application/octet-stream'],
        querystring: Type.Object({
          wait: Type.Optional(
            Type.Boolean({
              description:
                'Answer when the ingest has ended, with its summary (201), instead of at once with the job (202). The same limits apply.',
            }),
          ),
        }),
        response: {
          201: Type.Object({}, { additionalProperties: true }),
          202: JobSchema,
          400: ErrorSchema,
          413: ErrorSchema,
          422: ErrorSchema,
          429: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes + 64 * 1024) throw tooLarge();
      const tmp: string[] = [];
      const names: string[] = [];
      let handed = false;
      const temp = () =>
        join(ctx.tmpDir, `upload-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.cap`);
      try {
        if (req.isMultipart()) {
          try {
            for await (const part of req.files({ limits: { fileSize: maxBytes, files: 16 } })) {
              const p = temp();
              tmp.push(p);
              names.push(part.filename.replace(/[^\w.+-]/g, '_').slice(0, 128) || 'upload');
              await pipeline(part.file, createWriteStream(p));
              if (part.file.truncated) throw tooLarge();
            }
          } catch (e) {
            if (e instanceof UserError) throw e;
            const status = (e as { statusCode?: number }).statusCode;
            const code = (e as { code?: string }).code;
            // Too many files or fields is a malformed request (400); only bytes make it too large (413).
            if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
              throw new UserError(
                400,
                `too many parts: at most 16 files and 16 fields per upload (${(e as Error).message})`,
              );
            }
            if (status === 413) throw new UserError(413, `upload too large: ${(e as Error).message}`);
            throw new UserError(
              400,
              `malformed multipart body: ${(e as Error).message}; send the capture in the form field "file"`,
            );
          }
        } else {
          const body = req.body as NodeJS.ReadableStream | undefined;
          if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
            throw new UserError(
              400,
              'send the capture as multipart/form-data (field "file") or as application/octet-stream',
            );
          }
          const p = temp();
          tmp.push(p);
          names.push('upload');
          let n = 0;
          const limit = new Transform({
            transform(c: Buffer, _e, cb) {
              n += c.length;
              cb(n > maxBytes ? tooLarge() : null, c);
            },
          });
          await pipeline(body, limit, createWriteStream(p));
        }
        if (tmp.length === 0) throw new UserError(400, 'no file in the upload; use the form field "file"');
        for (let i = 0; i < tmp.length; i++) {
          const h = await inflatedHead(tmp[i]!, 4);
          const magic = h.head && h.head.length === 4 ? h.head.readUInt32LE(0) : -1;
          if (!PCAP_MAGICS.has(magic)) {
            const what =
              h.error ??
              (h.head === null
                ? 'it is empty'
                : `it starts with 0x${h.head.toString('hex')}, not a pcap or pcapng header`);
            throw new UserError(
              422,
              `${names[i]} is not a capture${h.kind === 'none' ? '' : ` (${h.kind}-compressed)`}: ${what}`,
            );
          }
        }
        const owner = { id: req.token?.id ?? 'anonymous', name: req.token?.name ?? 'anonymous' };
        const job = jobs.submit(owner, tmp, names);
        handed = true;
        if (!(req.query as { wait?: boolean }).wait) {
          return reply.code(202).header('location', `/api/v1/jobs/${job.id}`).send(job);
        }
        const { job: end, summary } = await jobs.wait(job.id);
        if (end.state === 'done') return reply.code(201).send({ ...summary, job: end });
        if (end.state === 'cancelled') throw new UserError(409, `the upload job was cancelled`, { job: end });
        const status = end.stopped ? 413 : 422;
        throw new UserError(status, end.error ?? 'the upload job failed', { job: end });
      } finally {
        if (!handed) for (const p of tmp) await rm(p, { force: true });
      }
    },
  );

  const visible = (req: { token?: { id: string; role: string } }, owner: string): boolean =>
    req.token?.role === 'admin' || req.token?.id === owner;

  app.get(
    '/api/v1/jobs',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['ingest'],
        summary: 'Upload jobs: yours (an admin sees everyone’s), newest first',
        response: { 200: Type.Object({ items: Type.Array(JobSchema) }) },
      },
    },
    async (req) => ({
      items: jobs.list(req.token?.role === 'admin' ? null : (req.token?.id ?? 'anonymous')),
    }),
  );
  app.get(
    '/api/v1/jobs/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['ingest'],
        summary: 'One upload job: state, progress, what was kept, why it stopped',
        params: JobIdParams,
        response: { 200: JobSchema, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const j = jobs.get(id);
      if (!j || !visible(req, j.owner.id)) throw notFound(`no job '${id}'`);
      return j;
    },
  );
  app.delete(
    '/api/v1/jobs/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['ingest'],
        summary: 'Cancel an upload job (what it read before is kept); a finished job is unchanged',
        params: JobIdParams,
        response: { 200: JobSchema, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const j = jobs.get(id);
      if (!j || !visible(req, j.owner.id)) throw notFound(`no job '${id}'`);
      ctx.audit?.({ action: 'job.cancel', actor: req.token?.name ?? null, details: { id } });
      return jobs.cancel(id)!;
    },
  );
}
