import type { FeedConfig } from './config.js';
import { FeedError, parseJson } from './feeds/common.js';
import { authHeaders, fetchText } from './pull.js';

export const TAXII_MEDIA = 'application/taxii+json;version=2.1';

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

async function getJson(
  url: string,
  f: FeedConfig,
): Promise<{ doc: Record<string, unknown>; headers: Headers; bytes: number }> {
  const { text, headers } = await fetchText(url, f, { headers: { ...authHeaders(f), Accept: TAXII_MEDIA } });
  const doc = parseJson(text, `TAXII answer from ${url}`);
  if (!isObj(doc)) throw new FeedError(`TAXII answer from ${url} is not a JSON object`);
  return { doc, headers, bytes: text.length };
}

const slash = (u: string): string => (u.endsWith('/') ? u : `${u}/`);

/**
 * Find the collection's objects URL. `url` may be a discovery endpoint (…/taxii2/), an API
 * root, or a collection itself; `collection` names the collection by id or title.
 */
async function objectsUrl(f: FeedConfig): Promise<string> {
  const url = slash(f.url!);
  if (/\/collections\/[^/]+\/$/.test(url)) return `${url}objects/`;
  let root = f.apiRoot ? new URL(slash(f.apiRoot), url).toString() : url;
  if (!f.apiRoot) {
    const { doc } = await getJson(url, f);
    if (Array.isArray(doc.api_roots) || typeof doc.default === 'string') {
      const r = (typeof doc.default === 'string' ? doc.default : (doc.api_roots as unknown[])[0]) as unknown;
      if (typeof r !== 'string') throw new FeedError(`TAXII discovery at ${url} lists no API root`);
      root = new URL(slash(r), url).toString();
    }
  }
  if (!f.collection)
    throw new FeedError('a TAXII feed needs collection (an id or title) unless its url is a collection');
  const { doc } = await getJson(`${root}collections/`, f);
  const cols = Array.isArray(doc.collections) ? (doc.collections as Record<string, unknown>[]) : [];
  const c = cols.find((x) => x?.id === f.collection || x?.title === f.collection);
  if (!c) throw new FeedError(`TAXII API root ${root} has no collection '${f.collection}'`);
  if (c.can_read === false)
    throw new FeedError(`TAXII collection '${f.collection}' is not readable with these credentials`);
  return `${root}collections/${String(c.id)}/objects/`;
}

/** Objects asked for a page; servers cap it to their own page size (medallion needs it with `next`). */
const PAGE_LIMIT = 1000;

/** An object's identity for loop detection: id and version. */
const objKey = (o: unknown): string | null =>
  isObj(o) && typeof o.id === 'string' ? `${o.id}|${String(o.modified ?? o.created ?? '')}` : null;

/**
 * Every object added after `addedAfter`, page by page (TAXII 2.1 §3.4: follow `next` while
 * `more`; a server that gives `more` without `next` is paged by X-TAXII-Date-Added-Last).
 * A server may reuse one `next` token for a whole session (medallion does), so a loop is told
 * by progress instead: a page that brings no object not already seen, an added_after that does
 * not move, or more pages than max_pages is a feed error rather than an endless pull.
 */
export async function pullTaxii(
  f: FeedConfig,
  addedAfter: string | undefined,
  onObjects: (objects: unknown[]) => void,
): Promise<{ pages: number; bytes: number; lastAdded: string | null }> {
  const base = await objectsUrl(f);
  let after = addedAfter;
  let next: string | null = null;
  const seen = new Set<string>();
  let pages = 0;
  let bytes = 0;
  let lastAdded: string | null = null;
  for (;;) {
    if (++pages > f.maxPages)
      throw new FeedError(`TAXII collection has more than ${f.maxPages} pages (max_pages)`);
    const q = new URLSearchParams();
    q.set('limit', String(PAGE_LIMIT));
    q.set('match[type]', 'indicator');
    if (after) q.set('added_after', after);
    if (next) q.set('next', next);
    const { doc, headers, bytes: b } = await getJson(`${base}?${q}`, f);
    bytes += b;
    if (doc.objects !== undefined && !Array.isArray(doc.objects))
      throw new FeedError('TAXII envelope objects is not an array');
    const objects = (doc.objects ?? []) as unknown[];
    let fresh = 0;
    for (const o of objects) {
      const k = objKey(o);
      if (k === null || !seen.has(k)) fresh++;
      if (k !== null) seen.add(k);
    }
    if (doc.more === true && fresh === 0)
      throw new FeedError(
        `TAXII server says more but page ${pages} brings no new object: paging loops (next '${String(doc.next ?? '').slice(0, 60)}')`,
      );
    onObjects(objects);
    const last = headers.get('x-taxii-date-added-last') ?? headers.get('x-taxii-date-added-first');
    if (last) lastAdded = last;
    if (doc.more !== true) break;
    if (typeof doc.next === 'string' && doc.next !== '') {
      next = doc.next;
    } else {
      if (!last || last === after)
        throw new FeedError(
          'TAXII server says more but gives neither next nor a new X-TAXII-Date-Added-Last',
        );
      after = last;
      next = null;
    }
  }
  return { pages, bytes, lastAdded };
}
