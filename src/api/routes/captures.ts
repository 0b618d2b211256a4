import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { UserError } from '../../common/errors.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';

/**
 * Upload a pcap/pcapng (optionally gzip) and ingest it; the reply comes when every record is
 * stored. Send it as multipart form data (field `file`, several allowed) or as a raw body.
 *
 *   curl -H "Authorization: Bearer $TOKEN" -F file=@trace.pcap http://127.0.0.1:8080/api/v1/captures
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
 *     --data-binary @trace.pcap http://127.0.0.1:8080/api/v1/captures
 */
export function captureRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.addContentTypeParser(
    ['application/octet-stream', 'application/vnd.tcpdump.pcap', 'application/x-pcapng', 'application/gzip'],
    { bodyLimit: ctx.maxUploadBytes },
    (_req, payload, done) => done(null, payload),
  );
  app.post(
    '/api/v1/captures',
    {
      config: {
        access: 'analyst',
        // The body is streamed to disk, never parsed by a validator: documented here for clients.
        docBody: {
          description: 'Capture files: pcap or pcapng, optionally gzip-compressed.',
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
      bodyLimit: ctx.maxUploadBytes,
      schema: {
        tags: ['ingest'],
        summary: 'Upload and ingest capture files',
        consumes: ['multipart/form-data', 'application/octet-stream'],
        response: {
          201: Type.Object({}, { additionalProperties: true }),
          400: ErrorSchema,
          413: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const tmp: string[] = [];
      const names: string[] = [];
      const temp = () =>
        join(ctx.tmpDir, `upload-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.cap`);
      try {
        if (req.isMultipart()) {
          try {
            for await (const part of req.files({ limits: { fileSize: ctx.maxUploadBytes, files: 16 } })) {
              const p = temp();
              tmp.push(p);
              names.push(part.filename.replace(/[^\w.+-]/g, '_').slice(0, 128) || 'upload');
              await pipeline(part.file, createWriteStream(p));
              if (part.file.truncated) {
                throw new UserError(
                  413,
                  `upload larger than ${ctx.maxUploadBytes} bytes; split the capture or raise the limit`,
                );
              }
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
          await pipeline(body, createWriteStream(p));
        }
        if (tmp.length === 0) throw new UserError(400, 'no file in the upload; use the form field "file"');
        const summary = (await ctx.ingest(tmp, names)) as {
          errors: { file: string; message: string }[];
          packets: number;
        };
        if (summary.packets === 0 && summary.errors.length > 0) {
          throw new UserError(
            400,
            `not a readable capture: ${summary.errors.map((e) => e.message).join('; ')}`,
            { summary },
          );
        }
        return reply.code(201).send(summary);
      } finally {
        for (const p of tmp) await rm(p, { force: true });
      }
    },
  );
}
