/**
 * Could this first payload of a flow be SSH? The identification string "SSH-" opens the
 * stream (RFC 4253 §4.2 lets a server send text lines before it; they are rare enough that a
 * flow opening that way is left to port-based identification).
 */
export function probeSsh(b: Buffer, off: number, len: number): boolean {
  if (len < 4) return len === 0 || b[off] === 0x53;
  return b[off] === 0x53 && b[off + 1] === 0x53 && b[off + 2] === 0x48 && b[off + 3] === 0x2d;
}
