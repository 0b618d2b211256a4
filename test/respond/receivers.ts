import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

/** Stand-ins for the services response adapters call, all on loopback. */

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function close(s: Server): Promise<void> {
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}

export interface Incident {
  sys_id: string;
  number: string;
  fields: Record<string, string>;
  work_notes: string[];
}

export interface ServiceNowStandIn {
  url: string;
  user: string;
  password: string;
  incidents: Incident[];
  /** Requests refused, with the reason (shape or auth). */
  refused: string[];
  stop(): Promise<void>;
}

const FIELDS = new Set([
  'short_description',
  'description',
  'urgency',
  'impact',
  'caller_id',
  'correlation_id',
  'correlation_display',
  'work_notes',
  'comments',
  'category',
  'assignment_group',
]);

/**
 * ServiceNow cannot run here: this checks requests against the documented Table API shape —
 * `POST /api/now/table/incident` with a JSON object of field: value (strings; urgency and
 * impact 1–3), Basic auth, `Accept: application/json`; answers 201 with a Location header and
 * `{result: {sys_id, number, ...}}`; `GET ?sysparm_query=correlation_id=X` answers
 * `{result: [...]}`; `PATCH /api/now/table/incident/{sys_id}` with work_notes appends a note.
 */
export async function startServiceNow(): Promise<ServiceNowStandIn> {
  const user = 'vantage';
  const password = randomBytes(8).toString('hex');
  const incidents: Incident[] = [];
  const refused: string[] = [];
  const server = createServer(async (req, res) => {
    const text = await body(req);
    const send = (status: number, o: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(o));
    const fail = (status: number, why: string) => {
      refused.push(why);
      send(status, { error: { message: why, detail: null }, status: 'failure' });
    };
    if (req.headers.authorization !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`)
      return fail(401, 'User Not Authenticated');
    if (!String(req.headers.accept ?? '').includes('application/json'))
      return fail(406, 'Accept must be application/json');
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/now\/table\/incident(?:\/([0-9a-f]{32}))?$/.exec(u.pathname);
    if (!m) return fail(400, `Invalid table path ${u.pathname}`);
    const view = (i: Incident) => ({ ...i.fields, sys_id: i.sys_id, number: i.number });
    if (req.method === 'GET' && !m[1]) {
      const q = /^correlation_id=(.+)$/.exec(u.searchParams.get('sysparm_query') ?? '');
      const hits = incidents.filter((i) => !q || i.fields.correlation_id === q[1]);
      return send(200, {
        result: hits.slice(0, Number(u.searchParams.get('sysparm_limit') ?? 10000)).map(view),
      });
    }
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return fail(400, 'Exception while reading request: body is not JSON');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o))
      return fail(400, 'body must be a JSON object');
    for (const [k, v] of Object.entries(o)) {
      if (!FIELDS.has(k)) return fail(400, `unknown incident field ${k}`);
      if (typeof v !== 'string') return fail(400, `field ${k} must be a string`);
    }
    if (req.method === 'POST' && !m[1]) {
      if (!o.short_description) return fail(400, 'short_description is mandatory');
      for (const k of ['urgency', 'impact'])
        if (o[k] !== undefined && !['1', '2', '3'].includes(String(o[k])))
          return fail(400, `${k} must be 1, 2 or 3`);
      const inc: Incident = {
        sys_id: randomBytes(16).toString('hex'),
        number: `INC${String(10_001 + incidents.length).padStart(7, '0')}`,
        fields: Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'work_notes')) as Record<
          string,
          string
        >,
        work_notes: o.work_notes ? [String(o.work_notes)] : [],
      };
      incidents.push(inc);
      return send(
        201,
        { result: view(inc) },
        { location: `http://127.0.0.1/api/now/table/incident/${inc.sys_id}` },
      );
    }
    if (req.method === 'PATCH' && m[1]) {
      const inc = incidents.find((i) => i.sys_id === m[1]);
      if (!inc) return fail(404, 'No Record found');
      if (o.work_notes) inc.work_notes.push(String(o.work_notes));
      return send(200, { result: view(inc) });
    }
    return fail(405, `${req.method} not allowed here`);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, user, password, incidents, refused, stop: () => close(server) };
}

export interface JsonReceiver {
  url: string;
  requests: { method: string; path: string; headers: Record<string, unknown>; body: unknown }[];
  /** Answer this status (default 200); `hang` never answers. */
  status: number;
  hang: boolean;
  stop(): Promise<void>;
}

/** Records JSON requests (Slack and Teams webhooks, REST enforcement APIs, ticket webhooks). */
export async function startJsonReceiver(): Promise<JsonReceiver> {
  const rec: JsonReceiver = { url: '', requests: [], status: 200, hang: false, stop: async () => {} };
  const server = createServer(async (req, res) => {
    const text = await body(req);
    if (rec.hang) return;
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    rec.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: parsed });
    res.writeHead(rec.status, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  const port = await listen(server);
  rec.url = `http://127.0.0.1:${port}`;
  rec.stop = () => close(server);
  return rec;
}
