/**
 * Syslog over a byte stream (RFC 6587): octet counting (`LEN SP MSG`) or non-transparent
 * framing (messages ended by LF, or NUL), told apart at each message start: a digit opens an
 * octet-counted frame, anything else a delimited one. A message longer than `maxMessage` is
 * cut to that length and the rest discarded (counted); nothing is buffered beyond it.
 */
export interface FramerCounters {
  messages: number;
  truncated: number;
  badFrames: number;
  /** Messages by framing: what the peer actually sends. */
  octetCounted: number;
  delimited: number;
}

export class SyslogFramer {
  private pending: Buffer | null = null;
  /** Bytes still to skip of an over-long octet-counted frame. */
  private skip = 0;
  /** Discarding the tail of an over-long delimited message, up to its LF/NUL. */
  private discarding = false;
  readonly counters: FramerCounters = {
    messages: 0,
    truncated: 0,
    badFrames: 0,
    octetCounted: 0,
    delimited: 0,
  };

  constructor(
    private readonly onMessage: (msg: Buffer) => void,
    private readonly maxMessage = 64 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let p = 0;
    while (p < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - p);
        this.skip -= n;
        p += n;
        continue;
      }
      if (this.discarding) {
        const e = findEnd(buf, p);
        if (e < 0) return;
        this.discarding = false;
        p = e + 1;
        continue;
      }
      const c = buf[p]!;
      if (c === 10 || c === 0 || c === 13) {
        p++;
        continue;
      }
      if (c >= 48 && c <= 57) {
        let q = p;
        while (q < buf.length && q - p < 10 && buf[q]! >= 48 && buf[q]! <= 57) q++;
        if (q === buf.length) break; // need more bytes
        if (buf[q] !== 32) {
          // Digits not followed by a space: a delimited message that starts with a digit.
          const r = this.delimited(buf, p);
          if (r < 0) break;
          p = r;
          continue;
        }
        const len = Number(buf.toString('latin1', p, q));
        const start = q + 1;
        if (len === 0) {
          this.counters.badFrames++;
          p = start;
          continue;
        }
        if (len > this.maxMessage) {
          const have = Math.min(this.maxMessage, buf.length - start);
          if (have < this.maxMessage) break;
          this.counters.truncated++;
          this.emit(buf.subarray(start, start + this.maxMessage));
          this.skip = len - this.maxMessage;
          p = start + this.maxMessage;
          continue;
        }
        if (buf.length - start < len) break;
        this.counters.octetCounted++;
        this.emit(buf.subarray(start, start + len));
        p = start + len;
        continue;
      }
      const r = this.delimited(buf, p);
      if (r < 0) break;
      p = r;
    }
    if (p < buf.length) {
      buf = buf.subarray(p);
      if (buf.length > this.maxMessage + 16) {
        // Unreachable by construction (each branch consumes at maxMessage), kept as the bound.
        this.counters.truncated++;
        this.emit(buf.subarray(0, this.maxMessage));
        this.discarding = true;
        return;
      }
      this.pending = Buffer.from(buf);
    }
  }

  /** A delimited message at p: returns the index after it, or -1 to wait for more. */
  private delimited(buf: Buffer, p: number): number {
    const e = findEnd(buf, p);
    if (e < 0) {
      if (buf.length - p >= this.maxMessage) {
        this.counters.truncated++;
        this.emit(buf.subarray(p, p + this.maxMessage));
        this.discarding = true;
        return buf.length;
      }
      return -1;
    }
    this.counters.delimited++;
    if (e - p > this.maxMessage) {
      this.counters.truncated++;
      this.emit(buf.subarray(p, p + this.maxMessage));
    } else this.emit(buf.subarray(p, e));
    return e + 1;
  }

  /** End of the connection: a last unterminated message still counts. */
  end(): void {
    if (this.pending && this.pending.length > 0 && !this.discarding && this.skip === 0) {
      const b = this.pending;
      if (b[0]! < 48 || b[0]! > 57) this.emit(b);
      else this.counters.badFrames++;
    }
    this.pending = null;
  }

  private emit(b: Buffer): void {
    let e = b.length;
    while (e > 0 && (b[e - 1] === 10 || b[e - 1] === 13 || b[e - 1] === 0)) e--;
    if (e === 0) return;
    this.counters.messages++;
    this.onMessage(b.subarray(0, e));
  }
}

function findEnd(buf: Buffer, p: number): number {
  const lf = buf.indexOf(10, p);
  const nul = buf.indexOf(0, p);
  if (lf < 0) return nul;
  if (nul < 0) return lf;
  return Math.min(lf, nul);
}
