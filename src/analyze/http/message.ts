/**
 * HTTP/1.x message heads, read in place from a buffer window. Recognition follows tshark's
 * rule so the same requests are counted: a request is a line whose first token (up to the
 * first space or the end of the line) is a known method; a response starts with "HTTP/".
 */

import { TextCache } from '../text-cache.js';

const METHODS = new Set([
  'GET',
  'PUT',
  'COPY',
  'HEAD',
  'LOCK',
  'MOVE',
  'POLL',
  'POST',
  'BCOPY',
  'BMOVE',
  'MKCOL',
  'TRACE',
  'LABEL',
  'MERGE',
  'PATCH',
  'DELETE',
  'SEARCH',
  'UNLOCK',
  'REPORT',
  'UPDATE',
  'NOTIFY',
  'BDELETE',
  'CONNECT',
  'OPTIONS',
  'CHECKIN',
  'PROPFIND',
  'CHECKOUT',
  'CCM_POST',
  'SUBSCRIBE',
  'PROPPATCH',
  'BPROPFIND',
  'BPROPPATCH',
  'UNCHECKOUT',
  'MKACTIVITY',
  'MKWORKSPACE',
  'UNSUBSCRIBE',
  'RPC_CONNECT',
  'RPC_IN_DATA',
  'RPC_OUT_DATA',
  'VERSION-CONTROL',
  'BASELINE-CONTROL',
]);
const MAX_METHOD = 16;

export const START_NO = 0;
export const START_YES = 1;
/** Too few bytes to tell yet. */
export const START_MORE = 2;

/** Does a request start at b[p]? Compares the first token with the method list without making a string. */
export function requestStart(b: Buffer, p: number, end: number): number {
  let i = p;
  // RFC 2774 mandatory-extension prefix ("M-SEARCH", "M-POST").
  if (end - i >= 2 && b[i] === 0x4d && b[i + 1] === 0x2d) i += 2;
  const t0 = i;
  while (i < end && i - t0 <= MAX_METHOD) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x0d || c === 0x0a) break;
    if (c < 0x21 || c > 0x7e) return START_NO;
    i++;
  }
  if (i - t0 > MAX_METHOD) return START_NO;
  if (i === end) return START_MORE;
  if (i === t0) return START_NO;
  return METHODS.has(b.toString('latin1', t0, i)) ? START_YES : START_NO;
}

/** Does a response start at b[p] ("HTTP/")? */
export function responseStart(b: Buffer, p: number, end: number): number {
  const want = [0x48, 0x54, 0x54, 0x50, 0x2f];
  for (let k = 0; k < 5; k++) {
    if (p + k >= end) return START_MORE;
    if (b[p + k] !== want[k]) return START_NO;
  }
  return START_YES;
}

/** End of the head (index just past the blank line) in b[p, end), or -1 when not there yet. */
export function findHeadEnd(b: Buffer, p: number, end: number): number {
  for (let i = p; i < end; i++) {
    if (b[i] !== 0x0a) continue;
    // "\n\n" or "\n\r\n"
    if (i + 1 < end && b[i + 1] === 0x0a) return i + 2;
    if (i + 2 < end && b[i + 1] === 0x0d && b[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

export interface Head {
  /** Request: method, uri, version (any may be null for a malformed line). */
  method: string | null;
  uri: string | null;
  /** Request or response version token as written ("HTTP/1.1"). */
  version: string | null;
  status: number | null;
  reason: string | null;
  host: string | null;
  userAgent: string | null;
  referrer: string | null;
  contentType: string | null;
  server: string | null;
  location: string | null;
  /** Declared Content-Length, -1 when absent or not a number. */
  contentLength: number;
  chunked: boolean;
  connectionClose: boolean;
}

function newHead(): Head {
  return {
    method: null,
    uri: null,
    version: null,
    status: null,
    reason: null,
    host: null,
    userAgent: null,
    referrer: null,
    contentType: null,
    server: null,
    location: null,
    contentLength: -1,
    chunked: false,
    connectionClose: false,
  };
}

/** Line end (index of '\n' or `end`) from p. */
function lineEnd(b: Buffer, p: number, end: number): number {
  while (p < end && b[p] !== 0x0a) p++;
  return p;
}

/** Where `trim` left its range (module state: no array per header line). */
let tA = 0;
let tE = 0;

/** Trim spaces, tabs and a trailing CR from b[a, e) into [tA, tE). */
function trim(b: Buffer, a: number, e: number): void {
  while (e > a && (b[e - 1] === 0x0d || b[e - 1] === 0x20 || b[e - 1] === 0x09)) e--;
  while (a < e && (b[a] === 0x20 || b[a] === 0x09)) a++;
  tA = a;
  tE = e;
}

/**
 * Header values, methods and versions: a few distinct ones across thousands of messages (one
 * string each, see TextCache). URIs, referrers and locations vary too much to keep.
 */
export const HTTP_TEXT = new TextCache(2048, 256);
const str = (b: Buffer, a: number, e: number): string => b.toString('utf8', a, e);
const kept = (b: Buffer, a: number, e: number): string => HTTP_TEXT.utf8(b, a, e);

/** Parse the head in b[p, headEnd): the start line then the header fields we keep. */
export function parseHead(b: Buffer, p: number, headEnd: number, isRequest: boolean): Head {
  const h = newHead();
  let le = lineEnd(b, p, headEnd);
  trim(b, p, le);
  const a = tA;
  const e = tE;
  if (isRequest) {
    let i = a;
    while (i < e && b[i] !== 0x20) i++;
    h.method = HTTP_TEXT.latin1(b, a, i);
    while (i < e && b[i] === 0x20) i++;
    if (i < e) {
      let j = i;
      while (j < e && b[j] !== 0x20) j++;
      h.uri = str(b, i, j);
      while (j < e && b[j] === 0x20) j++;
      if (j < e) h.version = kept(b, j, e);
    }
  } else {
    let i = a;
    while (i < e && b[i] !== 0x20) i++;
    h.version = HTTP_TEXT.latin1(b, a, i);
    while (i < e && b[i] === 0x20) i++;
    let j = i;
    let status = 0;
    while (j < e && j - i < 3 && b[j]! >= 0x30 && b[j]! <= 0x39) status = status * 10 + b[j++]! - 0x30;
    if (j - i === 3 && (j === e || b[j] === 0x20)) {
      h.status = status;
      while (j < e && b[j] === 0x20) j++;
      h.reason = kept(b, j, e);
    }
  }
  p = le + 1;
  while (p < headEnd) {
    le = lineEnd(b, p, headEnd);
    let c = p;
    while (c < le && b[c] !== 0x3a) c++;
    if (c < le) parseField(b, p, c, c + 1, le, h);
    p = le + 1;
  }
  return h;
}

function lowerIs(b: Buffer, a: number, e: number, name: string): boolean {
  if (e - a !== name.length) return false;
  for (let i = 0; i < name.length; i++) if ((b[a + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

function parseField(b: Buffer, na: number, ne: number, va: number, ve: number, h: Head): void {
  trim(b, na, ne);
  na = tA;
  ne = tE;
  const n = ne - na;
  if (n < 4 || n > 17) return;
  trim(b, va, ve);
  const a = tA;
  const e = tE;
  switch (b[na]! | 0x20) {
    case 0x68: // h
      if (h.host === null && lowerIs(b, na, ne, 'host') && e > a) h.host = kept(b, a, e);
      break;
    case 0x75: // u
      if (h.userAgent === null && lowerIs(b, na, ne, 'user-agent')) h.userAgent = kept(b, a, e);
      break;
    case 0x72: // r
      if (h.referrer === null && lowerIs(b, na, ne, 'referer')) h.referrer = str(b, a, e);
      break;
    case 0x73: // s
      if (h.server === null && lowerIs(b, na, ne, 'server')) h.server = kept(b, a, e);
      break;
    case 0x6c: // l
      if (h.location === null && lowerIs(b, na, ne, 'location')) h.location = str(b, a, e);
      break;
    case 0x63: // c
      if (lowerIs(b, na, ne, 'content-type')) {
        if (h.contentType === null) h.contentType = kept(b, a, e);
      } else if (lowerIs(b, na, ne, 'content-length')) {
        let v = 0;
        let ok = e > a;
        for (let i = a; i < e; i++) {
          const d = b[i]! - 0x30;
          if (d < 0 || d > 9) {
            ok = false;
            break;
          }
          v = v * 10 + d;
        }
        h.contentLength = ok && v <= Number.MAX_SAFE_INTEGER ? v : -1;
      } else if (lowerIs(b, na, ne, 'connection')) {
        h.connectionClose = containsLower(b, a, e, 'close');
      }
      break;
    case 0x74: // t
      if (lowerIs(b, na, ne, 'transfer-encoding')) h.chunked = containsLower(b, a, e, 'chunked');
      break;
  }
}

function containsLower(b: Buffer, a: number, e: number, word: string): boolean {
  outer: for (let i = a; i + word.length <= e; i++) {
    for (let k = 0; k < word.length; k++) if ((b[i + k]! | 0x20) !== word.charCodeAt(k)) continue outer;
    return true;
  }
  return false;
}
