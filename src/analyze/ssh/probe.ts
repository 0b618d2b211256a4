/**
 * Could this first payload of a flow be SSH? The identification string "SSH-" starts the
 * stream; a server may send other text lines first, so printable text passes too.
 */
export function probeSsh(b: Buffer, off: number, len: number): boolean {
  const n = Math.min(len, 4);
  for (let i = 0; i < n; i++) {
    const c = b[off + i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}
