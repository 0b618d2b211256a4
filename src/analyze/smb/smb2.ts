/** SMB2/3 message headers (MS-SMB2 §2.2.1) read in place. */

export const SMB2_NEGOTIATE = 0;
export const SMB2_TREE_CONNECT = 3;
export const SMB2_FLAGS_RESPONSE = 0x1;
export const SMB2_HEADER = 64;

export const COMMAND_NAMES = [
  'NEGOTIATE',
  'SESSION_SETUP',
  'LOGOFF',
  'TREE_CONNECT',
  'TREE_DISCONNECT',
  'CREATE',
  'CLOSE',
  'FLUSH',
  'READ',
  'WRITE',
  'LOCK',
  'IOCTL',
  'CANCEL',
  'ECHO',
  'QUERY_DIRECTORY',
  'CHANGE_NOTIFY',
  'QUERY_INFO',
  'SET_INFO',
  'OPLOCK_BREAK',
] as const;

export function commandName(c: number): string {
  return COMMAND_NAMES[c] ?? `0x${c.toString(16).padStart(4, '0')}`;
}

/** Protocol id at b[p]: 0xFE 'SMB' (SMB2), 0xFD (SMB3 transform), 0xFC (compressed), 0xFF (SMB1), else 0. */
export function protocolId(b: Buffer, p: number, end: number): number {
  if (p + 4 > end || b[p + 1] !== 0x53 || b[p + 2] !== 0x4d || b[p + 3] !== 0x42) return 0;
  const t = b[p]!;
  return t >= 0xfc ? t : 0;
}

/** Does a NetBIOS session message carrying SMB start at b[p]? (To pick a stream up mid-way.) */
export function looksLikeSmbFrame(b: Buffer, p: number, end: number): boolean {
  return end - p >= 8 && b[p] === 0 && protocolId(b, p + 4, end) !== 0;
}

export function dialectName(d: number): string {
  switch (d) {
    case 0x0202:
      return '2.0.2';
    case 0x0210:
      return '2.1';
    case 0x0300:
      return '3.0';
    case 0x0302:
      return '3.0.2';
    case 0x0311:
      return '3.1.1';
    case 0x02ff:
      return '2.???';
    default:
      return `0x${d.toString(16).padStart(4, '0')}`;
  }
}

/** The share path of a TREE_CONNECT request whose header starts at b[h], within b[h, end). */
export function treeConnectPath(b: Buffer, h: number, end: number): string | null {
  const body = h + SMB2_HEADER;
  if (body + 8 > end) return null;
  const off = b.readUInt16LE(body + 4);
  const len = b.readUInt16LE(body + 6);
  if (len === 0 || len % 2 !== 0 || h + off + len > end || off < SMB2_HEADER) return null;
  return b.toString('utf16le', h + off, h + off + len);
}
