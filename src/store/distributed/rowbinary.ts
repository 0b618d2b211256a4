/**
 * A growable RowBinary writer: ClickHouse's native row format (little-endian fixed-width
 * numbers, LEB128-prefixed strings, a 0/1 byte before each Nullable value). Exact for floats
 * (no text round-trip) and the fastest input format both 18.16 and current servers accept.
 */
export class RowBinary {
  buf: Buffer;
  view: DataView;
  pos = 0;

  /** `size`: expected bytes (growing a large buffer by copies costs more than encoding). */
  constructor(size = 1 << 20) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Make room for n more bytes (callers that write `buf` directly reserve first). */
  need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  u8(v: number): void {
    this.need(1);
    this.buf[this.pos++] = v;
  }

  /** Integers within ±2^53 as two 32-bit halves: no BigInt per value (the hot path). */
  i64(v: number): void {
    this.need(8);
    const hi = Math.floor(v / 4294967296);
    this.view.setUint32(this.pos, v - hi * 4294967296, true);
    this.view.setInt32(this.pos + 4, hi, true);
    this.pos += 8;
  }

  u64(v: number): void {
    this.i64(v);
  }

  /** An IPv4 address as its IPv4-mapped 128-bit value (::ffff:a.b.c.d), big-endian. */
  ipv4(v: number): void {
    this.need(16);
    this.view.setUint32(this.pos, 0, false);
    this.view.setUint32(this.pos + 4, 0, false);
    this.view.setUint32(this.pos + 8, 0xffff, false);
    this.view.setUint32(this.pos + 12, v >>> 0, false);
    this.pos += 16;
  }

  f64(v: number): void {
    this.need(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A 128-bit value as 16 big-endian bytes (FixedString(16): byte order = numeric order). */
  u128be(v: bigint): void {
    this.need(16);
    this.view.setBigUint64(this.pos, v >> 64n, false);
    this.view.setBigUint64(this.pos + 8, v & 0xffffffffffffffffn, false);
    this.pos += 16;
  }

  str(s: string): void {
    if (s.length < 43) {
      // At most 127 UTF-8 bytes: a one-byte length prefix.
      this.need(129);
      const n = this.buf.write(s, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += n + 1;
      return;
    }
    const max = s.length * 3;
    this.need(max + 5);
    // Length prefix is written after the bytes are known: reserve 5 bytes then shift if shorter.
    const start = this.pos + 5;
    const n = this.buf.write(s, start, 'utf8');
    let len = n;
    let p = this.pos;
    const tmp: number[] = [];
    do {
      let b = len & 0x7f;
      len >>>= 7;
      if (len) b |= 0x80;
      tmp.push(b);
    } while (len);
    for (const b of tmp) this.buf[p++] = b;
    if (p !== start) this.buf.copy(this.buf, p, start, start + n);
    this.pos = p + n;
  }

  /** Start over, keeping the grown buffer (one buffer reused batch after batch). */
  reset(): void {
    this.pos = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
