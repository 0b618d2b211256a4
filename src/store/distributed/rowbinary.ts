/**
 * A growable RowBinary writer: ClickHouse's native row format (little-endian fixed-width
 * numbers, LEB128-prefixed strings, a 0/1 byte before each Nullable value). Exact for floats
 * (no text round-trip) and the fastest input format both 18.16 and current servers accept.
 */
export class RowBinary {
  private buf = Buffer.allocUnsafe(1 << 20);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  private need(n: number): void {
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

  i64(v: number): void {
    this.need(8);
    this.view.setBigInt64(this.pos, BigInt(v), true);
    this.pos += 8;
  }

  u64(v: number): void {
    this.need(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
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

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
