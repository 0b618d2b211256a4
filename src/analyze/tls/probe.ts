/** Could this first payload of a flow be TLS? A handshake record (22, version 3.x) or SSLv2 hello. */
export function probeTls(b: Buffer, off: number, len: number): boolean {
  if (len < 3) return true; // too short to tell: let the analyzer see more
  const t = b[off]!;
  if ((t === 22 || t === 21) && b[off + 1] === 3) return true;
  // SSLv2-compatible ClientHello: 2-byte length with the high bit, message type 1
  return (t & 0x80) !== 0 && b[off + 2] === 1;
}
