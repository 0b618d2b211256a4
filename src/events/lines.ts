/**
 * Splits a byte stream into LF-ended lines with a bound: a line longer than `maxLine` is
 * dropped whole (counted by the caller through `onTooLong`), and the next line still comes.
 */
export class LineSplitter {
  private carry: Buffer | null = null;
  private discarding = false;

  constructor(
    private readonly onLine: (line: Buffer) => void,
    private readonly onTooLong: () => void,
    private readonly maxLine: number,
  ) {}

  /** Bytes held for an incomplete line (the tail re-reads them after a restart). */
  get pendingBytes(): number {
    return this.discarding ? 0 : (this.carry?.length ?? 0);
  }

  push(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length) {
      const e = chunk.indexOf(10, p);
      if (e < 0) {
        if (this.discarding) return;
        const have = (this.carry?.length ?? 0) + chunk.length - p;
        if (have > this.maxLine) {
          this.carry = null;
          this.discarding = true;
          this.onTooLong();
          return;
        }
        const rest = chunk.subarray(p);
        this.carry = this.carry ? Buffer.concat([this.carry, rest]) : Buffer.from(rest);
        return;
      }
      if (this.discarding) this.discarding = false;
      else {
        let line = chunk.subarray(p, e);
        if (this.carry) {
          line = Buffer.concat([this.carry, line]);
          this.carry = null;
        }
        if (line.length > this.maxLine) this.onTooLong();
        else if (line.length > 0) this.onLine(line);
      }
      p = e + 1;
    }
  }

  /** Forget a partial line (the file was truncated or replaced). */
  reset(): void {
    this.carry = null;
    this.discarding = false;
  }
}
