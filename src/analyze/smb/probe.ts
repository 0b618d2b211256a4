/** Could this first payload of a flow be SMB over TCP? A session-message header, then \xFESMB or \xFFSMB. */
export function probeSmb(b: Buffer, off: number, len: number): boolean {
  if (len < 8) return len === 0 || b[off] === 0;
  return (
    b[off] === 0 &&
    (b[off + 4] === 0xfe || b[off + 4] === 0xff) &&
    b[off + 5] === 0x53 &&
    b[off + 6] === 0x4d &&
    b[off + 7] === 0x42
  );
}
