/**
 * HTTP/1.x over TCP, recognised by content on any port. Requests and responses are paired in
 * order (pipelining), heads may span segments (bounded), bodies are counted (Content-Length,
 * chunked, or until the connection closes) without being kept. One `http` record per
 * exchange; a request without a response and a response without a request are recorded too.
 */

import { type Packet, PROTO_TCP } from '../../decode/packet.js';
import type { HttpRecord } from '../../schema/http.js';
import { emitL7Weird, isInterim, setFlowFields } from '../flow-fields.js';
import type { FlowNotes } from '../flow-notes.js';
import { type RecordColumnBuilder, RecordOut } from '../record-columns.js';
import { SlotMap } from '../slot-map.js';
import { TcpStreams } from '../tcp-reassembly.js';
import type { Analyzer, FlowLookup, FlowRecordPatch, RecordSink } from '../types.js';
import {
  findHeadEnd,
  type Head,
  parseHead,
  requestStart,
  responseStart,
  START_MORE,
  START_YES,
} from './message.js';

export interface HttpOptions {
  notes?: FlowNotes;
  /** Largest message head kept while it spans segments. */
  headLimit?: number;
  /** Requests waiting for their responses before the oldest is recorded unanswered. */
  maxPending?: number;
  /** Records as rows of these columns instead of objects to the sink (the store path). */
  columns?: RecordColumnBuilder;
  /** In column mode, sees each record that has a User-Agent (the host profiler's guesses). */
  observe?: (rec: HttpRecord) => void;
}

export interface HttpCounters {
  flows: number;
  requests: number;
  responses: number;
  records: number;
  unanswered: number;
  malformed: number;
}

// direction modes
const M_HEAD = 0;
const M_BODY = 1;
const M_CHUNK_SIZE = 2;
const M_CHUNK_DATA = 3;
const M_CHUNK_CRLF = 4;
const M_TRAILER = 5;
const M_UNTIL_CLOSE = 6;
/** Looking for a message start at the beginning of a segment (start of stream or after a gap). */
const M_SYNC = 7;
const M_STOP = 8;

/** Segments looked at for a message start before a direction is left alone. */
const SYNC_TRIES = 8;
const MAX_CHUNK_LINE = 1024;
const WAIT = -1;
const SKIP = -2;

interface Exchange {
  depth: number;
  tsSec: number;
  tsNs: number;
  req: Head | null;
  reqBody: number;
  rsp: Head | null;
  rspTsSec: number;
  rspTsNs: number;
  rspBody: number;
}

class Dir {
  mode = M_SYNC;
  syncTries = 0;
  remain = 0;
  /** A message head was started in an earlier segment at this time. */
  started = false;
  tsSec = 0;
  tsNs = 0;
  /** The message being read (its body bytes go here). */
  cur: Exchange | null = null;
  /** HTTP seen in this direction. */
  seen = false;

  restart(): void {
    this.mode = M_SYNC;
    this.syncTries = 0;
    this.remain = 0;
    this.started = false;
    this.tsSec = 0;
    this.tsNs = 0;
    this.cur = null;
    this.seen = false;
  }
}

/** No flow's generation (they are unsigned). */
const DROPPED = -1;

/** A slot's HTTP state, refilled for each flow the slot holds (no objects per flow). */
class HttpFlow {
  readonly dirs: [Dir, Dir] = [new Dir(), new Dir()];
  /** Requests waiting for a response, oldest first. */
  readonly queue: Exchange[] = [];
  depth = 0;
  counted = false;
  /** Generation of the slot's flow this is for; DROPPED once the flow ended. */
  constructor(public gen: number) {}

  restart(gen: number): void {
    this.gen = gen;
    this.dirs[0].restart();
    this.dirs[1].restart();
    this.queue.length = 0;
    this.depth = 0;
    this.counted = false;
  }
}

export function createHttpAnalyzer(
  sink: RecordSink,
  opts: HttpOptions = {},
): Analyzer & { counters: HttpCounters } {
  const notes = opts.notes ?? null;
  const observe = opts.observe;
  const out = new RecordOut<HttpRecord>(
    'http',
    sink,
    opts.columns,
    observe
      ? { wants: (r) => typeof r.user_agent === 'string' && r.user_agent !== '', see: observe }
      : undefined,
  );
  const headLimit = opts.headLimit ?? 16 * 1024;
  const maxPending = opts.maxPending ?? 64;
  // room for a head just under the limit plus the segment that completes it
  const streams = new TcpStreams(headLimit * 2);
  const flows = new SlotMap<HttpFlow>();
  const counters: HttpCounters = {
    flows: 0,
    requests: 0,
    responses: 0,
    records: 0,
    unanswered: 0,
    malformed: 0,
  };

  /** head(): wait for more bytes from `waitAt`, or skip the segment. */
  let waitAt = 0;
  const wait = (at: number): number => {
    waitAt = at;
    return WAIT;
  };

  function emit(x: Exchange, slot: number, fl: FlowLookup): void {
    counters.records++;
    const q = x.req;
    const r = x.rsp;
    const rec = out.begin(x.tsSec, x.tsNs);
    setFlowFields(rec, fl.context(slot));
    rec.trans_depth = x.depth;
    rec.method = q?.method ?? null;
    rec.host = q?.host ?? null;
    rec.uri = q?.uri ?? null;
    rec.version = q?.version ?? null;
    rec.user_agent = q?.userAgent ?? null;
    rec.referrer = q?.referrer ?? null;
    rec.request_content_type = q?.contentType ?? null;
    rec.request_content_length = q !== null && q.contentLength >= 0 ? q.contentLength : null;
    rec.request_body_bytes = x.reqBody;
    rec.status = r?.status ?? null;
    rec.reason = r?.reason ?? null;
    rec.response_version = r?.version ?? null;
    rec.server = r?.server ?? null;
    rec.location = r?.location ?? null;
    rec.response_content_type = r?.contentType ?? null;
    rec.response_content_length = r !== null && r.contentLength >= 0 ? r.contentLength : null;
    rec.response_body_bytes = x.rspBody;
    rec.response_ms =
      q !== null && r !== null
        ? Math.round(((x.rspTsSec - x.tsSec) * 1e3 + (x.rspTsNs - x.tsNs) / 1e6) * 1e6) / 1e6
        : null;
    out.end(rec);
  }

  /** A response is complete: record it with its request. */
  function responseDone(f: HttpFlow, x: Exchange, slot: number, fl: FlowLookup): void {
    const i = f.queue.indexOf(x);
    if (i >= 0) f.queue.splice(i, 1);
    emit(x, slot, fl);
  }

  /** Start of a message head at b[p]: parse it when complete. Returns the new position or -1 to wait. */
  function head(
    f: HttpFlow,
    d: Dir,
    dir: number,
    b: Buffer,
    p: number,
    end: number,
    pk: Packet,
    slot: number,
    fl: FlowLookup,
  ): number {
    // tolerate blank lines between messages
    while (p < end && (b[p] === 0x0d || b[p] === 0x0a)) p++;
    if (p >= end) return p;
    const start = dir === 0 ? requestStart(b, p, end) : responseStart(b, p, end);
    if (start === START_MORE) return wait(p);
    if (start !== START_YES) {
      if (d.mode === M_SYNC) return SKIP; // not at a message start: skip the segment
      counters.malformed++;
      emitL7Weird(
        sink,
        dir === 0 ? 'http_bad_request_line' : 'http_bad_status_line',
        pk,
        fl.context(slot),
        dir,
        null,
      );
      d.mode = M_STOP;
      return end;
    }
    const he = findHeadEnd(b, p, end);
    if (he < 0) {
      if (end - p >= headLimit) {
        counters.malformed++;
        emitL7Weird(sink, 'http_head_too_long', pk, fl.context(slot), dir, null);
        d.mode = M_STOP;
        return end;
      }
      return wait(p);
    }
    const h = parseHead(b, p, he, dir === 0);
    const tsSec = d.started ? d.tsSec : pk.tsSec;
    const tsNs = d.started ? d.tsNs : pk.tsNs;
    d.started = false;
    d.seen = true;
    if (!f.counted) {
      f.counted = true;
      counters.flows++;
    }
    if (notes !== null) {
      const note = notes.get(slot, f.gen);
      note.proto = 'http';
      if (dir === 0 && note.host === null && h.host !== null) note.host = h.host;
    }
    if (dir === 0) {
      counters.requests++;
      if (f.queue.length >= maxPending) {
        counters.unanswered++;
        emit(f.queue.shift()!, slot, fl);
      }
      const x: Exchange = {
        depth: ++f.depth,
        tsSec,
        tsNs,
        req: h,
        reqBody: 0,
        rsp: null,
        rspTsSec: 0,
        rspTsNs: 0,
        rspBody: 0,
      };
      f.queue.push(x);
      d.cur = x;
      if (h.chunked) d.mode = M_CHUNK_SIZE;
      else if (h.contentLength > 0) {
        d.mode = M_BODY;
        d.remain = h.contentLength;
      } else d.mode = M_HEAD;
      return he;
    }
    counters.responses++;
    const status = h.status ?? 0;
    if (status >= 100 && status < 200 && status !== 101) {
      d.mode = M_HEAD; // interim response: the final one follows
      return he;
    }
    // the oldest request without a response gets this one
    let x: Exchange | undefined;
    for (const q of f.queue)
      if (q.rsp === null) {
        x = q;
        break;
      }
    if (x === undefined) {
      x = {
        depth: ++f.depth,
        tsSec,
        tsNs,
        req: null,
        reqBody: 0,
        rsp: null,
        rspTsSec: 0,
        rspTsNs: 0,
        rspBody: 0,
      };
      f.queue.push(x);
    }
    x.rsp = h;
    x.rspTsSec = tsSec;
    x.rspTsNs = tsNs;
    d.cur = x;
    const method = x.req?.method;
    if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) {
      // the connection now carries another protocol
      f.dirs[0].mode = M_STOP;
      d.mode = M_STOP;
      responseDone(f, x, slot, fl);
      return end;
    }
    if (method === 'HEAD' || status === 204 || status === 304) {
      d.mode = M_HEAD;
      responseDone(f, x, slot, fl);
    } else if (h.chunked) d.mode = M_CHUNK_SIZE;
    else if (h.contentLength >= 0) {
      d.remain = h.contentLength;
      d.mode = M_BODY;
      if (d.remain === 0) {
        d.mode = M_HEAD;
        responseDone(f, x, slot, fl);
      }
    } else d.mode = M_UNTIL_CLOSE;
    return he;
  }

  function bodyDone(f: HttpFlow, d: Dir, dir: number, slot: number, fl: FlowLookup): void {
    d.mode = M_HEAD;
    if (dir === 1 && d.cur !== null) responseDone(f, d.cur, slot, fl);
    d.cur = null;
  }

  function addBody(d: Dir, dir: number, n: number): void {
    if (d.cur === null) return;
    if (dir === 0) d.cur.reqBody += n;
    else d.cur.rspBody += n;
  }

  /** Parse b[start, end) of one direction; returns where unconsumed bytes begin. */
  function parse(
    f: HttpFlow,
    dir: number,
    b: Buffer,
    start: number,
    end: number,
    pk: Packet,
    slot: number,
    fl: FlowLookup,
  ): number {
    const d = f.dirs[dir as 0 | 1];
    let p = start;
    while (p < end) {
      switch (d.mode) {
        case M_SYNC:
        case M_HEAD: {
          const r = head(f, d, dir, b, p, end, pk, slot, fl);
          if (r === SKIP) {
            if (++d.syncTries >= SYNC_TRIES) d.mode = M_STOP;
            return end;
          }
          if (r === WAIT) {
            if (!d.started) {
              d.started = true;
              d.tsSec = pk.tsSec;
              d.tsNs = pk.tsNs;
            }
            return waitAt;
          }
          p = r;
          break;
        }
        case M_BODY: {
          const n = Math.min(d.remain, end - p);
          addBody(d, dir, n);
          d.remain -= n;
          p += n;
          if (d.remain === 0) bodyDone(f, d, dir, slot, fl);
          break;
        }
        case M_CHUNK_SIZE:
        case M_TRAILER: {
          let le = p;
          while (le < end && b[le] !== 0x0a) le++;
          if (le === end) {
            if (end - p > MAX_CHUNK_LINE) return malformed(d, dir, pk, slot, fl, end);
            return p;
          }
          if (d.mode === M_TRAILER) {
            const blank = le === p || (le === p + 1 && b[p] === 0x0d);
            p = le + 1;
            if (blank) bodyDone(f, d, dir, slot, fl);
            break;
          }
          let size = 0;
          let digits = 0;
          for (let i = p; i < le; i++) {
            const c = b[i]! | 0x20;
            const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
            if (v < 0) break;
            size = size * 16 + v;
            digits++;
          }
          if (digits === 0 || digits > 12) return malformed(d, dir, pk, slot, fl, end);
          p = le + 1;
          if (size === 0) d.mode = M_TRAILER;
          else {
            d.mode = M_CHUNK_DATA;
            d.remain = size;
          }
          break;
        }
        case M_CHUNK_DATA: {
          const n = Math.min(d.remain, end - p);
          addBody(d, dir, n);
          d.remain -= n;
          p += n;
          if (d.remain === 0) d.mode = M_CHUNK_CRLF;
          break;
        }
        case M_CHUNK_CRLF:
          if (b[p] === 0x0d) p++;
          else {
            if (b[p] === 0x0a) p++;
            d.mode = M_CHUNK_SIZE;
          }
          break;
        case M_UNTIL_CLOSE:
          addBody(d, dir, end - p);
          return end;
        default:
          return end;
      }
    }
    return p;
  }

  function malformed(d: Dir, dir: number, pk: Packet, slot: number, fl: FlowLookup, end: number): number {
    counters.malformed++;
    emitL7Weird(sink, 'http_bad_chunk', pk, fl.context(slot), dir, null);
    d.mode = M_STOP;
    return end;
  }

  /** Bytes were lost before this segment: skip them inside a body, else look for a message start. */
  function onGap(f: HttpFlow, d: Dir, dir: number, lost: number, slot: number, fl: FlowLookup): void {
    if (d.mode === M_STOP) return;
    if (d.mode === M_BODY && lost > 0 && lost < d.remain) {
      addBody(d, dir, lost);
      d.remain -= lost;
      return;
    }
    if (d.mode === M_UNTIL_CLOSE) {
      addBody(d, dir, lost);
      return;
    }
    if (d.mode === M_BODY && lost > 0 && lost === d.remain) {
      addBody(d, dir, lost);
      d.remain = 0;
      bodyDone(f, d, dir, slot, fl);
      return;
    }
    if (d.mode !== M_SYNC) d.syncTries = 0;
    d.mode = M_SYNC;
    d.started = false;
  }

  function flush(f: HttpFlow, slot: number, fl: FlowLookup): void {
    for (const x of f.queue) {
      if (x.rsp === null) counters.unanswered++;
      emit(x, slot, fl);
    }
    f.queue.length = 0;
    f.dirs[0].cur = null;
    f.dirs[1].cur = null;
  }

  return {
    name: 'http',
    counters,
    onPacket(p: Packet, fl: FlowLookup, slot: number, dir: number): boolean | undefined {
      if (p.proto !== PROTO_TCP) return false;
      if (slot < 0) return;
      let f = flows.get(slot);
      const gen = fl.generation(slot);
      if (f === undefined || f.gen !== gen) {
        if (p.payloadCapLen <= 0) return;
        if (f === undefined) {
          f = new HttpFlow(gen);
          flows.set(slot, f);
        } else {
          // A flow that ended let go of its streams then; one replaced without an end has them still.
          if (f.gen !== DROPPED) {
            streams.drop(TcpStreams.key(slot, 0));
            streams.drop(TcpStreams.key(slot, 1));
          }
          f.restart(gen);
        }
      }
      const d = f.dirs[dir as 0 | 1];
      if (f.dirs[0].mode === M_STOP && f.dirs[1].mode === M_STOP) return false;
      if (d.mode === M_STOP) return;
      const key = TcpStreams.key(slot, dir);
      if (!streams.push(key, gen, p)) return;
      if (streams.gap) onGap(f, d, dir, streams.lost, slot, fl);
      const stop = parse(f, dir, streams.buf, streams.start, streams.end, p, slot, fl);
      if (d.mode === M_STOP) streams.drop(key);
      else streams.keep(stop);
    },
    onFlowEnd(rec: FlowRecordPatch, slot: number, fl: FlowLookup): void {
      const f = flows.get(slot);
      if (f === undefined || f.gen !== fl.generation(slot)) return;
      if (isInterim(rec)) return;
      flush(f, slot, fl);
      f.gen = DROPPED;
      streams.drop(TcpStreams.key(slot, 0));
      streams.drop(TcpStreams.key(slot, 1));
    },
    finish(): void {
      flows.clear();
    },
  };
}
