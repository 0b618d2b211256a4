import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest, notFound, UserError } from '../../common/errors.js';
import { FeedError } from '../../intel/feeds/common.js';
import type { Intel } from '../../intel/intel.js';
import { FEED_FAMILIES, guessIocType, IOC_TYPES, iocJson, normalizeIoc } from '../../intel/model.js';
import { queryFeed } from '../../intel/query.js';
import { servedCsv, servedJson, servedStix, servedText } from '../../intel/serve.js';
import {
  API_ROOT_INFO,
  COLLECTION_INFO,
  discoveryDoc,
  SIGHTINGS_COLLECTION,
  sightingsPage,
  TAXII_MEDIA,
  TAXII_ROOT,
} from '../../intel/taxii-server.js';
import { sightingRecord } from '../../schema/sighting.js';
import { parseFilter } from '../../store/filter.js';
import { parseUserTime } from '../../store/values.js';
import type { ApiContext } from '../context.js';
import { ErrorSchema, semantic, TimeParam } from '../schemas.js';
import { parseApiTime } from '../time.js';

const FeedParams = Type.Object({
  family: Type.Union(Object.keys(FEED_FAMILIES).map((f) => Type.Literal(f))),
});

const FeedQuerySchema = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'Most indicators (default 1000).' }),
    ),
    after: Type.Optional(TimeParam('Seen (or sighted) at or after: ISO-8601, epoch s, -1h.')),
    before: Type.Optional(TimeParam('Seen (or sighted) before.')),
    confidence: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100, description: 'Confidence at least (default 0).' }),
    ),
    severity: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100, description: 'Severity at least (default 0).' }),
    ),
    source: Type.Optional(Type.String({ maxLength: 64, description: 'Only indicators of this feed.' })),
    sighted: Type.Optional(
      Type.Boolean({ description: 'Only indicators seen in this network, with sightings and hosts.' }),
    ),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('text'), Type.Literal('stix')], {
        description:
          'json (default), csv, text (one value a line) or stix (a STIX 2.1 bundle); or use Accept.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Anything = Type.Unknown();
const Text = Type.String();

const FeedAddBody = semantic(
  Type.Object(
    {},
    { additionalProperties: true, description: 'A feed as in the config file (intel.feeds[]).' },
  ),
  [{ name: 'example-list', format: 'list', url: 'http://127.0.0.1:9/list.txt', schedule: '1h' }],
);

const HuntBody = Type.Object(
  {
    values: Type.Optional(
      Type.Array(
        semantic(
          Type.Object({ type: Type.String({ maxLength: 32 }), value: Type.String({ maxLength: 2048 }) }),
          [{ type: 'ipv4', value: '203.0.113.7' }],
        ),
        {
          maxItems: 100_000,
          description: 'Indicators to hunt for (default: every indicator loaded).',
        },
      ),
    ),
    after: Type.Optional(TimeParam('Start of the hunt (default: the retro window).')),
    before: Type.Optional(TimeParam('End of the hunt (default now).')),
  },
  { additionalProperties: false },
);

function timeMs(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const us = parseApiTime(v);
  if (us === null)
    throw badRequest(`${name}: '${v.slice(0, 64)}' is not a time; use ISO-8601, epoch seconds or -1h`);
  return us / 1000;
}

/**
 * Threat intelligence: the feed API other tools pull, feeds and their status, indicator
 * search, "what do we know about this value", and retro-hunts.
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/iocs/feeds/ips?limit=10&after=2024-01-18T00:00:00Z&before=2024-01-18T02:00:00Z&confidence=75&severity=75'
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/iocs/feeds/domains?sighted=true&format=csv'
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/intel/feeds
 *   curl -H "Authorization: Bearer $TOKEN" -X POST -H 'Content-Type: application/json' -d '{"name":"abuse","format":"list","url":"https://example.org/ips.txt","schedule":"1h"}' http://127.0.0.1:8080/api/v1/intel/feeds
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/intel/lookup?value=evil.example.com'
 *   curl -H "Authorization: Bearer $TOKEN" -X POST -H 'Content-Type: application/json' -d '{"after":"-30d"}' http://127.0.0.1:8080/api/v1/intel/hunts
 */
export function intelRoutes(app: FastifyInstance, ctx: ApiContext, intel: Intel): void {
  taxiiRoutes(app, ctx, intel);
  app.get(
    '/api/v1/iocs/feeds/:family',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['intel'],
        summary: 'Indicators of one family as a feed (JSON, CSV, plain text or a STIX 2.1 bundle)',
        params: FeedParams,
        querystring: FeedQuerySchema,
        response: {
          200: {
            content: {
              'application/json': { schema: Anything },
              'text/csv': { schema: Text },
              'text/plain': { schema: Text },
              'application/stix+json;version=2.1': { schema: Anything },
            },
          },
          400: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { family } = req.params as Static<typeof FeedParams>;
      const q = req.query as Static<typeof FeedQuerySchema>;
      const accept = String(req.headers.accept ?? '');
      const format =
        q.format ??
        (accept.includes('text/csv')
          ? 'csv'
          : accept.includes('stix')
            ? 'stix'
            : accept.includes('text/plain')
              ? 'text'
              : 'json');
      const after = timeMs('after', q.after);
      const before = timeMs('before', q.before);
      const items = await queryFeed(intel.iocs, ctx.store, {
        family,
        limit: q.limit ?? 1000,
        ...(after !== undefined ? { after } : {}),
        ...(before !== undefined ? { before } : {}),
        confidence: q.confidence ?? 0,
        severity: q.severity ?? 0,
        ...(q.source ? { source: q.source } : {}),
        sighted: q.sighted === true,
      });
      if (format === 'csv') return reply.type('text/csv').send(servedCsv(items, q.sighted === true));
      if (format === 'text') return reply.type('text/plain').send(servedText(items));
      if (format === 'stix')
        return reply.type('application/stix+json;version=2.1').send(servedStix(items, Date.now()));
      return reply
        .type('application/json')
        .send({ family, count: items.length, items: items.map(servedJson) });
    },
  );

  app.get(
    '/api/v1/intel/feeds',
    {
      config: { access: 'viewer' },
      schema: { tags: ['intel'], summary: 'Feeds and their status', response: { 200: Anything } },
    },
    async () => ({ feeds: intel.feeds(), counters: intel.counters() }),
  );

  app.post(
    '/api/v1/intel/feeds',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['intel'],
        summary: 'Add a feed (pulled at once; its status says whether the pull worked)',
        body: FeedAddBody,
        response: { 201: Anything, 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      try {
        const s = await intel.addFeed(req.body);
        return reply.code(201).send(s);
      } catch (e) {
        if (e instanceof FeedError) throw new UserError(409, e.message);
        if (e instanceof Error && e.name === 'ConfigError') throw badRequest(e.message);
        throw e;
      }
    },
  );

  app.delete(
    '/api/v1/intel/feeds/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['intel'],
        summary: 'Remove a feed added over the API and its indicators',
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      if (!intel.removeFeed(name))
        throw notFound(`no feed '${name}' added over the API (config-file feeds are removed there)`);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/intel/feeds/:name/pull',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['intel'],
        summary: 'Pull a feed now; answers its status',
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }),
        response: { 200: Anything, 404: ErrorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      if (!intel.feedConfig(name)) throw notFound(`no feed '${name}'`);
      return intel.pull(name);
    },
  );

  app.get(
    '/api/v1/intel/indicators',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['intel'],
        summary: 'Search indicators by value (substring) and type',
        querystring: Type.Object(
          {
            q: Type.Optional(Type.String({ maxLength: 256 })),
            type: Type.Optional(Type.Union(IOC_TYPES.map((t) => Type.Literal(t)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Anything },
      },
    },
    async (req) => {
      const q = req.query as { q?: string; type?: string; limit?: number };
      const needle = (q.q ?? '').toLowerCase();
      const limit = q.limit ?? 100;
      const items: Record<string, unknown>[] = [];
      for (const i of intel.iocs.values()) {
        if (q.type && i.type !== q.type) continue;
        if (needle && !i.value.includes(needle)) continue;
        items.push(iocJson(i));
        if (items.length >= limit) break;
      }
      return { total: intel.iocs.size, items };
    },
  );

  app.get(
    '/api/v1/intel/lookup',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['intel'],
        summary: 'What we know about a value: matching indicators and how it was seen here',
        querystring: Type.Object(
          {
            value: semantic(Type.String({ minLength: 1, maxLength: 2048 }), [
              '203.0.113.7',
              'evil.example.com',
              'http://evil.example.com/x',
            ]),
          },
          { additionalProperties: false },
        ),
        response: { 200: Anything, 400: ErrorSchema },
      },
    },
    async (req) => {
      const { value } = req.query as { value: string };
      const t = guessIocType(value);
      if (!t)
        throw badRequest(
          `value: cannot tell what '${value.slice(0, 80)}' is (address, network, domain, URL, hash...)`,
        );
      const n = normalizeIoc(t, value);
      if (!n) throw badRequest(`value: '${value.slice(0, 80)}' is not a valid ${t}`);
      const m = intel.watcher.current;
      const hit =
        n.type === 'ipv4' || n.type === 'ipv6'
          ? m.matchIp(n.value)
          : n.type === 'domain'
            ? m.matchDomain(n.value)
            : intel.iocs.get(`${n.type}\u0000${n.value}`);
      const sightings = hit
        ? await ctx.store.list({
            type: 'sighting',
            limit: 100,
            filter: parseFilter(`indicator_value = "${hit.value.replace(/["\\]/g, '\\$&')}"`, sightingRecord),
          })
        : null;
      return {
        value: n.value,
        type: n.type,
        indicator: hit ? iocJson(hit) : null,
        sightings: sightings?.items ?? [],
      };
    },
  );

  app.post(
    '/api/v1/intel/hunts',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['intel'],
        summary: 'Start a retro-hunt over stored history (runs in the background; poll its progress)',
        body: HuntBody,
        response: { 202: Anything, 400: ErrorSchema },
      },
    },
    async (req, reply) => {
      const b = (req.body ?? {}) as Static<typeof HuntBody>;
      const after = timeMs('after', b.after);
      const before = timeMs('before', b.before);
      const h = intel.hunt({
        ...(b.values ? { values: b.values } : {}),
        ...(after !== undefined ? { after } : {}),
        ...(before !== undefined ? { before } : {}),
      });
      return reply.code(202).send(h);
    },
  );

  app.get(
    '/api/v1/intel/hunts',
    {
      config: { access: 'viewer' },
      schema: { tags: ['intel'], summary: 'Recent retro-hunts', response: { 200: Anything } },
    },
    async () => ({ hunts: intel.hunts() }),
  );

  app.get(
    '/api/v1/intel/hunts/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['intel'],
        summary: 'A retro-hunt: progress and findings (first/last seen, flows, hosts per indicator)',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: Anything, 404: ErrorSchema },
      },
    },
    async (req) => {
      const h = intel.huntById((req.params as { id: string }).id);
      if (!h) throw notFound('no such hunt');
      return h;
    },
  );
}

const TaxiiDoc = { content: { [TAXII_MEDIA]: { schema: Anything } } };
const TaxiiErrors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema };

const ObjectsQuerySchema = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'Most objects (default 1000).' }),
    ),
    next: Type.Optional(Type.String({ maxLength: 512, description: 'The next value of the previous page.' })),
    added_after: Type.Optional(
      Type.String({ maxLength: 64, description: 'Only objects added after this time (RFC 3339).' }),
    ),
    'match[type]': Type.Optional(
      Type.String({ maxLength: 64, description: 'Comma-separated object types: indicator, sighting.' }),
    ),
  },
  { additionalProperties: false },
);

const CollectionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/**
 * TAXII 2.1 server: this network's sightings as a read-only collection (bearer token, viewer).
 * taxii2-client and other TAXII clients send the token as a header.
 *
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Accept: application/taxii+json;version=2.1' http://127.0.0.1:8080/taxii2/
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/taxii2/vantage/collections/b1c7a2de-56f4-4a47-9c3e-7a6e74616701/objects/?limit=100&added_after=2024-01-18T00:00:00Z'
 */
/**
 * A TAXII answer with the media type exactly as the spec writes it: given a string, Fastify
 * would quote the version parameter and add a charset, which taxii2-client refuses.
 */
const taxii = (reply: FastifyReply, body: unknown): FastifyReply =>
  reply.header('content-type', TAXII_MEDIA).send(Buffer.from(JSON.stringify(body)));

function taxiiRoutes(app: FastifyInstance, ctx: ApiContext, intel: Intel): void {
  const root = `/taxii2/${TAXII_ROOT}/`;
  const base = (req: { protocol: string; headers: { host?: string | undefined } }): string =>
    `${req.protocol}://${req.headers.host ?? '127.0.0.1'}`;
  const doc = { tags: ['taxii'], response: { 200: TaxiiDoc, ...TaxiiErrors } };

  app.get(
    '/taxii2/',
    { config: { access: 'viewer' }, schema: { ...doc, summary: 'TAXII 2.1 discovery' } },
    async (req, reply) => taxii(reply, discoveryDoc(base(req))),
  );
  app.get(
    root,
    { config: { access: 'viewer' }, schema: { ...doc, summary: 'TAXII 2.1 API root' } },
    async (_req, reply) => taxii(reply, API_ROOT_INFO),
  );
  app.get(
    `${root}collections/`,
    { config: { access: 'viewer' }, schema: { ...doc, summary: 'TAXII 2.1 collections' } },
    async (_req, reply) => taxii(reply, { collections: [COLLECTION_INFO] }),
  );
  const collection = (id: string): void => {
    if (id !== SIGHTINGS_COLLECTION) throw notFound(`no collection '${id.slice(0, 64)}'`);
  };
  app.get(
    `${root}collections/:id/`,
    {
      config: { access: 'viewer' },
      schema: { ...doc, summary: 'TAXII 2.1 collection', params: CollectionParams },
    },
    async (req, reply) => {
      collection((req.params as { id: string }).id);
      return taxii(reply, COLLECTION_INFO);
    },
  );
  app.get(
    `${root}collections/:id/objects/`,
    {
      config: { access: 'viewer' },
      schema: {
        ...doc,
        summary: 'Sightings (STIX 2.1 sighting + indicator objects), oldest first, paged by limit and next',
        params: CollectionParams,
        querystring: ObjectsQuerySchema,
      },
    },
    async (req, reply) => {
      collection((req.params as { id: string }).id);
      const q = req.query as Static<typeof ObjectsQuerySchema>;
      let addedAfter: number | undefined;
      if (q.added_after !== undefined) {
        const us = parseUserTime(q.added_after);
        if (us === null) throw badRequest(`added_after: '${q.added_after.slice(0, 64)}' is not a time`);
        addedAfter = us;
      }
      const types = new Set(
        (q['match[type]'] ?? 'indicator,sighting')
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== ''),
      );
      const page = await sightingsPage(
        ctx.store,
        intel.iocs,
        {
          limit: q.limit ?? 1000,
          ...(q.next ? { next: q.next } : {}),
          ...(addedAfter !== undefined ? { addedAfter } : {}),
          types,
        },
        Date.now(),
      );
      if (page.first) reply.header('X-TAXII-Date-Added-First', page.first);
      if (page.last) reply.header('X-TAXII-Date-Added-Last', page.last);
      return taxii(reply, page.envelope);
    },
  );
}
