/**
 * Could this first payload of a flow be HTTP/1.x? A request starts with a method token and a
 * space, a response with "HTTP/". Cheap enough to run on every new flow.
 */
export function probeHttp(b: Buffer, off: number, len: number): boolean {
  if (
    len >= 5 &&
    b[off] === 0x48 &&
    b[off + 1] === 0x54 &&
    b[off + 2] === 0x54 &&
    b[off + 3] === 0x50 &&
    b[off + 4] === 0x2f
  )
    return true;
  const end = off + Math.min(len, 21);
  let i = off;
  while (i < end) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) return i - off >= 3;
    // method tokens: upper-case letters, digits, '-' and '_' (e.g. M-SEARCH, VERSION-CONTROL)
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) return false;
    i++;
  }
  return len < 21 && i === off + len; // a method token cut by the segment end
}
