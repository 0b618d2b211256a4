/**
 * One direction of a TLS connection: record framing and handshake-message reassembly over an
 * in-order byte stream. Handshake messages that sit whole inside one record fragment of one
 * segment are handed over in place; only messages spanning records or segments are copied,
 * and at most `limit` bytes of any message are kept (a longer one is handed over truncated).
 */

export const REC_CCS = 20;
export const REC_ALERT = 21;
export const REC_HANDSHAKE = 22;
export const REC_APPDATA = 23;
export const REC_HEARTBEAT = 24;

/** Largest record body allowed: 2^14 plus the TLS 1.2 ciphertext expansion allowance. */
const MAX_RECORD_BODY = 16384 + 2048;

export type HandshakeHandler = (
  type: number,
  b: Buffer,
  off: number,
  end: number,
  truncated: boolean,
) => void;

export const STREAM_OK = 0;
/** The bytes are not TLS records: stop parsing this direction. */
export const STREAM_BAD_RECORD = 1;

export class TlsRecordStream {
  /** Record type of the record being read, and its body bytes still to come. */
  private recType = 0;
  private recRemain = 0;
  private hs: Buffer | null = null;
  private hsLen = 0;
  private hsTotal = 0;
  private skip = 0;
  /** Handshake records are encrypted from here on (after ChangeCipherSpec below TLS 1.3). */
  encrypted = false;
  /** Keep handshake records readable after ChangeCipherSpec (TLS 1.3 sends CCS only for middleboxes). */
  tls13 = false;
  sawAppData = false;
  sawCcs = false;
  records = 0;

  constructor(
    private readonly onMessage: HandshakeHandler,
    private readonly limit = 16 * 1024,
  ) {}

  /** Forget partial state (after a gap in the stream). */
  reset(): void {
    this.recType = 0;
    this.recRemain = 0;
    this.hsLen = 0;
    this.skip = 0;
  }

  /** True when a record header could start at b[off] (used to resynchronise and to detect TLS). */
  static looksLikeRecord(b: Buffer, off: number, end: number): boolean {
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
  static looksLikeHello(b: Buffer, off: number, end: number): boolean {
    if (end - off < 9 || b[off] !== REC_HANDSHAKE || b[off + 1] !== 3 || b[off + 2]! > 4) return false;
    const len = b.readUInt16BE(off + 3);
    const t = b[off + 5]!;
    return len >= 4 && len <= MAX_RECORD_BODY && (t === 1 || t === 2) && b[off + 6] === 0;
  }

  /**
   * Parse b[start, end). Returns where parsing stopped (a partial record header starts there:
   * keep it for the next segment) and sets `status`.
   */
  status = STREAM_OK;
  parse(b: Buffer, start: number, end: number): number {
    let p = start;
    while (p < end) {
      if (this.recRemain === 0) {
        if (end - p < 5) return p;
        if (!TlsRecordStream.looksLikeRecord(b, p, end)) {
          this.status = STREAM_BAD_RECORD;
          return end;
        }
        this.recType = b[p]!;
        this.recRemain = b.readUInt16BE(p + 3);
        this.records++;
        p += 5;
        if (this.recType === REC_CCS) {
          this.sawCcs = true;
          if (!this.tls13) this.encrypted = true;
        } else if (this.recType === REC_APPDATA) this.sawAppData = true;
        continue;
      }
      const n = Math.min(this.recRemain, end - p);
      if (this.recType === REC_HANDSHAKE && !this.encrypted) this.feedHandshake(b, p, p + n);
      p += n;
      this.recRemain -= n;
    }
    return p;
  }

  private feedHandshake(b: Buffer, a: number, e: number): void {
    while (a < e) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, e - a);
        this.skip -= n;
        a += n;
        continue;
      }
      if (this.hsLen === 0 && e - a >= 4) {
        const total = 4 + b.readUIntBE(a + 1, 3);
        if (e - a >= total) {
          this.onMessage(b[a]!, b, a + 4, a + total, false);
          a += total;
          continue;
        }
      }
      // The message continues past this fragment: collect it (bounded).
      if (this.hsLen < 4) {
        if (this.hs === null) this.hs = Buffer.allocUnsafe(Math.min(this.limit, 4096));
        const n = Math.min(4 - this.hsLen, e - a);
        b.copy(this.hs, this.hsLen, a, a + n);
        this.hsLen += n;
        a += n;
        if (this.hsLen < 4) return;
        this.hsTotal = 4 + this.hs.readUIntBE(1, 3);
      }
      const keep = Math.min(this.hsTotal, this.limit);
      const hs = this.grow(keep);
      const n = Math.min(keep - this.hsLen, e - a);
      b.copy(hs, this.hsLen, a, a + n);
      this.hsLen += n;
      a += n;
      if (this.hsLen === keep) {
        this.skip = this.hsTotal - keep;
        this.hsLen = 0;
        this.onMessage(hs[0]!, hs, 4, keep, keep < this.hsTotal);
      }
    }
  }

  private grow(n: number): Buffer {
    let hs = this.hs!;
    if (hs.length < n) {
      const nb = Buffer.allocUnsafe(n);
      hs.copy(nb, 0, 0, this.hsLen);
      hs = nb;
      this.hs = nb;
    }
    return hs;
  }
}
