/**
 * TLS record framing and handshake-message reassembly over in-order byte streams, one per key
 * (a flow slot's direction), their state in rows of one Int32Array: no object or closure per
 * connection. Handshake messages that sit whole inside one record fragment of one segment are
 * handed over in place; only messages spanning records or segments are copied, and at most
 * `limit` bytes of any message are kept (a longer one is handed over truncated).
 */

export const REC_CCS = 20;
export const REC_ALERT = 21;
export const REC_HANDSHAKE = 22;
export const REC_APPDATA = 23;
export const REC_HEARTBEAT = 24;

/** Largest record body allowed: 2^14 plus the TLS 1.2 ciphertext expansion allowance. */
const MAX_RECORD_BODY = 16384 + 2048;

/** A handshake message of the stream `key`, in b[off, end). */
export type HandshakeHandler = (
  key: number,
  type: number,
  b: Buffer,
  off: number,
  end: number,
  truncated: boolean,
) => void;

export const STREAM_OK = 0;
/** The bytes are not TLS records: stop parsing this direction. */
export const STREAM_BAD_RECORD = 1;

// A stream's row: the record being read (its type and body bytes still to come), the handshake
// message being collected (bytes so far, its whole length, bytes of it to skip), flags, records.
const R_TYPE = 0;
const R_REMAIN = 1;
const R_HS_LEN = 2;
const R_HS_TOTAL = 3;
const R_SKIP = 4;
const R_FLAGS = 5;
const R_RECORDS = 6;
const STRIDE = 8;

/** Handshake records are encrypted from here on (after ChangeCipherSpec below TLS 1.3). */
export const ENCRYPTED = 1;
/** Keep handshake records readable after ChangeCipherSpec (TLS 1.3 sends CCS only for middleboxes). */
export const TLS13 = 2;
export const SAW_APPDATA = 4;
export const SAW_CCS = 8;
/** The stream's status is STREAM_BAD_RECORD. */
const BAD = 16;

/** Message buffers of streams restarted, for the next streams whose messages span segments. */
const SPARE = 64;
const SPARE_SIZE = 4096;

/** True when a record header could start at b[off] (used to resynchronise and to detect TLS). */
export function looksLikeRecord(b: Buffer, off: number, end: number): boolean {
  if (end - off < 5) return false;
  const t = b[off]!;
  return (
    t >= REC_CCS &&
    t <= REC_HEARTBEAT &&
    b[off + 1] === 3 &&
    b[off + 2]! <= 4 &&
    b.readUInt16BE(off + 3) <= MAX_RECORD_BODY
  );
}

/** True when the record at b[off] is a handshake record starting with a ClientHello (1) or ServerHello (2). */
export function looksLikeHello(b: Buffer, off: number, end: number): boolean {
  if (end - off < 9 || b[off] !== REC_HANDSHAKE || b[off + 1] !== 3 || b[off + 2]! > 4) return false;
  const len = b.readUInt16BE(off + 3);
  const t = b[off + 5]!;
  return len >= 4 && len <= MAX_RECORD_BODY && (t === 1 || t === 2) && b[off + 6] === 0;
}

export class TlsRecordStreams {
  private r = new Int32Array(256 * STRIDE);
  /** Per key, the buffer of a handshake message spanning segments (null until one does). */
  private hs: (Buffer | null)[] = [];
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly onMessage: HandshakeHandler,
    private readonly limit = 16 * 1024,
  ) {}

  private row(key: number): number {
    const at = key * STRIDE;
    if (at >= this.r.length) {
      let n = this.r.length;
      while (n <= at) n *= 2;
      const x = new Int32Array(n);
      x.set(this.r);
      this.r = x;
    }
    const hs = this.hs;
    while (hs.length <= key) hs.push(null);
    return at;
  }

  /**
   * Start the stream `key` over for another connection: every field zero, its message buffer
   * handed to the next stream that needs one.
   */
  restart(key: number): void {
    const at = this.row(key);
    const r = this.r;
    for (let i = at; i < at + STRIDE; i++) r[i] = 0;
    const hs = this.hs[key];
    if (hs != null) {
      this.hs[key] = null;
      if (this.spare.length < SPARE && hs.length === SPARE_SIZE) this.spare.push(hs);
    }
  }

  /** Forget partial state (after a gap in the stream). */
  reset(key: number): void {
    const at = this.row(key);
    const r = this.r;
    r[at + R_TYPE] = 0;
    r[at + R_REMAIN] = 0;
    r[at + R_HS_LEN] = 0;
    r[at + R_SKIP] = 0;
  }

  /** The stream's flags (ENCRYPTED, TLS13, SAW_APPDATA, SAW_CCS). */
  flags(key: number): number {
    return this.r[this.row(key) + R_FLAGS]! & ~BAD;
  }

  /** Set the flags in `set`, then clear those in `clear`. */
  setFlags(key: number, set: number, clear: number): void {
    const at = this.row(key) + R_FLAGS;
    this.r[at] = (this.r[at]! | set) & ~(clear & ~BAD);
  }

  status(key: number): number {
    return this.r[this.row(key) + R_FLAGS]! & BAD ? STREAM_BAD_RECORD : STREAM_OK;
  }

  /** Records framed so far. */
  records(key: number): number {
    return this.r[this.row(key) + R_RECORDS]!;
  }

  /**
   * Parse b[start, end) of stream `key`. Returns where parsing stopped (a partial record header
   * starts there: keep it for the next segment); `status(key)` says whether the bytes were TLS.
   */
  parse(key: number, b: Buffer, start: number, end: number): number {
    const at = this.row(key);
    const r = this.r;
    let p = start;
    while (p < end) {
      if (r[at + R_REMAIN] === 0) {
        if (end - p < 5) return p;
        if (!looksLikeRecord(b, p, end)) {
          r[at + R_FLAGS] = r[at + R_FLAGS]! | BAD;
          return end;
        }
        const t = b[p]!;
        r[at + R_TYPE] = t;
        r[at + R_REMAIN] = b.readUInt16BE(p + 3);
        r[at + R_RECORDS] = r[at + R_RECORDS]! + 1;
        p += 5;
        const fl = r[at + R_FLAGS]!;
        if (t === REC_CCS) r[at + R_FLAGS] = fl & TLS13 ? fl | SAW_CCS : fl | SAW_CCS | ENCRYPTED;
        else if (t === REC_APPDATA) r[at + R_FLAGS] = fl | SAW_APPDATA;
        continue;
      }
      const n = Math.min(r[at + R_REMAIN]!, end - p);
      // The flags are read afresh: a message handed over may have changed them (a ServerHello
      // makes both directions TLS 1.3).
      if (r[at + R_TYPE] === REC_HANDSHAKE && (r[at + R_FLAGS]! & ENCRYPTED) === 0)
        this.feedHandshake(key, at, b, p, p + n);
      p += n;
      r[at + R_REMAIN] = r[at + R_REMAIN]! - n;
    }
    return p;
  }

  private feedHandshake(key: number, at: number, b: Buffer, a: number, e: number): void {
    const r = this.r;
    while (a < e) {
      const skip = r[at + R_SKIP]!;
      if (skip > 0) {
        const n = Math.min(skip, e - a);
        r[at + R_SKIP] = skip - n;
        a += n;
        continue;
      }
      if (r[at + R_HS_LEN] === 0 && e - a >= 4) {
        const total = 4 + b.readUIntBE(a + 1, 3);
        if (e - a >= total) {
          this.onMessage(key, b[a]!, b, a + 4, a + total, false);
          a += total;
          continue;
        }
      }
      // The message continues past this fragment: collect it (bounded).
      let hsLen = r[at + R_HS_LEN]!;
      if (hsLen < 4) {
        let hs = this.hs[key]!;
        if (hs === null) {
          const n = Math.min(this.limit, SPARE_SIZE);
          hs = n === SPARE_SIZE ? (this.spare.pop() ?? Buffer.allocUnsafe(n)) : Buffer.allocUnsafe(n);
          this.hs[key] = hs;
        }
        const n = Math.min(4 - hsLen, e - a);
        b.copy(hs, hsLen, a, a + n);
        hsLen += n;
        a += n;
        r[at + R_HS_LEN] = hsLen;
        if (hsLen < 4) return;
        r[at + R_HS_TOTAL] = 4 + hs.readUIntBE(1, 3);
      }
      const total = r[at + R_HS_TOTAL]!;
      const keep = Math.min(total, this.limit);
      const hs = this.grow(key, keep, hsLen);
      const n = Math.min(keep - hsLen, e - a);
      b.copy(hs, hsLen, a, a + n);
      hsLen += n;
      a += n;
      r[at + R_HS_LEN] = hsLen;
      if (hsLen === keep) {
        r[at + R_SKIP] = total - keep;
        r[at + R_HS_LEN] = 0;
        this.onMessage(key, hs[0]!, hs, 4, keep, keep < total);
      }
    }
  }

  private grow(key: number, n: number, used: number): Buffer {
    let hs = this.hs[key]!;
    if (hs.length < n) {
      const nb = Buffer.allocUnsafe(n);
      hs.copy(nb, 0, 0, used);
      hs = nb;
      this.hs[key] = nb;
    }
    return hs;
  }
}
