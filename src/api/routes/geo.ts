import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../common/errors.js';
import type { TopBy } from '../../store/types.js';
import { ipToBigint } from '../../store/values.js';
import { type ApiContext, defOf, parseFilterParam, parseRange } from '../context.js';
import { type GeoIp, loadGeoIp } from '../geoip.js';
import { ErrorSchema, IpParam, TimeQuery } from '../schemas.js';

const CountriesQuery = Type.Object(
  {
    ...TimeQuery,
    by: Type.Optional(Type.Union([Type.Literal('bytes'), Type.Literal('packets'), Type.Literal('flows')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
  },
  { additionalProperties: false },
);

/** Addresses ranked per side before they are folded into countries. */
const PER_SIDE = 2000;

/**
 * Countries of flow endpoints, from the npm-shipped GeoIP database. A flow counts toward the
 * country of each of its ends; private and unknown addresses count as "ZZ".
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/geo/countries?by=bytes&limit=10'
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/geo/ip/8.8.8.8
 */
export function geoRoutes(app: FastifyInstance, ctx: ApiContext, geo: GeoIp = loadGeoIp()): void {
  app.get(
    '/api/v1/geo/countries',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['kpis'],
        summary: 'Top countries of flow endpoints by bytes, packets or flows',
        querystring: CountriesQuery,
        response: { 400: ErrorSchema },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof CountriesQuery>;
      const def = defOf(ctx, 'flow');
      if (!def) return { by: q.by ?? 'bytes', source: geo.source, complete: true, items: [] };
      const by = (q.by ?? 'bytes') as TopBy;
      const base = {
        type: 'flow',
        by,
        limit: PER_SIDE,
        ...parseRange(q),
        filter: parseFilterParam(q.filter, def),
      };
      const sides = await Promise.all([
        ctx.store.top({ ...base, dim: 'client_ip' }),
        ctx.store.top({ ...base, dim: 'server_ip' }),
      ]);
      const acc = new Map<string, { country: string; bytes: number; packets: number; flows: number }>();
      for (const rows of sides) {
        for (const r of rows) {
          const c = geo.country(String(r.key)) ?? 'ZZ';
          const e = acc.get(c) ?? { country: c, bytes: 0, packets: 0, flows: 0 };
          e.bytes += r.bytes;
          e.packets += r.packets;
          e.flows += r.flows;
          acc.set(c, e);
        }
      }
      const items = [...acc.values()].sort((a, b) => b[by] - a[by]).slice(0, q.limit ?? 10);
      return {
        by,
        source: geo.source,
        complete: sides.every((s) => s.length < PER_SIDE),
        items,
      };
    },
  );
  app.get(
    '/api/v1/geo/ip/:ip',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['search'],
        summary: 'Country of one address',
        params: Type.Object({ ip: IpParam() }),
        response: { 400: ErrorSchema },
      },
    },
    async (req) => {
      const { ip } = req.params as { ip: string };
      if (ipToBigint(ip) === null)
        throw badRequest(`'${ip.slice(0, 64)}' is not an IP address (10.0.0.5 or 2001:db8::5)`);
      return { ip, country: geo.country(ip), source: geo.source };
    },
  );
}
