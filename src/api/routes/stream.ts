import { PassThrough } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { streamPcap } from '../../broker/stream.js';
import { badRequest } from '../../common/errors.js';
import { compileFilter } from '../../pcapstore/bpf/compile.js';
import type { ApiContext } from '../context.js';
import { Binary, produces } from '../contract.js';
import { semantic } from '../schemas.js';
import type { BrokerRouteDeps } from './broker.js';

const StreamQuery = Type.Object(
  {
    filter: Type.Optional(
      semantic(
        Type.String({
          maxLength: 8192,
          description: "tcpdump filter, e.g. 'tcp port 443 and host 10.0.0.1'",
        }),
        ['tcp port 443'],
      ),
    ),
    snaplen: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 262144, description: 'slice each packet to N bytes (0: whole)' }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Live packets as a pcap stream (nanosecond pcap, Ethernet; mirrored packets decapsulated), for
 * tools that read pcap from a pipe. Runs as a broker target until the client disconnects; a
 * reader too slow for the traffic loses packets (counted as `stream_full` on the target), it
 * never slows capture down. A bad filter is refused with a 400 before any byte is sent. Every
 * stream is audited when it starts and when it ends (packets and bytes sent).
 *
 *   curl -sN -H "Authorization: Bearer $TOKEN" \
 *     'http://127.0.0.1:8080/api/v1/stream?filter=tcp%20port%20443&snaplen=128' | tcpdump -nr -
 *   curl -sN -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/stream | wireshark -k -i -
 */
export function streamRoutes(app: FastifyInstance, _ctx: ApiContext, deps: BrokerRouteDeps): void {
  const open = new Set<() => Promise<void>>();
  // A live stream never ends on its own: end them so the server can close.
  app.addHook('preClose', async () => {
    await Promise.all([...open].map((end) => end()));
  });
  app.get(
    '/api/v1/stream',
    {
      config: { access: 'analyst', etag: false },
      schema: {
        tags: ['packets'],
        summary: 'Stream live packets as pcap (until the client disconnects)',
        querystring: StreamQuery,
        response: {
          200: produces(
            { 'application/vnd.tcpdump.pcap': Binary },
            'Live packets, until the client disconnects',
          ),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as Static<typeof StreamQuery>;
      const filter = q.filter?.trim() ?? '';
      if (filter !== '') {
        try {
          compileFilter(filter);
        } catch (e) {
          throw badRequest(`filter: ${(e as Error).message}`);
        }
      }
      const actor = req.token?.name ?? null;
      const pass = new PassThrough({ highWaterMark: 1 << 20 });
      const s = await streamPcap(deps.broker, pass, {
        ...(filter !== '' ? { filter } : {}),
        ...(q.snaplen ? { snaplen: q.snaplen } : {}),
      });
      deps.audit({
        action: 'stream.start',
        actor,
        details: { filter, snaplen: q.snaplen ?? 0, target: s.name },
      });
      let ended: Promise<void> | null = null;
      // Remove the target first (its last chunk is written), then end the response.
      const end = (): Promise<void> => {
        ended ??= s.close().then((last) => {
          open.delete(end);
          deps.audit({
            action: 'stream.end',
            actor,
            details: {
              filter,
              target: s.name,
              packets: last?.sent ?? 0,
              bytes: last?.bytes ?? 0,
              dropped: last?.dropped ?? 0,
            },
          });
          if (!pass.destroyed) pass.end();
          // The client went away (or the server is closing): never keep this socket alive.
          if (!reply.raw.writableFinished) reply.raw.once('finish', () => reply.raw.destroy());
        });
        return ended;
      };
      open.add(end);
      reply.raw.once('close', () => void end());
      const name = `vantage-live-${new Date().toISOString().replace(/[:.]/g, '-')}.pcap`;
      return reply
        .type('application/vnd.tcpdump.pcap')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .header('connection', 'close')
        .send(pass);
    },
  );
}
