import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FeedConfig } from './config.js';
import { DEFAULT_PARSE, FeedError, type ParseOptions, ParseResult, parseJson } from './feeds/common.js';
import { parseCsv, sniffCsvMapping } from './feeds/csv.js';
import { parseList } from './feeds/list.js';
import {
  addMispEvent,
  type MispOptions,
  mispManifestEvents,
  parseMispSearch,
  parseWarninglist,
  type Warninglist,
} from './feeds/misp.js';
import { addStixObjects, parseStixBundle } from './feeds/stix.js';
import { parseZeekIntel } from './feeds/zeek.js';
import { pullTaxii } from './taxii-client.js';

/** Where a pull leaves off for the next one (TAXII: the last date added it saw). */
export interface PullCursor {
  addedAfter?: string;
}

export interface PullOutput {
  result: ParseResult;
  /** TAXII pulls are incremental: the new objects add to the previous set. */
  incremental: boolean;
  cursor: PullCursor;
  pages: number;
  bytes: number;
}

export function authHeaders(f: FeedConfig): Record<string, string> {
  const a = f.auth;
  if (!a) return {};
  if (a.type === 'basic') {
    return { Authorization: `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}` };
  }
  return { [a.header]: a.scheme ? `${a.scheme} ${a.token}` : a.token };
}

/** Body of a URL, with the byte limit enforced while it streams in and a clear error otherwise. */
export async function fetchText(
  url: string,
  f: Pick<FeedConfig, 'maxBytes' | 'timeoutMs'>,
  init: RequestInit = {},
): Promise<{ text: string; headers: Headers }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.timeout(f.timeoutMs) });
  } catch (e) {
    throw new FeedError(`${redact(url)}: ${(e as Error).message}`);
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 200);
    throw new FeedError(`${redact(url)}: HTTP ${res.status}${body ? `: ${body.replace(/\s+/g, ' ')}` : ''}`);
  }
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > f.maxBytes) {
    await res.body?.cancel();
    throw new FeedError(`${redact(url)}: ${len} bytes is over the limit of ${f.maxBytes} (max_bytes)`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += c.length;
      if (total > f.maxBytes)
        throw new FeedError(`${redact(url)}: more than ${f.maxBytes} bytes (max_bytes)`);
      chunks.push(Buffer.from(c));
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), headers: res.headers };
}

const redact = (u: string): string => u.replace(/\/\/[^@/]*@/, '//');

async function readFileLimited(path: string, maxBytes: number): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new FeedError(
      `${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  try {
    const st = await fh.stat();
    if (st.size > maxBytes)
      throw new FeedError(`${path}: ${st.size} bytes is over the limit of ${maxBytes} (max_bytes)`);
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Pull one feed and parse it; throws FeedError (the caller keeps the previous indicators). */
export async function pullFeed(f: FeedConfig, cursor: PullCursor, now: number): Promise<PullOutput> {
  const opts: ParseOptions = {
    ...DEFAULT_PARSE,
    sources: Object.freeze([f.name]),
    confidence: f.confidence,
    severity: f.severity,
    validDays: f.validDays,
    now,
    maxLine: f.maxLine,
    maxIndicators: f.maxIndicators,
  };
  const headers = authHeaders(f);
  const get = async (): Promise<string> =>
    f.file !== undefined
      ? readFileLimited(f.file, f.maxBytes)
      : (await fetchText(f.url!, f, { headers })).text;
  const out = (result: ParseResult, bytes: number, extra: Partial<PullOutput> = {}): PullOutput => ({
    result,
    incremental: false,
    cursor: {},
    pages: 1,
    bytes,
    ...extra,
  });
  switch (f.format) {
    case 'list': {
      const t = await get();
      return out(parseList(t, opts, f.type), t.length);
    }
    case 'csv': {
      const t = await get();
      return out(parseCsv(t, opts, f.mapping ?? sniffCsvMapping(t)), t.length);
    }
    case 'zeek': {
      const t = await get();
      return out(parseZeekIntel(t, opts), t.length);
    }
    case 'stix': {
      const t = await get();
      // a .json file may be a MISP event rather than a bundle
      if (/^\s*\{\s*"(Event|response)"/.test(t.slice(0, 200))) {
        const r = new ParseResult(opts);
        const doc = parseJson(t, 'MISP event');
        if ((doc as Record<string, unknown>).response !== undefined) {
          return out(parseMispSearch(t, opts, await mispOptions(f)), t.length);
        }
        addMispEvent(r, doc, await mispOptions(f), f.file ?? f.url ?? f.name);
        return out(r, t.length);
      }
      return out(parseStixBundle(t, opts), t.length);
    }
    case 'taxii': {
      const r = new ParseResult(opts);
      const addedAfter = cursor.addedAfter ?? f.addedAfter;
      const res = await pullTaxii(f, addedAfter, (objects) => addStixObjects(r, objects));
      return out(r, res.bytes, {
        incremental: addedAfter !== undefined,
        cursor: res.lastAdded ? { addedAfter: res.lastAdded } : cursor,
        pages: res.pages,
      });
    }
    case 'misp':
      return pullMispFeed(f, opts);
    case 'misp_search': {
      const body = { returnFormat: 'json', to_ids: f.toIdsOnly ? 1 : undefined, ...(f.query ?? {}) };
      const { text } = await fetchText(`${f.url!.replace(/\/$/, '')}/attributes/restSearch`, f, {
        method: 'POST',
        headers: { ...headers, Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      return out(parseMispSearch(text, opts, await mispOptions(f)), text.length);
    }
  }
}

async function mispOptions(f: FeedConfig): Promise<MispOptions> {
  const warninglists: Warninglist[] = [];
  for (const w of f.warninglists)
    warninglists.push(parseWarninglist(await readFileLimited(w, 64 * 1024 * 1024), w));
  return { toIdsOnly: f.toIdsOnly, warninglists };
}

/** A MISP feed: manifest.json, then one `<uuid>.json` per event, from a directory or a URL. */
async function pullMispFeed(f: FeedConfig, opts: ParseOptions): Promise<PullOutput> {
  const m = await mispOptions(f);
  const headers = authHeaders(f);
  const base =
    f.file !== undefined
      ? f.file.endsWith('.json')
        ? dirname(f.file)
        : f.file
      : f.url!.replace(/\/(manifest\.json)?$/, '');
  const read = async (name: string): Promise<string> => {
    if (f.file !== undefined) return readFileLimited(join(base, name), f.maxBytes);
    return (await fetchText(`${base}/${name}`, f, { headers })).text;
  };
  let bytes = 0;
  const manifest = await read('manifest.json');
  bytes += manifest.length;
  const events = mispManifestEvents(manifest);
  if (events.length > f.maxPages)
    throw new FeedError(`MISP feed lists ${events.length} events, over max_pages ${f.maxPages}`);
  const r = new ParseResult(opts);
  for (const uuid of events) {
    const t = await read(`${uuid}.json`);
    bytes += t.length;
    if (bytes > f.maxBytes) throw new FeedError(`MISP feed is over ${f.maxBytes} bytes (max_bytes)`);
    addMispEvent(r, parseJson(t, `MISP event ${uuid}`), m, `event ${uuid}`);
  }
  return { result: r, incremental: false, cursor: {}, pages: events.length + 1, bytes };
}
