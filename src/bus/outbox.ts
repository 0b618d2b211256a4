import { closeSync, fsync, fsyncSync, openSync, writev } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { AlertRecord } from '../schema/alert.js';
import type { EncodedAlert } from './types.js';

/**
 * The durable outbox of the alert bus: alerts are appended to fsync'd segment files (one JSON
 * line each, numbered by a bus-wide sequence) before `append` resolves; each sink reads the
 * segments at its own cursor, persisted after delivery. A crash between a send and the cursor
 * commit re-sends: at-least-once. Segments are deleted once every sink is past them.
 *
 * The alert id and version lead each line so a reader can take them and the alert's JSON bytes
 * without parsing the alert: a sink that sends the record form sends the stored bytes as they are.
 *
 *   <dir>/segments/<first seq, 16 digits>.ndjson   {"s":seq,"t":publish ms,"k":alert_id,"u":updated_ts,"a":alert}
 *   <dir>/cursors/<sink>.json                      {"seq":next,"seg":segment,"off":byte offset}
 *   <dir>/dead/<sink>.ndjson                       dead letters {"s","t","n":attempts,"e":error,"a"}
 *   <dir>/replay/<sink>.ndjson                     dead letters queued again by a replay
 */
export interface OutboxConfig {
  /** A segment is closed and a new one begun past this size, bytes. */
  segmentBytes: number;
  /** Bound on the segments' total size; alerts beyond it are refused and counted, bytes. */
  maxBytes: number;
  /** Bound on each sink's dead-letter file; beyond it dead letters are counted and dropped. */
  maxDeadBytes: number;
}

export const DEFAULT_OUTBOX: OutboxConfig = {
  segmentBytes: 16 << 20,
  maxBytes: 1 << 30,
  maxDeadBytes: 64 << 20,
};

export interface Entry {
  seq: number;
  /** Publish time, ms (for the lag in seconds). */
  t: number;
  alert: AlertRecord;
}

/**
 * An entry read from a segment: the alert is parsed from its stored bytes, and its id and
 * version decoded or sliced, only when asked for; a sink that copies bytes reads the spans of
 * the read buffer (`src`) and nothing is made per entry but this object.
 */
export class StoredEntry implements Entry, EncodedAlert {
  #alert: AlertRecord | undefined;
  #id: string | undefined;
  #updated: string | undefined;
  constructor(
    readonly seq: number,
    readonly t: number,
    readonly src: Buffer,
    readonly keyAt: number,
    readonly keyEnd: number,
    readonly headerAt: number,
    readonly headerEnd: number,
    readonly valueAt: number,
    readonly valueEnd: number,
    alert?: AlertRecord,
  ) {
    this.#alert = alert;
  }

  /** An entry of an alert held as a record (a dead letter), its bytes encoded here. */
  static of(seq: number, t: number, a: AlertRecord): StoredEntry {
    const id = Buffer.from(a.alert_id);
    const updated = Buffer.from(a.updated_ts);
    const json = Buffer.from(JSON.stringify(a));
    const src = Buffer.concat([id, updated, json]);
    const u = id.length;
    const v = u + updated.length;
    return new StoredEntry(seq, t, src, 0, u, u, v, v, src.length, a);
  }

  get idBytes(): Buffer {
    return this.src.subarray(this.keyAt, this.keyEnd);
  }

  get updatedBytes(): Buffer {
    return this.src.subarray(this.headerAt, this.headerEnd);
  }

  get json(): Buffer {
    return this.src.subarray(this.valueAt, this.valueEnd);
  }

  get id(): string {
    this.#id ??= this.src.toString('utf8', this.keyAt, this.keyEnd);
    return this.#id;
  }

  get updated(): string {
    this.#updated ??= this.src.toString('latin1', this.headerAt, this.headerEnd);
    return this.#updated;
  }

  get alert(): AlertRecord {
    this.#alert ??= JSON.parse(this.src.toString('utf8', this.valueAt, this.valueEnd)) as AlertRecord;
    return this.#alert;
  }
}

export interface DeadLetter extends Entry {
  attempts: number;
  error: string;
}

export interface Cursor {
  /** Next sequence number to deliver. */
  seq: number;
  /** Segment (its first sequence) and byte offset where `seq` starts. */
  seg: number;
  off: number;
}

interface Segment {
  first: number;
  size: number;
}

/** Bytes of appends written and fsync'd together at most (one or more whole appends). */
const GROUP_BYTES = 4 << 20;

const segName = (first: number): string => `${String(first).padStart(16, '0')}.ndjson`;

export class Outbox {
  private segments: Segment[] = [];
  private fd = -1;
  private next = 1;
  /** End of the fsync'd data: readers never pass it, so nothing is sent that a crash could renumber. */
  private durable = { seg: 1, off: 0 };
  /** Encoded jobs waiting for the writer: lines numbered first.., buf.length bytes. */
  private queue: {
    buf: Buffer;
    first: number;
    n: number;
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];
  /** Bytes accepted by append and not yet written (counted against maxBytes). */
  private pending = 0;
  /** Sequence number after the durable end (the start of a cursor at the end). */
  private durableNext = 1;
  private writing = false;
  private readonly waiters = new Set<() => void>();
  readonly counters = { appended: 0, overflow: 0, deadDropped: 0, fsyncs: 0 };

  constructor(
    readonly dir: string,
    private readonly cfg: OutboxConfig,
    private readonly log: Logger,
  ) {}

  async open(): Promise<void> {
    for (const d of ['segments', 'cursors', 'dead', 'replay'])
      await mkdir(join(this.dir, d), { recursive: true });
    const names = (await readdir(join(this.dir, 'segments')))
      .filter((n) => /^\d{16}\.ndjson$/.test(n))
      .sort();
    for (const n of names) {
      const first = Number(n.slice(0, 16));
      this.segments.push({ first, size: (await stat(join(this.dir, 'segments', n))).size });
    }
    const last = this.segments.at(-1);
    if (last) {
      this.next = await this.recoverTail(last);
    } else {
      this.segments.push({ first: 1, size: 0 });
      this.next = 1;
    }
    const cur = this.segments.at(-1)!;
    this.fd = openSync(join(this.dir, 'segments', segName(cur.first)), 'a');
    this.durable = { seg: cur.first, off: cur.size };
    this.durableNext = this.next;
  }

  /** Cut a write torn by a crash and find the next sequence number. */
  private async recoverTail(seg: Segment): Promise<number> {
    const path = join(this.dir, 'segments', segName(seg.first));
    const buf = await readFile(path);
    const end = buf.lastIndexOf(10) + 1;
    if (end < buf.length) {
      this.log.warn('outbox: cut a torn write at the end of a segment', {
        segment: path,
        bytes: buf.length - end,
      });
      const fh = await open(path, 'r+');
      await fh.truncate(end);
      await fh.sync();
      await fh.close();
      seg.size = end;
    }
    if (end === 0) return seg.first;
    const start = buf.lastIndexOf(10, end - 2) + 1;
    const line = JSON.parse(buf.subarray(start, end - 1).toString('utf8')) as { s: number };
    return line.s + 1;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    for (const w of this.waiters) w();
  }

  get nextSeq(): number {
    return this.next;
  }

  get bytes(): number {
    return this.segments.reduce((a, s) => a + s.size, 0);
  }

  get endCursor(): Cursor {
    return { seq: this.durableNext, seg: this.durable.seg, off: this.durable.off };
  }

  /**
   * Append alerts; resolves once they are on disk, with how many were refused by the size bound.
   * Each alert is encoded once, here, numbered and joined with its batch into one buffer: the
   * writer only writes.
   */
  append(alerts: readonly AlertRecord[]): Promise<{ accepted: number; dropped: number }> {
    const t = Date.now();
    const first = this.next;
    let buf = encodeLines(first, t, alerts);
    let n = alerts.length;
    const room = this.cfg.maxBytes - this.bytes - this.pending;
    if (buf.length > room) {
      // Over the bound: keep the alerts that fit, in order, and count the others.
      const kept: Buffer[] = [];
      let size = 0;
      n = 0;
      for (const a of alerts) {
        const b = Buffer.from(line(first + n, t, a));
        if (size + b.length > room) {
          this.counters.overflow++;
          continue;
        }
        kept.push(b);
        size += b.length;
        n++;
      }
      buf = Buffer.concat(kept, size);
    }
    this.next += n;
    this.pending += buf.length;
    const accepted = n;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ buf, first, n, resolve, reject });
      if (!this.writing) void this.drain();
    }).then(() => ({ accepted, dropped: alerts.length - accepted }));
  }

  /** One writer: every append waiting meanwhile shares one write and one fsync (group commit). */
  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // A group is bounded: a burst becomes durable, and visible to the sinks, a few MB at a
        // time instead of all at once after one long write.
        let take = 0;
        for (let bytes = 0; take < this.queue.length; take++) {
          bytes += this.queue[take]!.buf.length;
          if (take > 0 && bytes > GROUP_BYTES) break;
        }
        const jobs = this.queue.splice(0, take);
        let chunks: Buffer[] = [];
        let size = 0;
        let appended = 0;
        try {
          for (const job of jobs) {
            // A segment is closed at a batch boundary once it reaches its size.
            if (size > 0 && this.segments.at(-1)!.size + size + job.buf.length > this.cfg.segmentBytes) {
              await this.writeOut(chunks, size);
              this.roll(job.first);
              chunks = [];
              size = 0;
            }
            chunks.push(job.buf);
            size += job.buf.length;
            appended += job.n;
          }
          await this.writeOut(chunks, size);
          this.counters.appended += appended;
          for (const j of jobs) j.resolve();
        } catch (e) {
          for (const j of jobs) j.reject(e as Error);
        }
        for (const j of jobs) this.pending -= j.buf.length;
        const cur = this.segments.at(-1)!;
        this.durable = { seg: cur.first, off: cur.size };
        const last = jobs.at(-1)!;
        this.durableNext = last.first + last.n;
        for (const w of this.waiters) w();
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeOut(chunks: Buffer[], size: number): Promise<void> {
    if (chunks.length === 0) return;
    const fh = this.fd;
    await new Promise<void>((res, rej) => {
      writev(fh, chunks, (err) => {
        if (err) return rej(err);
        fsync(fh, (e2) => (e2 ? rej(e2) : res()));
      });
    });
    this.counters.fsyncs++;
    this.segments.at(-1)!.size += size;
  }

  private roll(first: number): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.segments.push({ first, size: 0 });
    this.fd = openSync(join(this.dir, 'segments', segName(first)), 'a');
  }

  /** Resolves when new alerts are durable, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /**
   * Up to `max` entries from a cursor, never past the durable end. Returns the entries and
   * the cursor after them.
   */
  async read(
    from: Cursor,
    max: number,
    maxBytes = 4 << 20,
  ): Promise<{ entries: StoredEntry[]; next: Cursor }> {
    let cur = this.locate(from);
    const entries: StoredEntry[] = [];
    while (entries.length < max) {
      const limit = cur.seg === this.durable.seg ? this.durable.off : this.sizeOf(cur.seg);
      if (cur.off >= limit) {
        const after = this.segments.find((s) => s.first > cur.seg);
        if (!after || cur.seg === this.durable.seg) break;
        cur = { seq: cur.seq, seg: after.first, off: 0 };
        continue;
      }
      const len = Math.min(limit - cur.off, maxBytes);
      const fh = await open(join(this.dir, 'segments', segName(cur.seg)), 'r');
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      try {
        while (got < len) {
          const { bytesRead } = await fh.read(buf, got, len - got, cur.off + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } finally {
        await fh.close();
      }
      let pos = 0;
      while (entries.length < max) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0 || nl >= got) break;
        const e = parseLine(buf, pos, nl);
        pos = nl + 1;
        if (e.seq < cur.seq) continue;
        entries.push(e);
      }
      const last = entries.at(-1);
      cur = { seq: last ? last.seq + 1 : cur.seq, seg: cur.seg, off: cur.off + pos };
      if (pos === 0) break;
    }
    return { entries, next: cur };
  }

  private sizeOf(seg: number): number {
    return this.segments.find((s) => s.first === seg)?.size ?? 0;
  }

  /** A cursor whose segment was deleted (or never existed) restarts at the oldest kept one. */
  private locate(c: Cursor): Cursor {
    if (this.segments.some((s) => s.first === c.seg)) return c;
    const first = this.segments[0]!;
    return { seq: Math.max(c.seq, first.first), seg: first.first, off: 0 };
  }

  async loadCursor(name: string): Promise<Cursor | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'cursors', `${name}.json`), 'utf8')) as Cursor;
    } catch {
      return null;
    }
  }

  /** Persist a sink's cursor atomically (write, fsync, rename). */
  async saveCursor(name: string, c: Cursor): Promise<void> {
    const path = join(this.dir, 'cursors', `${name}.json`);
    await writeDurable(path, JSON.stringify(c));
  }

  async dropCursor(name: string): Promise<void> {
    await rm(join(this.dir, 'cursors', `${name}.json`), { force: true });
  }

  /** Delete the segments every cursor has left. */
  async gc(cursors: readonly Cursor[]): Promise<number> {
    const cur = this.segments.at(-1)!.first;
    const keepFrom = cursors.reduce((m, c) => Math.min(m, c.seg), cur);
    let n = 0;
    while (this.segments.length > 1 && this.segments[0]!.first < keepFrom) {
      const s = this.segments.shift()!;
      await rm(join(this.dir, 'segments', segName(s.first)), { force: true });
      n++;
    }
    return n;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  // Dead letters ------------------------------------------------------------------------------

  async addDead(name: string, letters: readonly DeadLetter[]): Promise<number> {
    if (letters.length === 0) return 0;
    const path = join(this.dir, 'dead', `${name}.ndjson`);
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    const lines: string[] = [];
    let total = size;
    for (const d of letters) {
      const l = `${JSON.stringify({ s: d.seq, t: d.t, n: d.attempts, e: d.error, a: d.alert })}\n`;
      total += Buffer.byteLength(l);
      if (total > this.cfg.maxDeadBytes) {
        this.counters.deadDropped++;
        continue;
      }
      lines.push(l);
    }
    await appendDurable(path, lines.join(''));
    return lines.length;
  }

  async listDead(name: string, which: 'dead' | 'replay' = 'dead'): Promise<DeadLetter[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, which, `${name}.ndjson`), 'utf8');
    } catch {
      return [];
    }
    const out: DeadLetter[] = [];
    for (const l of text.split('\n')) {
      if (!l) continue;
      try {
        const d = JSON.parse(l) as { s: number; t: number; n: number; e: string; a: AlertRecord };
        out.push({ seq: d.s, t: d.t, attempts: d.n, error: d.e, alert: d.a });
      } catch {
        // A torn last line of a crash: the letter is still in the dead file's previous copy or lost to the crash.
      }
    }
    return out;
  }

  /** Queue a sink's dead letters for delivery again; the dead file is emptied once they are queued. */
  async queueReplay(name: string): Promise<number> {
    const dead = join(this.dir, 'dead', `${name}.ndjson`);
    let text: string;
    try {
      text = await readFile(dead, 'utf8');
    } catch {
      return 0;
    }
    await appendDurable(join(this.dir, 'replay', `${name}.ndjson`), text);
    await rm(dead, { force: true });
    return text.split('\n').filter((l) => l).length;
  }

  /** Rewrite the replay queue with what is left of it. */
  async setReplay(name: string, left: readonly DeadLetter[]): Promise<void> {
    const path = join(this.dir, 'replay', `${name}.ndjson`);
    if (left.length === 0) {
      await rm(path, { force: true });
      return;
    }
    const text = left.map(
      (d) => `${JSON.stringify({ s: d.seq, t: d.t, n: d.attempts, e: d.error, a: d.alert })}\n`,
    );
    await writeDurable(path, text.join(''));
  }

  async dropSinkFiles(name: string): Promise<void> {
    for (const d of ['cursors', 'dead', 'replay']) {
      await rm(join(this.dir, d, `${name}.${d === 'cursors' ? 'json' : 'ndjson'}`), { force: true });
    }
  }
}

async function writeDurable(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  const fh = await open(tmp, 'r+');
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
}

async function appendDurable(path: string, text: string): Promise<void> {
  await appendFile(path, text);
  const fh = await open(path, 'r+');
  await fh.sync();
  await fh.close();
}

const head = (seq: number, t: number, a: AlertRecord): string =>
  `{"s":${seq},"t":${t},"k":${JSON.stringify(a.alert_id)},"u":${JSON.stringify(a.updated_ts)},"a":`;

const line = (seq: number, t: number, a: AlertRecord): string => `${head(seq, t, a)}${JSON.stringify(a)}}\n`;

/** Scratch for encoding a batch; one past this size is not kept between batches. */
let scratch = Buffer.allocUnsafe(1 << 20);
const SCRATCH_KEEP = 8 << 20;

/**
 * A batch's lines, numbered from `first`. Each part is written straight into one buffer: joining
 * the lines into one string first costs a flattening copy of the whole batch and its garbage.
 */
function encodeLines(first: number, t: number, alerts: readonly AlertRecord[]): Buffer {
  let buf = scratch;
  let off = 0;
  for (let i = 0; i < alerts.length; i++) {
    const a = alerts[i]!;
    const h = head(first + i, t, a);
    const json = JSON.stringify(a);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const need = off + 3 * (h.length + json.length) + 2;
    if (need > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * buf.length));
      buf.copy(grown, 0, 0, off);
      buf = grown;
    }
    off += buf.write(h, off);
    off += buf.write(json, off);
    buf[off++] = 0x7d;
    buf[off++] = 0x0a;
  }
  if (buf.length <= SCRATCH_KEEP) scratch = buf;
  return Buffer.from(buf.subarray(0, off));
}

const at = (buf: Buffer, pos: number, lit: Buffer): boolean => {
  for (let i = 0; i < lit.length; i++) if (buf[pos + i] !== lit[i]) return false;
  return true;
};
const S = Buffer.from('{"s":');
const T = Buffer.from(',"t":');
const K = Buffer.from(',"k":"');
const U = Buffer.from(',"u":"');
const A = Buffer.from(',"a":');

/** End of a JSON string starting at `pos` (its closing quote), or -1 when it has an escape. */
function plainString(buf: Buffer, pos: number, end: number): number {
  for (let i = pos; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x22) return i;
    if (c === 0x5c) return -1;
  }
  return -1;
}

function digits(buf: Buffer, pos: number, end: number): [number, number] {
  let v = 0;
  let i = pos;
  for (; i < end; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return [v, i === pos ? -1 : i];
}

/**
 * One segment line, read by its fixed prefix without parsing the alert. A line the prefix does
 * not fit (an escaped id, a segment written by an older version) is parsed whole.
 */
function parseLine(buf: Buffer, start: number, end: number): StoredEntry {
  const e = fastLine(buf, start, end);
  if (e) return e;
  const l = JSON.parse(buf.toString('utf8', start, end)) as { s: number; t: number; a: AlertRecord };
  return StoredEntry.of(l.s, l.t, l.a);
}

function fastLine(buf: Buffer, start: number, end: number): StoredEntry | null {
  if (!at(buf, start, S)) return null;
  const [s, p1] = digits(buf, start + S.length, end);
  if (p1 < 0 || !at(buf, p1, T)) return null;
  const [t, p2] = digits(buf, p1 + T.length, end);
  if (p2 < 0 || !at(buf, p2, K)) return null;
  const k0 = p2 + K.length;
  const k1 = plainString(buf, k0, end);
  if (k1 < 0 || !at(buf, k1 + 1, U)) return null;
  const u0 = k1 + 1 + U.length;
  const u1 = plainString(buf, u0, end);
  if (u1 < 0 || !at(buf, u1 + 1, A) || buf[end - 1] !== 0x7d) return null;
  return new StoredEntry(s, t, buf, k0, k1, u0, u1, u1 + 1 + A.length, end - 1);
}
