const LETTERS = 'FSRPAUEC';

/** TCP flags as letters in Wireshark/nfdump order of bits: F S R P A U E C. */
export function tcpFlagsString(f: number): string {
  let s = '';
  for (let i = 0; i < 8; i++) if (f & (1 << i)) s += LETTERS[i];
  return s;
}
